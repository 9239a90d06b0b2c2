"""The Starlette application: the faces' routes behind docqa's guard.

Safe by default: the guard refuses a Host header that is not this server's (DNS rebinding),
a cross-site Origin that ``--cors`` did not allow, and, when an API key is set, any request
without it (``Authorization: Bearer KEY``, or the page's ``docqa_key`` cookie) — except the
page's own files, which hold no data. CORS headers are sent only for ``--cors`` origins.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from docqa.errors import DocqaError
from docqa.server import ollama, openai, page
from docqa.server.errors import Forbidden, ServeError, Unauthorized
from docqa.server.http import error_body, error_response
from docqa.server.logs import RequestLog
from docqa.server.serving import Serving
from docqa.server.workbench import Workbench

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_PUBLIC = ("/static/", "/favicon.ico")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_COOKIE = "docqa_key"
"""The page keeps the API key in this cookie, percent-encoded (``encodeURIComponent``)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Policy:
    """Who may talk to the server.

    Attributes:
        bind: The address the server listens on.
        api_key: The key every data request must carry; ``None`` for none (loopback only).
        cors: Origins allowed to call from a browser (``"null"`` for a page opened from a file).
        hosts: Extra Host names accepted besides loopback (when bound to loopback).
    """

    bind: str = "127.0.0.1"
    api_key: str | None = None
    cors: tuple[str, ...] = ()
    hosts: tuple[str, ...] = field(default=())


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    """Pure ASGI middleware (streams and disconnects pass through untouched)."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            self._check(request)
        except ServeError as error:
            ollama_face = scope["path"].startswith("/api/")
            status, body, headers = error_body(error, ollama_face)
            response = Response(
                json.dumps(body), status, headers=headers, media_type="application/json"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, request: Request) -> None:
        host = _hostname(request.headers.get("host", ""))
        bind = self.policy.bind
        if is_loopback(bind) and not (is_loopback(host) or host in self.policy.hosts):
            raise Forbidden(
                f"Host {host!r} is not this server: docqa serve on {bind} answers only "
                "localhost/127.0.0.1 (use --host to serve other names)"
            )
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.policy.cors:
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin != own:
                raise Forbidden(
                    f"requests from the web origin {origin} are refused: start docqa serve "
                    f"with --cors {origin} to allow them"
                )
        # a browser that sent no Origin still says where a write comes from
        if (
            origin is None
            and request.method not in _READS
            and request.headers.get("sec-fetch-site") == "cross-site"
        ):
            raise Forbidden("requests from other web sites are refused")
        key = self.policy.api_key
        path = request.url.path
        if key is None or path == "/" or path.startswith(_PUBLIC) or request.method == "OPTIONS":
            return
        given = request.headers.get("authorization", "")
        token = given[7:].strip() if given.lower().startswith("bearer ") else ""
        tokens = [token] if token else cookie_keys(request.headers.get("cookie", ""))
        if not any(hmac.compare_digest(t.encode(), key.encode()) for t in tokens):
            raise Unauthorized("a valid API key is required: send Authorization: Bearer KEY")


def cookie_keys(header: str) -> list[str]:
    """The API keys a Cookie header may carry in ``docqa_key``: the value percent-decoded (as
    the page stores it, so a key with ``+``, ``/`` or ``=`` survives), and as sent.

    Parsed by hand: :class:`http.cookies.SimpleCookie` drops the whole header when another
    cookie of the same host is not to its liking.
    """
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == KEY_COOKIE:
            value = value.strip().strip('"')
            return list(dict.fromkeys([unquote(value), value]))
    return []


def _on_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DocqaError)
    return error_response(error, ollama=request.url.path.startswith("/api/"))


def _on_crash(request: Request, error: Exception) -> Response:
    """A failure docqa did not foresee: still its JSON envelope (the traceback goes to the log)."""
    failed = DocqaError(
        f"docqa serve failed on {request.url.path} ({type(error).__name__}): see the server's log"
    )
    return error_response(failed, ollama=request.url.path.startswith("/api/"))


def make_app(
    serving: Serving, policy: Policy, *, upload_limit: int = 64 << 20, log_questions: bool = False
) -> Starlette:
    """The application over ``serving``; the caller owns the session and closes it.

    Each request is logged on ``docqa.serve`` (:mod:`docqa.server.logs`); its question's text
    only with ``log_questions``.
    """
    middleware: Sequence[Middleware] = [
        Middleware(RequestLog, log_questions=log_questions),
        *(
            [
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(policy.cors),
                    allow_methods=["GET", "POST", "PUT"],
                    allow_headers=["authorization", "content-type"],
                )
            ]
            if policy.cors
            else []
        ),
        Middleware(Guard, policy=policy),
    ]
    app = Starlette(
        routes=[*openai.routes, *ollama.routes, *page.routes],
        middleware=middleware,
        exception_handlers={DocqaError: _on_error, Exception: _on_crash},
    )
    app.state.serving = serving
    app.state.workbench = Workbench(serving, upload_limit=upload_limit)
    return app
