"""The embedded store alone at scale: upsert points/s and hybrid filtered query latency.

Vectors are perturbed copies of real chunk embeddings (the Debian FAQ, default embedder), with
the chunks' real payloads and BM25 sparse vectors; run through ``benchmarks/ingest.py
--store-scale`` or directly: ``python benchmarks/store_scale.py [--sizes 100000,300000]``.
Search figures are the min / median over ``--rounds`` of the per-round p50, with the engine's
query alone beside it (the rest is docqa's Python around it). ``--keep DIR`` keeps the stores,
``--search-only DIR/<size>`` re-times search on one (e.g. to set two checkouts side by side).
"""

from __future__ import annotations

import argparse
import shutil
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
from docqa.stores._shared import RRF_WEIGHTS
from docqa.stores.edge import EdgeStore, _edge_point, _filter

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


def search_p50s(
    store: EdgeStore, data: tuple[list[str], np.ndarray, list[str]], rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """Per round: p50 of the hybrid filtered search, of its engine query alone (same request,
    no Python post-processing), and of the unfiltered search (ms, wall clock)."""
    texts, vecs, _langs = data
    enc, rng = Bm25Encoder(), np.random.default_rng(1)
    filtered = []
    for q in range(200):
        j = int(rng.integers(len(texts)))
        files = [f"/corpus/file{(q * 7) % FILES}.pdf", f"/corpus/file{(q * 13) % FILES}.pdf"]
        filtered.append((vecs[j].tolist(), enc.encode_query(texts[j][:200]), files))
    unfiltered = [(d, s, None) for d, s, _f in filtered[:100]]
    shard = store._require()
    full, engine, plain = [], [], []
    for _ in range(rounds):
        for queries, out in ((filtered, full), (unfiltered, plain)):
            lat = []
            for dense, sparse, files in queries:
                t = time.perf_counter()
                store.search(dense, sparse, 8, "hybrid", files)
                lat.append((time.perf_counter() - t) * 1000)
            out.append(statistics.median(lat))
        lat = []
        for dense, sparse, files in filtered:
            request = store._request(
                "hybrid", dense, sparse, 8, _filter(files, None), 40, RRF_WEIGHTS
            )
            t = time.perf_counter()
            shard.query(request)
            lat.append((time.perf_counter() - t) * 1000)
        engine.append(statistics.median(lat))
    return full, engine, plain


def spread(values: list[float]) -> str:
    """min / median of per-round figures."""
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def measure(
    n: int, data: tuple[list[str], np.ndarray, list[str]], rounds: int, keep: Path | None
) -> None:
    texts, vecs, langs = data
    pts = points(n, texts, vecs, langs)
    folder = keep if keep is not None else Path(tempfile.mkdtemp(prefix="docqa-scale-"))
    store = EdgeStore(folder, "docqa")
    store.ensure(vecs.shape[1])
    start = time.perf_counter()
    for i in range(0, n, 256):
        store.upsert(pts[i : i + 256])
    store.flush()
    upsert_s = time.perf_counter() - start
    # The share of that span spent building Qdrant Edge's point objects from Python.
    start = time.perf_counter()
    for i in range(0, n, 256):
        [_edge_point(p) for p in pts[i : i + 256]]
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    store.optimize()
    optimize_s = time.perf_counter() - start
    print(
        f"{n:>7} points: upsert {n / upsert_s:,.0f} pts/s ({upsert_s:.1f} s, of which building "
        f"point objects ~{build_s:.1f} s), optimize {optimize_s:.1f} s",
        flush=True,
    )
    report_search(store, data, rounds)
    store.close()
    start = time.perf_counter()
    reopened = EdgeStore(folder, "docqa")
    count = reopened.count()
    reopen_s = time.perf_counter() - start
    reopened.close()
    print(f"{'':>7}  reopen+count {reopen_s:.2f} s ({count} points)")
    if keep is None:
        shutil.rmtree(folder, ignore_errors=True)


def report_search(
    store: EdgeStore, data: tuple[list[str], np.ndarray, list[str]], rounds: int
) -> None:
    full, engine, plain = search_p50s(store, data, rounds)
    print(
        f"{'':>7}  hybrid filtered p50 {spread(full)} ms (engine query alone {spread(engine)} "
        f"ms), unfiltered p50 {spread(plain)} ms  [min / median of {rounds} rounds]",
        flush=True,
    )


def run(
    sizes: tuple[int, ...] = (100_000, 300_000), rounds: int = 3, keep: Path | None = None
) -> None:
    """Measure each size in turn on a fresh store."""
    data = base_chunks()
    mean_chars = np.mean([len(t) for t in data[0]])
    print(f"base: {len(data[0])} real chunks; payload text ~{mean_chars:.0f} chars")
    for n in sizes:
        measure(n, data, rounds, keep / str(n) if keep is not None else None)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,300000")
    ap.add_argument("--rounds", type=int, default=3, help="search rounds of 200 queries")
    ap.add_argument("--keep", type=Path, help="build the stores in KEEP/<size> and keep them")
    ap.add_argument("--search-only", type=Path, help="only time search on a kept store")
    args = ap.parse_args()
    if args.search_only is not None:
        kept = EdgeStore(args.search_only, "docqa")
        report_search(kept, base_chunks(), args.rounds)
        kept.close()
    else:
        run(tuple(int(s) for s in args.sizes.split(",")), args.rounds, args.keep)
