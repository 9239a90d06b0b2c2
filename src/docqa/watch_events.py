"""What a watcher reads of files and what it reports.

Which file names never trigger a sync (:func:`temporary`), a file's size-and-mtime signature (a
file is synced once it stays the same), whether the environment asks for polling, and the records
of a sync (:class:`Sync`) and of a watcher's state (:class:`WatchState`). :mod:`docqa.watching`
runs the watcher.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from docqa import sources

if TYPE_CHECKING:
    from docqa.types import IngestReport

_TEMP_SUFFIXES: tuple[str, ...] = (".swp", ".swo", ".swx", "~", ".part", ".partial", ".tmp")
_TEMP_SUFFIXES += (".temp", ".crdownload", ".download", ".kate-swp")
_TEMP_PREFIXES = (".#", "#", ".~lock.", "~$")

Syncing = Callable[["Sync"], None]


def temporary(name: str) -> bool:
    """True for a name editors and downloaders write before the real file: ``.x.md.swp``,
    ``x.md~``, ``x.pdf.part``, ``x.tmp``, ``.#x.md``, ``#x.md#``, ``~$x.docx``."""
    lower = name.lower()
    return lower.endswith(_TEMP_SUFFIXES) or lower.startswith(_TEMP_PREFIXES)


@dataclass(frozen=True)
class Sync:
    """One sync: the paths that changed under a root and what ingesting them did.

    Attributes:
        root: The ingested root the paths are under.
        paths: The changed paths handed to ingest (all of ``root`` for a full sync).
        report: The ingest report (``None`` when the sync failed).
        error: Why the sync failed, in one line (``None`` when it did not).
        retrying: The store was busy: the same paths are synced again shortly.
        full: The whole root was synced (the first sync, or after falling back to polling).
        started: When the sync began (seconds since the epoch).
        seconds: How long it took.
    """

    root: str
    paths: tuple[str, ...]
    report: IngestReport | None
    error: str | None = None
    retrying: bool = False
    full: bool = False
    started: float = 0.0
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        """Files added, updated, removed or failed by this sync."""
        r = self.report
        return 0 if r is None else r.added + r.updated + r.removed + len(r.failed)

    def summary(self) -> str:
        """One line: when, what, how long."""
        when = time.strftime("%H:%M:%S", time.localtime(self.started))
        if self.report is None:
            again = " (trying again)" if self.retrying else ""
            return f"{when} sync failed: {self.error}{again}"
        r = self.report
        failed = f", {len(r.failed)} failed" if r.failed else ""
        return (
            f"{when} synced {sources.path_text(self.root)}: {r.added} added, {r.updated} updated, "
            f"{r.removed} removed{failed} ({self.seconds:.2f} s)"
        )


@dataclass(frozen=True)
class WatchState:
    """What a :class:`Watcher` is doing (the page's status shows it).

    Attributes:
        roots: The roots kept in sync.
        polling: True when polling instead of OS file events.
        pending: Changed paths waiting to be synced (still being written, or the store busy).
        syncing: A sync is running now.
        syncs: Syncs done so far.
        files_synced: Files added, updated, removed or failed by those syncs.
        last_sync: When the last sync ended (seconds since the epoch), or ``None``.
        last: The last sync's one-line summary.
        message: The line said on falling back to polling, if it did.
    """

    roots: tuple[str, ...]
    polling: bool
    pending: int
    syncing: bool
    syncs: int
    files_synced: int
    last_sync: float | None
    last: str | None
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-ready dict."""
        data = asdict(self)
        data["roots"] = list(self.roots)
        return data


def signature(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def env_polling() -> bool:
    value = os.environ.get("WATCHFILES_FORCE_POLLING", "")
    return bool(value) and value.lower() not in {"false", "disable", "disabled"}
