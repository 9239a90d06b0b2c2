"""A docqa server over the behaving fakes, for the serve tests (real uvicorn, ephemeral port)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from docqa import prompts
from docqa.config import Settings
from docqa.llm import Completion, Message, TokenCallback, check_stop
from docqa.server import Running, start
from docqa.session import Session

from ..fakes import BOATS as BOATS  # the serve tests take it from here
from ..fakes import HashEmbedder, ScriptedLLM

RAG_REPLY = "The station owns two boats [1]."
BASE_REPLY = "I do not know that station."
CONDENSED = "How long is the Goéland launch?"


def reply(messages: Sequence[Message]) -> str:
    """What the fake model says, by the kind of prompt it is given."""
    system = messages[0].content
    if system.startswith(prompts.RAG_SYSTEM):
        return RAG_REPLY
    if system.startswith(prompts.CONDENSE_SYSTEM):
        return CONDENSED
    return BASE_REPLY


class SlowLLM(ScriptedLLM):
    """A fake whose tokens take ``delay`` seconds each, after ``prompt_s`` seconds of "prompt
    evaluation"; records whether it was stopped early.

    Like the real backends it honours :func:`docqa.llm.stop_event` while it reads its prompt
    (checked every 10 ms), and a stopped token callback between tokens.
    """

    def __init__(
        self,
        words: int = 200,
        delay: float = 0.02,
        default: Any = None,
        prompt_s: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(default=default or " ".join(["word"] * words) + " [1].", **kwargs)
        self.delay = delay
        self.prompt_s = prompt_s
        self.emitted = 0
        self.stopped = threading.Event()
        self.running = 0
        self.most_running = 0
        self.idle = threading.Event()
        self.idle.set()
        self._count = threading.Lock()

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        with self._count:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.idle.clear()

        started = time.perf_counter()
        first: list[float] = []

        def slow(piece: str) -> None:
            if not first:  # prompt evaluation, before the first token
                reading = time.monotonic() + self.prompt_s
                while time.monotonic() < reading:
                    check_stop()
                    time.sleep(0.01)
            time.sleep(self.delay)
            self.emitted += 1
            if not first:
                first.append(time.perf_counter() - started)
            if on_token is not None:
                on_token(piece)

        try:
            done = super().chat(messages, on_token=slow)
            seconds = time.perf_counter() - started
            return dataclasses.replace(
                done, seconds=seconds, first_token_s=first[0] if first else None
            )
        except BaseException:
            self.stopped.set()
            raise
        finally:
            with self._count:
                self.running -= 1
                if not self.running:
                    self.idle.set()


@pytest.fixture
def corpus(corpus: Settings, emb: HashEmbedder) -> tuple[Settings, HashEmbedder]:
    """The boats corpus (answers of 64 tokens at most), and the embedder it was ingested with."""
    return corpus.with_(max_tokens=64), emb


Serve = Callable[..., Running]


@pytest.fixture
def serve(corpus: tuple[Settings, HashEmbedder]) -> Iterator[Serve]:
    """``serve(llm=..., **start_kwargs)``: a running server over the fake corpus."""
    started: list[Running] = []
    settings, emb = corpus

    def run(llm: Any = None, settings_: Settings | None = None, **kwargs: Any) -> Running:
        s = settings_ or settings
        session = Session(s, embedder=emb, llm=llm or ScriptedLLM(default=reply))
        handle = start(s, session=session, **kwargs)
        started.append(handle)
        return handle

    yield run
    for handle in started:
        handle.stop()
