"""Every wait honours the configured timeout and names what it waited for.

The peer here is a real socket server that accepts connections and never answers: the case a
stuck LLM server or Qdrant presents (a refused port is noticed at once and tested elsewhere).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docqa.config import Settings
from docqa.errors import LLMTimeoutError, StoreError
from docqa.llm import Message
from docqa.llm.choice import resolve_backend
from docqa.llm.openai import OpenAILLM
from docqa.stores import open_store
from docqa.stores.server import ServerStore

TIMEOUT_S = 1.0
SLACK_S = 0.8  # thread start-up and a busy machine; a second wait would take another full 1.0 s


@pytest.fixture
def stuck_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a server that accepts and then says nothing."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_openai_backend_gives_up_after_one_timeout_naming_the_server(stuck_url: str) -> None:
    # Before: the /tokenize probe waited its own full timeout first (10.1 s for a 5 s setting).
    settings = Settings(llm="openai", llm_url=f"{stuck_url}/v1", request_timeout_s=TIMEOUT_S)
    with OpenAILLM(settings) as llm:
        started = time.perf_counter()
        with pytest.raises(LLMTimeoutError, match=stuck_url):
            llm.count_tokens("how many boats")
            llm.chat([Message("user", "how many boats")])
        assert time.perf_counter() - started < TIMEOUT_S + SLACK_S


def test_auto_names_a_server_that_accepts_but_never_answers(stuck_url: str) -> None:
    # Before: auto fell back to the in-process model after a 1 s probe, never naming the URL.
    settings = Settings(llm="auto", llm_url=stuck_url, request_timeout_s=TIMEOUT_S)
    started = time.perf_counter()
    with pytest.raises(LLMTimeoutError, match=f"{stuck_url} accepted the connection"):
        resolve_backend(settings)
    assert time.perf_counter() - started < TIMEOUT_S + SLACK_S


def test_auto_still_falls_back_at_once_when_nothing_listens() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    settings = Settings(llm="auto", llm_url=f"http://127.0.0.1:{free}", request_timeout_s=30)
    started = time.perf_counter()
    try:
        backend, warning = resolve_backend(settings)
    except Exception as exc:  # no GGUF model installed: the error names the URL too
        assert f"127.0.0.1:{free}" in str(exc)
    else:
        assert backend == "gguf"
        assert warning is not None and f"127.0.0.1:{free}" in warning
    assert time.perf_counter() - started < 5  # far below the 30 s request timeout


def test_qdrant_server_wait_is_the_configured_one(stuck_url: str) -> None:
    # Before: a fixed 30 s, whatever the settings said.
    store = ServerStore.from_url(stuck_url, None, "docqa", timeout_s=TIMEOUT_S)
    started = time.perf_counter()
    with pytest.raises(StoreError, match=rf"{stuck_url} did not answer within 1s"):
        store.count()
    assert time.perf_counter() - started < TIMEOUT_S + SLACK_S
    store.close()


def test_qdrant_timeout_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCQA_QDRANT_TIMEOUT_S", "7")
    store = open_store(Settings(qdrant_url="http://127.0.0.1:6333"), tmp_path)
    assert isinstance(store, ServerStore) and store.timeout_s == 7
    store.close()
