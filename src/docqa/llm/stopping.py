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
import threading
from collections.abc import Iterator

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
