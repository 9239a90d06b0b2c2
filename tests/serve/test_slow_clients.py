"""Half-sent requests do not hold the server: headers that stop coming close the connection,
a body that stops coming ends in a 408, both within the configured read timeout."""

from __future__ import annotations

import socket
import time

from .conftest import Serve

TIMEOUT_S = 1.0


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)))
    conn.settimeout(10)
    return conn


def _read_until_closed(conn: socket.socket) -> tuple[bytes, float]:
    started = time.monotonic()
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data, time.monotonic() - started


def test_half_sent_headers_are_closed(serve: Serve) -> None:
    server = serve(read_timeout_s=TIMEOUT_S)
    conns = [_connect(server.url) for _ in range(50)]
    for conn in conns:
        conn.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
    silent = _connect(server.url)  # opens and sends nothing at all
    for conn in [*conns, silent]:
        data, waited = _read_until_closed(conn)
        assert data == b"" and waited < TIMEOUT_S + 1.0
        conn.close()


def test_a_half_sent_body_ends_in_a_408(serve: Serve) -> None:
    server = serve(read_timeout_s=TIMEOUT_S)
    for path in ("/v1/chat/completions", "/api/chat", "/docqa/upload?name=x.md"):
        conn = _connect(server.url)
        method = "PUT" if "upload" in path else "POST"
        conn.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000\r\n\r\n{"model": '.encode()
        )
        data, waited = _read_until_closed(conn)
        assert data.startswith(b"HTTP/1.1 408 "), data[:100]
        assert b"stopped coming" in data
        assert waited < TIMEOUT_S + 1.0
        conn.close()
