"""A stopped call (docqa.llm.stop_on) ends at once on the HTTP backends, before the first
token too: the connection is shut, so the server sees its client leave."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from docqa.config import Settings
from docqa.llm import Cancelled, Message, OllamaLLM, OpenAILLM, stop_on


class SilentServer:
    """Takes a request and never answers (a model reading a long prompt); notes the hang-up."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hung_up = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.recv(65536)
            conn.settimeout(30)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            self.hung_up.set()


@pytest.mark.parametrize("backend", ["openai", "ollama"])
def test_a_stop_before_the_first_token_ends_the_call_and_the_connection(backend: str) -> None:
    server = SilentServer()
    url = f"http://127.0.0.1:{server.port}" + ("/v1" if backend == "openai" else "")
    settings = Settings(llm_url=url, model="m", request_timeout_s=60)
    llm: Any = OpenAILLM(settings) if backend == "openai" else OllamaLLM(settings)
    stop = threading.Event()
    outcome: list[BaseException] = []

    def call() -> None:
        with stop_on(stop):
            try:
                llm.chat([Message("user", "hi")])
            except BaseException as error:
                outcome.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.5)
    stopped = time.monotonic()
    stop.set()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - stopped < 1.0
    assert isinstance(outcome[0], Cancelled), outcome
    assert server.hung_up.wait(1.0)
    llm.close()
    server.sock.close()
