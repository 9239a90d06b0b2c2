"""The OpenAI-compatible backend: :class:`OpenAILLM` over ``/v1/chat/completions`` (SSE)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Generator, Iterator, Sequence
from typing import Any

import httpx

from docqa.config import Settings
from docqa.errors import LLMError, LLMTimeoutError, LLMUnavailableError
from docqa.llm.base import (
    LIST_TIMEOUT_S,
    Chunk,
    Completion,
    Message,
    TokenCallback,
    _as_dicts,
    _ChunkStream,
    _Closeable,
    _error_message,
    _names,
    _Recorder,
    _server_error,
    _stream_cut,
    _transport_errors,
)
from docqa.llm.stopping import abort_on_stop

logger = logging.getLogger(__name__)


OPENAI_URL = "http://127.0.0.1:1234/v1"
_START_HINT = "start LM Studio's server or llama.cpp's `llama-server` (or set DOCQA_LLM_URL)"


def _sse_chunks(response: httpx.Response) -> Iterator[Chunk | None]:
    """The JSON events of a server-sent-event stream; ``None`` for ``data: [DONE]``."""
    for raw in response.iter_lines():
        line = raw.strip()
        if line.startswith("data:"):
            data = line[5:].strip()
            yield None if data == "[DONE]" else json.loads(data)
        elif line.startswith("error:"):
            # llama.cpp's server reports mid-stream failures as an "error:" event.
            yield {"error": json.loads(line[6:].strip())}
        # Blank lines, ": ping" comments and "event:" names carry nothing we need.


class OpenAILLM(_Closeable):
    """A model behind an OpenAI-compatible ``/chat/completions`` (LM Studio, llama.cpp, vLLM).

    ``llm_url`` includes the API prefix, e.g. ``http://127.0.0.1:1234/v1``. The server's context
    window cannot be asked in a standard way, so ``context_window`` is ``num_ctx`` as declared.
    """

    backend = "openai"

    def __init__(self, settings: Settings) -> None:
        """Prepare a client; nothing is contacted until :meth:`chat`.

        Args:
            settings: Uses ``llm_url``, ``llm_api_key``, ``model``, ``num_ctx``,
                ``max_tokens``, ``temperature``, ``seed`` and ``request_timeout_s``.
        """
        self.url = (settings.llm_url or OPENAI_URL).rstrip("/")
        self.model = settings.model
        self.context_window = settings.num_ctx
        self._timeout_s = settings.request_timeout_s
        self._body: dict[str, Any] = {
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        headers = {}
        if settings.llm_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=settings.request_timeout_s,
            event_hooks={"request": [abort_on_stop]},  # a stop closes the stream at once
        )
        self._can_tokenize: bool | None = None

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        """Stream an answer from ``{llm_url}/chat/completions``.

        Args:
            messages: The conversation, system message first.
            on_token: Called with each piece of text as it arrives.

        Returns:
            The answer; usage is filled when the server honours ``stream_options``.

        Raises:
            LLMUnavailableError: No server at the URL, unknown model, or a rejected key.
            LLMTimeoutError: No answer within ``request_timeout_s``.
            LLMError: Any other failure, including a stream cut mid-way.
        """
        recorder = _Recorder(on_token)
        state = _ChunkStream(f"the server at {self.url}", self.model)
        with contextlib.closing(self._chunks(messages)) as chunks:
            for chunk in chunks:
                recorder.add(state.feed(chunk))
        if not state.complete:
            raise _stream_cut(f"the server at {self.url}", "no finish_reason or [DONE]")
        return recorder.finish(state.model, self.backend, state.usage, state.done_reason)

    def _chunks(self, messages: Sequence[Message]) -> Generator[Chunk | None, None, None]:
        body = {"model": self.model, "messages": _as_dicts(messages), **self._body}
        with (
            _transport_errors("OpenAI-compatible server", self.url, self._timeout_s, _START_HINT),
            # Connection: close, because llama.cpp's server drops the connection after a
            # stream, racing the pool: the next request on it would fail with "Server
            # disconnected". One connection per answer costs nothing next to generation.
            self._client.stream(
                "POST", "/chat/completions", json=body, headers={"Connection": "close"}
            ) as response,
        ):
            self._check_status(response)
            yield from _sse_chunks(response)

    def _check_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        response.read()
        try:
            message = _error_message(response.json())
        except ValueError:
            message = response.text[:200] or response.reason_phrase
        status = response.status_code
        if status in (401, 403):
            raise LLMUnavailableError(
                f"{self.url} refused the request ({status}: {message}): set DOCQA_LLM_API_KEY"
            )
        if status == 404 and "model" in message.lower():
            raise LLMUnavailableError(
                f"model '{self.model}' is not available at {self.url} ({message}): "
                "load it in the server or set DOCQA_MODEL"
            )
        if status == 404:
            raise LLMUnavailableError(
                f"no chat endpoint at {self.url}/chat/completions ({message}): "
                "DOCQA_LLM_URL usually ends in /v1"
            )
        raise _server_error(f"the server at {self.url}", f"{status}: {message}")

    def list_models(self) -> list[str]:
        """The server's model ids (``/models``, with the API key); ``[]`` when it cannot say."""
        try:
            return _names(self._client.get("/models", timeout=LIST_TIMEOUT_S).json(), "data", "id")
        except (httpx.HTTPError, ValueError) as e:
            logger.debug("listing the models at %s failed: %r", self.url, e)
            return []

    def count_tokens(self, text: str) -> int | None:
        """Exact count through llama.cpp's ``/tokenize`` when the server has it, else ``None``.

        Args:
            text: Any text.

        Returns:
            The number of tokens, without special tokens; ``None`` for servers without
            ``/tokenize`` (asked once, then remembered).

        Raises:
            LLMUnavailableError: No server at the URL.
            LLMTimeoutError: The server did not answer within ``request_timeout_s`` (it would
                not answer the question either: no second wait).
        """
        if self._can_tokenize is False:
            return None
        root = self.url.removesuffix("/v1")
        tokens: object = None
        try:
            with _transport_errors(
                "OpenAI-compatible server", self.url, self._timeout_s, _START_HINT
            ):
                response = self._client.post(
                    f"{root}/tokenize", json={"content": text, "add_special": False}
                )
            if response.is_success:
                tokens = response.json().get("tokens")
        except (LLMUnavailableError, LLMTimeoutError):
            raise
        except (LLMError, httpx.HTTPError, ValueError, AttributeError) as e:
            logger.debug("no /tokenize at %s: %r", root, e)
        self._can_tokenize = isinstance(tokens, list)
        return len(tokens) if isinstance(tokens, list) else None

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
