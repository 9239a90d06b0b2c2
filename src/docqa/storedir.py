"""The store folder itself: its marker, the files docqa owns in it, and the writer lock.

- A store is *marked* when ingest creates it: ``.docqa-store`` holds JSON with the folder format.
  Stores made before the marker are recognised by their own files (``manifest.sqlite`` beside
  the ``qdrant/`` shard folder) and marked on their next ingest. Read commands never create or
  mark anything; they get :class:`~docqa.errors.NoStoreError` for a folder that is not a store.
- ``reset`` deletes only the files docqa made (:func:`remove`) and the folder only once it is
  empty; it refuses an unmarked folder, ``/``, the home folder and the current folder.
- Writers (ingest, reset) hold ``.docqa-lock`` (an OS lock, freed when the process dies) for the
  whole run; it records who holds it, so the error a second writer gets can name the holder.
  :func:`lock_file` is the lock itself; the Edge adapter guards its shard with a :class:`Gate`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from docqa.errors import ConfigError, NoStoreError, StoreError, StoreLockedError
from docqa.manifest import MANIFEST_NAME

MANIFEST = MANIFEST_NAME
MARKER = ".docqa-store"
FORMAT = 1
LOCK = ".docqa-lock"
SHARDS = "qdrant"
FLOOR = "floor.json"
"""The relevance floor derived from the store (:mod:`docqa.floor`)."""
_MANIFEST_FILES = (MANIFEST, f"{MANIFEST}-wal", f"{MANIFEST}-shm", f"{MANIFEST}-journal")
# A second writer waits this long for the lock (long enough to outlast a `status` probe).
WRITER_WAIT_S = 5.0


def process_label() -> str:
    """Who this process is, for lock messages: ``pid 123 (docqa ingest)``."""
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:2]]
    return f"pid {os.getpid()} ({' '.join(args)[:60]})"


# --- marker ------------------------------------------------------------------------------------


def is_marked(folder: Path) -> bool:
    """True when ``folder`` holds docqa's marker."""
    return (folder / MARKER).is_file()


def is_legacy(folder: Path) -> bool:
    """True for a store made before the marker: its manifest beside its shard folder."""
    return (folder / MANIFEST).is_file() and (folder / SHARDS).is_dir()


def is_store(folder: Path) -> bool:
    """True when ``folder`` is a docqa store (marked, or made by a docqa without markers)."""
    return is_marked(folder) or is_legacy(folder)


