"""The Ollama backend: :class:`OllamaLLM` over Ollama's own API, and the probe ``auto`` uses."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Iterator, Sequence
from typing import Any

import httpx
import ollama

from docqa.config import Settings
from docqa.errors import LLMError, LLMTimeoutError, LLMUnavailableError
from docqa.llm.base import (
    LIST_TIMEOUT_S,
    Completion,
    Message,
    TokenCallback,
    _as_dicts,
    _Closeable,
    _names,
    _Recorder,
    _server_error,
    _stream_cut,
    _transport_errors,
)
from docqa.llm.stopping import abort_on_stop
from docqa.types import TokenUsage

logger = logging.getLogger(__name__)


OLLAMA_URL = "http://localhost:11434"
PROBE_TIMEOUT_S = 1.0
"""How long ``auto`` waits to connect to Ollama before falling back: nothing listening is
refused at once. A server that accepts the connection gets the full request timeout to answer,
and one that never answers is named in an error instead of being skipped silently."""


def _has_model(names: set[str], model: str) -> bool:
    # Ollama lists "mistral:latest" for a model pulled as "mistral".
    return model in names or (":" not in model and f"{model}:latest" in names)


def probe_ollama(
    url: str, model: str, timeout_s: float = PROBE_TIMEOUT_S
) -> tuple[str, str] | None:
    """Check that Ollama answers at ``url`` and has ``model`` (via ``/api/tags``).

    Args:
        url: Ollama's base URL.
        model: The model name or tag.
        timeout_s: How long a server that accepted the connection may take to answer
            (connecting is bounded by :data:`PROBE_TIMEOUT_S`).

    Returns:
        ``None`` when it can answer, else ``(what is wrong, the command that fixes it)``.

    Raises:
        LLMTimeoutError: Something accepted the connection at ``url`` but did not answer
            within ``timeout_s``.
    """
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, PROBE_TIMEOUT_S))
    try:
        with ollama.Client(host=url, timeout=timeout) as client:
            listed = client.list()
    except httpx.TimeoutException as e:
        if isinstance(e, httpx.ConnectTimeout):
            logger.debug("Ollama probe at %s: no connection: %r", url, e)
            return f"Ollama not reachable at {url}", f"run `ollama serve` and `ollama pull {model}`"
        raise LLMTimeoutError(
            f"the server at {url} accepted the connection but did not answer within "
            f"{timeout_s:g}s: check it, raise DOCQA_REQUEST_TIMEOUT_S, or point DOCQA_LLM_URL "
            "or DOCQA_LLM elsewhere"
        ) from e
    # ValueError covers a non-Ollama server's body (JSON or pydantic validation errors).
    except (ollama.ResponseError, ConnectionError, httpx.HTTPError, ValueError) as e:
        logger.debug("Ollama probe at %s failed: %r", url, e)
        return f"Ollama not reachable at {url}", f"run `ollama serve` and `ollama pull {model}`"
    names = {m.model for m in listed.models if m.model}
    if not _has_model(names, model):
        return f"model '{model}' is not pulled in Ollama at {url}", f"run `ollama pull {model}`"
    return None


def _keep_alive(value: str) -> str | int:
    # Ollama parses strings as Go durations, which need a unit: bare "-1" or "300" must be sent
    # as JSON numbers (seconds; -1 keeps the model loaded).
    with contextlib.suppress(ValueError):
        return int(value)
    return value


class OllamaLLM(_Closeable):
    """A model served by Ollama, through ``/api/chat`` with streaming.

    ``num_ctx`` and ``num_predict`` are sent on every request: Ollama's own default context
    (2048-4096) silently truncates long prompts.
    """

    backend = "ollama"

    def __init__(self, settings: Settings) -> None:
        """Prepare a client; nothing is contacted until :meth:`chat`.

        Args:
            settings: Uses ``llm_url``, ``model``, ``num_ctx``, ``max_tokens``,
                ``temperature``, ``seed``, ``keep_alive`` and ``request_timeout_s``.
        """
        self.url = settings.llm_url or OLLAMA_URL
        self.model = settings.model
        self.context_window = settings.num_ctx
        self._timeout_s = settings.request_timeout_s
        self._keep_alive = _keep_alive(settings.keep_alive)
        self._options: dict[str, Any] = {
            "num_ctx": settings.num_ctx,
            "num_predict": settings.max_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
            "repeat_penalty": settings.repeat_penalty,
        }
        self._client = ollama.Client(
            host=self.url,
            timeout=settings.request_timeout_s,
            # a stop closes the stream at once: a connection per request, for abort_on_stop
            headers={"Connection": "close"},
            event_hooks={"request": [abort_on_stop]},
        )

    def available(self, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
        """Whether the server answers and has the model (``mistral`` matches ``mistral:latest``)."""
        return probe_ollama(self.url, self.model, timeout_s) is None

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        """Stream an answer from ``/api/chat``.

        Args:
            messages: The conversation, system message first.
            on_token: Called with each piece of text as it arrives.

        Returns:
            The answer, with the usage from Ollama's final message.

        Raises:
            LLMUnavailableError: Ollama is not running, or the model is not pulled.
            LLMTimeoutError: No answer within ``request_timeout_s``.
            LLMError: Any other failure, including a stream cut mid-way.
        """
        recorder = _Recorder(on_token)
        final: ollama.ChatResponse | None = None
        # closing(): a KeyboardInterrupt from on_token closes the HTTP response on its way out.
        with contextlib.closing(self._parts(messages)) as parts:
            for part in parts:
                recorder.add(part.message.content)
                if part.done:
                    final = part
        if final is None:
            raise _stream_cut("Ollama", "no final message")
        usage = TokenUsage(final.prompt_eval_count, final.eval_count)
        return recorder.finish(final.model or self.model, self.backend, usage, final.done_reason)

    def _parts(self, messages: Sequence[Message]) -> Generator[ollama.ChatResponse, None, None]:
        # A generator, so that only the HTTP work sits inside the error translation and an
        # exception raised by on_token in the caller is never mistaken for a server failure.
        with self._errors():
            yield from self._client.chat(
                model=self.model,
                messages=_as_dicts(messages),
                stream=True,
                options=self._options,
                keep_alive=self._keep_alive,
            )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        hint = "start it with `ollama serve` (or set DOCQA_LLM_URL)"
        with _transport_errors("Ollama", self.url, self._timeout_s, hint):
            try:
                yield
            except ollama.ResponseError as e:
                raise self._response_error(e) from e

    def _response_error(self, error: ollama.ResponseError) -> LLMError:
        text = str(error.error)
        if "not found" in text and "model" in text:
            return LLMUnavailableError(
                f"model '{self.model}' is not pulled in Ollama: run `ollama pull {self.model}`"
            )
        if error.status_code == 404:
            return LLMUnavailableError(
                f"{self.url} does not speak Ollama's API ({text}): check DOCQA_LLM_URL"
            )
        return _server_error(f"Ollama at {self.url}", text)

    def list_models(self) -> list[str]:
        """The models pulled in Ollama (``/api/tags``); ``[]`` when it does not answer."""
        try:
            tags = httpx.get(f"{self.url.rstrip('/')}/api/tags", timeout=LIST_TIMEOUT_S)
            return _names(tags.json(), "models", "name")
        except (httpx.HTTPError, ValueError) as e:
            logger.debug("listing Ollama's models at %s failed: %r", self.url, e)
            return []

    def count_tokens(self, text: str) -> int | None:
        """Ollama has no tokenize endpoint: always ``None``."""
        return None

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()  # type: ignore[no-untyped-call]  # ollama leaves close() untyped
