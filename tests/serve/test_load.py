"""The in-process model's queue, and clients that leave: their LLM call stops, their place frees."""

from __future__ import annotations

import json
import threading
import time

import httpx

from .clients import send_raw
from .conftest import Serve, SlowLLM

ASK = {"model": "docqa", "messages": [{"role": "user", "content": "How many boats?"}]}


def _wait(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_a_client_that_leaves_mid_stream_stops_the_model(serve: Serve) -> None:
    llm = SlowLLM(words=300, delay=0.02)
    server = serve(llm)
    for path, body in (
        ("/v1/chat/completions", {**ASK, "stream": True}),
        ("/api/chat", ASK),
    ):
        llm.stopped.clear()
        with httpx.stream("POST", f"{server.url}{path}", json=body, timeout=30) as response:
            lines = response.iter_lines()
            for _ in range(6):
                next(lines)
        assert llm.stopped.wait(5), f"{path}: the model kept generating after the client left"
        assert llm.emitted < 150
        llm.emitted = 0


def test_the_queue_is_bounded_and_a_leaving_client_frees_its_place(serve: Serve) -> None:
    llm = SlowLLM(words=100, delay=0.03)
    server = serve(llm, queue=1)
    results: dict[str, int] = {}

    def ask(name: str) -> None:
        response = httpx.post(f"{server.url}/v1/chat/completions", json=ASK, timeout=60)
        results[name] = response.status_code

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    assert _wait(lambda: llm.running == 1)
    # a second request waits; it leaves before its turn
    leaving = send_raw(server.url, "/v1/chat/completions", ASK)
    time.sleep(0.5)
    full = httpx.post(f"{server.url}/v1/chat/completions", json=ASK, timeout=30)
    assert full.status_code == 503
    assert full.headers["retry-after"] == "5"
    assert "retry in 5 s" in full.json()["error"]["message"]
    leaving.close()  # the waiting client goes away
    # its place is free at once: a new request is queued, not refused
    third = threading.Thread(target=ask, args=("third",))
    time.sleep(0.3)
    third.start()
    first.join(30)
    third.join(30)
    assert results == {"first": 200, "third": 200}
    assert llm.most_running == 1  # one at a time, and the leaver never reached the model
    assert len(llm.calls) == 2


def test_concurrent_conversations_are_not_mixed(serve: Serve) -> None:
    from docqa import prompts

    from ..fakes import ScriptedLLM

    def echo(messages: list) -> str:  # type: ignore[type-arg]
        if messages[0].content.startswith(prompts.CONDENSE_SYSTEM):
            return messages[-1].content.rsplit("Last message:", 1)[1].split("\n")[0].strip()
        return "You asked: " + messages[-1].content.rsplit("Question: ", 1)[-1] + " [1]"

    server = serve(ScriptedLLM(default=echo))
    answers: dict[int, str] = {}

    def ask(n: int) -> None:
        body = {
            "model": "docqa",
            "stream": True,
            "messages": [{"role": "user", "content": f"question number {n} about boats"}],
        }
        text = ""
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    for choice in json.loads(line[6:])["choices"]:
                        text += choice["delta"].get("content") or ""
        answers[n] = text

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for n in range(6):
        # (docqa keeps [1] only where the sentence is about that source: it may be gone)
        assert answers[n].startswith(f"You asked: question number {n} about boats")
        assert f"question number {n + 1}" not in answers[n]