def _format(folder: Path) -> int:
    try:
        return int(json.loads((folder / MARKER).read_text(encoding="utf-8"))["format"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"store {folder} has an unreadable {MARKER} ({exc}): restore it or `docqa reset`"
        ) from exc


def check(folder: Path) -> None:
    """Make sure ``folder`` is a docqa store this docqa can read; create and change nothing.

    Raises:
        ConfigError: ``folder`` is a file.
        NoStoreError: ``folder`` is missing or is not a docqa store.
        StoreError: the store was made by a newer docqa.
    """
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"bad setting store: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise NoStoreError(folder)
    if not is_store(folder):
        raise NoStoreError(
            folder, f"{folder} is not a docqa store (no {MARKER}): run `docqa ingest PATH` first"
        )
    if is_marked(folder) and _format(folder) > FORMAT:
        raise StoreError(
            f"store {folder} was made by a newer docqa (format {_format(folder)}): upgrade docqa"
        )


def create(folder: Path) -> None:
    """Make ``folder`` a docqa store: create it if needed and write the marker (idempotent).

    Raises:
        ConfigError: ``folder`` (or a parent) is a file.
        StoreError: the store was made by a newer docqa.
    """
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"bad setting store: {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"bad setting store: cannot make {folder}: a parent is a file") from exc
    if is_marked(folder):
        check(folder)
        return
    tmp = folder / f"{MARKER}.tmp"
    tmp.write_text(json.dumps({"format": FORMAT, "app": "docqa"}) + "\n", encoding="utf-8")
    tmp.replace(folder / MARKER)


# --- reset -------------------------------------------------------------------------------------


def check_resettable(folder: Path) -> None:
    """Refuse to reset anything but a docqa store that is not ``/``, home or the current folder.

    Raises:
        ConfigError: ``folder`` is ``/``, the home folder, the current folder or a parent of one.
        NoStoreError: ``folder`` is not a docqa store.
    """
    real = folder.resolve()
    for what, place in (("your home folder", Path.home()), ("the current folder", Path.cwd())):
        place = place.resolve()
        if real == place or real in place.parents:
            name = what if real == place else f"a parent of {what}"
            raise ConfigError(
                f"refusing to reset {real}: it is {name}; point --store (DOCQA_STORE) at the "
                "store folder itself"
            )
    check(folder)


def own_files(folder: Path) -> list[Path]:
    """The files and folders docqa made in a store folder (what :func:`remove` deletes)."""
    names = (*_MANIFEST_FILES, f"{MARKER}.tmp", FLOOR, f"{Path(FLOOR).stem}.tmp")
    found = [folder / name for name in names if (folder / name).exists()]
    shards = folder / SHARDS
    if shards.is_dir():
        found += [p for p in shards.iterdir() if _is_shard_file(p)]
    return found


def _is_shard_file(path: Path) -> bool:
    """A Qdrant Edge shard folder or one of docqa's records beside it."""
    if path.is_dir() and not path.is_symlink():
        return (path / "edge_config.json").is_file() or (path / "segments").is_dir()
    return path.suffix in (".json", ".lock", ".queue")


def remove(folder: Path) -> bool:
    """Delete docqa's own files in ``folder``, then the folder when nothing else is left.

    Call it holding :func:`writer_lock`. The marker and the lock go last, so a failure halfway
    leaves a store that is still recognised (and can be reset again).

    Returns:
        True when the folder itself was removed; False when other files kept it.
    """
    for path in own_files(folder):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        (folder / SHARDS).rmdir()  # only when empty
    (folder / MARKER).unlink(missing_ok=True)
    (folder / LOCK).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        return False
    return True


# --- locks -------------------------------------------------------------------------------------


def _try_lock(handle: IO[str], *, shared: bool = False) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(handle: IO[str]) -> None:
    if sys.platform == "win32":
        import msvcrt

        with contextlib.suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def held(path: Path) -> bool:
    """True when another process holds the lock on ``path`` now."""
    try:
        handle = path.open("r", encoding="utf-8")
    except OSError:
        return False
    with handle:
        if _try_lock(handle, shared=True):
            _unlock(handle)
            return False
    return True


def lock_file(path: Path, wait_s: float, *, yield_to: Path | None = None) -> IO[str] | None:
    """Lock ``path`` (an OS lock: freed when the process dies), retrying with backoff.

    The file then names this process (:func:`process_label`), for :func:`holder`. With
    ``yield_to``, the lock is not taken while another process holds that one: a writer holds it
    while it waits for ``path``, so a stream of readers cannot starve it.

    Returns:
        The open, locked file (give it to :func:`unlock_file`), or None after ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        handle = (
            None if yield_to is not None and held(yield_to) else path.open("a+", encoding="utf-8")
        )
        if handle is not None and _try_lock(handle):
            # The file may have been replaced meanwhile (a reset ended): then lock the new one.
            with contextlib.suppress(OSError):
                if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(process_label())
                    handle.flush()
                    return handle
            _unlock(handle)
        if handle is not None:
            handle.close()
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.05)


def unlock_file(handle: IO[str]) -> None:
    """Release a lock taken by :func:`lock_file`."""
    try:
        _unlock(handle)
    finally:
        handle.close()


def holder(path: Path) -> str:
    """Who holds (or last held) the lock on ``path``, as it recorded itself."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "another docqa process"


@contextlib.contextmanager
def writer_lock(folder: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold the store's writer lock for the block (ingest and reset take it; readers do not).

    Raises:
        StoreLockedError: another process held it for ``wait_s`` seconds (default
            :data:`WRITER_WAIT_S`); the message names it.
    """
    handle = lock_file(folder / LOCK, WRITER_WAIT_S if wait_s is None else wait_s)
    if handle is None:
        raise StoreLockedError(
            f"store {folder} is being written by {holder(folder / LOCK)}: wait for it to finish, "
            "then retry"
        )
    try:
        yield
    finally:
        unlock_file(handle)


def writer(folder: Path) -> str | None:
    """Who holds the writer lock now (``pid 123 (docqa ingest)``), or None when nobody does."""
    return holder(folder / LOCK) if held(folder / LOCK) else None


class Gate:
    """A lock in front of something one process at a time may open (the Edge shard), fair to a
    writer: while one waits (holding ``queue``), readers do not take the lock, and a reader
    holding it sees :attr:`writer_waiting` and can let go.

    Args:
        lock: The lock file.
        queue: The file a waiting writer holds.
        writer: Take the lock as a writer.
    """

    def __init__(self, lock: Path, queue: Path, *, writer: bool) -> None:
        self.lock, self.queue, self.writer = lock, queue, writer
        self._handle: IO[str] | None = None

    @property
    def taken(self) -> bool:
        """True while this gate holds the lock."""
        return self._handle is not None

    @property
    def writer_waiting(self) -> bool:
        """True when another process waits to write (a reader holding the lock should go)."""
        return not self.writer and held(self.queue)

    def take(self, wait_s: float) -> bool:
        """Take the lock (no-op when taken), waiting up to ``wait_s``; False when it could not."""
        if self._handle is not None:
            return True
        if not self.writer:
            self._handle = lock_file(self.lock, wait_s, yield_to=self.queue)
            return self._handle is not None
        queued = lock_file(self.queue, wait_s)  # readers arriving meanwhile wait behind us
        if queued is None:
            return False
        try:
            self._handle = lock_file(self.lock, wait_s)
        finally:
            unlock_file(queued)
        return self._handle is not None

    def release(self) -> None:
        """Let go of the lock (safe when not taken)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            unlock_file(handle)
