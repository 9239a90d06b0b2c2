"""Raw clients for the serve tests: requests sent by hand on a socket the test controls."""

from __future__ import annotations

import json
import socket


def send_raw(url: str, path: str, body: dict[str, object]) -> socket.socket:
    """A client that sends its request and waits, on a socket the test closes to leave."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    conn = socket.create_connection((host, int(port)))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    conn.sendall(head.encode() + payload)
    return conn
