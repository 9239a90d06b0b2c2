"""docqa.query_engine: a LlamaIndex engine over docqa's retrieval and docqa's (or Ollama's) LLM."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Settings as LlamaSettings
from llama_index.core.llms import ChatMessage, MessageRole, MockLLM
from llama_index.llms.ollama import Ollama

from docqa.api import ingest, query_engine, search
from docqa.config import Settings
from docqa.llamaindex import DocqaLLM, llama_llm
from docqa.llm import Completion, Message
from docqa.session import Session
from docqa.types import TokenUsage

from .fakes import HashEmbedder, install_factories
from .ollama_server import OllamaTestServer

ANSWER = "The launch has a 90 hp engine (guide/boats.md)."


class ScriptedLLM:
    """A docqa LLM that records every conversation and answers with a fixed text."""

    backend = "fake"
    model = "scripted"
    context_window = 4096

    def __init__(self, answer: str = ANSWER) -> None:
        self.answer = answer
        self.calls: list[list[Message]] = []

    def chat(
        self, messages: Sequence[Message], *, on_token: Callable[[str], None] | None = None
    ) -> Completion:
        self.calls.append(list(messages))
        if on_token is not None:
            on_token(self.answer)
        return Completion(
            self.answer, self.model, self.backend, TokenUsage(10, 5), 0.01, 0.01, "stop"
        )

    def count_tokens(self, text: str) -> int | None:
        return None

    def close(self) -> None:
        pass

    def prompt(self) -> str:
        return "\n".join(m.content for m in self.calls[-1])


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, emb: HashEmbedder) -> Settings:
    """The shared settings over a guide with nested headings and a text file; two sources."""
    folder = tmp_path / "data"
    (folder / "guide").mkdir(parents=True)
    (folder / "guide" / "boats.md").write_text(
        "# Boats\n\n## Launch\n\nThe launch has a 90 hp outboard engine and seats six.\n"
    )
    (folder / "badges.txt").write_text("Badges are issued by the office on the first day.\n")
    ingest(folder, settings, embedder=emb)
    return settings.with_(top_k=2)


@pytest.fixture(autouse=True)
def untouched_llama_settings() -> Iterator[None]:
    """No test may leave LlamaIndex's global Settings changed (docqa never sets them)."""
    before = (LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._callback_manager)
    yield
    after = (LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._callback_manager)
    assert after == before


def test_query_answers_from_docqa_hits(settings: Settings) -> None:
    fake = ScriptedLLM()
    question = "how powerful is the launch outboard engine"
    engine = query_engine(settings, llm=fake, embedder=HashEmbedder())
    response = engine.query(question)
    assert str(response) == ANSWER
    hits = search(question, settings, embedder=HashEmbedder())
    assert [n.node.node_id for n in response.source_nodes] == [h.chunk_id for h in hits]
    assert [n.score for n in response.source_nodes] == [h.score for h in hits]
    top = response.source_nodes[0].node
    assert top.metadata["file"].endswith("guide/boats.md")
    assert top.metadata["heading"] == "Boats > Launch" and top.metadata["page"] is None
    assert "The launch has a 90 hp outboard engine" in fake.prompt()
    assert question in fake.prompt()
    assert "locator: " in fake.prompt()  # where each chunk comes from is shown to the LLM
    assert fake.calls[-1][0].role == "system"  # a chat model: roles reach the backend


def test_nothing_above_the_floor_means_no_sources_and_no_llm_call(settings: Settings) -> None:
    fake = ScriptedLLM()
    engine = query_engine(settings.with_(relevance_floor=0.99), llm=fake, embedder=HashEmbedder())
    response = engine.query("what is the capital of peru")
    assert response.source_nodes == [] and fake.calls == []


def test_a_llama_index_llm_is_used_as_is(settings: Settings) -> None:
    engine = query_engine(settings, llm=MockLLM(max_tokens=8), embedder=HashEmbedder())
    response = engine.query("badges office")
    assert response.source_nodes and response.source_nodes[0].node.metadata["file"].endswith(
        "badges.txt"
    )


def test_docqa_llm_adapter_maps_roles_and_streams_whole() -> None:
    fake = ScriptedLLM("ok")
    adapter = DocqaLLM(fake, num_output=64)
    assert adapter.metadata.context_window == 4096 and adapter.metadata.num_output == 64
    reply = adapter.chat(
        [
            ChatMessage(role=MessageRole.SYSTEM, content="be brief"),
            ChatMessage(role=MessageRole.USER, content="hi"),
        ]
    )
    assert reply.message.content == "ok"
    assert [(m.role, m.content) for m in fake.calls[-1]] == [("system", "be brief"), ("user", "hi")]
    assert [r.delta for r in adapter.stream_complete("hi")] == ["ok"]
    assert adapter.complete("hello").text == "ok" and fake.calls[-1] == [Message("user", "hello")]


def test_ollama_backend_uses_llama_index_ollama_with_docqa_settings() -> None:
    settings = Settings(llm="ollama", llm_url="http://127.0.0.1:9", num_ctx=4096, max_tokens=99)
    model = llama_llm(Session(settings))  # llm="ollama" is taken as is: no probe, no request
    assert isinstance(model, Ollama)
    assert model.base_url == "http://127.0.0.1:9" and model.context_window == 4096
    assert model.additional_kwargs["num_ctx"] == 4096
    assert model.additional_kwargs["num_predict"] == 99
    assert model.request_timeout == settings.request_timeout_s


class ScriptedEngine:
    """Stands in for llama.cpp behind the Ollama test server: one fixed chat answer."""

    def handle_chat_completions(self, request: dict[str, Any], on_chunk: Any) -> None:
        delta = {"choices": [{"delta": {"content": ANSWER}, "finish_reason": "stop"}]}
        on_chunk(json.dumps(delta | {"usage": {"prompt_tokens": 9, "completion_tokens": 3}}))

    def handle_completions(self, request: dict[str, Any], on_chunk: Any) -> None:
        self.handle_chat_completions(request, on_chunk)


def test_query_engine_over_the_ollama_api(settings: Settings) -> None:
    with OllamaTestServer(ScriptedEngine(), model="smollm2") as server:
        ollama = settings.with_(llm="ollama", llm_url=server.url, model="smollm2", num_ctx=2048)
        model = llama_llm(
            Session(ollama)
        )  # what query_engine(ollama) builds; kept to close its client
        try:
            engine = query_engine(ollama, llm=model, embedder=HashEmbedder())
            response = engine.query("launch engine power")
        finally:
            model.client.close()  # type: ignore[attr-defined]
    assert str(response) == ANSWER
    path, body = server.received[-1]
    assert path == "/api/chat"
    assert body["options"]["num_ctx"] == 2048
    assert body["options"]["num_predict"] == settings.max_tokens
    assert "90 hp outboard engine" in json.dumps(body["messages"], ensure_ascii=False)


def test_the_embedder_is_loaded_once_per_engine(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:

    built: list[HashEmbedder] = []

    def make(settings: Settings) -> HashEmbedder:
        built.append(HashEmbedder())
        return built[-1]

    install_factories(monkeypatch, make_embedder=make)
    engine = query_engine(settings, llm=ScriptedLLM())
    engine.query("launch engine")
    engine.query("badges office")
    assert len(built) == 1 and built[0].calls == 2
