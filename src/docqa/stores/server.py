"""Qdrant server or cluster (``DOCQA_QDRANT_URL``) through qdrant-client, same layout as Edge.

Also runs on qdrant-client's local mode (``QdrantClient(":memory:")`` or a path), which is the
test double for a server: Qdrant's congruence tests hold it equal to the server. Local mode
ignores payload indexes; that is fine for the small sets it is meant for.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from docqa.errors import DocqaError, IndexMismatchError, StoreError, StoreLockedError
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
# Seconds to wait for the server; ingest upserts are small batches, queries are fast.
TIMEOUT_S = 30

log = logging.getLogger(__name__)


def _match(
    conditions: Mapping[str, Sequence[str]], must_not: list[models.Condition] | None = None
) -> models.Filter:
    """All conditions must hold; each matches any of its values."""
    must: list[models.Condition] = []
    for name, vals in conditions.items():
        match: models.MatchValue | models.MatchAny = (
            models.MatchValue(value=vals[0]) if len(vals) == 1 else models.MatchAny(any=list(vals))
        )
        must.append(models.FieldCondition(key=name, match=match))
    return models.Filter(must=must, must_not=must_not)


def _filter(
    files: Sequence[str] | None, where: Mapping[str, Sequence[str]] | None
) -> models.Filter:
    """The search filter: the caller's conditions, and never a point not yet published."""
    unpublished = models.IsEmptyCondition(is_empty=models.PayloadField(key="files"))
    return _match(filter_conditions(files, where), [unpublished])


def _content(sha256: str, keep_fingerprint: str | None = None) -> models.Filter:
    """The points of one content, less those made with ``keep_fingerprint``."""
    if keep_fingerprint is None:
        return _match({"sha256": [sha256]})
    keep = models.FieldCondition(key="fingerprint", match=models.MatchValue(value=keep_fingerprint))
    return _match({"sha256": [sha256]}, [keep])


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def _struct(point: StorePoint) -> models.PointStruct:
    vectors: dict[str, Any] = {DENSE: as_floats(point.dense)}
    if point.sparse.indices:
        vectors[SPARSE] = _sparse(point.sparse)
    return models.PointStruct(id=point.id, vector=vectors, payload=dict(point.payload))


def _stored(record: models.Record) -> StoredPoint:
    return stored_point(record.id, record.vector, record.payload)


def translate(exc: Exception, where: str, timeout_s: float = TIMEOUT_S) -> StoreError:
    """Turn a qdrant-client / httpx exception into a one-line StoreError saying what to do."""
    source = exc.source if isinstance(exc, ResponseHandlingException) else exc
    if isinstance(source, httpx.ConnectError):
        return StoreError(f"no Qdrant server at {where}: start it or unset DOCQA_QDRANT_URL")
    if isinstance(source, httpx.TimeoutException):
        return StoreError(
            f"Qdrant at {where} did not answer within {timeout_s:g}s: check the server or "
            "raise DOCQA_QDRANT_TIMEOUT_S"
        )
    if isinstance(exc, UnexpectedResponse):
        if exc.status_code in (401, 403):
            return StoreError(
                f"Qdrant at {where} refused access ({exc.status_code}): check DOCQA_QDRANT_API_KEY"
            )
        body = exc.content[:200].decode("utf-8", "replace").replace("\n", " ")
        return StoreError(f"Qdrant at {where} answered {exc.status_code}: {body}")
    if isinstance(exc, RuntimeError) and "already accessed by another instance" in str(exc):
        return StoreLockedError(
            f"store {where} is in use by another docqa process: "
            "close it (or the notebook holding it) and retry"
        )
    return StoreError(f"Qdrant at {where} failed: {first_line(exc)}")


