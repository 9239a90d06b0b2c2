"""Retrieval quality of docqa on the Python FAQ over the Python 3.11 HTML documentation.

Store: the HTML pages of Debian's ``python3.11-doc`` (``--docs``, the ``html/`` folder that
``../shared/corpora/fetch.sh`` unpacks) **less** the FAQ pages themselves (``faq/``: they hold
the gold answers, and a hit there would count as a miss), the changelogs (``whatsnew/``) and
Sphinx's generated navigation (``genindex*``, ``py-modindex``, ``search``, ``contents``): 467
of the 530 pages, which is how we read the corpora README's "BM25 nDCG@10 over 467 pages"
(it does not list them). The kept pages are linked into ``benchmarks/.cache/quality/
python-docs/`` and ingested by docqa (main content of each page, docqa's default chunking and
``--embed-model``, default docqa's own) into ``benchmarks/.cache/quality/python-<settings>/``,
once; ``build.json`` there records the ingest.

Questions: ``../shared/corpora/eval/python_faq.jsonl`` rows with ``use`` and ``linked_pages``
(76 of 162), converted by ``convert_questions.py``; relevance by page: a hit is relevant when
its file is one of the question's linked pages (each page counts once). The rows without
linked pages are left out: their answers live only in the FAQ pages, which the store leaves
out. Figures are ``docqa.evaluate(..., retrieval_only=True)`` at k = 10, modes dense, bm25 and
hybrid, on the **test** split and, reported apart, the **tune** split; nothing was tuned on
these questions. The tables are printed and written into ``benchmarks/README.md`` (between the
``quality:python`` markers).

Run: ``HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/quality_python.py
[--docs DIR] [--embed-model NAME]`` (the first run embeds 10,951 chunks: 17 minutes on 2
cores).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import convert_questions  # this folder
import quality  # this folder

from docqa.api import evaluate, ingest
from docqa.config import Settings
from docqa.embedding import Embedder, make_embedder
from docqa.evaluation import Question, load_questions, path_matches
from docqa.types import IngestEvent

DOCS = Path("/work/scale-corpus/debx/python3.11-doc/usr/share/doc/python3.11/html")
QUESTIONS = quality.CORPORA / "eval" / "python_faq.jsonl"
LINKS = quality.CACHE / "python-docs"
SPLITS = ("test", "tune")
LEFT_OUT_DIRS = ("faq", "whatsnew")
LEFT_OUT_PAGES = frozenset({"search.html", "py-modindex.html", "contents.html"})


# --- the store -------------------------------------------------------------------------------


def kept(rel: str) -> bool:
    """Whether the page at ``rel`` (relative to the HTML root) goes into the store."""
    top = rel.split("/", 1)[0]
    return not (
        top in LEFT_OUT_DIRS
        or top.startswith(("_", "genindex"))  # _static/, _sources/...: not pages
        or rel in LEFT_OUT_PAGES
    )


def pages(docs: Path) -> list[str]:
    """The kept HTML pages under ``docs``, as sorted relative POSIX paths."""
    found = (p.relative_to(docs).as_posix() for p in docs.rglob("*.html"))
    return sorted(rel for rel in found if kept(rel))


def link_pages(docs: Path, rels: Sequence[str]) -> Path:
    """A fresh folder of symlinks to ``rels``, same relative paths (docqa stores the targets)."""
    if LINKS.exists():
        shutil.rmtree(LINKS)  # links only: the pages themselves stay where they are
    for rel in rels:
        link = LINKS / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(docs / rel)
    return LINKS


def slug(text: str) -> str:
    """``text`` safe as part of a folder name (a model path becomes its parts joined by ``_``)."""
    return re.sub(r"[^\w.-]+", "_", text).strip("_")


def store_dir(settings: Settings) -> Path:
    """The cached store's folder (always set by :func:`store_settings`)."""
    return settings.store or quality.CACHE


def store_settings(embed_model: str | None) -> Settings:
    """Settings of the cached store: docqa's defaults, with ``embed_model`` when given."""
    model = embed_model or Settings().embed_model
    defaults = Settings(embed_model=model)
    name = f"python-{slug(model)}-c{defaults.chunk_tokens}-o{defaults.chunk_overlap}"
    return Settings(store=quality.CACHE / name, embed_model=model)


class ProgressLines:
    """Ingest progress as a plain line every ``every`` seconds (readable in a log file)."""

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self.started = time.perf_counter()
        self.last = -every
        self.stage = ""

    def __call__(self, event: IngestEvent) -> None:
        now = time.perf_counter() - self.started
        if event.stage == self.stage and now - self.last < self.every:
            return
        self.stage, self.last = event.stage, now
        done = f"{event.files_done}/{event.files_total} files"
        if event.chunks_total:
            done += f", {event.chunks}/{event.chunks_total} chunks"
        print(f"[{now:6.0f} s] {event.stage}: {done} {event.message}".rstrip(), flush=True)


