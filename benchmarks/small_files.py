"""Many small files: docqa's ingest against embedding alone of the same chunks (issue 14, req. 3).

    python benchmarks/small_files.py [--files 6000] [--words 190] [--profile]

The files are plain-text windows of ``--words`` words (the issue's 6,011 small files averaged
~190 words) cut from the English Debian FAQ, each prefixed with its number so no two share bytes,
written to a temp folder. One run, same files, model loaded before the timed spans:

- docqa ingest into a fresh temp store (to a durable, optimized store);
- embedding alone: ``embed_documents`` over docqa's own chunks of the same files, in slices of
  256 that the embedder cuts into its own forward batches (what a batched ingest could reach);
- with ``--profile``: the ingest once more into another fresh store with an instant embedder
  (random unit vectors, the real tokenizer), under cProfile: the per-file work that is not
  embedding, and the functions it goes to.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

import docqa  # noqa: E402
from docqa import embedding, parsing, sources  # noqa: E402
from docqa.chunking import Chunker, ChunkSpec, embed_text  # noqa: E402
from docqa.config import Settings  # noqa: E402

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "curated"
SOURCE_PDF = SOURCE / "en_faq_debian-faq.en.pdf"


def make_files(folder: Path, count: int, words: int, settings: Settings) -> None:
    parsed = parsing.parse(SOURCE_PDF, SOURCE_PDF.read_bytes(), settings)
    vocab = " ".join(s.text for s in parsed.sections).split()
    for i in range(count):
        start = (i * words) % max(1, len(vocab) - words)
        text = f"Note {i}.\n" + " ".join(vocab[start : start + words]) + "\n"
        (folder / f"note{i:05d}.txt").write_text(text, encoding="utf-8")


def own_chunks(folder: Path, settings: Settings, emb: embedding.Embedder) -> list[str]:
    """docqa's own chunks of the files (parsed and cut as ingest does)."""
    spec = ChunkSpec(emb.info.max_tokens, settings.chunk_tokens, settings.chunk_overlap)
    chunker = Chunker(embedding.load_tokenizer(emb.info), spec)
    texts: list[str] = []
    for src in sources.scan(folder).files:
        parsed = parsing.parse(src.path, parsing.read_bytes(src.path), settings)
        texts += [embed_text(c) for c in chunker.chunk(parsed.sections)]
    return texts


class Instant:
    """The real embedder's model info and tokenizer, with random unit vectors at no cost."""

    def __init__(self, inner: embedding.Embedder) -> None:
        self.info, self.backend, self.id = inner.info, inner.backend, inner.id
        self.rng = np.random.default_rng(0)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        vecs = self.rng.normal(size=(len(texts), self.info.dim)).astype(np.float32)
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def timed_ingest(folder: Path, settings: Settings, emb: object) -> tuple[float, docqa.IngestReport]:
    start = time.perf_counter()
    report = docqa.ingest(folder, settings, embedder=emb)  # type: ignore[arg-type]
    return time.perf_counter() - start, report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=6000)
    ap.add_argument("--words", type=int, default=190)
    ap.add_argument("--profile", action="store_true", help="also profile with an instant embedder")
    ap.add_argument("--no-real", action="store_true", help="skip the real-embedder spans")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="docqa-small-"))
    try:
        folder = work / "files"
        folder.mkdir()
        settings = Settings(store=work / "store")
        make_files(folder, args.files, args.words, settings)
        emb = embedding.make_embedder(settings)
        texts = own_chunks(folder, settings, emb)
        print(f"{args.files} files of ~{args.words} words: {len(texts)} chunks")
        if not args.no_real:
            emb.embed_documents(texts[:64])  # load the backend (auto loads it lazily)
            ingest_s, report = timed_ingest(folder, settings, emb)
            start = time.perf_counter()
            for i in range(0, len(texts), 256):  # the embedder cuts its own forward batches
                emb.embed_documents(texts[i : i + 256])
            embed_s = time.perf_counter() - start
            print(
                f"docqa ingest {ingest_s:.1f} s ({args.files / ingest_s:.1f} files/s, "
                f"{report.chunks} chunks); embedding alone {embed_s:.1f} s "
                f"({emb.id}, forward batches of {getattr(emb, 'batch_size', '?')}); "
                f"embedding-only time / ingest time = "
                f"{embed_s / ingest_s:.2f} (goal >= 0.9)"
            )
        if args.profile:
            fast = Settings(store=work / "store-instant")
            import docqa.api  # noqa: F401  (imported outside the profile)

            profile = cProfile.Profile()
            start = time.perf_counter()
            profile.enable()
            report = docqa.ingest(folder, fast, embedder=Instant(emb))  # type: ignore[arg-type]
            profile.disable()
            span = time.perf_counter() - start
            print(
                f"ingest with an instant embedder: {span:.1f} s = "
                f"{span / args.files * 1000:.1f} ms per file ({report.chunks} chunks); "
                "where it goes (cumulative s, under cProfile):"
            )
            pstats.Stats(profile).sort_stats("cumulative").print_stats(22)
            pstats.Stats(profile).sort_stats("tottime").print_stats(12)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
