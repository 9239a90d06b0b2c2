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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docqa.config import Settings
from docqa.errors import ConfigError, DocqaError

if TYPE_CHECKING:
    from docqa.server.serving import Serving
    from docqa.session import Session
    from docqa.watching import Sync, Watcher

Watch = Sequence[str | Path] | bool | None
"""What ``serve --watch`` keeps in sync: folders, ``True`` for the ingested roots, or nothing."""

DEFAULT_PORT = 8765
"""Not 11434: a real Ollama there may be docqa's own backend."""
DEFAULT_QUEUE = 8
UPLOAD_LIMIT = 64 << 20
READ_TIMEOUT_S = 10.0
"""Seconds a client may take to send its request's headers, and each chunk of its body."""

logger = logging.getLogger(__name__)


@dataclass
class Running:
    """A server started by :func:`start`: its URL, and :meth:`stop`."""

    url: str
    serving: Serving
    _server: Any
    _thread: threading.Thread
    _session: Session | None
    watcher: Watcher | None = None

    def stop(self) -> None:
        """Stop serving (open streams are closed, their LLM calls stopped) and close the session
        if :func:`start` made it."""
        if self.watcher is not None:
            self.watcher.stop()
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
    log_questions: bool = False,
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
    app = make_app(serving, policy, upload_limit=upload_limit, log_questions=log_questions)
    return app, session


def _watch(
    session: Session, watch: Watch, poll: bool, on_line: Callable[[str], None] | None
) -> Watcher | None:
    """The watcher ``--watch`` asks for, started on its own thread (the page shows its state)."""
    if not watch and not poll:
        return None
    say = on_line or logger.warning

    def synced(sync: Sync) -> None:
        if sync.full or sync.changed or sync.report is None:
            say(sync.summary())

    paths = None if watch is True or not watch else list(watch)
    watcher = session.watch(paths, on_sync=synced, on_message=say, polling=poll or None)
    return watcher.start(wait=False)


def _server(app: Any, host: str, port: int, read_timeout_s: float) -> Any:
    import uvicorn

    from docqa.server.wire import protocol

    app.state.read_timeout_s = read_timeout_s  # the body's, read by http.body_bytes
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=5,
        http=protocol(read_timeout_s),
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
    watch: Watch = None,
    poll: bool = False,
    log_questions: bool = False,
    read_timeout_s: float = READ_TIMEOUT_S,
) -> Running:
    """Serve on a background thread (``port=0``: a free port); returns when it listens.

    ``watch`` and ``poll`` as :func:`serve` takes them. Requests are logged on the
    ``docqa.serve`` logger, as the caller configures it."""
    app, made = _app(
        settings or Settings(), session, host, api_key, cors, queue, upload_limit, log_questions
    )
    watcher = _watch(made, watch, poll, None)
    server = _server(app, host, port, read_timeout_s)
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
    owned = None if session else made
    return Running(f"http://{shown}:{bound}", serving, server, thread, owned, watcher)


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
    watch: Watch = None,
    poll: bool = False,
    on_sync: Callable[[str], None] | None = None,
    log_questions: bool = False,
    read_timeout_s: float = READ_TIMEOUT_S,
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
        watch: Keep these folders in sync as files change (``True``: the roots the store
            holds) on a thread of the server (see :mod:`docqa.watching`); the page shows it.
        poll: Poll for changes instead of OS file events (implies ``watch=True``).
        on_sync: Called with a line for each sync that changed something, and for a fallback
            to polling (default: logged).
        log_questions: Put each question's text in the request log (one line per request on
            stderr: method, path, status, model, time to first token, total, tokens).
        read_timeout_s: Seconds a client may take to send its headers (then the connection is
            closed) and each chunk of its body (then 408).

    Raises:
        ConfigError: A non-loopback host without an API key, or ``watch=True`` and no roots.
        LLMUnavailableError: No model to answer with.
    """
    app, session = _app(
        settings or Settings(), None, host, api_key, cors, queue, upload_limit, log_questions
    )
    _log_requests()
    server = _server(app, host, port, read_timeout_s)
    shown = f"[{host}]" if ":" in host else host
    with contextlib.ExitStack() as stack:
        stack.callback(session.close)
        watcher = _watch(session, watch, poll, on_sync)
        if watcher is not None:
            stack.callback(watcher.stop)  # before the session closes
        if on_ready is not None:
            _announce(server, on_ready, shown)
        server.run()


def _log_requests() -> None:
    """Request lines to stderr, unless the application configured logging itself."""
    requests = logging.getLogger("docqa.serve")
    if requests.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    requests.addHandler(handler)
    requests.setLevel(logging.INFO)


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
