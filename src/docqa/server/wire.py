"""How long a client may take to send its request.

uvicorn closes idle keep-alive connections, but waits for ever for a request's headers to
end: :class:`Protocol` closes a connection whose headers are not complete
``read_timeout_s`` after they began (or after it opened). The body gets the same time between
two of its chunks (:func:`docqa.server.http.body_bytes`), or the request ends with a 408.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from docqa.server.http import READ_TIMEOUT_S


def protocol(read_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol that closes connections whose headers do not come."""

    class Protocol(_HeaderTimeout):
        header_timeout_s = read_timeout_s

    return Protocol


class _HeaderTimeout(H11Protocol):
    header_timeout_s = READ_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's headers begin
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
