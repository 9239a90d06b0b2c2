"""The Ollama face's timing fields mean what Ollama's API says, streamed or not: Open WebUI's
tokens/s (eval_count / eval_duration) is the model's real rate."""

from __future__ import annotations

import json

import httpx
import pytest

from .conftest import Serve, SlowLLM

WORDS = 40
DELAY = 0.05  # 20 tokens/s
PROMPT_S = 1.0


@pytest.mark.parametrize("stream", [True, False])
def test_eval_rate_and_durations_do_not_overlap(serve: Serve, stream: bool) -> None:
    text = " ".join(f"w{n}" for n in range(WORDS)) + " [1]."
    llm = SlowLLM(default=text, delay=DELAY, prompt_s=PROMPT_S)
    server = serve(llm)
    body = {
        "model": "docqa",
        "messages": [{"role": "user", "content": "How many boats?"}],
        "stream": stream,
    }
    response = httpx.post(f"{server.url}/api/chat", json=body, timeout=60)
    last = json.loads(response.text.strip().splitlines()[-1])
    assert last["done"] is True
    prompt_s = last["prompt_eval_duration"] / 1e9
    eval_s = last["eval_duration"] / 1e9
    total_s = last["total_duration"] / 1e9
    assert PROMPT_S <= prompt_s < PROMPT_S + 0.5  # time to the first token
    assert prompt_s + eval_s <= total_s
    rate = last["eval_count"] / eval_s
    assert 0.7 / DELAY < rate < 1.3 / DELAY, rate  # the model's real 20 tokens/s
    assert last["load_duration"] == 0
