"""Query latency of docqa's hybrid retrieval on the embedded Qdrant Edge store, by store size.

What is timed: ``docqa.search`` end to end, as ``docqa search`` and ``docqa ask`` run
it: query embedding with the real default embedder, BM25 query encoding, the hybrid RRF query on
an optimized (HNSW-indexed) Edge shard that is already open, and turning points into hits.
Opening the shard and loading the embedder are one-off costs, reported apart.

Stores: the real chunks of the English and French Debian FAQ PDFs (dense vectors, BM25 sparse
vectors and payloads as docqa ingests them; built by ``calibrate_floor.py``'s cached store),
repeated with perturbed copies up to the size: each copy's dense vector gets Gaussian noise
(cosine ~0.95 to its original), drops a tenth of its BM25 terms, and keeps the full payload
text under its own file path. Stores are cached under ``benchmarks/.cache/query/``.

Questions: the Debian FAQ questions (EN + FR) and the Python FAQ questions.

Run: ``HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/query.py``
(1k and 10k chunks; ``--scale`` adds 100k and 300k, which take minutes to build).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import calibrate_floor as floor  # this folder: its cached store holds the real FAQ chunks
import numpy as np

from docqa.api import search
from docqa.config import Settings
from docqa.embedding import Embedder, make_embedder
from docqa.sparse import Bm25Encoder
from docqa.stores import SparseVector, StoredPoint, StorePoint
from docqa.stores.edge import EdgeStore

CACHE = floor.HERE / ".cache" / "query"
BATCH = 256
NOISE = 0.016  # per-dimension sigma: cosine of a 384-d unit vector to its noisy copy ~0.95


def source_points() -> list[StoredPoint]:
    """The real FAQ chunks with their vectors, from calibrate_floor's cached store."""
    settings = Settings(store=floor.CACHE / "store")
    if not (floor.CACHE / "store").is_dir():
        floor.build_store(settings)
    with EdgeStore(floor.CACHE / "store", settings.collection) as store:
        return list(store.points(with_vectors=True))


def _copy(point: StoredPoint, copy: int, index: int, rng: np.random.Generator) -> StorePoint:
    dense = np.asarray(point.dense, dtype=np.float32)
    sparse = point.sparse
    files = [str(f) for f in point.payload.get("files") or ()]
    if copy:
        dense = dense + rng.normal(0.0, NOISE, dense.shape).astype(np.float32)
        keep = rng.random(len(sparse.indices)) >= 0.1
        sparse = SparseVector(
            tuple(i for i, k in zip(sparse.indices, keep, strict=True) if k),
            tuple(v for v, k in zip(sparse.values, keep, strict=True) if k),
        )
        files = [f"/bench/copy{copy:05d}/{Path(f).name}" for f in files]
    payload: dict[str, Any] = dict(point.payload) | {"files": files}
    payload["sha256"] = f"{payload.get('sha256', '')}-{copy}"
    dense /= np.linalg.norm(dense)
    return StorePoint(str(uuid.UUID(int=index + 1)), dense.tolist(), sparse, payload)


def synthetic(source: list[StoredPoint], size: int) -> Iterator[list[StorePoint]]:
    """``size`` points in batches: the real chunks first, then perturbed copies."""
    rng = np.random.default_rng(0)
    batch: list[StorePoint] = []
    for index in range(size):
        copy, at = divmod(index, len(source))
        batch.append(_copy(source[at], copy, index, rng))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def build(size: int, source: list[StoredPoint]) -> tuple[Path, dict[str, float]]:
    """The cached store of ``size`` points, built (upsert + optimize) when missing."""
    folder = CACHE / f"edge-{size}"
    done = folder / "built.json"
    if done.is_file():
        return folder, json.loads(done.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    store = EdgeStore(folder, "docqa")
    started = time.perf_counter()
    store.ensure(len(source[0].dense))
    for batch in synthetic(source, size):
        store.upsert(batch)
    upserted = time.perf_counter()
    store.optimize()
    store.close()
    facts = {"upsert_s": upserted - started, "optimize_s": time.perf_counter() - upserted}
    facts["disk_mb"] = EdgeStore(folder, "docqa").size_bytes() / 1e6
    done.write_text(json.dumps(facts))
    return folder, facts


def questions() -> list[str]:
    """Every Debian FAQ (EN, FR) and Python FAQ question with ``use``."""
    out: list[str] = []
    for path in floor.SETS.values():
        for split in floor.questions(path).values():
            out.extend(split)
    return out


def measure(folder: Path, embedder: Embedder, asked: list[str]) -> dict[str, float]:
    """Open the store, warm up, then time every question (total, and embedding alone)."""
    settings = Settings(store=folder)
    started = time.perf_counter()
    store = EdgeStore(folder, "docqa")
    store.count()  # opens the shard
    facts = {"open_s": time.perf_counter() - started}
    encoder = Bm25Encoder(settings.languages)
    try:
        for q in asked[:10]:
            search(q, settings, embedder=embedder, store=store)
        total, embed, query = [], [], []
        for q in asked:
            t0 = time.perf_counter()
            search(q, settings, embedder=embedder, store=store)
            t1 = time.perf_counter()
            dense = embedder.embed_query(q)
            t2 = time.perf_counter()
            store.search(dense, encoder.encode_query(q), settings.top_k)
            t3 = time.perf_counter()
            total.append(t1 - t0)
            embed.append(t2 - t1)
            query.append(t3 - t2)
    finally:
        store.close()
    ms = {name: np.array(v) * 1e3 for name, v in (("t", total), ("e", embed), ("q", query))}
    for name, values in ms.items():
        facts[f"{name}50"], facts[f"{name}95"] = np.percentile(values, [50, 95]).tolist()
    return facts


def main() -> None:
    """Build (or reuse) each store, time the questions, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="also 100k and 300k chunks")
    parser.add_argument("--sizes", type=int, nargs="*", help="explicit sizes (overrides)")
    parser.add_argument(
        "--answer", action="store_true", help="docqa's overhead around the LLM and SmolLM2 TTFT"
    )
    args = parser.parse_args()
    if args.answer:
        import answer_overhead

        answer_overhead.run()
        return
    sizes = args.sizes or ([1_000, 10_000, 100_000, 300_000] if args.scale else [1_000, 10_000])
    source = source_points()
    started = time.perf_counter()
    embedder = make_embedder(Settings())
    load_s = time.perf_counter() - started
    asked = questions()
    print(f"{len(source)} real chunks; embedder {embedder.id} loaded in {load_s:.2f} s; ", end="")
    print(f"{len(asked)} questions, top_k {Settings().top_k}, hybrid\n")
    print(
        "| chunks | search p50 | p95 | embed p50 | Edge query p50 | p95 "
        "| open | upsert | optimize | disk |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for size in sizes:
        folder, built = build(size, source)
        f = measure(folder, embedder, asked) | built
        print(
            f"| {size:,} | {f['t50']:.1f} ms | {f['t95']:.1f} ms | {f['e50']:.1f} ms "
            f"| {f['q50']:.2f} ms | {f['q95']:.2f} ms | {f['open_s']:.2f} s "
            f"| {f['upsert_s']:.1f} s | {f['optimize_s']:.1f} s | {f['disk_mb']:.0f} MB |",
            flush=True,
        )


if __name__ == "__main__":
    main()