class ServerStore:
    """A collection on a Qdrant server (or in qdrant-client local mode).

    Args:
        client: The qdrant-client to use; the store closes it on :meth:`close`.
        collection: Collection name.
        where: How to name the server in error messages (its URL).
    """

    kind = "server"

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        where: str = "",
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.collection = collection
        self.where = where or f"collection {collection!r}"
        self._exists = False
        self._plain_rrf = False  # set when the server rejects weighted RRF

    @classmethod
    def from_url(
        cls, url: str, api_key: str | None, collection: str, timeout_s: float = TIMEOUT_S
    ) -> ServerStore:
        """A store on the server at ``url`` (no request is made until the first operation).

        Args:
            url: Server URL, e.g. ``http://localhost:6333``.
            api_key: The server's API key, or None.
            collection: Collection name.
            timeout_s: Seconds to wait for each request.
        """
        # check_compatibility would call the server now and only warn when it is down;
        # the first real operation reports that instead, as a StoreError.
        seconds = max(1, math.ceil(timeout_s))  # qdrant-client takes whole seconds
        client = QdrantClient(url=url, api_key=api_key, timeout=seconds, check_compatibility=False)
        return cls(client, collection, where=url, timeout_s=seconds)

    @classmethod
    def from_path(cls, path: Path, collection: str) -> ServerStore:
        """A store in qdrant-client's local mode at ``path`` (exact scan; small sets only).

        Raises:
            StoreLockedError: another process has the folder open.
        """
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            raise translate(exc, str(path)) from exc
        return cls(client, collection, where=str(path))

    def __enter__(self) -> ServerStore:
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
            raise translate(exc, self.where, self.timeout_s) from exc

    def _has_collection(self) -> bool:
        # Cached once true: every read would otherwise cost a round trip more.
        if not self._exists:
            with self._engine():
                self._exists = self.client.collection_exists(self.collection)
        return self._exists

    def ensure(self, dim: int) -> None:
        """Create the collection with ``dim``-d dense vectors and its indexes if missing.

        Raises:
            IndexMismatchError: the collection exists with another dense dim.
            StoreError: the server is unreachable or refuses.
        """
        old = self.dim()
        if old is not None:
            if old != dim:
                raise mismatch(self.where, old, dim)
            return
        with self._engine():
            self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(size=dim, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            self._create_indexes()
        self._exists = True

    def _create_indexes(self) -> None:
        with warnings.catch_warnings():
            # Local mode warns that it ignores payload indexes; servers use them.
            warnings.filterwarnings("ignore", "Payload indexes have no effect", UserWarning)
            for name in INDEXED_FIELDS:
                self.client.create_payload_index(
                    self.collection, name, models.PayloadSchemaType.KEYWORD, wait=True
                )

    def dim(self) -> int | None:
        """Dense dim of the existing collection, or None when there is none.

        Raises:
            IndexMismatchError: the collection has no ``dense`` vector (not made by docqa).
        """
        if not self._has_collection():
            return None
        with self._engine():
            info = self.client.get_collection(self.collection)
        vectors = info.config.params.vectors
        params = vectors.get(DENSE) if isinstance(vectors, dict) else None
        if params is None:
            raise IndexMismatchError(
                f"collection {self.collection!r} at {self.where} was not made by docqa "
                "(no 'dense' vector): set DOCQA_COLLECTION to another name"
            )
        return params.size

    def close(self) -> None:
        """Close the client (connections; the folder lock in local mode)."""
        with self._engine():
            self.client.close()

    def release(self) -> None:
        """Nothing to do: a server serves other processes meanwhile."""

    def drop(self) -> None:
        """Delete the whole collection (``docqa reset``)."""
        with self._engine():
            self.client.delete_collection(self.collection)
        self._exists = False

    def flush(self) -> None:
        """Nothing to do: every write waits until the server applied it."""

    def optimize(self) -> None:
        """Nothing to do: the server runs its optimizers itself."""

    def size_bytes(self) -> int:
        """0: the bytes live on the server."""
        return 0

    # --- writes ----------------------------------------------------------------------------

    def upsert(self, points: Sequence[StorePoint]) -> None:
        """Write points (same id: replaced), waiting until they are applied."""
        if not points:
            return
        structs = [_struct(p) for p in points]
        with self._engine():
            self.client.upsert(self.collection, points=structs, wait=True)

    def delete_content(self, sha256: str, keep_fingerprint: str | None = None) -> None:
        """Delete every point of one content, except those made with ``keep_fingerprint``."""
        if not self._has_collection():
            return
        selector = models.FilterSelector(filter=_content(sha256, keep_fingerprint))
        with self._engine():
            self.client.delete(self.collection, points_selector=selector, wait=True)

    def set_files(self, sha256: str, files: Sequence[str]) -> None:
        """Rewrite payload ``files`` of every point of one content."""
        with self._engine():
            self.client.set_payload(
                self.collection,
                payload={"files": list(files)},
                points=_match({"sha256": [sha256]}),
                wait=True,
            )

    # --- reads -----------------------------------------------------------------------------

    def count(self, sha256: str | None = None) -> int:
        """Number of points, all or of one content (0 when there is no collection)."""
        if not self._has_collection():
            return 0
        flt = _match({"sha256": [sha256]}) if sha256 is not None else None
        with self._engine():
            return self.client.count(self.collection, count_filter=flt, exact=True).count

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

        Same fallbacks and ``dense_score`` as :meth:`docqa.stores.edge.EdgeStore.search`.

        Raises:
            ValueError: dense mode without a dense vector.
        """
        run = resolve_mode(mode, dense, sparse)
        if run is None or k <= 0 or (files is not None and not files):
            return []
        if not self._has_collection():
            return []
        flt = _filter(files, where)
        limit = prefetch_limit(k, prefetch_k)
        args = self._query_args(run, dense, sparse, flt, limit, weights or RRF_WEIGHTS)
        if run == "hybrid" and self._plain_rrf:
            args["query"] = models.FusionQuery(fusion=models.Fusion.RRF)
        with self._engine():
            try:
                hits = self._query(k, flt, args)
            except UnexpectedResponse as exc:
                if run != "hybrid" or self._plain_rrf or exc.status_code not in (400, 422):
                    raise
                # A server older than parametrised RRF rejects the `rrf` query: fall back to
                # its plain RRF (k = 2, equal weights), which ranks a little worse, and say so.
                log.warning("%s: server has no weighted RRF, using plain RRF (%s)", self.where, exc)
                self._plain_rrf = True
                args["query"] = models.FusionQuery(fusion=models.Fusion.RRF)
                hits = self._query(k, flt, args)
        return scored_points(hits, run, dense)

    def _query(self, k: int, flt: models.Filter, args: dict[str, Any]) -> list[models.ScoredPoint]:
        return self.client.query_points(
            self.collection, limit=k, query_filter=flt, with_payload=True, **args
        ).points

    @staticmethod
    def _query_args(
        run: SearchMode,
        dense: Sequence[float] | None,
        sparse: SparseVector | None,
        flt: models.Filter,
        prefetch_k: int,
        weights: tuple[float, float],
    ) -> dict[str, Any]:
        with_vectors: list[str] | bool = [DENSE] if dense is not None and run != "dense" else False
        dense_q = as_floats(dense) if dense is not None else None
        sparse_q = _sparse(sparse) if sparse is not None and sparse.indices else None
        if run == "dense":
            return {"query": dense_q, "using": DENSE, "with_vectors": with_vectors}
        if run == "bm25":
            return {"query": sparse_q, "using": SPARSE, "with_vectors": with_vectors}
        prefetch = [
            models.Prefetch(query=dense_q, using=DENSE, limit=prefetch_k, filter=flt),
            models.Prefetch(query=sparse_q, using=SPARSE, limit=prefetch_k, filter=flt),
        ]
        # Parametrised RRF needs Qdrant >= 1.16 (server) and qdrant-client >= 1.16 (local mode).
        fusion = models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=list(weights)))
        return {"prefetch": prefetch, "query": fusion, "with_vectors": with_vectors}

    def points(self, with_vectors: bool = False) -> Iterator[StoredPoint]:
        """Every point, scrolled page by page."""
        if not self._has_collection():
            return
        offset: Any = None
        while True:
            with self._engine():
                records, offset = self.client.scroll(
                    self.collection,
                    limit=SCROLL_PAGE,
                    offset=offset,
                    with_payload=True,
                    with_vectors=with_vectors,
                )
            yield from (_stored(r) for r in records)
            if offset is None:
                return
