"""The server's own refusals and the one mapping from docqa errors to HTTP statuses.

Every face reports an error with docqa's one-line message; only the envelope differs
(OpenAI: ``{"error": {"message", "type", "code"}}``, Ollama: ``{"error": message}``).
"""

from __future__ import annotations

from docqa import errors as e


class ServeError(e.DocqaError):
    """A request the server refuses, with its HTTP status and an OpenAI-style error code."""

    status = 400
    code = "invalid_request_error"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadRequest(ServeError):
    """The request body is not what this endpoint takes."""


class UnknownModel(ServeError):
    """The request names a model the server does not offer."""

    status, code = 404, "model_not_found"


class NotFound(ServeError):
    """No such document or endpoint."""

    status, code = 404, "not_found"


class Busy(ServeError):
    """The in-process model's queue is full: retry later."""

    status, code = 503, "server_busy"


class TooLarge(ServeError):
    """The request or upload is over the size limit."""

    status, code = 413, "request_too_large"


class RequestTimeout(ServeError):
    """The client stopped sending its request."""

    status, code = 408, "request_timeout"


class Unsupported(ServeError):
    """An upload of a file type docqa does not read."""

    status, code = 415, "unsupported_file_type"


class Forbidden(ServeError):
    """Missing or wrong API key, a foreign Host header or Origin."""

    status, code = 403, "forbidden"


class ClientGone(ServeError):
    """The client disconnected before its answer started (nobody reads this status)."""

    status, code = 499, "client_closed_request"


class Unauthorized(ServeError):
    """No valid ``Authorization: Bearer`` key."""

    status, code = 401, "invalid_api_key"


# Most specific first: the first class an error is an instance of decides.
_STATUS: tuple[tuple[type[e.DocqaError], int, str], ...] = (
    (e.LLMTimeoutError, 504, "llm_timeout"),
    (e.LLMUnavailableError, 503, "llm_unavailable"),
    (e.LLMError, 502, "llm_error"),
    (e.StoreLockedError, 503, "store_locked"),
    (e.StoreError, 503, "store_error"),
    (e.NoStoreError, 409, "no_store"),
    (e.IndexMismatchError, 409, "index_mismatch"),
    (e.ConfirmationRequired, 409, "confirmation_required"),
    (e.IngestPathError, 400, "bad_path"),
    (e.NoMatchError, 400, "no_match"),
    (e.SourceError, 400, "bad_source"),
    (e.ConfigError, 400, "invalid_request_error"),
    (e.EmbedderError, 500, "embedder_error"),
)


def http_status(error: e.DocqaError) -> tuple[int, str]:
    """``(HTTP status, error code)`` for a docqa error."""
    if isinstance(error, ServeError):
        return error.status, error.code
    for kind, status, code in _STATUS:
        if isinstance(error, kind):
            return status, code
    return 500, "docqa_error"


def retry_after(error: e.DocqaError) -> int | None:
    """Seconds a client should wait before retrying, for statuses where that helps."""
    if isinstance(error, ServeError):
        return error.retry_after
    if isinstance(error, e.StoreLockedError):
        return 2
    return None
