"""docqa's own page and the calls it makes besides chatting (which uses the OpenAI face).

``/`` and ``/static/*`` are the page (every asset inside the package); ``/docqa/*`` are its
calls; ``/documents/<id>`` opens an ingested file (see :mod:`docqa.server.documents`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from docqa import prompts
from docqa.server.http import EventStream, body_bytes, parse, unless_gone
from docqa.server.openai import base_url
from docqa.server.protocol import CompareRequest, IngestRequest, SearchRequest
from docqa.server.streams import in_thread
from docqa.server.workbench import Workbench

STATIC = Path(__file__).parent / "static"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""The page may load and call nothing but this server."""
DOCUMENT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""Ingested HTML is shown without scripts, in an origin of its own."""


def _bench(request: Request) -> Workbench:
    bench: Workbench = request.app.state.workbench
    return bench


async def index(request: Request) -> Response:
    """The page."""
    return FileResponse(
        STATIC / "index.html",
        headers={
            **_SECURITY_HEADERS,
            "Content-Security-Policy": PAGE_CSP,
            "Cache-Control": "no-cache",
        },
    )


async def info(request: Request) -> Response:
    """What the page needs to draw itself: models, presets, the store's status."""
    bench = _bench(request)
    serving = bench.serving
    settings = serving.session.settings
    return JSONResponse(
        {
            "model": serving.model,
            "backend": serving.session.llm.backend,
            "models": await in_thread(serving.model_names),
            "presets": prompts.presets(settings),
            "preset": settings.preset,
            "status": await bench.status(),
            "upload_limit": bench.upload_limit,
        }
    )


async def status(request: Request) -> Response:
    """The store's status."""
    return JSONResponse(await _bench(request).status())


async def search(request: Request) -> Response:
    """The search-only box: ranked chunks, no LLM."""
    body = await parse(request, SearchRequest)
    return JSONResponse(
        {"hits": await _bench(request).search(body.query, body.k, base_url(request))}
    )


async def compare(request: Request) -> Response:
    """The compare switch: bare model vs model with documents, per model asked for."""
    body = await parse(request, CompareRequest)
    bench, url = _bench(request), base_url(request)
    results = await unless_gone(request, lambda: bench.compare(body, url))
    return JSONResponse({"results": results})


async def _lines(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async for event in events:
        yield json.dumps(event, ensure_ascii=False) + "\n"


async def ingest(request: Request) -> Response:
    """Ingest a folder or file on the server's machine; NDJSON progress, then the report."""
    body = await parse(request, IngestRequest)
    bench = _bench(request)
    path = bench.ingest_path(body.path)
    return EventStream(_lines(bench.ingest(path)), "application/x-ndjson")


async def upload(request: Request) -> Response:
    """``PUT /docqa/upload?name=FILE``: the raw file as the body; then ingested, as above."""
    bench = _bench(request)
    name = request.query_params.get("name", "")
    staged = await bench.save_upload(name, body_bytes(request, bench.upload_limit))
    return EventStream(
        _lines(bench.ingest(staged)), "application/x-ndjson", on_close=staged.discard
    )


async def document(request: Request) -> Response:
    """``/documents/<id>``: an ingested file, by the id its citations carry."""
    found = await _bench(request).document(request.path_params["doc_id"])
    headers = {
        **_SECURITY_HEADERS,
        "Content-Disposition": f"inline; filename*=UTF-8''{_quoted(found.name)}",
        "Cache-Control": "no-store",
    }
    if found.media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = DOCUMENT_CSP
    return Response(found.data, media_type=found.media_type, headers=headers)


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


routes = [
    Route("/", index, methods=["GET"]),
    Route("/docqa/info", info, methods=["GET"]),
    Route("/docqa/status", status, methods=["GET"]),
    Route("/docqa/search", search, methods=["POST"]),
    Route("/docqa/compare", compare, methods=["POST"]),
    Route("/docqa/ingest", ingest, methods=["POST"]),
    Route("/docqa/upload", upload, methods=["PUT"]),
    Route("/documents/{doc_id}", document, methods=["GET"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]
