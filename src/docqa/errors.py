"""docqa's one exception tree.

Every error a user can meet is a :class:`DocqaError` whose message says what happened and what to
do next, in one line. Third-party exceptions (Qdrant, httpx, Ollama, pdf parsers) are translated
into this tree at the boundary of the module that calls them; the CLI prints ``str(error)`` and
exits, and ``DOCQA_DEBUG=1`` re-raises with the traceback.
"""

from __future__ import annotations

from pathlib import Path


class DocqaError(Exception):
    """Base of every docqa error; the message says what to do next."""


class ConfigError(DocqaError):
    """A setting is invalid or two settings contradict each other."""


class NoStoreError(DocqaError):
    """No docqa store exists where one was looked for."""

    def __init__(self, where: Path, message: str | None = None) -> None:
        super().__init__(
            message or f"no docqa store at {where} or its parents, run `docqa ingest PATH` first"
        )
        self.where = where


class SourceError(DocqaError):
    """One input file cannot be read; the rest of the work goes on."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class IngestPathError(DocqaError):
    """The path given to ingest is missing, empty or unusable."""


class IndexMismatchError(DocqaError):
    """The store was built with another embedding model or dimension."""


class StoreError(DocqaError):
    """The vector store failed or is unreachable."""


class StoreLockedError(StoreError):
    """The store is open in another process (the message names it) for longer than docqa waits."""


class EmbedderError(DocqaError):
    """The embedding model cannot be found or loaded."""


class LLMError(DocqaError):
    """The language model failed to answer."""


class LLMUnavailableError(LLMError):
    """The LLM server is not running, or the model is not there."""


class LLMTimeoutError(LLMError):
    """The LLM did not answer within ``request_timeout_s``."""


class ConfirmationRequired(DocqaError):
    """A destructive step needs the user's go-ahead (``--yes``)."""


class NoMatchError(DocqaError):
    """A file filter matches no ingested file."""


class QuestionFileError(DocqaError):
    """The question file is missing, or one of its lines cannot be used."""
