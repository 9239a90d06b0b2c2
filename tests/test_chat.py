"""Chat: follow-ups are condensed for retrieval, and the history is bounded by the budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from docqa import prompts, retrieval
from docqa.api import Chat
from docqa.config import Settings
from docqa.llm import Message
from docqa.types import Hit

from .fakes import BOATS, HashEmbedder, ScriptedLLM, install_llm


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What retrieval was asked, in order."""
    seen: list[str] = []
    real = retrieval.search_store

    def spy(question: str, *args: Any, **kwargs: Any) -> list[Hit]:
        seen.append(question)
        return real(question, *args, **kwargs)

    monkeypatch.setattr(retrieval, "search_store", spy)
    return seen


def test_follow_up_is_condensed_for_retrieval_and_answered_with_history(
    corpus: Settings, emb: HashEmbedder, queries: list[str]
) -> None:
    llm = ScriptedLLM(
        "The station owns two boats [1].",
        "What engine does the Goéland launch have?",  # the condense call
        "A 90 hp engine [1].",
    )
    with Chat(corpus, llm=llm, embedder=emb) as chat:
        first = chat.ask("How many boats does the station own?")
        second = chat.ask("What engine does it have?")
    assert len(llm.calls) == 3  # no condense call on the first turn
    assert queries == [
        "How many boats does the station own?",
        "What engine does the Goéland launch have?",
    ]
    assert chat.last_query == "What engine does the Goéland launch have?"
    condense = llm.calls[1]
    assert condense[0].content == prompts.CONDENSE_SYSTEM
    assert "User: How many boats does the station own?" in condense[1].content
    assert "Assistant: The station owns two boats." in condense[1].content  # [1] stripped
    assert "Last message: What engine does it have?" in condense[1].content
    answer_prompt = llm.calls[2]
    assert answer_prompt[1:3] == [
        Message("user", "How many boats does the station own?"),
        Message("assistant", "The station owns two boats."),
    ]
    assert answer_prompt[-1].content.endswith("Question: What engine does it have?")
    assert first.citations and second.question == "What engine does it have?"
    assert len(chat.history) == 4 and not llm.closed


def test_condensed_question_is_cleaned_and_an_empty_one_falls_back(
    corpus: Settings, emb: HashEmbedder, queries: list[str]
) -> None:
    llm = ScriptedLLM("Two [1].", 'Standalone question: "How cold is the cold room?"\n', "4 [2].")
    llm.enqueue("\n\n", "Sure [1].")
    chat = Chat(corpus, llm=llm, embedder=emb)
    chat.ask("How many boats?")
    chat.ask("And the room?")
    chat.ask("Really?")
    assert queries[1:] == ["How cold is the cold room?", "Really?"]


def test_history_is_bounded_by_the_budget_oldest_turns_first(
    corpus: Settings, emb: HashEmbedder
) -> None:
    long_answer = "word " * 150  # 150 tokens for the word-counting fake

    def reply(messages: Sequence[Message]) -> str:
        return "Same question." if messages[0].content == prompts.CONDENSE_SYSTEM else long_answer

    llm = ScriptedLLM(default=reply, context_window=900)
    chat = Chat(corpus, llm=llm, embedder=emb)
    answers = [chat.ask(f"Question number {i} about boats?") for i in range(6)]
    last_prompt = llm.calls[-1]
    history = [m for m in last_prompt[1:-1]]
    assert 0 < len(history) < 10 and history[0].role == "user"
    assert history[-2].content == "Question number 4 about boats?"  # the newest turn is kept
    assert all("Question number 0" not in m.content for m in last_prompt)
    assert any("oldest messages of the conversation" in w for a in answers for w in a.warnings)
    assert len(chat.history) <= len(history) + 2  # forgotten turns are not re-sent
    chat.reset()
    assert chat.history == [] and chat.last_query is None


def test_streamed_turn_is_remembered_once_complete(corpus: Settings, emb: HashEmbedder) -> None:
    llm = ScriptedLLM("Two boats [1].")
    chat = Chat(corpus, llm=llm, embedder=emb)
    stream = chat.ask("How many boats?", stream=True)
    assert chat.history == []
    assert "".join(stream) == "Two boats [1]."
    assert chat.history == [Message("user", "How many boats?"), Message("assistant", "Two boats.")]


