"""Rules both Qdrant adapters share, so Edge and server answer the same query the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from docqa.errors import IndexMismatchError
from docqa.stores.base import (
    DENSE,
    SPARSE,
    ScoredPoint,
    SearchMode,
    SparseVector,
    StoredPoint,
)

# Hybrid fusion: Qdrant's weighted RRF, score = sum of 1 / ((rank + 1) / weight + k - 1) over the
# dense and BM25 lists (rank from 0). Chosen on the tune splits of three question sets at once
# (Debian FAQ EN and FR with both embedders, Python FAQ over the Python docs): k = 6 with BM25
# at 0.75 ranked better than Qdrant's default (k = 2, equal weights) on all five, and on their
# test splits too (benchmarks/README.md, "Retrieval quality").
RRF_K = 6
RRF_WEIGHTS = (1.0, 0.75)  # (dense, bm25), in prefetch order
# Points per scroll page when reading everything back.
SCROLL_PAGE = 256


def prefetch_limit(k: int, prefetch_k: int | None) -> int:
    """Candidates each hybrid branch hands to fusion: enough that fusion can reorder the top k."""
    return prefetch_k if prefetch_k is not None else max(4 * k, 40)


def resolve_mode(
    mode: SearchMode, dense: Sequence[float] | None, sparse: SparseVector | None
) -> SearchMode | None:
    """The search that can actually run: hybrid falls back to one branch when the other is empty.

    Returns:
        The mode to run, or None when there is nothing to search with (empty BM25 query).

    Raises:
        ValueError: dense search without a dense vector.
    """
    has_sparse = sparse is not None and len(sparse.indices) > 0
    if mode == "dense" or (mode == "hybrid" and not has_sparse):
        if dense is None:
            raise ValueError("dense search needs a dense query vector")
        return "dense"
    if mode == "bm25" or dense is None:
        return "bm25" if has_sparse else None
    return "hybrid"


def scored_points(
    hits: Sequence[Any], run: SearchMode, dense: Sequence[float] | None
) -> list[ScoredPoint]:
    """Search hits of either engine (``id``, ``score``, ``payload``, ``vector``) as ScoredPoints.

    ``dense_score`` is the engine's score in dense mode, else the cosine to ``dense`` when a dense
    query was given: one matrix product for all hits (per-hit Python loops cost ~70 us a hit).
    """
    vectors = [dense_of(hit.vector) for hit in hits]
    if run == "dense":
        dense_scores: list[float | None] = [hit.score for hit in hits]
    elif dense is not None:
        dense_scores = cosines(dense, vectors)
    else:
        dense_scores = [None] * len(hits)
    return [
        ScoredPoint(
            id=str(hit.id),
            score=float(hit.score),
            payload=payload_dict(hit.payload),
            dense_score=cos,
            dense=tuple(vector) if vector else None,
        )
        for hit, vector, cos in zip(hits, vectors, dense_scores, strict=True)
    ]


def cosines(
    query: Sequence[float], vectors: Sequence[Sequence[float] | None]
) -> list[float | None]:
    """Cosine of the query to each vector; None where a vector is missing or either is zero.

    Raises:
        ValueError: a vector's length differs from the query's.
    """
    out: list[float | None] = [None] * len(vectors)
    rows = [i for i, vector in enumerate(vectors) if vector]
    q = np.asarray(query, dtype=np.float64)
    q_norm = float(np.linalg.norm(q))
    if not rows or not q_norm:
        return out
    matrix = np.array([vectors[i] for i in rows], dtype=np.float64)
    if matrix.shape[1] != q.shape[0]:
        raise ValueError(f"vectors of {matrix.shape[1]} floats against a {q.shape[0]}-d query")
    norms = np.linalg.norm(matrix, axis=1).tolist()
    for i, dot, norm in zip(rows, (matrix @ q).tolist(), norms, strict=True):
        out[i] = dot / (q_norm * norm) if norm else None
    return out


def as_floats(values: Sequence[float]) -> list[float]:
    """Plain Python floats (numpy arrays and scalars become lists of float)."""
    if type(values) is list:  # already plain (the hot path of bulk upserts): no copy
        return values
    tolist = getattr(values, "tolist", None)
    return list(tolist()) if tolist is not None else [float(v) for v in values]


def mismatch(where: object, old: int, new: int) -> IndexMismatchError:
    """The error for a store built with vectors of another size."""
    return IndexMismatchError(
        f"store {where} was built with {old}-d vectors, the embedder makes {new}-d: "
        "run `docqa reset` or set DOCQA_EMBED_MODEL back"
    )


def first_line(exc: BaseException) -> str:
    """One line of an engine error, for a one-line DocqaError message."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def payload_dict(payload: Any) -> dict[str, Any]:
    """The payload as a dict (engines give None when there is none)."""
    return dict(payload) if payload else {}


def floats(value: object) -> tuple[float, ...]:
    """A named dense vector as read back: a list of floats (multivectors are not used)."""
    if not isinstance(value, list):
        return ()
    return tuple(map(float, value))


def dense_of(vectors: object) -> list[float] | None:
    """The dense vector of a hit's named vectors, or None."""
    found = vectors.get(DENSE) if isinstance(vectors, dict) else None
    return list(floats(found)) or None


def stored_point(point_id: object, vectors: object, payload: Any) -> StoredPoint:
    """A record read back from either engine as a :class:`StoredPoint`.

    Both engines return the sparse vector as an object with ``indices`` and ``values``.
    """
    named = vectors if isinstance(vectors, dict) else {}
    sparse = named.get(SPARSE)
    indices = getattr(sparse, "indices", None)
    values = getattr(sparse, "values", None)
    return StoredPoint(
        id=str(point_id),
        dense=floats(named.get(DENSE)),
        sparse=SparseVector(tuple(indices), tuple(values))
        if indices is not None and values is not None
        else SparseVector((), ()),
        payload=payload_dict(payload),
    )


def filter_conditions(
    files: Sequence[str] | None, where: Mapping[str, Sequence[str]] | None
) -> dict[str, Sequence[str]]:
    """Payload conditions of a search: the ``files`` paths, then the ``where`` filters."""
    return {**({"files": files} if files else {}), **(where or {})}
