"""Ingest benchmark: docqa vs embedding alone vs LlamaIndex's default path, on the same files.

    python benchmarks/ingest.py                  # the three curated manuals (261 pages)
    python benchmarks/ingest.py --corpus DIR     # e.g. the scale corpus (shared/corpora/fetch.sh)
    python benchmarks/ingest.py --store-scale    # the store alone at 100k and 300k points

Timed span for docqa: from the ingest call to a durable, optimized store (process start and model
load are reported separately). Figures are printed; copy them into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
T0 = time.perf_counter()
import docqa  # noqa: E402
from docqa import embedding, parsing, sources  # noqa: E402
from docqa.chunking import Chunker, ChunkSpec, embed_text  # noqa: E402
from docqa.config import Settings  # noqa: E402

IMPORT_S = time.perf_counter() - T0
CURATED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "curated"
DEFAULT_FILES = ["en_faq_debian-faq.en.pdf", "fr_faq_debian-faq.fr.pdf", "en_manual_R-intro.pdf"]


def corpus_dir(arg: str | None, work: Path) -> Path:
    if arg:
        return Path(arg)
    folder = work / "corpus"
    folder.mkdir()
    for name in DEFAULT_FILES:
        shutil.copy(CURATED / name, folder / name)
    return folder


def docqa_chunks(folder: Path, settings: Settings, emb: embedding.Embedder) -> list[str]:
    """docqa's own chunks of the corpus (parsed and cut exactly as ingest does)."""
    spec = ChunkSpec(emb.info.max_tokens, settings.chunk_tokens, settings.chunk_overlap)
    chunker = Chunker(embedding.load_tokenizer(emb.info), spec)
    texts: list[str] = []
    for src in sources.scan(folder).files:
        try:
            parsed = parsing.parse(src.path, parsing.read_bytes(src.path), settings)
        except docqa.DocqaError:
            continue
        texts += [embed_text(c) for c in chunker.chunk(parsed.sections)]
    return texts


def time_embedding(emb: embedding.Embedder, texts: list[str], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        emb.embed_documents(texts[i : i + batch])
    return time.perf_counter() - start


def token_fraction(tok: object, texts: list[str], limit: int) -> float:
    """Share of the texts' tokens that fit in the model window (specials included)."""
    counts = [len(e.ids) for e in tok.encode_batch(texts)]  # type: ignore[attr-defined]
    return sum(min(n, limit) for n in counts) / max(1, sum(counts))


def llamaindex_path(folder: Path, model_dir: Path) -> tuple[float, list[str]]:
    """LlamaIndex's default path: SimpleDirectoryReader + SentenceSplitter(1024) + HF embedding."""
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    embed_model = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu")
    start = time.perf_counter()
    docs = SimpleDirectoryReader(str(folder), required_exts=[".pdf"]).load_data()
    nodes = SentenceSplitter(chunk_size=1024).get_nodes_from_documents(docs)
    VectorStoreIndex(nodes, embed_model=embed_model)
    seconds = time.perf_counter() - start
    return seconds, [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]


class _Timed:
    """Wraps an embedder and adds up the time spent in embed_documents."""

    def __init__(self, inner: embedding.Embedder) -> None:
        self.inner, self.info, self.backend, self.id = inner, inner.info, inner.backend, inner.id
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> object:
        start = time.perf_counter()
        out = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - start
        return out

    def embed_query(self, text: str) -> object:
        return self.inner.embed_query(text)


def count_pages(folder: Path, settings: Settings) -> int:
    """PDF pages with text, and one page per other file (a PDF page cut at its headings gives
    several sections: they count once)."""
    pages = 0
    for src in sources.scan(folder).files:
        with contextlib.suppress(docqa.DocqaError):
            sections = parsing.parse(src.path, parsing.read_bytes(src.path), settings).sections
            numbers = {s.page for s in sections if s.page is not None}
            pages += len(numbers) if numbers else 1
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", help="folder to ingest (default: three curated manuals)")
    parser.add_argument("--skip-llamaindex", action="store_true")
    parser.add_argument("--store-scale", action="store_true", help="store alone at 100k/300k")
    args = parser.parse_args()
    if args.store_scale:
        from store_scale import run as run_scale  # type: ignore[import-not-found]

        run_scale()
        return
    work = Path(tempfile.mkdtemp(prefix="docqa-bench-"))
    folder = corpus_dir(args.corpus, work)
    settings = Settings(store=work / "store")
    t = time.perf_counter()
    emb = embedding.make_embedder(settings)
    # auto: measure here if this machine has no cached choice (not in the timed span)
    getattr(emb, "documents_embedder", lambda: emb)().embed_documents(["warm up"])
    load_s = time.perf_counter() - t
    pages = count_pages(folder, settings)

    inside = _Timed(emb)
    report = docqa.ingest(folder, settings, embedder=inside)  # type: ignore[arg-type]
    ingest_s = report.seconds
    again = docqa.ingest(folder, settings)
    texts = docqa_chunks(folder, settings, emb)
    embed_s = time_embedding(emb, texts, settings.embed_batch_size * 4)
    tok = embedding.load_tokenizer(emb.info)

    print(f"corpus: {folder} — {pages} pages, {report.chunks} chunks, embedder {emb.id}")
    print(f"import docqa: {IMPORT_S:.2f} s   model load: {load_s:.2f} s (not in the timed span)")
    print(
        f"docqa ingest: {ingest_s:.1f} s = {pages / ingest_s:.2f} pages/s, "
        f"{report.chunks / ingest_s:.1f} chunks/s"
    )
    print(
        f"embedding only (same chunks, same embedder): {embed_s:.1f} s = "
        f"{pages / embed_s:.2f} pages/s; ratio embed/ingest = {embed_s / ingest_s:.3f} "
        f"(gate >= 0.9)"
    )
    share = inside.seconds / ingest_s
    print(f"embedding inside that run: {inside.seconds:.1f} s = {share:.3f} of the span (same run)")
    print(
        f"unchanged re-ingest: {again.seconds:.2f} s = {again.seconds / ingest_s:.2%} of the "
        f"first (gate <= 3%)"
    )
    print(f"docqa tokens embedded: {token_fraction(tok, texts, emb.info.max_tokens):.1%}")
    if not args.skip_llamaindex:
        li_s, li_texts = llamaindex_path(folder, emb.info.path)
        print(
            f"LlamaIndex default path: {li_s:.1f} s = {pages / li_s:.2f} pages/s, "
            f"{len(li_texts)} chunks, "
            f"{sum(1 for n in (len(e.ids) for e in tok.encode_batch(li_texts)) if n > 256)} "
            f"over 256 tokens; tokens embedded "
            f"{token_fraction(tok, li_texts, emb.info.max_tokens):.1%}"
        )
        print(
            f"docqa / LlamaIndex pages/s: {(pages / ingest_s) / (pages / li_s):.2f} (goal >= 0.85)"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
