"""``docqa serve``: docqa as a local model for OpenAI and Ollama clients, and its own page.

:func:`serve` runs until Ctrl-C; :func:`start` runs the same server on a thread and returns
a handle (tests, benchmarks, notebooks). Both keep one session (store, embedder, LLM) loaded
for every request. Starlette and uvicorn are imported here, never by ``import docqa``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docqa.config import Settings
from docqa.errors import ConfigError, DocqaError

if TYPE_CHECKING:
    from docqa.server.serving import Serving
    from docqa.session import Session

DEFAULT_PORT = 8765
"""Not 11434: a real Ollama there may be docqa's own backend."""
DEFAULT_QUEUE = 8
UPLOAD_LIMIT = 64 << 20

logger = logging.getLogger(__name__)


@dataclass
class Running:
    """A server started by :func:`start`: its URL, and :meth:`stop`."""

    url: str
    serving: Serving
    _server: Any
    _thread: threading.Thread
    _session: Session | None

    def stop(self) -> None:
        """Stop serving (open streams are closed, their LLM calls stopped) and close the session
        if :func:`start` made it."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _check_bind(host: str, api_key: str | None) -> None:
    from docqa.server.app import is_loopback

    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"serving on {host} lets other machines read your documents: pass --api-key KEY "
            "(clients then send Authorization: Bearer KEY), or keep the default 127.0.0.1"
        )


def _app(
    settings: Settings,
    session: Session | None,
    host: str,
    api_key: str | None,
    cors: Sequence[str],
    queue: int,
    upload_limit: int,
) -> tuple[Any, Session]:
    from docqa.server.app import Policy, make_app
    from docqa.server.documents import DocumentIndex
    from docqa.server.serving import Serving
    from docqa.session import get_session

    _check_bind(host, api_key)
    session = session or get_session(settings)  # shared with docqa.ask & co. in this process
    session.make_store_dir()
    serving = Serving(session, DocumentIndex(session), queue=queue)
    policy = Policy(bind=host, api_key=api_key, cors=tuple(cors))
    return make_app(serving, policy, upload_limit=upload_limit), session


def _server(app: Any, host: str, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=5
    )
    return uvicorn.Server(config)


def start(
    settings: Settings | None = None,
    *,
    session: Session | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    cors: Sequence[str] = (),
    queue: int = DEFAULT_QUEUE,
    upload_limit: int = UPLOAD_LIMIT,
) -> Running:
    """Serve on a background thread (``port=0``: a free port); returns when it listens."""
    app, made = _app(settings or Settings(), session, host, api_key, cors, queue, upload_limit)
    server = _server(app, host, port)
    thread = threading.Thread(target=server.run, name="docqa-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise DocqaError(f"docqa serve could not listen on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    serving = app.state.serving
    return Running(f"http://{shown}:{bound}", serving, server, thread, None if session else made)


def serve(
    settings: Settings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    cors: Sequence[str] = (),
    queue: int = DEFAULT_QUEUE,
    upload_limit: int = UPLOAD_LIMIT,
    on_ready: Any = None,
) -> None:
    """Serve docqa until Ctrl-C: the page at ``/``, OpenAI at ``/v1``, Ollama at ``/api``.

    Args:
        settings: Settings; defaults to ``Settings()``.
        host: Address to listen on; anything but loopback needs ``api_key``.
        port: Port (default 8765; never Ollama's 11434 by default).
        api_key: Key clients must send as ``Authorization: Bearer KEY``.
        cors: Browser origins allowed to call the API (``"null"``: pages opened from files).
        queue: Requests that may wait for the in-process model; past it, 503.
        upload_limit: Bytes an uploaded file may have.
        on_ready: Called with the URL once the model is loaded and the port is open.

    Raises:
        ConfigError: A non-loopback host without an API key.
        LLMUnavailableError: No model to answer with.
    """
    app, session = _app(settings or Settings(), None, host, api_key, cors, queue, upload_limit)
    server = _server(app, host, port)
    shown = f"[{host}]" if ":" in host else host
    with contextlib.ExitStack() as stack:
        stack.callback(session.close)
        if on_ready is not None:
            _announce(server, on_ready, shown)
        server.run()


def _announce(server: Any, on_ready: Any, host: str) -> None:
    def wait() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            port = server.servers[0].sockets[0].getsockname()[1]  # the real one for --port 0
            on_ready(f"http://{host}:{port}")

    threading.Thread(target=wait, name="docqa-serve-ready", daemon=True).start()


@contextlib.contextmanager
def running(settings: Settings | None = None, **kwargs: Any) -> Iterator[Running]:
    """``with running(settings) as server: ... server.url ...``: :func:`start`, then stop."""
    handle = start(settings, **kwargs)
    try:
        yield handle
    finally:
        handle.stop()
