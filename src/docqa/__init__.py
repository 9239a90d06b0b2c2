"""docqa: private, local question-answering over your own documents.

``import docqa`` stays light: the public functions load their modules (and torch, Qdrant,
LlamaIndex behind them) on first use.

    >>> import docqa
    >>> report = docqa.ingest("./data")
    >>> docqa.status()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from docqa.config import Settings
from docqa.errors import (
    ConfigError,
    ConfirmationRequired,
    DocqaError,
    EmbedderError,
    IndexMismatchError,
    IngestPathError,
    LLMError,
    LLMTimeoutError,
    LLMUnavailableError,
    NoStoreError,
    SourceError,
    StoreError,
    StoreLockedError,
)
from docqa.types import Hit, IngestEvent, IngestReport, StoreStatus

if TYPE_CHECKING:
    from docqa.api import reset, status
    from docqa.ingestion import ingest

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY = {
    "ingest": "docqa.ingestion",
    "status": "docqa.api",
    "reset": "docqa.api",
}

__all__ = [
    "ConfigError",
    "ConfirmationRequired",
    "DocqaError",
    "EmbedderError",
    "Hit",
    "IndexMismatchError",
    "IngestEvent",
    "IngestPathError",
    "IngestReport",
    "LLMError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "NoStoreError",
    "Settings",
    "SourceError",
    "StoreError",
    "StoreLockedError",
    "StoreStatus",
    "ingest",
    "reset",
    "status",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'docqa' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
