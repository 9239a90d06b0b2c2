"""Vector stores: the :class:`Store` protocol and its two Qdrant adapters.

The adapters are imported lazily (``open_store`` or attribute access), so ``import docqa`` never
loads qdrant_edge or qdrant_client.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from docqa.stores.base import (
    DENSE,
    SPARSE,
    ScoredPoint,
    SearchMode,
    SparseVector,
    Store,
    StoredPoint,
    StorePoint,
)

if TYPE_CHECKING:
    from docqa.config import Settings
    from docqa.stores.edge import EdgeStore
    from docqa.stores.server import ServerStore

__all__ = [
    "DENSE",
    "SPARSE",
    "EdgeStore",
    "ScoredPoint",
    "SearchMode",
    "ServerStore",
    "SparseVector",
    "Store",
    "StorePoint",
    "StoredPoint",
    "open_store",
]


def open_store(settings: Settings, store_dir: Path, *, writer: bool = False) -> Store:
    """The store the settings name: a Qdrant server when ``qdrant_url`` is set, else Edge.

    Args:
        settings: docqa settings (``qdrant_url``, ``qdrant_api_key``, ``collection``).
        store_dir: The docqa store folder, home of the embedded shard.
        writer: Wait longer for another process holding the embedded shard, and ahead of
            readers (ingest, reset).

    Returns:
        An unopened store; the embedded shard opens (and locks) on first use.
    """
    if settings.qdrant_url:
        from docqa.stores.server import ServerStore

        key = settings.qdrant_api_key
        secret = key.get_secret_value() if key is not None else None
        return ServerStore.from_url(
            settings.qdrant_url, secret, settings.collection, settings.qdrant_timeout_s
        )
    from docqa.stores.edge import EdgeStore

    return EdgeStore(store_dir, settings.collection, writer=writer)


def __getattr__(name: str) -> Any:
    # Lazy adapters: `from docqa.stores import EdgeStore` imports qdrant_edge only then.
    if name == "EdgeStore":
        from docqa.stores.edge import EdgeStore

        return EdgeStore
    if name == "ServerStore":
        from docqa.stores.server import ServerStore

        return ServerStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
