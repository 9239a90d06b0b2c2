"""One log line per request: method, path, status, model, time to first token, total, tokens.

:class:`RequestLog` is pure ASGI middleware (streams and disconnects pass through untouched);
what only the answering code knows (the model, the first token, the token counts) it learns
through :func:`note`, called on the request's task. The page's own files are logged at DEBUG
only; a question's text appears only with ``log_questions`` (``docqa serve --log-questions``).
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("docqa.serve")
_QUIET = ("/static/", "/favicon.ico")

_FACTS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "docqa_request_facts", default=None
)


def note(**facts: Any) -> None:
    """Add facts (``model``, ``first_token_s``, ``prompt_tokens``, ``completion_tokens``,
    ``question``) to the log line of the request being served; nothing outside one."""
    current = _FACTS.get()
    if current is not None:
        current.update(facts)


def note_first_token() -> None:
    """The request's first token is out now (its time is kept once)."""
    current = _FACTS.get()
    if current is not None and "first_token_s" not in current:
        current["first_token_s"] = time.perf_counter() - current["_started"]


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}s"


class RequestLog:
    """Logs each HTTP request once its response has ended (or its client left)."""

    def __init__(self, app: ASGIApp, log_questions: bool = False) -> None:
        self.app, self.log_questions = app, log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        facts: dict[str, Any] = {"_started": time.perf_counter(), "status": 0}
        token = _FACTS.set(facts)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                facts["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _FACTS.reset(token)
            self._log(scope, facts)

    def _log(self, scope: Scope, facts: dict[str, Any]) -> None:
        path = scope.get("path", "")
        quiet = path == "/" or path.startswith(_QUIET)
        level = logging.DEBUG if quiet and facts["status"] < 400 else logging.INFO
        if not logger.isEnabledFor(level):
            return
        total = time.perf_counter() - facts["_started"]
        status = facts["status"] or 499  # the client left before a response started
        parts = [scope.get("method", ""), path, str(status)]
        if "model" in facts:
            parts.append(f"model={facts['model']}")
        if "model" in facts or "first_token_s" in facts:
            parts.append(f"first_token={_seconds(facts.get('first_token_s'))}")
        parts.append(f"total={total:.2f}s")
        if "completion_tokens" in facts:
            prompt = facts.get("prompt_tokens")
            parts.append(
                f"tokens={prompt if prompt is not None else '-'}+{facts['completion_tokens']}"
            )
        if self.log_questions and facts.get("question"):
            parts.append(f"question={facts['question']!r}")
        logger.log(level, " ".join(parts))