def build(settings: Settings, docs: Path) -> dict[str, Any]:
    """Ingest the kept pages into the cached store once; the record of that ingest."""
    record_file = store_dir(settings) / "build.json"
    if record_file.is_file():
        record: dict[str, Any] = json.loads(record_file.read_text(encoding="utf-8"))
        if record["docs"] != str(docs):
            raise SystemExit(
                f"{settings.store} was built from {record['docs']}, not {docs}: "
                "delete that folder to rebuild it"
            )
        return record
    rels = pages(docs)
    if not rels:
        raise SystemExit(f"no HTML pages under {docs}: run ../shared/corpora/fetch.sh first")
    print(f"ingesting {len(rels)} pages of {docs} into {store_dir(settings)}", flush=True)
    started = time.perf_counter()
    report = ingest(link_pages(docs, rels), settings, on_progress=ProgressLines())
    record = {
        "docs": str(docs),
        "pages": len(rels),
        "chunks": report.chunks,
        "seconds": round(time.perf_counter() - started, 1),
        "summary": report.summary(),
        "failed": [list(f) for f in report.failed],
        "warnings": list(report.warnings),
    }
    record_file.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


# --- questions and figures ---------------------------------------------------------------------


def question_file() -> Path:
    """The Python FAQ rows that have linked pages, in docqa's format, written into the cache."""
    rows = [r for r in convert_questions.convert(QUESTIONS) if r.get("sources")]
    path = quality.CACHE / "questions" / "python_faq_linked.jsonl"
    convert_questions.write_jsonl(rows, path)
    return path


def missing_sources(questions: Sequence[Question], stored: set[str]) -> list[str]:
    """``id: page`` for each linked page that no file of the store matches."""
    return [
        f"{q.id}: {s.file}"
        for q in questions
        for s in q.sources
        if not any(path_matches(s.file, f) for f in stored)
    ]


Row = tuple[str, int, float, float, float, float]  # mode, n, hit, MRR, nDCG, recall


def measure(settings: Settings, embedder: Embedder, path: Path) -> dict[str, list[Row]]:
    """Per split, one row per mode (through ``docqa.evaluate``), plus a check of the sources."""
    figures: dict[str, list[Row]] = {}
    with quality.opened(settings) as store:
        stored = {str(f) for p in store.points() for f in p.payload.get("files") or ()}
        print(f"store: {len(stored)} files")
        for line in missing_sources(load_questions(path), stored):
            print(f"linked page not in the store: {line}")
        for split in SPLITS:
            report = evaluate(
                path,
                settings,
                k=quality.K,
                modes=quality.MODES,
                retrieval_only=True,
                split=split,
                embedder=embedder,
                store=store,
            )
            saved = store_dir(settings) / f"eval-{split}.json"
            saved.write_text(report.to_json(), encoding="utf-8")
            figures[split] = [
                (
                    s.mode,
                    s.questions,
                    s.hit_rate or 0.0,
                    s.mrr or 0.0,
                    s.ndcg or 0.0,
                    s.recall or 0.0,
                )
                for s in report.retrieval()
            ]
    return figures


def table(rows: Sequence[Row]) -> str:
    """Markdown: one line per mode."""
    k = quality.K
    lines = [
        f"| mode | n | hit@{k} | MRR@{k} | nDCG@{k} | recall@{k} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, n, *values in rows:
        lines.append(f"| {mode} | {n} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines)


def report_text(settings: Settings, embedder: Embedder, record: dict[str, Any]) -> str:
    """Both splits' tables, each headed by what was measured."""
    figures = measure(settings, embedder, question_file())
    store = (
        f"{record['pages']} pages, {record['chunks']} chunks, {embedder.id}, "
        f"{settings.chunk_tokens} tokens / {settings.chunk_overlap} overlap"
    )
    parts = [
        f"Python FAQ, **{split}** split ({store}; judged by linked page):\n\n"
        + table(figures[split])
        for split in SPLITS
    ]
    return "\n\n".join(parts)


def main() -> None:
    """Build the store if needed, measure both splits and update the README."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--docs", type=Path, default=DOCS, help=f"the HTML root of python3.11-doc (default {DOCS})"
    )
    parser.add_argument(
        "--embed-model", help=f"Settings.embed_model (default {Settings().embed_model})"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    settings = store_settings(args.embed_model)
    record = build(settings, args.docs.resolve())
    print(f"store {settings.store}: {record['summary']}")
    for path, reason in record["failed"]:
        print(f"failed: {path}: {reason}")
    text = report_text(settings, make_embedder(settings), record)
    print(text)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    # Each embedder has its own table: quality:python for the default, quality:python-<model>.
    default = settings.embed_model == Settings().embed_model
    quality.write_readme(
        "quality:python" if default else f"quality:python-{slug(settings.embed_model)}", text
    )


if __name__ == "__main__":
    main()
