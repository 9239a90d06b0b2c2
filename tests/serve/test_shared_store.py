"""The server shares the embedded store: other processes use it while the server is idle, and the
server's requests wait for another process's write instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from docqa.config import Settings
from docqa.session import STORE_IDLE_S

from ..fakes import HashEmbedder
from .conftest import Serve

SRC = str(Path(__file__).parents[2] / "src")


def _docqa(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "docqa", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_uses_the_store_while_the_server_is_idle(
    serve: Serve, corpus: tuple[Settings, HashEmbedder]
) -> None:
    server = serve()
    store = str(corpus[0].store)
    assert httpx.post(f"{server.url}/docqa/search", json={"query": "boats"}).status_code == 200
    time.sleep(STORE_IDLE_S + 0.5)  # the server lets go of the store when idle
    status = _docqa("--store", store, "status")
    assert status.returncode == 0, status.stderr
    assert "files" in status.stdout
    found = _docqa("--store", store, "search", "--mode", "bm25", "boats")
    assert found.returncode == 0, found.stderr
    assert "boats.md" in found.stdout


def _hold(store: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the embedded store for ``seconds`` (returns once it holds it)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, docqa\n"
            "from docqa.session import Session\n"
            f"s = Session(docqa.Settings(store={str(store)!r}))\n"
            "with s.open_store() as store:\n"
            "    store.count()\n"
            "    print('held', flush=True)\n"
            f"    time.sleep({seconds})\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_server_requests_wait_while_another_process_holds_the_store(
    serve: Serve, corpus: tuple[Settings, HashEmbedder]
) -> None:
    server = serve()
    time.sleep(STORE_IDLE_S + 0.5)
    holder = _hold(Path(str(corpus[0].store)), 2)
    assert holder.stdout is not None
    started = time.perf_counter()
    ask = {"model": "docqa", "messages": [{"role": "user", "content": "How many boats?"}]}
    response = httpx.post(f"{server.url}/v1/chat/completions", json=ask, timeout=60)
    waited = time.perf_counter() - started
    holder.wait(30)
    holder.stdout.close()
    assert response.status_code == 200, response.text
    assert waited > 0.5  # it did wait for the other process, and then answered


def test_past_the_store_wait_a_request_is_a_503_to_retry(
    serve: Serve, corpus: tuple[Settings, HashEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server waits as long as the store waits for a reader (READ_WAIT_S, 15 s; 1 s here),
    then answers 503 with Retry-After."""
    from docqa.stores import edge

    monkeypatch.setattr(edge, "READ_WAIT_S", 1.0)
    server = serve()
    time.sleep(STORE_IDLE_S + 0.5)
    holder = _hold(Path(str(corpus[0].store)), 5)
    started = time.perf_counter()
    response = httpx.post(f"{server.url}/docqa/search", json={"query": "boats"}, timeout=60)
    waited = time.perf_counter() - started
    holder.wait(30)
    assert holder.stdout is not None
    holder.stdout.close()
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "2"
    assert "in use by another docqa process" in response.text
    assert 0.9 < waited < 4