def test_chat_builds_and_closes_its_own_model(
    corpus: Settings, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:

    llm = ScriptedLLM("Two [1].", "How many boats?", "Two [1].")
    built: list[str] = []

    def make(s: Settings, backend: str | None = None) -> ScriptedLLM:
        built.append(str(backend))
        return llm

    install_llm(monkeypatch, make, lambda s: ("gguf", "fell back"))
    with Chat(corpus, embedder=emb) as chat:
        assert chat.ask("How many boats?").warnings[0] == "fell back"
        assert chat.ask("Sure?").warnings[0] == "fell back"
    assert built == ["gguf"] and llm.closed


def test_a_rewrite_that_finds_nothing_falls_back_on_the_previous_question(
    corpus: Settings, emb: HashEmbedder, queries: list[str]
) -> None:
    llm = ScriptedLLM("Two [1].", "Really?", "Yes [1].")  # a weak model echoes the follow-up
    chat = Chat(corpus.with_(relevance_floor=0.1), llm=llm, embedder=emb)
    chat.ask("How many boats does the station own?")
    answer = chat.ask("Really?")
    both = "How many boats does the station own? Really?"
    assert queries[1:] == ["Really?", both] and chat.last_query == both
    assert not answer.abstained and BOATS in llm.calls[-1][-1].content


def test_a_client_conversation_is_built_from_its_messages(
    corpus: Settings, emb: HashEmbedder
) -> None:
    """System text joins docqa's rules, earlier answers lose their Sources block and [n] markers,
    and the last user message is the question."""
    from dataclasses import dataclass

    from docqa.answering import Conversation
    from docqa.session import Session

    @dataclass(frozen=True)
    class Said:
        role: str
        content: str

    llm = ScriptedLLM("What engine does the Goéland have?", "A 90 hp engine [1].")
    messages = [
        Said("system", "Answer like a pirate."),
        Said("user", "How many boats?"),
        Said("assistant", "Two boats [1].\n\nSources:\n1. [boats.md](http://x/documents/1)"),
        Said("tool", "ignored"),
        Said("user", "  What engine?  "),
    ]
    with Session(corpus, embedder=emb, llm=llm) as session:
        chat, question = Conversation.from_messages(session.answerer(), messages)
        assert question == "What engine?"
        earlier = [Message("user", "How many boats?"), Message("assistant", "Two boats.")]
        assert chat.history == earlier
        chat.ask(question)
        answer_prompt = llm.calls[-1]
        assert answer_prompt[0].content.startswith(prompts.RAG_SYSTEM)
        assert answer_prompt[0].content.endswith("Answer like a pirate.")
        for bad in ([Said("user", "hi"), Said("assistant", "hello")], [Said("user", " ")], []):
            with pytest.raises(ValueError, match="the last message must be the user's question"):
                Conversation.from_messages(session.answerer(), bad)


def test_the_baseline_of_a_conversation_holds_the_turns_that_fit(
    corpus: Settings, emb: HashEmbedder
) -> None:
    from docqa.answering import Conversation
    from docqa.session import Session

    llm = ScriptedLLM("Probably two.", context_window=120)
    history = [Message("user", f"question {n} " * 5) for n in range(4)]
    with Session(corpus.with_(max_tokens=8), embedder=emb, llm=llm) as session:
        chat = Conversation(session.answerer(), history=history)
        answer = chat.baseline("How many boats?")
    prompt = llm.calls[-1]
    assert prompt[0].content.startswith(prompts.BASELINE_SYSTEM)
    assert prompt[-1] == Message("user", "How many boats?")
    kept = prompt[1:-1]
    assert kept and kept == history[len(history) - len(kept) :]  # the newest turns, in order
    assert len(kept) < len(history)
    assert any("oldest messages of the conversation" in w for w in answer.warnings)
    turn = [Message("user", "How many boats?"), Message("assistant", "Probably two.")]
    assert chat.history[-2:] == turn
