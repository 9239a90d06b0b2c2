"""Retrieval: a question → ranked :class:`~docqa.types.Hit` records, no LLM involved.

Dense (the embedder's cosine) and BM25 (the shared sparse encoder) are fused with RRF inside
Qdrant (prefetch + fusion query), in both store adapters. Each hit keeps its dense cosine
(``Hit.dense_score``), which the relevance floor is applied to: fused RRF scores only encode rank.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from docqa.config import Settings, store_path
from docqa.sparse import Bm25Encoder
from docqa.stores import SearchMode, open_store
from docqa.types import Hit

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.stores import ScoredPoint, Store


def _hit(point: ScoredPoint) -> Hit:
    p: Mapping[str, Any] = point.payload
    files = tuple(str(f) for f in p.get("files") or ())
    return Hit(
        file=files[0] if files else "",
        text=str(p.get("text", "")),
        score=float(point.score),
        page=p.get("page"),
        heading=tuple(p.get("heading") or ()),
        first_line=p.get("first_line"),
        last_line=p.get("last_line"),
        chunk_id=point.id,
        files=files,
        dense_score=point.dense_score,
    )


def search(
    question: str,
    settings: Settings | None = None,
    *,
    k: int | None = None,
    mode: SearchMode | None = None,
    files: Sequence[str] | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
) -> list[Hit]:
    """Top-``k`` chunks for ``question``, best first.

    Args:
        question: The question or keywords.
        settings: Settings; defaults to ``Settings()``.
        k: How many hits; defaults to ``settings.top_k``.
        mode: ``hybrid`` (default from settings), ``dense`` or ``bm25``.
        files: Only search these stored paths (absolute, as ingest recorded them).
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).

    Raises:
        NoStoreError: there is no store (run ``docqa ingest PATH`` first).
    """
    settings = settings or Settings()
    k = k or settings.top_k
    mode = mode or settings.search_mode
    own = store is None
    if store is None:
        store = open_store(settings, store_path(settings, create=False))
    try:
        dense = None
        if mode != "bm25":
            if embedder is None:
                from docqa.embedding import make_embedder

                embedder = make_embedder(settings)
            dense = [float(x) for x in embedder.embed_query(question)]
        sparse = Bm25Encoder(settings.languages).encode_query(question) if mode != "dense" else None
        points = store.search(dense, sparse, k, mode=mode, files=files)
    finally:
        if own:
            store.close()
    return [_hit(p) for p in points]
