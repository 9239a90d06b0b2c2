"""What docqa needs from a language model: the records (:class:`Message`, :class:`Completion`),
the :class:`LLM` protocol, and the streaming and error helpers every backend shares.

Every backend streams: :meth:`LLM.chat` hands each piece of the answer to ``on_token`` as it
arrives and returns a :class:`Completion` with the whole text, the token usage the server
reported and timings. Third-party errors (httpx, ollama, llama.cpp) are translated at the
boundary, into :class:`~docqa.errors.LLMError` and its subclasses, each with a one-line fix.

Ctrl-C is safe everywhere: HTTP responses are opened in ``with`` blocks, so a
``KeyboardInterrupt`` raised mid-stream closes the connection before it propagates, and the
in-process engine is told to stop and is waited for before the interrupt goes on.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import httpx

from docqa.errors import LLMError, LLMTimeoutError, LLMUnavailableError
from docqa.llm.stopping import Cancelled, stop_event
from docqa.types import TokenUsage

Role = Literal["system", "user", "assistant"]
TokenCallback = Callable[[str], None]
Chunk = dict[str, Any]
LIST_TIMEOUT_S = 2.0
"""How long listing a backend's models may take (a model picker must not hang on it)."""


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class Completion:
    """A finished answer.

    Attributes:
        text: The whole generated text.
        model: The model that answered, as the backend names it.
        backend: ``"ollama"``, ``"openai"`` or ``"gguf"``.
        usage: Token counts reported by the backend.
        seconds: Wall time from the request to the end of the stream.
        first_token_s: Wall time to the first non-empty piece; ``None`` if nothing came.
        done_reason: Why generation stopped (``"stop"``, ``"length"``), as reported.
    """

    text: str
    model: str
    backend: str
    usage: TokenUsage
    seconds: float
    first_token_s: float | None
    done_reason: str | None


class LLM(Protocol):
    """What docqa needs from a language model."""

    backend: str
    model: str
    context_window: int

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        """Stream an answer to ``messages``, passing each piece to ``on_token``."""
        ...

    def count_tokens(self, text: str) -> int | None:
        """Exact token count of ``text`` for this model, or ``None`` when unknown."""
        ...

    def list_models(self) -> list[str]:
        """The models this backend serves (Ollama's tags, an OpenAI server's ids, the GGUF
        file), as a model picker offers them; ``[]`` when the backend cannot say."""
        ...

    def close(self) -> None:
        """Release connections and models."""
        ...


# --- shared helpers ------------------------------------------------------------------------


class _Recorder:
    """Collects streamed pieces, times the first one and forwards each to ``on_token``."""

    def __init__(self, on_token: TokenCallback | None) -> None:
        self._on_token = on_token
        self._start = time.perf_counter()
        self._parts: list[str] = []
        self.first_token_s: float | None = None

    def add(self, piece: str | None) -> None:
        if not piece:
            return
        if self.first_token_s is None:
            self.first_token_s = time.perf_counter() - self._start
        self._parts.append(piece)
        if self._on_token is not None:
            self._on_token(piece)

    def finish(self, model: str, backend: str, usage: TokenUsage, done: str | None) -> Completion:
        return Completion(
            text="".join(self._parts),
            model=model,
            backend=backend,
            usage=usage,
            seconds=time.perf_counter() - self._start,
            first_token_s=self.first_token_s,
            done_reason=done,
        )


@dataclass
class _ChunkStream:
    """State of an OpenAI-style ``chat.completion.chunk`` stream (OpenAI servers, llama.cpp)."""

    who: str
    model: str
    done_reason: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    saw_done: bool = False

    @property
    def complete(self) -> bool:
        # Some servers close without ``[DONE]`` after the finish_reason; both mean "finished".
        return self.saw_done or self.done_reason is not None

    def feed(self, chunk: Chunk | None) -> str:
        """Absorb one chunk (``None`` is ``[DONE]``) and return its text piece."""
        if chunk is None:
            self.saw_done = True
            return ""
        if "error" in chunk:
            raise _server_error(self.who, _error_message(chunk))
        self.model = chunk.get("model") or self.model
        if usage := chunk.get("usage"):
            self.usage = TokenUsage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
        piece = ""
        for choice in chunk.get("choices") or []:
            self.done_reason = choice.get("finish_reason") or self.done_reason
            piece += (choice.get("delta") or {}).get("content") or ""
        return piece


def _as_dicts(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _error_message(body: Any) -> str:
    """The human part of an error body: ``{"error": "..."}`` or ``{"error": {"message": ...}}``."""
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)


def _server_error(who: str, message: str) -> LLMError:
    lowered = message.lower()
    if "context" in lowered and ("exceed" in lowered or "too long" in lowered):
        return LLMError(
            f"the prompt does not fit the context window of {who} ({message}): "
            "raise DOCQA_NUM_CTX or lower DOCQA_TOP_K"
        )
    return LLMError(f"{who} failed: {message}")


def _stream_cut(who: str, detail: str) -> LLMError:
    return LLMError(
        f"{who}'s stream ended early ({detail}): the server dropped the answer mid-way, "
        "check its log and retry"
    )


@contextlib.contextmanager
def _transport_errors(who: str, url: str, timeout_s: float, start_hint: str) -> Iterator[None]:
    """Translate httpx failures into docqa errors naming ``url`` and the fix."""
    try:
        yield
    # ConnectionError: the ollama client re-raises httpx.ConnectError as the builtin.
    except (httpx.ConnectError, ConnectionError) as e:
        _if_stopped(e)
        raise LLMUnavailableError(f"no {who} at {url}: {start_hint}") from e
    except httpx.TimeoutException as e:
        raise LLMTimeoutError(
            f"{who} at {url} did not answer within {timeout_s:g}s: raise DOCQA_REQUEST_TIMEOUT_S"
        ) from e
    except (httpx.RemoteProtocolError, httpx.ReadError, json.JSONDecodeError) as e:
        _if_stopped(e)
        raise _stream_cut(who, str(e) or type(e).__name__) from e
    except httpx.HTTPError as e:
        _if_stopped(e)
        raise LLMError(f"{who} at {url} failed: {e}") from e


def _if_stopped(error: Exception) -> None:
    """A connection that failed because the call was stopped (:func:`abort_on_stop` shut it)
    is no server failure: :class:`Cancelled`."""
    event = stop_event()
    if event is not None and event.is_set():
        raise Cancelled from error


_C = TypeVar("_C", bound="_Closeable")


class _Closeable:
    """``with`` support for the backends."""

    def close(self) -> None:
        """Release what the backend holds."""

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _names(body: object, rows: str, key: str) -> list[str]:
    """``body[rows][*][key]`` of a model listing, skipping what is not a name."""
    listed = body.get(rows) if isinstance(body, dict) else None
    if not isinstance(listed, list):
        return []
    return [str(r[key]) for r in listed if isinstance(r, dict) and r.get(key)]
