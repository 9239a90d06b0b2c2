"""A client that leaves frees the model within a second: before its first token (the model
still reading its prompt) and after, for chat (streamed or not, both faces) and for compare.

Real uvicorn on loopback over :class:`SlowLLM`, which honours the same stop the real backends
get (:func:`docqa.llm.stop_event`)."""

from __future__ import annotations

import socket
import time

import pytest

from docqa.server import Running

from .clients import send_raw
from .conftest import Serve, SlowLLM

ASK = {"model": "docqa", "messages": [{"role": "user", "content": "How many boats?"}]}
CHATS = [
    ("/v1/chat/completions", {**ASK, "stream": True}),
    ("/v1/chat/completions", {**ASK, "stream": False}),
    ("/api/chat", ASK),
    ("/api/chat", {**ASK, "stream": False}),
    ("/api/generate", {"model": "docqa-baseline", "prompt": "How many boats?"}),
]
COMPARE = ("/docqa/compare", {"question": "How many boats?"})


def _until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.005)
    return False


def _freed_after_leaving(server: Running, llm: SlowLLM, conn: socket.socket) -> float:
    """Close the client's connection; seconds until the model and its queue place are free."""
    left = time.monotonic()
    conn.close()
    gate = server.serving.gate
    assert _until(lambda: llm.idle.is_set() and gate.holding == 0, 10), "the model kept going"
    return time.monotonic() - left


@pytest.mark.parametrize(("path", "body"), [*CHATS, COMPARE])
def test_leaving_before_the_first_token_frees_the_model(
    serve: Serve, path: str, body: dict[str, object]
) -> None:
    llm = SlowLLM(words=50, delay=0.02, prompt_s=30)  # a long prompt evaluation
    server = serve(llm)
    conn = send_raw(server.url, path, body)
    assert _until(lambda: llm.running == 1, 10)
    time.sleep(0.3)  # well inside the prompt evaluation
    assert llm.emitted == 0
    assert _freed_after_leaving(server, llm, conn) < 1.0
    assert llm.stopped.is_set() and llm.emitted == 0


@pytest.mark.parametrize(("path", "body"), [*CHATS, COMPARE])
def test_leaving_after_the_first_token_frees_the_model(
    serve: Serve, path: str, body: dict[str, object]
) -> None:
    llm = SlowLLM(words=2000, delay=0.02)
    server = serve(llm)
    conn = send_raw(server.url, path, body)
    assert _until(lambda: llm.emitted > 5, 10)
    assert _freed_after_leaving(server, llm, conn) < 1.0
    assert llm.stopped.is_set() and llm.emitted < 500


def test_the_next_request_is_answered_at_once_after_a_client_left(serve: Serve) -> None:
    import httpx

    llm = SlowLLM(words=5, delay=0.01, prompt_s=30)
    server = serve(llm)
    conn = send_raw(server.url, "/v1/chat/completions", {**ASK, "stream": True})
    assert _until(lambda: llm.running == 1, 10)
    llm.prompt_s = 0.0
    conn.close()
    started = time.monotonic()
    response = httpx.post(f"{server.url}/v1/chat/completions", json=ASK, timeout=30)
    assert response.status_code == 200
    assert time.monotonic() - started < 2.0
