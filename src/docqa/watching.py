"""Folders that stay in sync: watch the ingested roots and re-ingest what changes under them.

A :class:`Watcher` asks the operating system for file events through watchfiles (inotify on
Linux, FSEvents on macOS, ReadDirectoryChangesW on Windows) and turns them into ingest runs:

- **The same ingest.** A sync is :meth:`Session.ingest <docqa.session.Session.ingest>` of the
  root with ``only=`` the paths that changed: the same plan (sha256 + fingerprint), the same
  crash-safe writes, the same writer lock. Only the changed paths are hashed, parsed or removed;
  a file whose bytes did not change is left alone, as by a manual ingest.
- **Debounced, complete files only.** watchfiles groups events (``step``/``debounce``); a changed
  file is then synced only once it has not changed for :data:`QUIET_S` (its mtime is that old,
  or its size and mtime stayed the same that long), and files changed together are synced
  together (up to :data:`GATHER_S` held back for one still being written). A file an editor
  saves in pieces, or writes to a temporary name and renames, is ingested once, complete.
- **What never triggers a sync.** The store folder (``.docqa/``), hidden files and folders,
  ``__pycache__``, unsupported types, and editor or download temporaries (:func:`temporary`).
  A deletion syncs only when the manifest holds files at or under the path.
- **What is watched.** Each folder root, recursively; a single-file root through its folder
  (only that file's events count). A path under several roots syncs with the deepest one.
- **The store is not held.** Between syncs the watcher holds no store, manifest or lock: the
  server, ``docqa search`` and other processes use the store freely. A sync that finds another
  writer at work waits and tries again (:data:`RETRY_S`).
- **Polling when the OS watcher fails.** When inotify cannot be had (its watch or instance limit
  is hit) the watcher says so in one line (``on_message``) and polls instead, after a full sync
  for what may have been missed; ``polling=True`` (``--poll``, ``WATCHFILES_FORCE_POLLING=1``)
  polls from the start.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from docqa import sources
from docqa.errors import ConfigError, DocqaError, NoStoreError, StoreLockedError
from docqa.watch_events import Sync as Sync
from docqa.watch_events import Syncing as Syncing
from docqa.watch_events import WatchState as WatchState
from docqa.watch_events import env_polling, signature
from docqa.watch_events import temporary as temporary

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from watchfiles import Change

    from docqa.manifest import Manifest
    from docqa.types import IngestReport
    from docqa.writing import Progress


class Session(Protocol):
    """What a watcher uses of :class:`docqa.session.Session` (named here, not imported, so
    the session may start watchers without an import cycle)."""

    watcher: Watcher | None

    @property
    def store_dir(self) -> Path: ...

    def open_manifest(self, *, create: bool = False) -> AbstractContextManager[Manifest]: ...

    def ingest(
        self,
        path: str | Path,
        *,
        on_progress: Progress | None = None,
        yes: bool = False,
        confirm: Callable[[str], bool] | None = None,
        progress: bool = False,
        only: Collection[str] | None = None,
    ) -> IngestReport: ...

    def close(self) -> None: ...


log = logging.getLogger(__name__)

STEP_MS = 100
"""watchfiles yields a batch once no new change came for this long..."""
DEBOUNCE_MS = 1_000
"""...or once this long has passed since the batch's first change."""
QUIET_S = 0.3
"""A changed file is synced once it has not changed for this long."""
GATHER_S = 3.0
"""Changed files are synced together once all are still; one still being written holds the
others back this long at most."""
TICK_MS = 200
"""With nothing new, the watcher wakes this often to look at files still being written (every
batch wakes it too, even one of unwanted paths only: the store's own writes cannot hold a
pending file back)."""
RETRY_S = 1.0
"""Another writer holds the store: the sync is tried again after this long."""
POLL_MS = 300
"""Poll interval when the OS watcher is unavailable."""


