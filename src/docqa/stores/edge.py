"""Embedded store: one Qdrant Edge shard inside the docqa store folder.

Layout: ``<store>/qdrant/<collection>/`` is the shard (WAL + mmap segments),
``<store>/qdrant/<collection>.json`` records the dense dim so :meth:`EdgeStore.dim` answers
without opening (and locking) the shard, ``.lock`` and ``.queue`` beside it are the gate.

The shard opens lazily on the first operation that needs it and stays open until
:meth:`EdgeStore.close` (or :meth:`EdgeStore.release`, after which the next operation opens it
again). One process at a time may open a shard, and only after taking ``<collection>.lock``:
qdrant-edge 0.9 refuses a second opener (WouldBlock) only *after* touching the shard's files,
which corrupts the open shard of the first (measured: its next flush fails with "tracker
journal is shorter than expected", or upserts vanish). Meeting the lock held, an opener retries
with backoff for ``lock_wait_s`` seconds (readers :data:`READ_WAIT_S`, writers
:data:`WRITE_WAIT_S`), then raises :class:`~docqa.errors.StoreLockedError` naming the holder.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import qdrant_edge as qe

from docqa.errors import DocqaError, StoreError, StoreLockedError
from docqa.storedir import Gate, holder
from docqa.stores._shared import (
    RRF_K,
    RRF_WEIGHTS,
    SCROLL_PAGE,
    as_floats,
    filter_conditions,
    first_line,
    mismatch,
    prefetch_limit,
    resolve_mode,
    scored_points,
    stored_point,
)
from docqa.stores.base import (
    DENSE,
    SPARSE,
    ScoredPoint,
    SearchMode,
    SparseVector,
    StoredPoint,
    StorePoint,
)

INDEXED_FIELDS = ("files", "sha256", "lang")
# How long an operation waits for another process to release the shard. A reader (search, status,
# a notebook session keeping the shard ~2 s after its last query) holds it briefly, and an ingest
# holds it only while it writes one file's points; optimize after a large ingest holds it longest.
# `docqa serve`'s requests wait as long, then answer 503 with Retry-After (docqa.server.errors).
READ_WAIT_S = 15.0
WRITE_WAIT_S = 60.0


Method = TypeVar("Method", bound=Callable[..., Any])


def _serialized(method: Method) -> Method:
    """One operation at a time per store object: a thread never closes the shard under another."""

    @functools.wraps(method)
    def wrapper(self: EdgeStore, *args: Any, **kwargs: Any) -> Any:
        with self._mutex:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _edge_config(dim: int) -> qe.EdgeConfig:
    # Defaults otherwise: HNSW m=16 built by optimize(), payload memory-mapped on disk, WAL on
    # (never disable it).
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )


def _match(conditions: Mapping[str, Sequence[str]], must_not: list[Any] | None = None) -> qe.Filter:
    """All conditions must hold; each matches any of its values."""
    must: list[Any] = []
    for name, vals in conditions.items():
        match = qe.MatchValue(vals[0]) if len(vals) == 1 else qe.MatchAny(list(vals))
        must.append(qe.FieldCondition(key=name, match=match))
    return qe.Filter(must=must, must_not=must_not)


def _filter(files: Sequence[str] | None, where: Mapping[str, Sequence[str]] | None) -> qe.Filter:
    """The search filter: the caller's conditions, and never a point not yet published."""
    return _match(filter_conditions(files, where), [qe.IsEmptyCondition(key="files")])


def _content(sha256: str, keep_fingerprint: str | None = None) -> qe.Filter:
    """The points of one content, less those made with ``keep_fingerprint``."""
    if keep_fingerprint is None:
        return _match({"sha256": [sha256]})
    keep = qe.FieldCondition(key="fingerprint", match=qe.MatchValue(keep_fingerprint))
    return _match({"sha256": [sha256]}, [keep])


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(list(vector.indices), [float(v) for v in vector.values])


def _edge_point(point: StorePoint) -> qe.Point:
    vectors: dict[str, Any] = {DENSE: as_floats(point.dense)}
    if point.sparse.indices:
        vectors[SPARSE] = _sparse(point.sparse)
    return qe.Point(id=point.id, vector=vectors, payload=dict(point.payload))


def _stored(record: qe.Record) -> StoredPoint:
    return stored_point(record.id, record.vector, record.payload)


def _locked(exc: Exception) -> bool:
    return "WouldBlock" in str(exc)


def locked_error(where: Path, who: str = "") -> StoreLockedError:
    """The error for a shard another process holds (``who``: that process, when known)."""
    return StoreLockedError(
        f"store {where} is in use by another docqa process{f' ({who})' if who else ''}: "
        "close it (or the notebook holding it) and retry"
    )


def translate(exc: Exception, where: Path) -> StoreError:
    """Turn a Qdrant Edge exception (always a bare ``Exception``) into a one-line StoreError."""
    if _locked(exc):
        return locked_error(where)
    return StoreError(f"Qdrant Edge failed on {where}: {first_line(exc)}")


