"""Retrieval quality of docqa on the Debian FAQ, English and French, with the real embedder.

Store: **one** store holding both Debian FAQ PDFs (``en_faq_debian-faq.en.pdf`` and
``fr_faq_debian-faq.fr.pdf``), as a user with both would have it: French questions compete with
English chunks and the other way round. Built with docqa's ingest and the default embedder
(all-MiniLM-L6-v2, int8 ONNX), cached per chunking setting in ``benchmarks/.cache/quality/``.

Questions: ``../shared/corpora/eval/debian_faq_{en,fr}.jsonl`` (``use`` rows), converted by
``convert_questions.py``; relevance by answer containment (see ``docqa.metrics``), so every
chunk holding the gold answer counts. Figures are ``docqa.evaluate(..., retrieval_only=True)``
at k = 10.

- default run: the **test** split, modes dense, bm25, hybrid, at docqa's defaults; the table is
  printed and written into ``benchmarks/README.md`` (between the ``quality:test`` markers).
- ``--explore [chunking,stemming,fusion,combined]``: experiments on the **tune** split only
  (chunk size and overlap, also judged by answer page; the French stemmer; the BM25 query
  stemmed in its own language; RRF constants and weights, DBSF), emulated here without changing
  docqa; each section is cached, all sections run so far are written between the
  ``quality:tune`` markers.

Run: ``HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/quality.py
[--explore]`` (the first run embeds ~150 pages per chunk setting: minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import convert_questions  # this folder

from docqa.api import evaluate, ingest, search
from docqa.config import Settings
from docqa.embedding import Embedder, make_embedder
from docqa.evaluation import Judge, Question, load_questions, rank_hits
from docqa.formats import pdf as pdf_format
from docqa.language import words
from docqa.metrics import contains_answer
from docqa.parsing import parse
from docqa.sparse import Bm25Encoder
from docqa.stores import ScoredPoint, Store, open_store
from docqa.types import Hit

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "quality"
README = HERE / "README.md"
CORPORA = HERE.parent.parent / "shared" / "corpora"
PDFS = (
    CORPORA / "curated" / "en_faq_debian-faq.en.pdf",
    CORPORA / "curated" / "fr_faq_debian-faq.fr.pdf",
)
SETS = {"EN": "debian_faq_en.jsonl", "FR": "debian_faq_fr.jsonl"}
MODES = ("dense", "bm25", "hybrid")
K = 10


# --- stores and questions ----------------------------------------------------------------------


def store_settings(
    chunk_tokens: int | None = None,
    overlap: int | None = None,
    langs: str = "en,fr",
    model: str | None = None,
    headings: bool = True,
) -> Settings:
    """Settings of the cached store for one chunking / BM25 language / embedder / PDF heading
    setting (built if missing).

    Unset sizes and model are docqa's current defaults; ``headings=False`` builds the store
    with the PDF outline ignored (docqa before headings: one section per page).
    """
    defaults = Settings()
    chunk_tokens = chunk_tokens or defaults.chunk_tokens
    overlap = defaults.chunk_overlap if overlap is None else overlap
    model = model or defaults.embed_model
    name = f"c{chunk_tokens}-o{overlap}" + ("" if langs == "en,fr" else f"-{langs}")
    name += "" if model == defaults.embed_model else f"-{model}"
    name += "" if headings else "-nohead"
    settings = Settings(
        store=CACHE / name,
        chunk_tokens=chunk_tokens,
        chunk_overlap=overlap,
        languages=tuple(langs.split(",")),
        embed_model=model,
    )
    if not (CACHE / name / "manifest.sqlite").is_file():
        docs = CACHE / "docs"
        docs.mkdir(parents=True, exist_ok=True)
        for pdf in PDFS:
            if not (docs / pdf.name).is_file():
                shutil.copy2(pdf, docs / pdf.name)
        started = time.perf_counter()
        with outline_off(not headings):
            report = ingest(docs, settings)
        print(f"built {name}: {report.summary()} in {time.perf_counter() - started:.0f} s")
    return settings


@contextmanager
def outline_off(off: bool) -> Iterator[None]:
    """Parse PDFs as if they had no outline (no heading paths), when ``off``."""
    real = pdf_format._pdfium_outline
    if off:
        pdf_format._pdfium_outline = lambda *_: []
    try:
        yield
    finally:
        pdf_format._pdfium_outline = real


def question_files() -> dict[str, Path]:
    """The two question sets in docqa's format, written into the cache."""
    out = {}
    for lang, name in SETS.items():
        path = CACHE / "questions" / name
        if not path.is_file():
            convert_questions.write_jsonl(convert_questions.convert(CORPORA / "eval" / name), path)
        out[lang] = path
    return out


