"""The Ollama face on the same port: enough of Ollama's API for Open WebUI and llama-index.

``/api/tags``, ``/api/ps``, ``/api/show``, ``/api/version``; ``/api/chat`` and
``/api/generate`` stream NDJSON (one JSON object per line) unless ``"stream": false``. Sources
travel as the text's "Sources" block: Ollama's format has no field for them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import docqa
from docqa.errors import DocqaError
from docqa.server import citations
from docqa.server.http import EventStream, collect, first_then, parse
from docqa.server.openai import base_url
from docqa.server.protocol import (
    OllamaChatRequest,
    OllamaGenerateRequest,
    OllamaShowRequest,
    WireMessage,
)
from docqa.server.serving import Final, Piece, Serving
from docqa.server.streams import in_thread


def _serving(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "docqa",
        "families": ["docqa"],
        "parameter_size": "",
        "quantization_level": "",
    }


def _entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": _now(),
        "size": 0,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": _details(),
    }


async def tags(request: Request) -> Response:
    """``GET /api/tags``: the same models as ``/v1/models``, named with a tag (``docqa:latest``).

    The ids differ from ``/v1/models``'s: Open WebUI keeps one model per id, and with both of
    docqa's faces connected an Ollama ``docqa`` would hide the OpenAI one and its citation chips.
    """
    names = await in_thread(_serving(request).ollama_model_names)
    return JSONResponse({"models": [_entry(n) for n in names]})


async def ps(request: Request) -> Response:
    """``GET /api/ps``: the loaded model (docqa keeps it loaded while it serves)."""
    entry = {**_entry("docqa:latest"), "expires_at": "2999-01-01T00:00:00Z", "size_vram": 0}
    return JSONResponse({"models": [entry]})


async def version(request: Request) -> Response:
    """``GET /api/version``: docqa's version."""
    return JSONResponse({"version": docqa.__version__})


async def show(request: Request) -> Response:
    """``POST /api/show``: details and the context window of a served model."""
    body = await parse(request, OllamaShowRequest)
    serving = _serving(request)
    route = await in_thread(serving.resolve, body.wanted)
    context = serving.llm_for(route.model).context_window
    return JSONResponse(
        {
            "modelfile": "",
            "parameters": "",
            "template": "",
            "details": _details(),
            "model_info": {"general.architecture": "docqa", "docqa.context_length": context},
            "capabilities": ["completion"],
        }
    )


def _done(final: Final, started: float) -> dict[str, Any]:
    usage = final.answer.usage
    timings = final.answer.timings
    return {
        "done": True,
        "done_reason": "stop",
        "total_duration": int((time.perf_counter() - started) * 1e9),
        "load_duration": 0,
        "prompt_eval_count": usage.prompt_tokens or 0,
        "prompt_eval_duration": int((timings.first_token_s or 0.0) * 1e9),
        "eval_count": usage.completion_tokens or 0,
        "eval_duration": int(timings.llm_s * 1e9),
    }


Shape = Callable[[str], dict[str, Any]]


async def _ndjson(
    first: Piece | Final | None,
    events: AsyncIterator[Piece | Final],
    head: dict[str, Any],
    shape: Shape,
    started: float,
) -> AsyncIterator[str]:
    def line(body: dict[str, Any]) -> str:
        return json.dumps({**head, "created_at": _now(), **body}, ensure_ascii=False) + "\n"

    try:
        item = first
        while item is not None:
            if isinstance(item, Piece):
                yield line({**shape(item.text), "done": False})
            else:
                tail = citations.sources_block(item.refs)
                if tail:
                    yield line({**shape(tail), "done": False})
                yield line({**shape(""), **_done(item, started)})
            item = await anext(events, None)
    except DocqaError as error:
        yield json.dumps({"error": str(error)}) + "\n"


async def _respond(
    request: Request, model: str, messages: list[WireMessage], stream: bool, shape: Shape
) -> Response:
    started = time.perf_counter()
    events = _serving(request).answer(model, messages, base_url(request))
    head = {"model": model}
    if stream:
        first, events = await first_then(request, events)
        return EventStream(_ndjson(first, events, head, shape, started), "application/x-ndjson")
    items = await collect(request, events)
    final = next(i for i in items if isinstance(i, Final))
    text = "".join(i.text for i in items if isinstance(i, Piece))
    text += citations.sources_block(final.refs)
    return JSONResponse({**head, "created_at": _now(), **shape(text), **_done(final, started)})


async def chat(request: Request) -> Response:
    """``POST /api/chat``."""
    body = await parse(request, OllamaChatRequest)

    def shape(text: str) -> dict[str, Any]:
        return {"message": {"role": "assistant", "content": text}}

    return await _respond(request, body.model, body.messages, body.stream, shape)


async def generate(request: Request) -> Response:
    """``POST /api/generate``: the prompt as the one user message, ``system`` added to it."""
    body = await parse(request, OllamaGenerateRequest)
    messages = [WireMessage(role="user", content=body.prompt)]
    if body.system:
        messages.insert(0, WireMessage(role="system", content=body.system))
    if not body.prompt.strip():  # Ollama's "load the model" call: answer done at once
        return JSONResponse(
            {"model": body.model, "created_at": _now(), "response": "", "done": True}
        )

    def shape(text: str) -> dict[str, Any]:
        return {"response": text}

    return await _respond(request, body.model, messages, body.stream, shape)


routes = [
    Route("/api/tags", tags, methods=["GET"]),
    Route("/api/ps", ps, methods=["GET"]),
    Route("/api/version", version, methods=["GET"]),
    Route("/api/show", show, methods=["POST"]),
    Route("/api/chat", chat, methods=["POST"]),
    Route("/api/generate", generate, methods=["POST"]),
]
