"""docqa: private, local question-answering over your own documents.

``import docqa`` stays light: the public functions, the settings and the record types load their
modules (and pydantic, torch, Qdrant, LlamaIndex behind them) on first use.

    >>> import docqa
    >>> report = docqa.ingest("./data")
    >>> docqa.status()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import docqa.privacy  # noqa: F401  (first: turns every dependency's telemetry off)
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
    NoMatchError,
    NoStoreError,
    QuestionFileError,
    SourceError,
    StoreError,
    StoreLockedError,
)

if TYPE_CHECKING:
    from docqa.answering import AnswerStream
    from docqa.api import (
        Chat,
        ask,
        baseline,
        compare,
        evaluate,
        ingest,
        query_engine,
        reset,
        search,
        status,
        watch,
    )
    from docqa.config import Settings
    from docqa.evaluation import EvalReport
    from docqa.retrieval import relevant
    from docqa.server import serve
    from docqa.session import Session
    from docqa.types import (
        Answer,
        Citation,
        Comparison,
        Hit,
        IngestEvent,
        IngestReport,
        SentenceSupport,
        StoreStatus,
    )

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access; Settings alone would cost
# ~170 ms of pydantic-settings and pydantic, benchmarks/embed_backends.py --only import)
_LAZY = {
    "Settings": "docqa.config",
    "Answer": "docqa.types",
    "Citation": "docqa.types",
    "Comparison": "docqa.types",
    "Hit": "docqa.types",
    "IngestEvent": "docqa.types",
    "IngestReport": "docqa.types",
    "SentenceSupport": "docqa.types",
    "StoreStatus": "docqa.types",
    "ask": "docqa.api",
    "baseline": "docqa.api",
    "compare": "docqa.api",
    "AnswerStream": "docqa.answering",
    "Chat": "docqa.api",
    "Session": "docqa.session",
    "ingest": "docqa.api",
    "status": "docqa.api",
    "reset": "docqa.api",
    "search": "docqa.api",
    "watch": "docqa.api",
    "relevant": "docqa.retrieval",
    "query_engine": "docqa.api",
    "evaluate": "docqa.api",
    "serve": "docqa.server",
    "EvalReport": "docqa.evaluation",
}

__all__ = [
    "Answer",
    "AnswerStream",
    "Chat",
    "Citation",
    "Comparison",
    "SentenceSupport",
    "ask",
    "baseline",
    "compare",
    "ConfigError",
    "ConfirmationRequired",
    "DocqaError",
    "EmbedderError",
    "EvalReport",
    "Hit",
    "IndexMismatchError",
    "IngestEvent",
    "IngestPathError",
    "IngestReport",
    "LLMError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "NoMatchError",
    "NoStoreError",
    "QuestionFileError",
    "Session",
    "Settings",
    "SourceError",
    "StoreError",
    "StoreLockedError",
    "StoreStatus",
    "ingest",
    "query_engine",
    "evaluate",
    "relevant",
    "reset",
    "search",
    "serve",
    "status",
    "watch",
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
