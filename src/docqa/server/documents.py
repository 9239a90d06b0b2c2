"""The ingested files, served by id: ``/documents/<id>`` opens the file a citation points to.

An id is the first 16 hex digits of the file's sha256, as the manifest records it. Nothing
else is served: the id must be 16 lowercase hex digits, the manifest must list a done file with
that content, and the bytes read (from one open file descriptor, so a path swapped for a
symlink in between changes nothing) must still hash to it. A file edited since it was ingested
is refused until it is ingested again.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from docqa.errors import NoStoreError

if TYPE_CHECKING:
    from docqa.session import Session

ID_LENGTH = 16
_ID = re.compile(rf"[0-9a-f]{{{ID_LENGTH}}}")
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
"""What the server may send, by extension: the formats docqa ingests."""


@dataclass(frozen=True)
class Document:
    """A served file: its bytes, media type and name."""

    name: str
    media_type: str
    data: bytes


class DocumentIndex:
    """Maps ingested paths to ids and back, from the session's manifest (re-read on a miss)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._lock = threading.Lock()
        self._by_path: dict[str, str] = {}
        self._by_id: dict[str, list[str]] = {}

    def _reload(self) -> None:
        try:
            with self._session.open_manifest() as manifest:
                rows = [r for r in manifest.files() if r.status == "done"]
        except NoStoreError:
            return
        by_path = {r.abspath: r.sha256 for r in rows}
        by_id: dict[str, list[str]] = {}
        for path, sha in by_path.items():
            by_id.setdefault(sha[:ID_LENGTH], []).append(path)
        with self._lock:
            self._by_path, self._by_id = by_path, by_id

    def id_of(self, path: str) -> str | None:
        """The id of an ingested path, or ``None`` when the manifest does not list it."""
        if path not in self._by_path:
            self._reload()
        sha = self._by_path.get(path)
        return sha[:ID_LENGTH] if sha else None

    def open(self, doc_id: str) -> Document | None:
        """The file with this id, checked against the manifest; ``None`` when not servable."""
        if not _ID.fullmatch(doc_id):
            return None
        if doc_id not in self._by_id:
            self._reload()
        for path in self._by_id.get(doc_id, []):
            sha = self._by_path.get(path, "")
            media = MEDIA_TYPES.get(Path(path).suffix.lower())
            if media is None:
                continue
            data = _read_if(path, sha)
            if data is not None:
                return Document(Path(path).name, media, data)
        return None


def _read_if(path: str, sha256: str) -> bytes | None:
    """The file's bytes when it is a regular file whose content still hashes to ``sha256``."""
    try:
        # O_NONBLOCK: a FIFO put in the file's place must not hang the server
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read()
    return data if hashlib.sha256(data).hexdigest() == sha256 else None