class EdgeStore:
    """The embedded Qdrant Edge shard of a docqa store folder.

    Args:
        path: The docqa store folder (``.docqa``).
        collection: Collection name; one shard folder per collection.
        writer: Wait as a writer: longer, and ahead of readers that come meanwhile.
        lock_wait_s: Seconds to wait for another process to release the shard (default
            :data:`WRITE_WAIT_S` for a writer, else :data:`READ_WAIT_S`).
    """

    kind = "edge"

    def __init__(
        self,
        path: Path,
        collection: str = "docqa",
        *,
        writer: bool = False,
        lock_wait_s: float | None = None,
    ) -> None:
        self.root = Path(path)
        self.collection = collection
        self.writer = writer
        default_wait = WRITE_WAIT_S if writer else READ_WAIT_S
        self.lock_wait_s = default_wait if lock_wait_s is None else lock_wait_s
        self.shard_path = self.root / "qdrant" / collection
        self._meta_path = self.root / "qdrant" / f"{collection}.json"
        self._lock_path = self.root / "qdrant" / f"{collection}.lock"
        queue = self.root / "qdrant" / f"{collection}.queue"  # held by a writer who waits
        self._gate = Gate(self._lock_path, queue, writer=writer)
        self._shard: qe.EdgeShard | None = None
        self._mutex = threading.RLock()

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- lifecycle -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _engine(self) -> Iterator[None]:
        try:
            yield
        except DocqaError:
            raise
        except Exception as exc:
            raise translate(exc, self.root) from exc

    def _exists(self) -> bool:
        return (self.shard_path / "edge_config.json").is_file() or (
            self.shard_path / "segments"
        ).is_dir()

    def _open(self) -> qe.EdgeShard | None:
        if self._shard is not None and self._gate.writer_waiting:
            self.close()  # a writer waits: let it in, and open again behind it
        if self._shard is None and self._exists():
            self._shard = self._load()
        return self._shard

    def _load(self) -> qe.EdgeShard:
        """Take the shard's lock (waiting up to ``lock_wait_s``), then open the shard."""
        self._take_lock()
        try:
            with self._engine():
                return qe.EdgeShard.load(str(self.shard_path))
        except BaseException:
            self._drop_lock()
            raise

    def _take_lock(self) -> None:
        try:
            taken = self._gate.take(self.lock_wait_s)
        except OSError as exc:
            raise StoreError(f"cannot lock store {self.root}: {exc.strerror or exc}") from exc
        if not taken:
            raise locked_error(self.root, holder(self._lock_path))

    def _drop_lock(self) -> None:
        self._gate.release()

    def _require(self) -> qe.EdgeShard:
        shard = self._open()
        if shard is None:
            raise StoreError(f"store {self.root} has no index yet: run `docqa ingest PATH` first")
        return shard

    @_serialized
    def ensure(self, dim: int) -> None:
        """Create the shard with ``dim``-d dense vectors if missing, and open it.

        Raises:
            IndexMismatchError: the shard exists with another dense dim.
            StoreLockedError: another process holds the shard.
        """
        old = self.dim()
        if old is not None:
            if old != dim:
                raise mismatch(self.root, old, dim)
            self._require()
            return
        self.shard_path.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        with self._engine():
            shard = qe.EdgeShard.create(str(self.shard_path), _edge_config(dim))
            self._shard = shard
            for name in INDEXED_FIELDS:
                schema = qe.PayloadSchemaType.Keyword
                shard.update(qe.UpdateOperation.create_field_index(name, schema))
        self._meta_path.write_text(json.dumps({"dim": dim}), encoding="utf-8")

    def dim(self) -> int | None:
        """Dense dim of the existing shard (read from files, without locking it), or None."""
        if not self._exists():
            return None
        try:
            if self._meta_path.is_file():
                return int(json.loads(self._meta_path.read_text(encoding="utf-8"))["dim"])
            # Fallback: the config Qdrant Edge persists in the shard itself.
            config = json.loads((self.shard_path / "edge_config.json").read_text("utf-8"))
            return int(config["vectors"][DENSE]["size"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"store {self.root} has an unreadable index config: {exc}") from exc

    @_serialized
    def close(self) -> None:
        """Flush and close the shard, releasing its lock (safe to call twice)."""
        shard, self._shard = self._shard, None
        try:
            if shard is not None:
                with self._engine():
                    shard.flush()
                    shard.close()
        finally:
            self._drop_lock()

    def release(self) -> None:
        """Let other processes open the shard; the next operation here opens it again."""
        self.close()

    @_serialized
    def drop(self) -> None:
        """Delete the shard and its dim record (``docqa reset``).

        Raises:
            StoreLockedError: another process holds the shard; nothing is deleted.
        """
        self.close()
        if not self._lock_path.parent.is_dir():
            return
        self._take_lock()  # deleting files under another process would corrupt its shard
        try:
            shutil.rmtree(self.shard_path, ignore_errors=True)
            self._meta_path.unlink(missing_ok=True)
        finally:
            self._drop_lock()

    @_serialized
    def flush(self) -> None:
        """Make written points durable."""
        if self._shard is not None:
            with self._engine():
                self._shard.flush()

    @_serialized
    def optimize(self) -> None:
        """Merge segments and build the HNSW index (seconds for large stores; holds the GIL)."""
        shard = self._open()
        if shard is not None:
            with self._engine():
                shard.optimize()

    def size_bytes(self) -> int:
        """Bytes the shard takes on disk (allocated blocks: its mmap files are sparse)."""
        total = 0
        for folder, _dirs, files in os.walk(self.shard_path):
            for name in files:
                with contextlib.suppress(OSError):
                    stat = os.stat(os.path.join(folder, name))
                    blocks = getattr(stat, "st_blocks", None)
                    total += blocks * 512 if blocks is not None else stat.st_size
        return total

    # --- writes ----------------------------------------------------------------------------

    @_serialized
    def upsert(self, points: Sequence[StorePoint]) -> None:
        """Write points in one all-or-nothing operation (same id: replaced)."""
        if not points:
            return
        shard = self._require()
        edge_points = [_edge_point(p) for p in points]
        with self._engine():
            shard.update(qe.UpdateOperation.upsert_points(edge_points))

    @_serialized
    def delete_content(self, sha256: str, keep_fingerprint: str | None = None) -> None:
        """Delete every point of one content, except those made with ``keep_fingerprint``."""
        shard = self._open()
        if shard is not None:
            op = qe.UpdateOperation.delete_points_by_filter(_content(sha256, keep_fingerprint))
            with self._engine():
                shard.update(op)

    @_serialized
    def set_files(self, sha256: str, files: Sequence[str]) -> None:
        """Rewrite payload ``files`` of every point of one content."""
        shard = self._require()
        op = qe.UpdateOperation.set_payload_by_filter(
            _match({"sha256": [sha256]}), {"files": list(files)}
        )
        with self._engine():
            shard.update(op)

    # --- reads -----------------------------------------------------------------------------

    @_serialized
    def count(self, sha256: str | None = None) -> int:
        """Number of points, all or of one content (0 when there is no shard)."""
        shard = self._open()
        if shard is None:
            return 0
        flt = _match({"sha256": [sha256]}) if sha256 is not None else None
        with self._engine():
            return shard.count(qe.CountRequest(exact=True, filter=flt))

    @_serialized
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
        """Top-k points; hybrid = RRF of dense and BM25 prefetches; ``files`` filters by path,
        ``where`` by payload values (e.g. ``{"lang": ["fr"]}``).

        Hybrid falls back to dense when the BM25 query is empty (all stopwords), and to BM25
        when no dense vector is given. ``dense_score`` is the cosine to ``dense`` when given.

        Raises:
            ValueError: dense mode without a dense vector.
        """
        run = resolve_mode(mode, dense, sparse)
        if run is None or k <= 0 or (files is not None and not files):
            return []
        shard = self._open()
        if shard is None:
            return []
        flt = _filter(files, where)
        limit = prefetch_limit(k, prefetch_k)
        request = self._request(run, dense, sparse, k, flt, limit, weights or RRF_WEIGHTS)
        with self._engine():
            hits = shard.query(request)
        return scored_points(hits, run, dense)

    @staticmethod
    def _request(
        run: SearchMode,
        dense: Sequence[float] | None,
        sparse: SparseVector | None,
        k: int,
        flt: qe.Filter,
        prefetch_k: int,
        weights: tuple[float, float],
    ) -> qe.QueryRequest:
        with_vector = [DENSE] if dense is not None and run != "dense" else False
        dense_q = qe.Query.Nearest(as_floats(dense), using=DENSE) if dense is not None else None
        sparse_q = (
            qe.Query.Nearest(_sparse(sparse), using=SPARSE)
            if sparse is not None and sparse.indices
            else None
        )
        if run != "hybrid":
            query = dense_q if run == "dense" else sparse_q
            return qe.QueryRequest(
                limit=k, query=query, filter=flt, with_payload=True, with_vector=with_vector
            )
        prefetches = [
            qe.Prefetch(limit=prefetch_k, query=dense_q, filter=flt),
            qe.Prefetch(limit=prefetch_k, query=sparse_q, filter=flt),
        ]
        # The stubs do not type the nested Fusion.Rrf as a Fusion; the engine accepts it.
        fusion: Any = qe.Fusion.Rrf(k=RRF_K, weights=list(weights))
        return qe.QueryRequest(
            limit=k,
            query=fusion,
            prefetches=prefetches,
            filter=flt,
            with_payload=True,
            with_vector=with_vector,
        )

    def points(self, with_vectors: bool = False) -> Iterator[StoredPoint]:
        """Every point, scrolled page by page."""
        offset: Any = None
        while True:
            request = qe.ScrollRequest(
                offset=offset, limit=SCROLL_PAGE, with_payload=True, with_vector=with_vectors
            )
            with self._mutex, self._engine():
                shard = self._open()
                if shard is None:
                    return
                records, offset = shard.scroll(request)
            yield from (_stored(r) for r in records)
            if offset is None:
                return
