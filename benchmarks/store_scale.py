"""The embedded store alone at scale: upsert points/s and hybrid filtered query latency.

Vectors are perturbed copies of real chunk embeddings (the Debian FAQ, default embedder), with
the chunks' real payloads and BM25 sparse vectors; run through ``benchmarks/ingest.py
--store-scale`` or directly: ``python benchmarks/store_scale.py [--sizes 100000,300000]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from docqa import embedding, parsing
from docqa.chunking import Chunker, ChunkSpec, embed_text
from docqa.config import Settings
from docqa.sparse import Bm25Encoder
from docqa.stores import StorePoint
from docqa.stores.edge import EdgeStore

CURATED = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "curated"
FILES = 1000  # distinct paths the points are spread over (the filter picks 2 of them)


def base_chunks() -> tuple[list[str], np.ndarray, list[str]]:
    settings = Settings()
    emb = embedding.make_embedder(settings)
    chunker = Chunker(embedding.load_tokenizer(emb.info), ChunkSpec(256, 200, 32))
    texts, langs = [], []
    for name, lang in (("en_faq_debian-faq.en.pdf", "en"), ("fr_faq_debian-faq.fr.pdf", "fr")):
        path = CURATED / name
        parsed = parsing.parse(path, path.read_bytes(), settings)
        chunks = chunker.chunk(parsed.sections)
        texts += [embed_text(c) for c in chunks]
        langs += [lang] * len(chunks)
    return texts, emb.embed_documents(texts), langs


def points(n: int, texts: list[str], vecs: np.ndarray, langs: list[str]) -> list[StorePoint]:
    rng = np.random.default_rng(0)
    enc = Bm25Encoder()
    sparse = [enc.encode_document(t, lang) for t, lang in zip(texts, langs, strict=True)]
    out = []
    for i in range(n):
        j = i % len(texts)
        v = vecs[j] + rng.normal(0, 0.02, vecs.shape[1]).astype(np.float32)
        v /= np.linalg.norm(v)
        payload = {
            "sha256": f"{i % FILES:064x}",
            "files": [f"/corpus/file{i % FILES}.pdf"],
            "position": i,
            "text": texts[j],
            "page": 1 + i % 300,
            "heading": [],
            "first_line": None,
            "last_line": None,
            "fingerprint": "bench",
            "lang": langs[j],
        }
        out.append(StorePoint(str(uuid.UUID(int=i + 1)), v.tolist(), sparse[j], payload))
    return out


def measure(n: int, data: tuple[list[str], np.ndarray, list[str]]) -> None:
    texts, vecs, langs = data
    pts = points(n, texts, vecs, langs)
    folder = Path(tempfile.mkdtemp(prefix="docqa-scale-"))
    store = EdgeStore(folder, "docqa")
    store.ensure(vecs.shape[1])
    start = time.perf_counter()
    for i in range(0, n, 256):
        store.upsert(pts[i : i + 256])
    store.flush()
    upsert_s = time.perf_counter() - start
    start = time.perf_counter()
    store.optimize()
    optimize_s = time.perf_counter() - start
    enc, rng = Bm25Encoder(), np.random.default_rng(1)
    lat = []
    for q in range(200):
        j = int(rng.integers(len(texts)))
        files = [f"/corpus/file{(q * 7) % FILES}.pdf", f"/corpus/file{(q * 13) % FILES}.pdf"]
        t = time.perf_counter()
        store.search(vecs[j].tolist(), enc.encode_query(texts[j][:200]), 8, "hybrid", files)
        lat.append((time.perf_counter() - t) * 1000)
    unfiltered = []
    for _ in range(100):
        j = int(rng.integers(len(texts)))
        t = time.perf_counter()
        store.search(vecs[j].tolist(), enc.encode_query(texts[j][:200]), 8, "hybrid")
        unfiltered.append((time.perf_counter() - t) * 1000)
    store.close()
    start = time.perf_counter()
    reopened = EdgeStore(folder, "docqa")
    count = reopened.count()
    reopen_s = time.perf_counter() - start
    reopened.close()
    p95 = statistics.quantiles(lat, n=20)[18]
    print(
        f"{n:>7} points: upsert {n / upsert_s:,.0f} pts/s ({upsert_s:.1f} s), optimize "
        f"{optimize_s:.1f} s, hybrid filtered query p50 {statistics.median(lat):.2f} ms "
        f"p95 {p95:.2f} ms, unfiltered p50 {statistics.median(unfiltered):.2f} ms, "
        f"reopen+count {reopen_s:.2f} s ({count} points)"
    )


def run(sizes: tuple[int, ...] = (100_000, 300_000)) -> None:
    """Measure each size in turn on a fresh store."""
    data = base_chunks()
    mean_chars = np.mean([len(t) for t in data[0]])
    print(f"base: {len(data[0])} real chunks; payload text ~{mean_chars:.0f} chars")
    for n in sizes:
        measure(n, data)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,300000")
    run(tuple(int(s) for s in ap.parse_args().sizes.split(",")))
