"""The OpenAI face: ``GET /v1/models`` and ``POST /v1/chat/completions`` (streamed or not).

A stream is ``chat.completion.chunk`` events: the role in the first delta, the answer's pieces,
the "Sources" block, one Open WebUI ``source`` event per source, the ``finish_reason``, a usage
chunk when ``stream_options.include_usage``, ``[DONE]``. The ``url_citation`` annotations come
with a whole message only: Open WebUI would store each streamed one as a second copy of its
source, without the passage (see :mod:`docqa.server.citations`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from docqa.errors import DocqaError
from docqa.server import citations
from docqa.server.http import EventStream, collect, error_body, first_then, parse
from docqa.server.protocol import ChatCompletionRequest
from docqa.server.serving import Final, Piece, Serving
from docqa.types import Answer


def _serving(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


def base_url(request: Request) -> str:
    """This server's URL as the client reached it (the Host header was checked)."""
    return str(request.base_url).rstrip("/")


def _usage(answer: Answer) -> dict[str, int]:
    prompt = answer.usage.prompt_tokens or 0
    completion = answer.usage.completion_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def models(request: Request) -> Response:
    """``GET /v1/models``: docqa, docqa-baseline and a pair per backend model."""
    from docqa.server.streams import in_thread

    names = await in_thread(_serving(request).model_names)
    created = int(time.time())
    data = [{"id": n, "object": "model", "created": created, "owned_by": "docqa"} for n in names]
    return JSONResponse({"object": "list", "data": data})


class _Chunks:
    """Builds the ``chat.completion.chunk`` frames of one response."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{secrets.token_hex(12)}"
        self.created = int(time.time())
        self.model = model

    def frame(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> str:
        return self.frame([{"index": 0, "delta": delta, "finish_reason": finish}])


async def _sse(
    first: Piece | Final | None,
    events: AsyncIterator[Piece | Final],
    chunks: _Chunks,
    include_usage: bool,
) -> AsyncIterator[str]:
    yield chunks.delta({"role": "assistant", "content": ""})
    try:
        item = first
        while item is not None:
            if isinstance(item, Piece):
                yield chunks.delta({"content": item.text})
            else:
                tail = citations.sources_block(item.refs)
                if tail:
                    yield chunks.delta({"content": tail})
                for event in citations.source_events(item.refs):
                    yield chunks.frame([], **event)
                yield chunks.delta({}, finish="stop")
                if include_usage:
                    yield chunks.frame([], usage=_usage(item.answer))
            item = await anext(events, None)
    except DocqaError as error:  # after the headers: the error travels as an event
        yield f"data: {json.dumps({'error': error_body(error, ollama=False)[1]['error']})}\n\n"
    yield "data: [DONE]\n\n"


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    body = await parse(request, ChatCompletionRequest)
    events = _serving(request).answer(body.model, body.messages, base_url(request))
    if body.stream:
        first, events = await first_then(request, events)
        chunks = _Chunks(body.model or "docqa")
        include = bool(body.stream_options and body.stream_options.include_usage)
        return EventStream(_sse(first, events, chunks, include), "text/event-stream")
    items = await collect(request, events)
    text = "".join(i.text for i in items if isinstance(i, Piece))
    final = next(i for i in items if isinstance(i, Final))
    tail = citations.sources_block(final.refs)
    message = {
        "role": "assistant",
        "content": text + tail,
        "annotations": citations.url_citations(text + tail, final.refs),
    }
    return JSONResponse(
        {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model or "docqa",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": _usage(final.answer),
        }
    )


routes = [
    Route("/v1/models", models, methods=["GET"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
]
