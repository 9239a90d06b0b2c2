"""A store held open while calls keep coming, and closed after a short idle time.

The embedded Qdrant Edge shard locks its folder while open: kept open for good, a notebook would
lock the terminal's ``docqa ingest`` out; opened per call, a loop of searches pays the ~40 ms
open each time. A :class:`StoreLease` opens the store on first use, counts its users, and closes
it ``idle_s`` seconds after the last one leaves (a timer), or at once when ``idle_s`` is 0 or the
lease is closed. A store without a lock (a Qdrant server's client) stays open until
:meth:`StoreLease.close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docqa.stores import Store


class StoreLease:
    """The store ``opener`` makes, shared by its users and released when idle (thread-safe).

    Args:
        opener: Makes the (unopened) store; called again after each release.
        idle_s: Seconds the store stays open after its last user; ``0``: closed after each use.
    """

    def __init__(self, opener: Callable[[], Store], idle_s: float) -> None:
        self._opener = opener
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._users = 0
        self._timer: threading.Timer | None = None
        self._closed = False

    @contextmanager
    def use(self) -> Iterator[Store]:
        """The store, open for the ``with`` block."""
        with self._lock:
            self._cancel_timer()
            if self._store is None:
                self._store = self._opener()
            store = self._store
            self._users += 1
            self._closed = False
        try:
            yield store
        finally:
            with self._lock:
                self._users -= 1
                if not self._users:
                    self._schedule()

    def close(self) -> None:
        """Close the store now, or as soon as its last user leaves."""
        with self._lock:
            self._closed = True
            self._cancel_timer()
            if not self._users:
                self._release()

    def _schedule(self) -> None:
        if self._store is None:
            return
        if self._idle_s <= 0 or self._closed:
            self._release()
        elif self._store.kind == "edge":  # a server connection holds no lock: kept until close
            self._timer = threading.Timer(self._idle_s, self._release_if_idle)
            self._timer.daemon = True
            self._timer.start()

    def _release_if_idle(self) -> None:
        with self._lock:
            if not self._users and self._timer is threading.current_thread():
                self._timer = None
                self._release()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _release(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()
