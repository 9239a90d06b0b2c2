"""The one small ``Store`` protocol both Qdrant adapters implement.

Collection layout (decided once, shared by both adapters):

- named dense vector ``"dense"`` (cosine, the embedder's dim) and named sparse vector ``"bm25"``
  with the IDF modifier, both created with the collection;
- payload per point: ``sha256`` (content key), ``files`` (every absolute path holding those bytes),
  ``position`` (chunk index in the file), ``text``, ``page``, ``heading`` (list), ``first_line``,
  ``last_line``, ``fingerprint``, ``lang``;
- a point with an empty ``files`` is *unpublished*: ingest writes a file's points that way and
  publishes them all at once (one ``set_files``), so search, which never returns unpublished
  points, never serves a half-written file;
- keyword payload indexes on ``files``, ``sha256`` and ``lang``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

SearchMode = Literal["hybrid", "dense", "bm25"]

DENSE = "dense"
SPARSE = "bm25"


@dataclass(frozen=True)
class SparseVector:
    """Sparse vector as parallel index/value tuples (indices unique)."""

    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class StorePoint:
    """One point to write: id (UUID string), dense vector, BM25 sparse vector, payload."""

    id: str
    dense: Sequence[float]
    sparse: SparseVector
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class ScoredPoint:
    """One search result. ``dense_score`` is the cosine of the dense query, when it was run;
    ``dense`` the point's stored dense vector, when the search read it."""

    id: str
    score: float
    payload: Mapping[str, Any]
    dense_score: float | None = None
    dense: tuple[float, ...] | None = None


@dataclass(frozen=True)
class StoredPoint:
    """A point read back with its vectors (for checks and tests)."""

    id: str
    dense: tuple[float, ...]
    sparse: SparseVector
    payload: Mapping[str, Any] = field(default_factory=dict)


class Store(Protocol):
    """What docqa needs from a vector store. Adapters translate their errors to DocqaError."""

    kind: str

    def ensure(self, dim: int) -> None:
        """Create the collection if missing; raise IndexMismatchError if its dim differs."""

    def dim(self) -> int | None:
        """Dense dim of the existing collection, or None when there is none."""

    def upsert(self, points: Sequence[StorePoint]) -> None:
        """Write points (same id: replaced)."""

    def delete_content(self, sha256: str, keep_fingerprint: str | None = None) -> None:
        """Delete every point whose payload ``sha256`` matches, except those whose
        ``fingerprint`` is ``keep_fingerprint``."""

    def set_files(self, sha256: str, files: Sequence[str]) -> None:
        """Rewrite payload ``files`` of every point of that content."""

    def count(self, sha256: str | None = None) -> int:
        """Number of points, all or of one content."""

    def search(
        self,
        dense: Sequence[float] | None,
        sparse: SparseVector | None,
        k: int,
        mode: SearchMode = "hybrid",
        files: Sequence[str] | None = None,
        prefetch_k: int | None = None,
        where: Mapping[str, Sequence[str]] | None = None,
        weights: tuple[float, float] | None = None,
    ) -> list[ScoredPoint]:
        """Top-k points; hybrid = weighted RRF of dense and BM25 prefetches (``weights`` =
        (dense, bm25), default ``RRF_WEIGHTS``); ``files`` filters by path, ``where`` by payload
        values (each key: any of its values; all keys must hold). Unpublished points (empty
        ``files``) are never returned."""

    def points(self, with_vectors: bool = False) -> Iterator[StoredPoint]:
        """Every point (scroll), for status checks and tests."""

    def optimize(self) -> None:
        """Build indexes after bulk writes (may take seconds)."""

    def flush(self) -> None:
        """Make written points durable."""

    def release(self) -> None:
        """Let other processes at the store until the next operation (which reopens it)."""

    def close(self) -> None:
        """Release the store (locks, files, connections)."""

    def size_bytes(self) -> int:
        """Bytes on disk (0 when remote)."""

    def drop(self) -> None:
        """Delete the whole collection (used by ``docqa reset``)."""
