"""docqa serve is safe by default: loopback, Host and Origin checks, keys, limits, documents."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx
import pytest

from docqa.config import Settings
from docqa.errors import ConfigError
from docqa.server import start

from ..fakes import HashEmbedder
from .conftest import BOATS, Serve

ASK = {"model": "docqa", "messages": [{"role": "user", "content": "How many boats?"}]}


def test_other_hosts_need_an_api_key(corpus: tuple[Settings, HashEmbedder]) -> None:
    with pytest.raises(ConfigError, match="pass --api-key"):
        start(corpus[0], host="0.0.0.0")


def test_api_key_is_required_when_set(serve: Serve) -> None:
    server = serve(api_key="s3cret")
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
    wrong = httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "API key" in wrong.json()["error"]["message"]
    right = httpx.get(f"{server.url}/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200
    assert httpx.get(f"{server.url}/v1/models", cookies={"docqa_key": "s3cret"}).status_code == 200
    assert httpx.get(f"{server.url}/").status_code == 200  # the page itself holds no data


def test_foreign_host_header_is_refused(serve: Serve) -> None:
    server = serve()
    port = server.url.rsplit(":", 1)[1]
    refused = httpx.get(f"{server.url}/v1/models", headers={"Host": f"attacker.example:{port}"})
    assert refused.status_code == 403 and "not this server" in refused.text
    ok = httpx.get(f"{server.url}/v1/models", headers={"Host": f"localhost:{port}"})
    assert ok.status_code == 200


def test_cross_site_requests_are_refused_unless_cors_allows_them(serve: Serve) -> None:
    closed = serve()
    evil = {"Origin": "https://evil.example"}
    assert (
        httpx.post(f"{closed.url}/v1/chat/completions", json=ASK, headers=evil).status_code == 403
    )
    assert "access-control-allow-origin" not in httpx.get(f"{closed.url}/v1/models").headers
    # a simple cross-site POST (text/plain needs no preflight) is refused by its Origin
    plain = httpx.post(
        f"{closed.url}/docqa/ingest",
        content=b'{"path": "/"}',
        headers={"Content-Type": "text/plain", **evil},
    )
    assert plain.status_code == 403
    opened = serve(cors=["null", "https://app.example"])
    for origin in ("null", "https://app.example"):
        response = httpx.post(
            f"{opened.url}/v1/chat/completions", json=ASK, headers={"Origin": origin}
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
    preflight = httpx.options(
        f"{opened.url}/v1/chat/completions",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200


def test_request_size_is_limited(serve: Serve) -> None:
    server = serve()
    huge = {"model": "docqa", "messages": [{"role": "user", "content": "x" * (2 << 20)}]}
    response = httpx.post(f"{server.url}/v1/chat/completions", json=huge)
    assert response.status_code == 413


def _doc_id(server_url: str) -> str:
    body = httpx.post(f"{server_url}/v1/chat/completions", json=ASK).json()
    url: str = body["choices"][0]["message"]["annotations"][0]["url_citation"]["url"]
    return url.split("/documents/")[1].split("#")[0]


def test_documents_serves_only_manifest_files_by_id(serve: Serve, tmp_path: Path) -> None:
    server = serve()
    doc = _doc_id(server.url)
    assert httpx.get(f"{server.url}/documents/{doc}").text.startswith("# Boats")
    for bad in (
        "0123456789abcdef",  # well-formed, unknown
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        f"{doc}%2F..%2F..%2Fcold.md",
        doc.upper(),
    ):
        response = httpx.get(f"{server.url}/documents/{bad}")
        assert response.status_code == 404, bad
        assert "root:" not in response.text
    for path in ("/documents/../../../../etc/passwd", "/documents/%2e%2e/%2e%2e/etc/passwd"):
        status, body = _raw_get(server.url, path)  # sent as is: httpx would normalise the dots
        assert status == 404 and b"root:" not in body


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_a_file_swapped_for_a_symlink_or_edited_is_not_served(serve: Serve, tmp_path: Path) -> None:
    server = serve()
    doc = _doc_id(server.url)
    boats = tmp_path / "docs" / "boats.md"
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret\n")
    boats.unlink()
    os.symlink(secret, boats)
    swapped = httpx.get(f"{server.url}/documents/{doc}")
    assert swapped.status_code == 404 and "secret" not in swapped.text
    boats.unlink()
    boats.write_text(f"# Boats\n\n{BOATS} Edited.\n")
    assert httpx.get(f"{server.url}/documents/{doc}").status_code == 404
    boats.unlink()
    os.mkfifo(boats)  # must not hang the server
    assert httpx.get(f"{server.url}/documents/{doc}", timeout=5).status_code == 404


def test_uploads_take_known_types_within_the_limit(serve: Serve) -> None:
    server = serve(upload_limit=1000)
    put = f"{server.url}/docqa/upload"
    assert httpx.put(put, params={"name": "run.exe"}, content=b"MZ").status_code == 415
    assert httpx.put(put, params={"name": "x.pdf"}, content=b"not a pdf").status_code == 415
    assert httpx.put(put, params={"name": "big.md"}, content=b"x" * 2000).status_code == 413
    added = httpx.put(
        put, params={"name": "../../kayak.md"}, content=b"# Kayaks\n\nThe station rents kayaks.\n"
    )
    assert added.status_code == 200
    last = added.text.strip().splitlines()[-1]
    assert '"added": 1' in last
    hits = httpx.post(f"{server.url}/docqa/search", json={"query": "kayaks", "k": 1}).json()
    assert hits["hits"][0]["file"] == "kayak.md"
