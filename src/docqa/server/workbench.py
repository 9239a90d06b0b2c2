"""The page's other calls, over the same session: search, compare, status, ingest, uploads.

Uploads are written under ``<store>/uploads/`` (docqa's own folder), one known file type at a
time, within a size limit, then ingested like any other file. Each upload is written whole to a
file of its own, then put in place and ingested while no other upload or ingest runs: two
uploads of the same name at once are ingested one after the other, each from exactly its own
bytes, and the later one is the file's new version (as when one is uploaded again).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import re
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docqa.errors import DocqaError, NoStoreError
from docqa.server import logs
from docqa.server.citations import SourceRef, references
from docqa.server.documents import Document
from docqa.server.errors import NotFound, TooLarge, Unsupported
from docqa.server.protocol import CompareRequest
from docqa.server.serving import Route, Serving
from docqa.server.streams import in_thread, stoppable
from docqa.types import Answer, IngestEvent, SentenceSupport

UPLOAD_TYPES: dict[str, bytes | None] = {
    ".pdf": b"%PDF-",
    ".docx": b"PK\x03\x04",
    ".txt": None,
    ".md": None,
    ".html": None,
    ".htm": None,
}
"""Extensions an upload may have, with the bytes such a file starts with (None: text)."""
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True)
class Staged:
    """An upload written whole to a file of its own, waiting to be put at ``target``."""

    temp: Path
    target: Path

    def place(self) -> Path:
        """Put the upload at its name (atomically: a reader sees the old file or this one)."""
        os.replace(self.temp, self.target)
        return self.target

    def discard(self) -> None:
        """Forget an upload that was never placed."""
        self.temp.unlink(missing_ok=True)


def _marks(marks: tuple[SentenceSupport, ...]) -> list[dict[str, Any]]:
    return [{"sentence": m.sentence, "mark": m.mark, "source": m.source} for m in marks]


class Workbench:
    """Search, compare, status, ingest and uploads for the page."""

    def __init__(self, serving: Serving, *, upload_limit: int) -> None:
        self.serving = serving
        self.session = serving.session
        self.upload_limit = upload_limit
        self._ingest_lock = asyncio.Lock()
        self._files_lock = threading.Lock()  # held by the thread that places and ingests

    async def search(self, query: str, k: int, base_url: str) -> list[dict[str, Any]]:
        """The top ``k`` chunks with their scores and the URL that opens each."""
        hits = await in_thread(lambda: self.session.search(query, k=k))
        as_answer = Answer(question=query, text="", hits=tuple(hits))
        refs = references(as_answer, self.serving.docs, base_url, all_hits=True)
        return [{**r.to_dict(), "score": r.hit.score} for r in refs]

    async def compare(self, request: CompareRequest, base_url: str) -> list[dict[str, Any]]:
        """Each model's bare answer and answer from the documents, sentences marked ✓ / ~.

        Cancelling the awaiting task (the client left) stops the model at once."""
        logs.note(question=request.question)
        routes: dict[str, Route] = {}
        for name in request.models or [""]:
            route = self.serving.resolve(name)
            routes.setdefault(route.model, route)  # docqa/m and docqa-baseline/m: one comparison
        logs.note(model=",".join(routes))
        out = []
        for route in routes.values():
            async with self.serving.gate.place():
                result = await stoppable(
                    functools.partial(
                        self.session.compare, model=route.model, instructions=request.system
                    ),
                    request.question,
                )
            refs: list[SourceRef] = references(result.rag, self.serving.docs, base_url)
            out.append(
                {
                    "model": route.model,
                    "baseline": {
                        "text": result.baseline.text,
                        "marks": _marks(result.baseline_support),
                    },
                    "rag": {
                        "text": result.rag.text,
                        "marks": _marks(result.rag_support),
                        "abstained": result.rag.abstained,
                    },
                    "sources": [r.to_dict() for r in refs],
                    "warnings": list(result.warnings),
                }
            )
        return out

    async def status(self) -> dict[str, Any]:
        """The store's status, or ``{"store": null, "message": ...}`` before the first ingest;
        ``watch``: what ``serve --watch`` is syncing (:class:`docqa.watching.WatchState`)."""
        watcher = self.session.watcher
        watch = None if watcher is None else watcher.state().to_dict()
        try:
            result = await in_thread(self.session.status)
        except NoStoreError as error:
            return {"store": None, "message": str(error), "watch": watch}
        data: dict[str, Any] = json.loads(result.to_json())
        data["watch"] = watch
        return data

    async def document(self, doc_id: str) -> Document:
        """An ingested file by id.

        Raises:
            NotFound: No servable file has this id.
        """
        found = await in_thread(self.serving.docs.open, doc_id)
        if found is None:
            raise NotFound(f"no ingested document with id {doc_id!r}")
        return found

    async def ingest(self, path: Path | Staged) -> AsyncIterator[dict[str, Any]]:
        """Ingest a file or folder on this machine, or an upload (put in place first): progress
        events, then ``{"report": ...}``.

        One ingest runs at a time; errors come as ``{"error": message}``.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def put(item: dict[str, Any]) -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def progress(event: IngestEvent) -> None:
            put({"progress": dataclasses.asdict(event)})

        def work() -> None:
            try:
                with self._files_lock:  # even past a client that left: the file stays put
                    where = path.place() if isinstance(path, Staged) else path
                    report = self.session.ingest(str(where), on_progress=progress)
                put({"report": json.loads(report.to_json())})
            except DocqaError as error:
                put({"error": str(error)})
            except Exception as error:  # reported to the page; the server goes on
                put({"error": f"ingest failed: {error}"})
            finally:
                if isinstance(path, Staged):
                    path.discard()
                put({})

        async with self._ingest_lock:
            threading.Thread(target=work, name="docqa-serve-ingest", daemon=True).start()
            while item := await queue.get():
                yield item

    async def save_upload(self, name: str, body: AsyncIterator[bytes]) -> Staged:
        """Write an uploaded file whole to a file of its own under ``<store>/uploads/``; it
        takes its name when :meth:`ingest` gets it.

        Raises:
            Unsupported: Not a file type docqa reads, or its bytes do not match the type.
            TooLarge: Over the upload limit (nothing is kept).
        """
        clean = _SAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
        suffix = Path(clean).suffix.lower()
        if not clean or suffix not in UPLOAD_TYPES:
            known = ", ".join(UPLOAD_TYPES)
            raise Unsupported(f"{name!r}: docqa reads only {known} files")
        folder = self.session.make_store_dir() / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=folder)
        staged = Staged(Path(temp), folder / clean)
        size, head = 0, b""
        try:
            with os.fdopen(handle, "wb") as out:
                async for chunk in body:
                    size += len(chunk)
                    if size > self.upload_limit:
                        raise TooLarge(
                            f"{name!r} is over the {self.upload_limit} byte upload limit"
                        )
                    head = (head + chunk)[:8] if len(head) < 8 else head
                    out.write(chunk)
            magic = UPLOAD_TYPES[suffix]
            if magic is not None and not head.startswith(magic):
                raise Unsupported(
                    f"{name!r} is not a {suffix} file (its first bytes say otherwise)"
                )
            if magic is None and b"\x00" in head:
                raise Unsupported(f"{name!r} is not a text file")
        except BaseException:
            staged.discard()
            raise
        return staged

    def ingest_path(self, raw: str) -> Path:
        """A folder path typed on the page, expanded; it must exist.

        Raises:
            NotFound: Nothing at that path.
        """
        path = Path(raw).expanduser()
        if not path.exists():
            raise NotFound(f"{path} does not exist on the server's machine")
        return path
