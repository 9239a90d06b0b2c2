"""Answering end to end: the repo's data/ with the real embedder, SmolLM2-135M in-process.

Answers are kept to 48 tokens; the assertions are about plumbing (the right chunk reaches the
prompt, tokens stream, both answers of a comparison are marked), not about what a 135M model
says.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from docqa import embedding
from docqa.api import ask, compare, ingest
from docqa.config import Settings
from docqa.embedding import Embedder
from docqa.llm import LLM, Completion, GgufLLM, Message, TokenCallback

from ..conftest import REPO
from .test_llm_real import smollm2

pytestmark = pytest.mark.integration

QUESTION = "How many boats does the field station own?"
TWO_BOATS = "The station owns two boats"  # in data/, the demo corpus


class Recording:
    """Wraps an LLM and records every prompt it is sent."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.backend, self.model = inner.backend, inner.model
        self.context_window = inner.context_window
        self.calls: list[list[Message]] = []

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        self.calls.append(list(messages))
        return self.inner.chat(messages, on_token=on_token)

    def count_tokens(self, text: str) -> int | None:
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    store = tmp_path_factory.mktemp("answer") / "store"
    return Settings(store=store, llm="gguf", gguf=smollm2(), num_ctx=2048, max_tokens=48, threads=1)


@pytest.fixture(scope="module")
def embedder(settings: Settings) -> Embedder:
    emb = embedding.make_embedder(settings)
    report = ingest(REPO / "data", settings, embedder=emb)
    assert not report.failed and report.chunks > 0
    return emb


@pytest.fixture(scope="module")
def llm(settings: Settings) -> Iterator[Recording]:
    pytest.importorskip("xllamacpp")
    recording = Recording(GgufLLM(settings))
    yield recording
    recording.close()


def test_streamed_answer_holds_the_boats_chunk_in_its_prompt(
    settings: Settings, embedder: Embedder, llm: Recording
) -> None:
    llm.calls.clear()
    stream = ask(QUESTION, settings, stream=True, llm=llm, embedder=embedder)
    pieces = list(stream)
    answer = stream.answer
    assert pieces and "".join(pieces).strip() == answer.text
    assert answer.hits and Path(answer.hits[0].file).name == "field-station-handbook.md"
    assert any(TWO_BOATS in m.content for m in llm.calls[0])
    assert answer.backend == "gguf" and answer.usage.prompt_tokens
    assert answer.timings.llm_s > 0 and answer.timings.retrieval_s > 0
    # exact token counts: the budget estimate must match llama.cpp's own count
    assert not any("estimated" in w for w in answer.warnings), answer.warnings


def test_compare_returns_both_answers_marked(
    settings: Settings, embedder: Embedder, llm: Recording
) -> None:
    llm.calls.clear()
    result = compare(QUESTION, settings, llm=llm, embedder=embedder)
    assert len(llm.calls) == 2
    assert result.baseline.text and result.rag.text and result.hits
    assert not any(TWO_BOATS in m.content for m in llm.calls[0])  # baseline: no documents
    assert len(result.baseline_support) >= 1
    assert result.rag_support
    assert all(m.status in {"supported", "similar", "unsupported"} for m in result.rag_support)
    assert "with documents" in result._repr_html_()