class Watcher:
    """Keeps ingested roots in sync with their folders; see the module docstring.

    Args:
        session: The session whose store is kept in sync (its ``ingest`` runs each sync).
        roots: Files or folders to keep in sync (each as ``docqa ingest`` takes it).
        on_sync: Called with a :class:`Sync` after each sync (on the watcher's thread).
        on_progress: Passed to each sync's ingest.
        on_message: Called with the one line said on falling back to polling.
        yes: Let a sync remove more than half of the store's files (else it fails, saying so).
        polling: ``True``: poll from the start; ``None``: ``WATCHFILES_FORCE_POLLING`` decides.
        initial: Sync every root in full once watching has begun (catches up on what changed
            while nothing watched).
        confirm: Asked before the initial sync removes more than half the store (as ingest).
        owns_session: Close ``session`` when the watcher stops.
    """

    def __init__(
        self,
        session: Session,
        roots: Sequence[str | Path],
        *,
        on_sync: Syncing | None = None,
        on_progress: Progress | None = None,
        on_message: Callable[[str], None] | None = None,
        yes: bool = False,
        polling: bool | None = None,
        initial: bool = True,
        confirm: Callable[[str], bool] | None = None,
        owns_session: bool = False,
    ) -> None:
        """Check the roots and keep the options; nothing is watched until :meth:`run`."""
        from docqa.ingestion import ingest_root

        if not roots:
            raise ConfigError("nothing to watch: name a folder, or ingest one first")
        self.session = session
        self.roots = tuple(sorted({ingest_root(r) for r in roots}, key=lambda p: -len(str(p))))
        self._keys = tuple(sources.path_text(r) for r in self.roots)
        self._dirs = tuple(r.is_dir() for r in self.roots)
        self._on_sync = on_sync
        self._on_progress = on_progress
        self._on_message = on_message or log.warning
        self._yes, self._confirm, self._initial = yes, confirm, initial
        self._force_polling = polling
        self._owns_session = owns_session
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        # path -> (size and mtime when last seen, when they were first seen so, when first pending)
        self._pending: dict[str, tuple[tuple[int, int] | None, float, float]] = {}
        self._retry_at = 0.0
        self._resync = False
        self._store_key: str | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._polling = False
        self._syncing = False
        self._syncs = self._files = 0
        self._last_sync: float | None = None
        self._last: str | None = None
        self._message: str | None = None

    # --- what it watches ----------------------------------------------------------------------

    def _folders(self) -> list[str]:
        """The folders to ask events for: each folder root, a file root's folder; none twice."""
        folders = sorted({str(r if r.is_dir() else r.parent) for r in self.roots}, key=len)
        kept: list[str] = []
        for folder in folders:
            if not any(folder == k or folder.startswith(k.rstrip("/") + "/") for k in kept):
                kept.append(folder)
        return kept

    def _root_of(self, key: str) -> str | None:
        """The deepest root holding the path ``key`` (a file root holds only itself)."""
        for top, folder in zip(self._keys, self._dirs, strict=True):
            if key == top or (folder and key.startswith(top.rstrip("/") + "/")):
                return top
        return None

    def wanted(self, change: Change, path: str) -> bool:
        """Whether an event on ``path`` may need a sync."""
        from watchfiles import Change

        name = os.path.basename(path)
        if temporary(name):
            return False
        key = sources.path_text(path)
        store = self._store_key
        if store is not None and (key == store or key.startswith(store + "/")):
            return False
        top = self._root_of(key)
        if top is None:
            return False
        parts = key[len(top) :].split("/")
        if any(p.startswith(".") or p in sources.IGNORED_DIRS for p in parts if p):
            return False
        if os.path.splitext(name)[1].lower() in sources.SUPPORTED:
            return True
        return change == Change.deleted or os.path.isdir(path)

    # --- running --------------------------------------------------------------------------------

    def run(self) -> None:
        """Watch and sync until :meth:`stop` (or Ctrl-C, which is raised on the main thread).

        Raises:
            DocqaError: a root cannot be watched (it is gone, or cannot be read).
        """
        self._note_store()
        self._resync = self._initial
        for changes in self._events():
            if self._resync:  # the first batch, or the first after watching again
                self._resync = False
                self._sync_all()
                changes = set()  # happened before the full sync began: it saw them
            if not self._ready.is_set():
                self._note_store()
                self._ready.set()
            self._add(p for c, p in changes if self.wanted(c, p))
            if self._pending and time.monotonic() >= self._retry_at:
                self._sync_ready()

    def start(self, *, wait: bool = True) -> Watcher:
        """Run on a daemon thread; with ``wait``, return once events are watched and the
        initial sync is done.

        Raises:
            DocqaError: watching could not begin (the error :meth:`run` met).
        """
        self.session.watcher = self
        self._thread = threading.Thread(target=self._run_caught, name="docqa-watch", daemon=True)
        self._thread.start()
        if wait:
            self._ready.wait()
            if self._error is not None:
                self.stop()
                raise self._error
        return self

    def _run_caught(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # kept for start() or stop() to raise
            self._error = exc
            log.error("docqa watch stopped: %s", exc)
        finally:
            self._ready.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching (a sync under way finishes first); safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self.session.watcher is self:
            self.session.watcher = None
        if self._owns_session:
            self.session.close()

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def state(self) -> WatchState:
        """What the watcher is doing now."""
        with self._lock:
            return WatchState(
                roots=self._keys,
                polling=self._polling,
                pending=len(self._pending),
                syncing=self._syncing,
                syncs=self._syncs,
                files_synced=self._files,
                last_sync=self._last_sync,
                last=self._last,
                message=self._message,
            )

    def _note_store(self) -> None:
        try:
            self._store_key = sources.path_text(self.session.store_dir)
        except NoStoreError:
            self._store_key = None

    def _events(self) -> Iterator[set[tuple[Change, str]]]:
        """watchfiles' batches (an empty one every :data:`TICK_MS` when nothing happens); on an
        OS watcher failure, one line, then polling; after one once watching has begun, a full
        sync (events may have been lost). A file name that is not UTF-8 stops watchfiles'
        watcher: it is started again (and what the name's file is, the full sync finds)."""
        import watchfiles

        polling = self._force_polling
        while True:
            self._polling = bool(polling) or env_polling()
            try:
                yield from watchfiles.watch(
                    *self._folders(),
                    watch_filter=None,  # filtered in run(): every batch wakes it (see TICK_MS)
                    debounce=DEBOUNCE_MS,
                    step=STEP_MS,
                    stop_event=self._stop,
                    rust_timeout=TICK_MS,
                    yield_on_timeout=True,
                    force_polling=polling,
                    poll_delay_ms=POLL_MS,
                )
                return
            except (FileNotFoundError, PermissionError) as exc:
                raise DocqaError(f"cannot watch {', '.join(self._folders())}: {exc}") from exc
            except (OSError, RuntimeError) as exc:
                if "decode" in str(exc):  # a file name that is not UTF-8: watch it all again
                    log.info("docqa watch: %s; watching again", exc)
                elif self._polling:
                    raise DocqaError(f"cannot watch {', '.join(self._folders())}: {exc}") from exc
                else:
                    self._fall_back(exc)
                    polling = True
                # events may have been lost: a full sync catches up, once watching again
                self._resync = self._resync or self._ready.is_set()

    def _fall_back(self, exc: BaseException) -> None:
        line = (
            f"file events unavailable ({sources.path_text(str(exc)).splitlines()[0]}): polling "
            f"every {POLL_MS} ms instead (on Linux, raise fs.inotify.max_user_watches or "
            "max_user_instances to use events)"
        )
        with self._lock:
            self._message = line
        self._on_message(line)

    # --- syncing --------------------------------------------------------------------------------

    def _add(self, paths: Iterator[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for path in paths:
                first = self._pending.get(path, (None, now, now))[2]
                self._pending[path] = (signature(path), now, first)

    def _take_ready(self) -> list[str]:
        """Pending paths ready to sync: gone, or unchanged for :data:`QUIET_S`; none while
        another is still being written, unless the oldest has waited :data:`GATHER_S`."""
        now, wall = time.monotonic(), time.time()
        ready: list[str] = []
        with self._lock:
            for path, (seen, since, first) in list(self._pending.items()):
                try:
                    st = os.stat(path)
                except OSError:
                    ready.append(path)
                    continue
                sig = (st.st_size, st.st_mtime_ns)
                if wall - st.st_mtime >= QUIET_S or (sig == seen and now - since >= QUIET_S):
                    ready.append(path)
                elif sig != seen:
                    self._pending[path] = (sig, now, first)
            oldest = min(first for _s, _t, first in self._pending.values())
            if len(ready) < len(self._pending) and now - oldest < GATHER_S:
                return []
            for path in ready:
                del self._pending[path]
        return ready

    def _sync_ready(self) -> None:
        ready = self._take_ready()
        if not ready:
            return
        groups: dict[str, list[str]] = {}
        for path in ready:
            key = sources.path_text(path)
            top = self._root_of(key)
            if top is not None and (os.path.lexists(path) or self._known(key)):
                groups.setdefault(top, []).append(key)
        for top, keys in groups.items():
            self._sync(top, sorted(keys), [p for p in ready if sources.path_text(p) in keys])

    def _known(self, key: str) -> bool:
        """Whether the manifest holds files at or under ``key`` (a deletion to sync)."""
        try:
            with self.session.open_manifest() as manifest:
                return bool(manifest.files(key))
        except NoStoreError:
            return False

    def _sync_all(self) -> None:
        for top in self._keys:
            if not self._stop.is_set():
                self._sync(top, None, [])

    def _sync(self, top: str, keys: list[str] | None, raw: list[str]) -> None:
        started, clock = time.time(), time.perf_counter()
        with self._lock:
            self._syncing = True
        report: IngestReport | None = None
        error: str | None = None
        retrying = False
        try:
            report = self.session.ingest(
                top,
                on_progress=self._on_progress,
                yes=self._yes,
                confirm=self._confirm if keys is None else None,
                only=keys,
            )
        except StoreLockedError as exc:
            error, retrying = str(exc), True
            self._retry_at = time.monotonic() + RETRY_S
            self._add(iter(raw))
        except DocqaError as exc:
            error = str(exc)
        except Exception as exc:  # a watcher in a server thread reports and goes on
            log.exception("docqa watch: sync of %s failed", top)
            error = f"{type(exc).__name__}: {exc}"
        sync = Sync(
            root=top,
            paths=tuple(keys or (top,)),
            report=report,
            error=error,
            retrying=retrying,
            full=keys is None,
            started=started,
            seconds=time.perf_counter() - clock,
        )
        with self._lock:
            self._syncing = False
            self._syncs += 1
            self._files += sync.changed
            self._last_sync = time.time()
            self._last = sync.summary()
        if self._on_sync is not None:
            self._on_sync(sync)


def ingested_roots(session: Session) -> list[Path]:
    """The roots the store's manifest knows that still exist, but for files inside the store
    itself (the page's uploads): what ``serve --watch`` keeps in sync when given no folder."""
    try:
        store = sources.path_text(session.store_dir)
        with session.open_manifest() as manifest:
            roots = {r.root for r in manifest.files()}
    except NoStoreError:
        return []
    inside = [r for r in roots if r == store or r.startswith(store + "/")]
    return [Path(r) for r in sorted(roots.difference(inside)) if Path(r).exists()]
