"""The in-process GGUF backend stops a call during its prompt evaluation (SmolLM2-135M): the
call ends at once and the engine is free for the next request within a prompt batch."""

from __future__ import annotations

import threading
import time

import pytest

from docqa.config import Settings
from docqa.llm import Cancelled, GgufLLM, Message, stop_on

from .test_llm_real import smollm2

pytestmark = pytest.mark.integration


def test_a_stop_during_the_prompt_frees_the_engine() -> None:
    pytest.importorskip("xllamacpp")
    llm = GgufLLM(Settings(llm="gguf", gguf=smollm2(), num_ctx=4096, max_tokens=16))
    try:
        long = " ".join(f"item{n} is kept in room {n % 7}." for n in range(300))  # ~3,300 tokens
        stop = threading.Event()
        outcome: list[BaseException] = []

        def call() -> None:
            with stop_on(stop):
                try:
                    llm.chat([Message("user", long)])
                except BaseException as error:
                    outcome.append(error)

        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(1.0)  # well inside the prompt (tens of seconds on 2 cores)
        assert not outcome and worker.is_alive()
        stopped = time.monotonic()
        stop.set()
        worker.join(5)
        assert not worker.is_alive() and time.monotonic() - stopped < 1.0
        assert isinstance(outcome[0], Cancelled), outcome
        started = time.monotonic()
        answer = llm.chat([Message("user", "Say yes.")])
        assert answer.first_token_s is not None
        assert time.monotonic() - started < 10  # not after the whole long prompt
    finally:
        llm.close()
