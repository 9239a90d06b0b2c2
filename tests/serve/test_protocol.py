"""What docqa serve takes on the wire: JSON bodies whatever their Content-Type, deep nesting
refused as a docqa error, the page's key cookie percent-decoded."""

from __future__ import annotations

import json

import httpx
import pytest

from .conftest import Serve

ASK = {"model": "docqa", "messages": [{"role": "user", "content": "How many boats?"}]}
JSON_ROUTES = (
    "/v1/chat/completions",
    "/api/chat",
    "/api/generate",
    "/api/show",
    "/docqa/search",
    "/docqa/compare",
    "/docqa/ingest",
)


@pytest.mark.parametrize("kind", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_json_body_is_taken_whatever_its_content_type(serve: Serve, kind: str | None) -> None:
    server = serve()
    headers = {"Content-Type": kind} if kind else {}
    body = json.dumps({**ASK, "stream": False}).encode()  # what `curl -d '{...}'` sends
    with httpx.Client() as client:
        for path in ("/api/chat", "/v1/chat/completions"):
            request = client.build_request("POST", f"{server.url}{path}", content=body)
            request.headers.update(headers)
            assert request.headers.get("content-type") == kind
            response = client.send(request)
            assert response.status_code == 200, (path, response.text)


def test_a_cross_site_simple_post_is_still_refused(serve: Serve) -> None:
    server = serve()
    body = json.dumps({"path": "/"}).encode()
    for headers in (
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        {"Content-Type": "text/plain", "Origin": "null"},
        {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"},
    ):
        response = httpx.post(f"{server.url}/docqa/ingest", content=body, headers=headers)
        assert response.status_code == 403, headers
        assert "refused" in response.json()["error"]["message"]


def test_deeply_nested_json_is_a_400_in_docqa_s_envelope(serve: Serve) -> None:
    server = serve()
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in JSON_ROUTES:
        response = httpx.post(f"{server.url}{path}", content=deep, timeout=30)
        assert response.status_code == 400, (path, response.text[:200])
        error = response.json()["error"]
        message = error if path.startswith("/api/") else error["message"]
        assert "nested too deep" in message
    nested = b'{"model": "docqa", "messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    response = httpx.post(f"{server.url}/v1/chat/completions", content=nested, timeout=30)
    assert response.status_code == 400


@pytest.mark.parametrize("key", ["a+b/c=", "s3cret", "x%2By", "ключ;=,"])
def test_the_page_s_percent_encoded_key_cookie_is_accepted(serve: Serve, key: str) -> None:
    from urllib.parse import quote

    server = serve(api_key=key)
    page_cookie = quote(key, safe="")  # encodeURIComponent, as the page stores it
    headers = {"Cookie": f"other=x y; docqa_key={page_cookie}"}
    assert httpx.get(f"{server.url}/v1/models", headers=headers).status_code == 200
    wrong = {"Cookie": f"docqa_key={quote(key + 'x', safe='')}"}
    assert httpx.get(f"{server.url}/v1/models", headers=wrong).status_code == 401
