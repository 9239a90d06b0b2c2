"""The manifest: which files are in the store, by content, in one SQLite file inside the store.

Identity (decided once):

- A file's *content key* is the sha256 of its bytes, never file-stat metadata.
- ``files`` maps each absolute path (kept with the ingested root and the path relative to it) to
  its sha256, its per-file fingerprint and its status (``done`` or ``failed``, with the reason).
- ``contents`` maps each sha256 to the fingerprint its points were made with and a status:
  ``pending`` is written *before* points are stored and ``done`` *after* they are flushed, so a
  crash leaves a ``pending`` row that the next run cleans up. Identical bytes at two paths share
  one ``contents`` row and one set of points whose payload lists every path.
- ``meta`` holds the collection-wide embedder name and dimension, and ``writing`` while an
  ingest is changing the store (set before its first change, removed when it finishes): found
  set when no ingest holds the store, it means an ingest was interrupted.

Each change is one SQLite transaction; SQLite's journal makes it all-or-nothing under kill -9.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    abspath TEXT PRIMARY KEY, root TEXT NOT NULL, rel TEXT NOT NULL, sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
    chunks INTEGER NOT NULL DEFAULT 0, pages INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_sha ON files(sha256);
CREATE TABLE IF NOT EXISTS contents (
    sha256 TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0
);
"""

MANIFEST_NAME = "manifest.sqlite"
WRITING = "writing"


@dataclass(frozen=True)
class FileRow:
    """One row of ``files``."""

    abspath: str
    root: str
    rel: str
    sha256: str
    fingerprint: str
    status: str
    reason: str = ""
    chunks: int = 0
    pages: int = 0


@dataclass(frozen=True)
class ContentRow:
    """One row of ``contents``."""

    sha256: str
    fingerprint: str
    status: str
    chunks: int = 0


class Manifest:
    """SQLite-backed manifest at ``store_dir/manifest.sqlite``."""

    def __init__(self, store_dir: Path) -> None:
        self.path = store_dir / MANIFEST_NAME
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A meta value, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        """Remove a meta value."""
        self._db.execute("DELETE FROM meta WHERE key=?", (key,))

    def unfinished(self) -> bool:
        """True when an ingest began changing the store and has not finished (or was killed)."""
        if self.get_meta(WRITING) is not None:
            return True
        row = self._db.execute("SELECT 1 FROM contents WHERE status != 'done' LIMIT 1")
        return row.fetchone() is not None

    # --- files -----------------------------------------------------------------------------
    def file(self, abspath: str) -> FileRow | None:
        """The row for a path, or None."""
        row = self._db.execute("SELECT * FROM files WHERE abspath=?", (abspath,)).fetchone()
        return None if row is None else FileRow(*row)

    def files(self, under: str | None = None) -> list[FileRow]:
        """All rows, or those whose path is ``under`` (a folder or the file itself)."""
        rows = [FileRow(*r) for r in self._db.execute("SELECT * FROM files ORDER BY abspath")]
        if under is None:
            return rows
        return [
            r for r in rows if r.abspath == under or r.abspath.startswith(under.rstrip("/") + "/")
        ]

    def put_file(self, row: FileRow) -> None:
        """Insert or replace a file row."""
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?)",
            (
                row.abspath,
                row.root,
                row.rel,
                row.sha256,
                row.fingerprint,
                row.status,
                row.reason,
                row.chunks,
                row.pages,
            ),
        )

    def delete_file(self, abspath: str) -> None:
        """Forget a path."""
        self._db.execute("DELETE FROM files WHERE abspath=?", (abspath,))

    def paths_of(self, sha256: str) -> list[str]:
        """Done paths holding this content, sorted."""
        rows = self._db.execute(
            "SELECT abspath FROM files WHERE sha256=? AND status='done' ORDER BY abspath", (sha256,)
        )
        return [str(r[0]) for r in rows]

    # --- contents --------------------------------------------------------------------------
    def content(self, sha256: str) -> ContentRow | None:
        """The contents row, or None."""
        row = self._db.execute("SELECT * FROM contents WHERE sha256=?", (sha256,)).fetchone()
        return None if row is None else ContentRow(*row)

    def contents(self) -> list[ContentRow]:
        """All contents rows."""
        return [ContentRow(*r) for r in self._db.execute("SELECT * FROM contents")]

    def put_content(self, row: ContentRow) -> None:
        """Insert or replace a contents row."""
        self._db.execute(
            "INSERT OR REPLACE INTO contents VALUES (?,?,?,?)",
            (row.sha256, row.fingerprint, row.status, row.chunks),
        )

    def delete_content(self, sha256: str) -> None:
        """Forget a content."""
        self._db.execute("DELETE FROM contents WHERE sha256=?", (sha256,))

    def orphans(self) -> list[str]:
        """Contents that are pending (a crash mid-write) or that no done file references."""
        rows = self._db.execute(
            "SELECT sha256 FROM contents c WHERE status != 'done' OR NOT EXISTS "
            "(SELECT 1 FROM files f WHERE f.sha256 = c.sha256 AND f.status = 'done')"
        )
        return [str(r[0]) for r in rows]

    def total_chunks(self) -> int:
        """Chunks of all done contents."""
        row = self._db.execute("SELECT COALESCE(SUM(chunks),0) FROM contents WHERE status='done'")
        return int(row.fetchone()[0])
