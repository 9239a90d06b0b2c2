"""Stopping an LLM call from another thread, prompt evaluation included.

A caller that may have to stop a call (the server, for a client that left) runs it inside
:func:`stop_on` with a :class:`threading.Event`; a backend reads :func:`stop_event` on the
thread it was called on and, once the event is set, stops at once, even before its first
token, by raising :class:`Cancelled`. The token callbacks' own check (a piece handed to
``on_token`` after the stop raises :class:`Cancelled` too) stays for backends that cannot look
earlier. The event travels in a :mod:`contextvars` variable, so the :class:`~docqa.llm.LLM`
protocol is unchanged; a thread started for the call gets it with
:func:`contextvars.copy_context`.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
from collections.abc import Iterator
from typing import Any

_STOP: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "docqa_stop", default=None
)


class Cancelled(Exception):
    """Raised to stop generation after a stop (an interrupt, a client that left)."""


@contextlib.contextmanager
def stop_on(event: threading.Event) -> Iterator[threading.Event]:
    """LLM calls made inside this block on this thread stop once ``event`` is set."""
    token = _STOP.set(event)
    try:
        yield event
    finally:
        _STOP.reset(token)


def stop_event() -> threading.Event | None:
    """The event that stops the LLM call running on this thread, if its caller gave one."""
    return _STOP.get()


def check_stop() -> None:
    """Raise :class:`Cancelled` when this thread's call was told to stop."""
    event = _STOP.get()
    if event is not None and event.is_set():
        raise Cancelled


_WATCH_S = 0.05


def abort_on_stop(request: Any) -> None:
    """An httpx ``request`` event hook: when the call's stop event is set while the request's
    connection is open, the connection is shut down, so a read blocked on it (the server still
    evaluating the prompt, its headers not sent yet) returns at once, and the server sees its
    client leave and stops too.

    The connection is caught as it opens (httpcore's ``trace``), so the client must not reuse
    connections (``Connection: close``); a watcher thread polls the event every 50 ms until the
    connection closes. Without a stop event (no :func:`stop_on` caller) nothing is added.
    """
    event = stop_event()
    if event is None:
        return

    def trace(name: str, info: dict[str, Any]) -> None:
        if name == "connection.connect_tcp.complete":
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                threading.Thread(
                    target=_watch, args=(event, sock), name="docqa-llm-stop", daemon=True
                ).start()

    request.extensions["trace"] = trace


def _watch(event: threading.Event, sock: socket.socket) -> None:
    while sock.fileno() != -1:
        if event.wait(_WATCH_S):
            with contextlib.suppress(OSError):  # closed meanwhile: nothing to stop
                sock.shutdown(socket.SHUT_RDWR)
            return
