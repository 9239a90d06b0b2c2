"""What the routes share: reading a bounded JSON body, error envelopes, event-stream responses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Send

from docqa.errors import DocqaError
from docqa.server.errors import (
    BadRequest,
    ClientGone,
    RequestTimeout,
    TooLarge,
    http_status,
    retry_after,
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

READ_TIMEOUT_S = 10.0
"""Seconds a client may take to send its headers, and to send each chunk of its body
(:mod:`docqa.server.wire`)."""
JSON_LIMIT = 1 << 20
"""Bytes a JSON request body may have (1 MiB: a long conversation fits many times)."""


async def body_bytes(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The request body in chunks, refused past ``limit`` bytes (announced or received).

    Raises:
        TooLarge: Over ``limit`` bytes.
        RequestTimeout: No chunk came for the server's read timeout (a half-sent body).
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the request body is {declared} bytes, over the {limit} byte limit")
    wait_s: float = getattr(request.app.state, "read_timeout_s", READ_TIMEOUT_S)
    chunks = request.stream()
    seen = 0
    while True:
        with anyio.move_on_after(wait_s) as waiting:
            chunk = await anext(chunks, None)
        if waiting.cancelled_caught:
            raise RequestTimeout(f"the request body stopped coming for {wait_s:g} s")
        if chunk is None:
            return
        seen += len(chunk)
        if seen > limit:
            raise TooLarge(f"the request body is over the {limit} byte limit")
        yield chunk


async def parse(request: Request, model: type[M], limit: int = JSON_LIMIT) -> M:
    """The JSON body as ``model``, whatever the Content-Type says (``curl -d`` sends a form
    type; Ollama's own examples send none). A cross-site page could POST such a body without a
    preflight: the guard refuses it by its Origin (:class:`~docqa.server.app.Guard`).

    Raises:
        BadRequest: Not JSON (nested too deep included), or not what the endpoint takes.
        TooLarge: Over ``limit`` bytes.
    """
    raw = b"".join([chunk async for chunk in body_bytes(request, limit)])
    return validated(model, raw)


def validated(model: type[M], raw: bytes) -> M:
    """``raw`` JSON as ``model`` (an empty body is ``{}``).

    Raises:
        BadRequest: Not JSON, nested deeper than Python parses, or not what ``model`` takes.
    """
    try:
        return model.model_validate(json.loads(raw or b"{}"))
    except json.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON: {error.msg} at {error.pos}") from None
    except UnicodeDecodeError:
        raise BadRequest("the body is not JSON: not UTF-8 text") from None
    except RecursionError:
        raise BadRequest("the body is not JSON docqa takes: nested too deep") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(f"bad request: {where}: {first['msg']}") from None


def error_body(error: DocqaError, ollama: bool) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``(status, body, headers)`` of an error, in the face's envelope."""
    status, code = http_status(error)
    message = str(error)
    body: dict[str, Any] = (
        {"error": message}
        if ollama
        else {"error": {"message": message, "type": code, "param": None, "code": code}}
    )
    wait = retry_after(error)
    headers = {"Retry-After": str(wait)} if wait is not None else {}
    if isinstance(error, RequestTimeout):  # the rest of its body is not worth waiting for
        headers["Connection"] = "close"
    return status, body, headers


def error_response(error: DocqaError, ollama: bool) -> JSONResponse:
    """The error as a JSON response with its fitting status."""
    status, body, headers = error_body(error, ollama)
    return JSONResponse(body, status_code=status, headers=headers)


class EventStream(StreamingResponse):
    """A streamed response that always closes its generator (its ``finally`` runs at once),
    whether the stream ended, failed, or the client went away."""

    def __init__(
        self,
        content: AsyncIterator[str],
        media_type: str,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            content,
            media_type=media_type,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._events = content
        self._on_close = on_close

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            aclose: Callable[[], Any] | None = getattr(self._events, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):  # a client that left cancelled this task
                    await aclose()
            if self._on_close is not None:
                self._on_close()


async def unless_gone(request: Request, work: Callable[[], Awaitable[T]]) -> T:
    """``await work()``, cancelled as soon as the client disconnects.

    Used while nothing has been sent yet (waiting for a queue place, retrieval, a whole
    non-streamed answer): Starlette only notices a client that left once a response streams.

    Raises:
        ClientGone: The client disconnected first (``work``'s ``finally`` blocks have run).
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    gone = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            nonlocal gone
            while (await request.receive())["type"] != "http.disconnect":
                pass
            gone = True
            group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            outcome.append(await work())
        except Exception as error:  # re-raised outside the group, not as an ExceptionGroup
            failure.append(error)
        group.cancel_scope.cancel()
    if failure:
        raise failure[0]
    if gone or not outcome:
        raise ClientGone("the client disconnected before the answer started")
    return outcome[0]


async def first_then(
    request: Request, events: AsyncIterator[T]
) -> tuple[T | None, AsyncIterator[T]]:
    """The first item of ``events`` (errors raise here, before any response starts) and the
    iterator, to go on with; ``None`` when it is empty. A client that leaves meanwhile (while
    its request waits in the queue) cancels it at once."""

    async def first() -> T | None:
        return await anext(events, None)

    try:
        item = await unless_gone(request, first)
    except BaseException:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()
        raise
    return item, events


async def collect(request: Request, events: AsyncIterator[T]) -> list[T]:
    """Every item of ``events`` (a non-streamed answer), cancelled if the client leaves."""

    async def everything() -> list[T]:
        return [item async for item in events]

    try:
        return await unless_gone(request, everything)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()