@contextmanager
def opened(settings: Settings) -> Iterator[Store]:
    """The cached store, open for the whole measurement (one lock, one load)."""
    store = open_store(settings, settings.store or CACHE)
    try:
        yield store
    finally:
        store.close()


# --- the test-split table ------------------------------------------------------------------------

Figures = dict[tuple[str, str], tuple[float, float, int]]  # (lang, mode) -> hit, MRR, n


def measure(
    settings: Settings,
    split: str,
    embedder: Embedder,
    modes: Sequence[str],
    files: dict[str, Path] | None = None,
) -> Figures:
    """hit@10 and MRR@10 per language and mode, through ``docqa.evaluate``.

    ``files`` maps each language to its question file (default: judged by answer containment).
    """
    figures: Figures = {}
    with opened(settings) as store:
        for lang, path in (files or question_files()).items():
            report = evaluate(
                path,
                settings,
                k=K,
                modes=modes,
                retrieval_only=True,
                split=split,
                embedder=embedder,
                store=store,
            )
            for s in report.retrieval():
                figures[(lang, s.mode)] = (s.hit_rate or 0.0, s.mrr or 0.0, s.questions)
    return figures


def figures_table(rows: Sequence[tuple[str, Figures]], modes: Sequence[str]) -> str:
    """Markdown: one line per (setting, mode), EN and FR hit@10 / MRR@10."""
    lines = [
        "| setting | mode | EN hit@10 | EN MRR@10 | FR hit@10 | FR MRR@10 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, figures in rows:
        for mode in modes:
            en, fr = figures.get(("EN", mode)), figures.get(("FR", mode))
            if en is None or fr is None:
                continue
            cells = f"{en[0]:.3f} | {en[1]:.3f} | {fr[0]:.3f} | {fr[1]:.3f}"
            lines.append(f"| {name} | {mode} | {cells} |")
    return "\n".join(lines)


def write_readme(marker: str, text: str) -> None:
    """Replace the text between ``<!-- {marker} -->`` markers in benchmarks/README.md."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    readme = README.read_text(encoding="utf-8")
    if start not in readme:
        print(f"README has no {start} marker: table not written")
        return
    head, rest = readme.split(start, 1)
    tail = rest.split(end, 1)[1]
    README.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


# --- page-level relevance (independent of chunking) ---------------------------------------------


def answer_pages(judge: Judge, pages: dict[int, frozenset[str]]) -> list[int]:
    """Pages holding the answer: each page that contains it, else two neighbours that do."""
    found = [n for n, w in pages.items() if contains_answer(judge.terms, w)]
    if not found:
        found = [
            m
            for n in pages
            if n + 1 in pages and contains_answer(judge.terms, pages[n] | pages[n + 1])
            for m in (n, n + 1)
        ]
    return sorted(set(found))


def page_question_files() -> dict[str, Path]:
    """The question sets judged by page: ``sources`` = the PDF pages that hold each answer.

    Containment favours big chunks (more words, more of the answer's key); judging by page
    does not depend on the chunking, so chunk settings are compared fairly.
    """
    settings = Settings()
    out = {}
    for (lang, path), pdf in zip(question_files().items(), PDFS, strict=True):
        target = CACHE / "questions" / f"pages_{path.name}"
        out[lang] = target
        if target.is_file():
            continue
        doc = parse(pdf, pdf.read_bytes(), settings)
        page_words: dict[int, set[str]] = {}
        for section in doc.sections:  # a page may hold several sections (PDF headings)
            page_words.setdefault(section.page or 0, set()).update(words(section.text))
        pages = {n: frozenset(w) for n, w in page_words.items()}
        rows = []
        for q in load_questions(path):
            found = answer_pages(Judge.of(q), pages)
            if found:
                source = {"file": pdf.name, "pages": found}
                rows.append(
                    {
                        "id": q.id,
                        "question": q.question,
                        "lang": q.lang,
                        "split": q.split,
                        "sources": [source],
                    }
                )
        convert_questions.write_jsonl(rows, target)
    return out


def measure_pages(settings: Settings, split: str, embedder: Embedder) -> Figures:
    """hit@10 and MRR@10 judged by answer page, per language and mode."""
    return measure(settings, split, embedder, MODES, page_question_files())


# --- fusion experiments (tune split) -------------------------------------------------------------

Fuser = Callable[[list[Hit], list[Hit]], list[Hit]]


def rrf(k: int, w_dense: float = 1.0, w_bm25: float = 1.0, depth: int = 40) -> Fuser:
    """Qdrant's (weighted) RRF, exactly: ``sum 1 / (k - 1 + rank / w)``, rank from 1.

    Unweighted this is Qdrant's ``1 / (k + rank from 0)``; with weights, Qdrant divides the
    rank by the weight rather than multiplying the term. Checked against
    ``qdrant_edge.Fusion.Rrf(k, weights)`` on the tune questions (same scores). Ties go to
    the dense list here; Qdrant breaks them its own way.
    """

    def fuse(dense: list[Hit], bm25: list[Hit]) -> list[Hit]:
        scores: dict[str, float] = {}
        by_id = {h.chunk_id: h for h in [*bm25[:depth], *dense[:depth]]}
        for weight, hits in ((w_dense, dense), (w_bm25, bm25)):
            for rank, h in enumerate(hits[:depth], 1):
                scores[h.chunk_id] = scores.get(h.chunk_id, 0.0) + 1 / (k - 1 + rank / weight)
        return [by_id[i] for i in sorted(scores, key=lambda i: -scores[i])]

    return fuse


def _normalised(hits: list[Hit]) -> dict[str, float]:
    """DBSF: scores scaled so mean - 3 sd is 0 and mean + 3 sd is 1 (Qdrant's definition)."""
    values = [h.score for h in hits]
    mean = statistics.fmean(values) if values else 0.0
    sd = statistics.pstdev(values) if len(values) > 1 else 1.0
    low, span = mean - 3 * sd, 6 * sd or 1.0
    return {h.chunk_id: min(1.0, max(0.0, (h.score - low) / span)) for h in hits}


def dbsf(w_dense: float = 1.0, depth: int = 40) -> Fuser:
    """Distribution-based score fusion of the two lists (``w_dense`` weighs the dense side)."""

    def fuse(dense: list[Hit], bm25: list[Hit]) -> list[Hit]:
        a, b = _normalised(dense[:depth]), _normalised(bm25[:depth])
        by_id = {h.chunk_id: h for h in [*bm25[:depth], *dense[:depth]]}
        scores = {i: w_dense * a.get(i, 0.0) + b.get(i, 0.0) for i in by_id}
        return [by_id[i] for i in sorted(scores, key=lambda i: -scores[i])]

    return fuse


FUSIONS: dict[str, Fuser] = {
    "dense": lambda d, b: d,
    "bm25": lambda d, b: b,
    "RRF k=2 (docqa before)": rrf(2),
    "RRF k=6, bm25 x0.75 (docqa, unmuted)": rrf(6, w_bm25=0.75),
    "RRF k=6": rrf(6),
    "RRF k=11": rrf(11),
    "RRF k=61": rrf(61),
    "RRF k=2, depth 100": rrf(2, depth=100),
    "RRF k=2, dense x1.5": rrf(2, w_dense=1.5),
    "RRF k=2, bm25 x1.5": rrf(2, w_bm25=1.5),
    "RRF k=2, bm25 x3": rrf(2, w_bm25=3.0),
    "RRF k=11, dense x1.5": rrf(11, w_dense=1.5),
    "RRF k=11, bm25 x1.5": rrf(11, w_bm25=1.5),
    "DBSF": dbsf(),
    "DBSF, dense x1.5": dbsf(1.5),
    "DBSF, dense x0.5": dbsf(0.5),
}


def _hit(point: ScoredPoint) -> Hit:
    files = tuple(str(f) for f in point.payload.get("files") or ())
    text = str(point.payload.get("text", ""))
    return Hit(
        files[0], text, point.score, page=point.payload.get("page"), chunk_id=point.id, files=files
    )


def own_language_bm25(question: Question, store: Store, settings: Settings) -> list[Hit]:
    """BM25 with the query stemmed in its detected language, as docqa's encoder now does (kept
    as its own list so the "query in all languages" rows stay comparable)."""
    sparse = Bm25Encoder(settings.languages).encode_query(question.question)
    return [_hit(p) for p in store.search(None, sparse, 100, mode="bm25")]


@dataclass
class Pools:
    """Per question of one language: its judge, relevant count and deep branch lists."""

    judges: list[Judge]
    relevant: list[int]
    lists: dict[str, list[list[Hit]]]


def pools(settings: Settings, store: Store, embedder: Embedder, questions: list[Question]) -> Pools:
    """Retrieve each branch once, 100 deep, so that every fusion is computed offline."""
    chunks = [frozenset(words(str(p.payload.get("text", "")))) for p in store.points()]
    out = Pools([Judge.of(q) for q in questions], [], {"dense": [], "bm25": [], "bm25-own": []})
    for q, judge in zip(questions, out.judges, strict=True):
        out.relevant.append(sum(1 for c in chunks if contains_answer(judge.terms, c)))
        for mode in ("dense", "bm25"):
            hits = search(q.question, settings, k=100, mode=mode, embedder=embedder, store=store)
            out.lists[mode].append(hits)
        out.lists["bm25-own"].append(own_language_bm25(q, store, settings))
    return out


def fusion_figures(pooled: dict[str, Pools], sparse: str, names: Sequence[str]) -> Figures:
    """hit@10 / MRR@10 of the fusions ``names`` (as mode names) per language, one BM25 list."""
    figures: Figures = {}
    for lang, p in pooled.items():
        lists = zip(p.judges, p.relevant, p.lists["dense"], p.lists[sparse], strict=True)
        cases = list(lists)
        for name in names:
            fuse = FUSIONS[name]
            ranked = [rank_hits(fuse(d, b)[:K], judge, K, n, 0.0) for judge, n, d, b in cases]
            hit = statistics.fmean(r.hit for r in ranked)
            mrr = statistics.fmean(r.rr for r in ranked)
            figures[(lang, name)] = (hit, mrr, len(ranked))
    return figures


CHUNKING = [(200, 32), (128, 32), (160, 32), (256, 32), (200, 0), (200, 64), (100, 16)]


def explore_chunking(embedder: Embedder) -> str:
    """Chunk size and overlap, judged by containment and by answer page."""
    by_answer, by_page = [], []
    for tokens, overlap in CHUNKING:
        settings = store_settings(tokens, overlap)
        name = f"{tokens} tok / {overlap} overlap"
        by_answer.append((name, measure(settings, "tune", embedder, MODES)))
        by_page.append((name, measure_pages(settings, "tune", embedder)))
    return (
        "Chunk size and overlap, judged by answer containment:\n\n"
        + figures_table(by_answer, MODES)
        + "\n\nThe same, judged by answer page (independent of chunk size):\n\n"
        + figures_table(by_page, MODES)
    )


def explore_stemming(embedder: Embedder) -> str:
    """BM25 with the French stemmer for French files (now) or the English one for every file."""
    rows = [
        (f"BM25 languages {langs}", measure(store_settings(langs=langs), "tune", embedder, MODES))
        for langs in ("en,fr", "en")
    ]
    return "French stemming (BM25 document and query languages):\n\n" + figures_table(rows, MODES)


def pooled_figures(
    settings: Settings, split: str, embedder: Embedder, names: Sequence[str]
) -> list[tuple[str, Figures]]:
    """Fusions ``names`` with the BM25 query stemmed in every language (now) or its own."""
    with opened(settings) as store:
        pooled = {
            lang: pools(settings, store, embedder, load_questions(path, split=split))
            for lang, path in question_files().items()
        }
    size = f"{settings.chunk_tokens}/{settings.chunk_overlap}"
    return [
        (f"{size}, query in all languages", fusion_figures(pooled, "bm25", names)),
        (f"{size}, query in its language", fusion_figures(pooled, "bm25-own", names)),
    ]


def explore_fusion(embedder: Embedder) -> str:
    """Every fusion, with both BM25 query variants, at the default chunking."""
    rows = pooled_figures(store_settings(), "tune", embedder, list(FUSIONS))
    return (
        "Fusion of the dense and BM25 lists (BM25 query stemmed under every configured "
        "language as now, or under the question's language only):\n\n"
        + figures_table(rows, list(FUSIONS))
    )


COMBINED = ["dense", "bm25", "RRF k=2 (docqa before)", "RRF k=2, bm25 x3", "DBSF"]


def explore_combined(embedder: Embedder) -> str:
    """The best chunking with the best query variant and the main fusions."""
    rows = [
        row
        for tokens in (200, 256)
        for row in pooled_figures(store_settings(tokens, 32), "tune", embedder, COMBINED)
    ]
    return "Combined (chunking x BM25 query x fusion):\n\n" + figures_table(rows, COMBINED)


MULTILINGUAL = "multilingual-e5-small"
MODELS = (Settings().embed_model, MULTILINGUAL)


def model_rows(
    split: str, embedder: Embedder, judge_by_page: bool = False
) -> list[tuple[str, Figures]]:
    """docqa's modes for each embedder, with and without PDF headings."""
    rows = []
    for model in MODELS:
        for headings in (False, True):
            settings = store_settings(model=model, headings=headings)
            emb = embedder if model == MODELS[0] else make_embedder(settings)
            name = f"{model}, {'headings' if headings else 'no headings'}"
            if judge_by_page:
                rows.append((name, measure_pages(settings, split, emb)))
            else:
                rows.append((name, measure(settings, split, emb, MODES)))
    return rows


def explore_headings(embedder: Embedder) -> str:
    """PDF heading paths (from the outline) on or off, for both embedders."""
    return (
        "PDF headings (outline) and embedder, judged by answer containment:\n\n"
        + figures_table(model_rows("tune", embedder), MODES)
        + "\n\nThe same, judged by answer page:\n\n"
        + figures_table(model_rows("tune", embedder, judge_by_page=True), MODES)
    )


def explore_fusion_e5(embedder: Embedder) -> str:
    """Every fusion on the multilingual-e5-small store with headings."""
    settings = store_settings(model=MULTILINGUAL)
    rows = pooled_figures(settings, "tune", make_embedder(settings), list(FUSIONS))
    return (
        f"Fusion with {MULTILINGUAL} (headings on; BM25 query in its own language):\n\n"
        + figures_table(rows[1:], list(FUSIONS))
    )


SECTIONS: dict[str, Callable[[Embedder], str]] = {
    "chunking": explore_chunking,
    "stemming": explore_stemming,
    "fusion": explore_fusion,
    "combined": explore_combined,
    "headings": explore_headings,
    "fusion-e5": explore_fusion_e5,
}


def explore(embedder: Embedder, names: Sequence[str]) -> str:
    """Run the named tune-split experiments; return every section run so far (cached)."""
    folder = CACHE / "sections"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.md").write_text(SECTIONS[name](embedder), encoding="utf-8")
    done = [folder / f"{name}.md" for name in SECTIONS if (folder / f"{name}.md").is_file()]
    return "\n\n".join(path.read_text(encoding="utf-8").strip() for path in done)


TEST_FUSIONS = [
    "dense",
    "bm25",
    "RRF k=2 (docqa before)",
    "RRF k=6, bm25 x0.75 (docqa, unmuted)",
    "RRF k=2, bm25 x1.5",
    "RRF k=11, dense x1.5",
    "DBSF",
    "DBSF, dense x0.5",
]


def report_test_split(embedder: Embedder) -> str:
    """The test split: docqa's modes for both embedders with and without PDF headings, then
    the fusions tried on the tune split, emulated on the stores with headings."""
    rows = model_rows("test", embedder)
    n = {lang: rows[0][1][(lang, "hybrid")][2] for lang in SETS}
    defaults = Settings()
    head = (
        f"Test split (EN n={n['EN']}, FR n={n['FR']}), docqa as it is ({defaults.chunk_tokens} "
        f"tokens, {defaults.chunk_overlap} overlap; hybrid = Qdrant RRF k=6 with BM25 at "
        "0.75, BM25 query stemmed in its own language), each embedder with and without PDF "
        "headings:\n\n" + figures_table(rows, MODES)
    )
    fused = []
    for model in MODELS:
        settings = store_settings(model=model)
        emb = embedder if model == MODELS[0] else make_embedder(settings)
        name, figures = pooled_figures(settings, "test", emb, TEST_FUSIONS)[1]
        fused.append((f"{model}, headings", figures))
    return (
        f"{head}\n\nFusions tried on the tune split, emulated here on the stores with "
        "headings:\n\n" + figures_table(fused, TEST_FUSIONS)
    )


def main() -> None:
    """Measure the test split (or run the tune-split experiments) and update the README."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--explore",
        nargs="?",
        const=",".join(SECTIONS),
        help=f"tune-split experiments: some of {','.join(SECTIONS)} (default: all)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    embedder = make_embedder(Settings())
    if args.explore:
        text, marker = explore(embedder, args.explore.split(",")), "quality:tune"
    else:
        text, marker = report_test_split(embedder), "quality:test"
    print(text)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    write_readme(marker, text)


if __name__ == "__main__":
    main()
