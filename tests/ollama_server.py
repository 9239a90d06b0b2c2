"""A test server that speaks Ollama's HTTP API over an in-process llama.cpp engine.

No Ollama binary can run on these machines, so the integration tests use this stand-in. It
implements the documented endpoints the clients in use call (``/api/chat``, ``/api/generate``,
``/api/tags``, ``/api/show``, ``/api/version``), streams NDJSON with chunked transfer encoding
like Ollama, and answers ``404 {"error": "model \\"x\\" not found, try pulling it first"}`` for
unknown models. The engine is any object with xllamacpp's ``Server.handle_chat_completions`` /
``handle_completions`` (request dict, optional per-chunk callback returning True to stop).

Every request body is recorded in :attr:`OllamaTestServer.received` for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Json = dict[str, Any]
MODIFIED_AT = "2026-01-01T00:00:00Z"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class OllamaTestServer:
    """Ollama's API on ``127.0.0.1`` (a free port), backed by a llama.cpp engine.

    Args:
        engine: An ``xllamacpp.Server`` (or anything with the same two methods).
        model: The model name clients ask for; ``name:latest`` is listed.
        context_length: Reported by ``/api/show`` as ``<arch>.context_length``.
        arch: The architecture name used in ``model_info`` keys.
        default_num_predict: Tokens generated when a request sets no ``num_predict``
            (Ollama's own default is unbounded; tests want short answers).
    """

    def __init__(
        self,
        engine: Any,
        *,
        model: str = "smollm2",
        context_length: int = 8192,
        arch: str = "llama",
        default_num_predict: int = 32,
    ) -> None:
        self.engine = engine
        self.model = model
        self.context_length = context_length
        self.arch = arch
        self.default_num_predict = default_num_predict
        self.received: list[tuple[str, Json]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:40123``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> OllamaTestServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> OllamaTestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- model facts ----------------------------------------------------------------------

    def knows(self, name: str) -> bool:
        """Whether ``name`` is this model, with or without the ``:latest`` tag."""
        return name.removesuffix(":latest") == self.model

    def details(self) -> Json:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.arch,
            "families": [self.arch],
            "parameter_size": "135M",
            "quantization_level": "Q4_1",
        }

    def tags(self) -> Json:
        name = f"{self.model}:latest"
        entry = {"name": name, "model": name, "modified_at": MODIFIED_AT, "size": 1}
        entry |= {"digest": "0" * 64, "details": self.details()}
        return {"models": [entry]}

    def show(self) -> Json:
        return {
            "modelfile": f"FROM {self.model}",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": self.details(),
            "model_info": {
                "general.architecture": self.arch,
                "general.parameter_count": 134_515_008,
                f"{self.arch}.context_length": self.context_length,
            },
            "capabilities": ["completion"],
            "modified_at": MODIFIED_AT,
        }


def _engine_request(path: str, body: Json, default_num_predict: int) -> Json:
    """Ollama's request as llama.cpp's (num_ctx is the engine's, fixed at load)."""
    options = body.get("options") or {}
    num_predict = options.get("num_predict", default_num_predict)
    request: Json = {"stream": True}
    if path == "/api/generate" and body.get("raw"):
        request["prompt"] = body.get("prompt", "")  # raw: no chat template
    else:
        request["messages"] = _messages(path, body)
    request["stream_options"] = {"include_usage": True}
    request["max_tokens"] = default_num_predict if num_predict in (None, -1) else num_predict
    for key in ("temperature", "seed", "top_p", "top_k", "stop"):
        if key in options:
            request[key] = options[key]
    return request


def _messages(path: str, body: Json) -> list[Json]:
    if path == "/api/chat":
        return [{"role": m["role"], "content": m.get("content") or ""} for m in body["messages"]]
    system = [{"role": "system", "content": body["system"]}] if body.get("system") else []
    return [*system, {"role": "user", "content": body.get("prompt", "")}]


class _Generation:
    """Runs one request on the engine, turning llama.cpp's chunks into Ollama's lines."""

    def __init__(self, server: OllamaTestServer, path: str, body: Json) -> None:
        self.server = server
        self.chat = path == "/api/chat"
        self.request = _engine_request(path, body, server.default_num_predict)
        self.started = time.monotonic_ns()
        self.text: list[str] = []
        self.usage: Json = {}
        self.done_reason = "stop"
        self.error: str | None = None

    def line(self, piece: str) -> Json:
        out: Json = {"model": self.server.model, "created_at": _now()}
        if self.chat:
            out["message"] = {"role": "assistant", "content": piece}
        else:
            out["response"] = piece
        return out | {"done": False}

    def final(self, piece: str = "") -> Json:
        elapsed = time.monotonic_ns() - self.started
        return self.line(piece) | {
            "done": True,
            "done_reason": self.done_reason,
            "total_duration": elapsed,
            "load_duration": 0,
            "prompt_eval_count": self.usage.get("prompt_tokens", 0),
            "prompt_eval_duration": elapsed // 2,
            "eval_count": self.usage.get("completion_tokens", 0),
            "eval_duration": elapsed // 2,
        }

    def run(self, emit: Callable[[str], bool]) -> None:
        """Generate, calling ``emit`` with each piece; ``emit`` returns True to stop."""

        def on_chunk(chunk: Any) -> bool:
            if isinstance(chunk, (str, bytes)):
                chunk = json.loads(chunk)
            if "error" in chunk:
                error = chunk["error"]
                self.error = error.get("message") if isinstance(error, dict) else str(error)
                return True
            self.usage = chunk.get("usage") or self.usage
            for choice in chunk.get("choices") or []:
                self.done_reason = choice.get("finish_reason") or self.done_reason
                # Chat chunks carry delta.content, raw completion chunks carry text.
                piece = (choice.get("delta") or {}).get("content") or choice.get("text")
                if piece:
                    self.text.append(piece)
                    if emit(piece):
                        return True
            return False

        if "prompt" in self.request:
            self.server.engine.handle_completions(self.request, on_chunk)
        else:
            self.server.engine.handle_chat_completions(self.request, on_chunk)


def _handler_for(server: OllamaTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_OllamaHandler):
        ollama = server

    return Handler


class _OllamaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked streaming and keep-alive, as Ollama serves
    ollama: OllamaTestServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows failures, not access logs."""

    def do_HEAD(self) -> None:
        self._send_json(200, {}, head=True)

    def do_GET(self) -> None:
        if self.path == "/":
            self._send_text(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send_json(200, {"version": "0.6.3"})
        elif self.path == "/api/tags":
            self._send_json(200, self.ollama.tags())
        else:
            self._send_text(404, "404 page not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body: Json = json.loads(self.rfile.read(length) or b"{}")
        self.ollama.received.append((self.path, body))
        if self.path not in ("/api/chat", "/api/generate", "/api/show"):
            self._send_text(404, "404 page not found")
            return
        name = body.get("model") or body.get("name") or ""
        if not self.ollama.knows(name):
            error = f'model "{name}" not found, try pulling it first'
            self._send_json(404, {"error": error})
        elif self.path == "/api/show":
            self._send_json(200, self.ollama.show())
        elif body.get("stream", True):  # Ollama streams unless told not to
            self._stream(_Generation(self.ollama, self.path, body))
        else:
            self._complete(_Generation(self.ollama, self.path, body))

    def _complete(self, generation: _Generation) -> None:
        generation.run(lambda piece: False)
        if generation.error is not None:
            self._send_json(500, {"error": generation.error})
        else:
            self._send_json(200, generation.final("".join(generation.text)))

    def _stream(self, generation: _Generation) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.hung_up = False
        generation.run(lambda piece: not self._chunk(generation.line(piece)))
        if self.hung_up:  # the client hung up: nobody to tell
            return
        last = {"error": generation.error} if generation.error else generation.final()
        self._chunk(last)
        self._write(b"0\r\n\r\n")

    def _chunk(self, obj: Json) -> bool:
        data = json.dumps(obj).encode() + b"\n"
        return self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _write(self, data: bytes) -> bool:
        # The client may hang up mid-stream (Ctrl-C): stop generating instead of raising
        # inside the engine's callback, where an exception would be swallowed.
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = self.hung_up = True
            return False

    def _send_json(self, status: int, obj: Json, *, head: bool = False) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self._write(data)

    def _send_text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._write(data)
