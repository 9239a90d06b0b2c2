"""``docqa ask`` and ``docqa chat``: streaming, sources, warnings, JSON, --compare, the REPL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa import prompts
from docqa.api import ingest
from docqa.cli import cli
from docqa.config import Settings
from docqa.errors import LLMError
from docqa.llm import Message

from .fakes import HashEmbedder, ScriptedLLM, install_hash_embedder, install_llm

BOATS = "The station owns two boats: the Goéland, a launch with a 90 hp engine, and the Pétrel."
FALLBACK = "Ollama not reachable at http://localhost:11434: answering with x.gguf in-process"


@pytest.fixture
def emb(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    return install_hash_embedder(monkeypatch)


@pytest.fixture
def store(tmp_path: Path, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boats.md").write_text(f"# Boats\n\n{BOATS}\n")
    (docs / "cold.txt").write_text("The cold room is kept at 4 degrees.\n")
    path = tmp_path / "store"
    ingest(docs, Settings(store=path), embedder=emb)
    monkeypatch.setenv("DOCQA_RELEVANCE_FLOOR", "0")
    return path


class CliLLM(ScriptedLLM):
    """The scripted model, remembering the settings it was built with."""

    def __init__(self) -> None:
        super().__init__()
        self.built_with: list[Settings] = []


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> CliLLM:
    """The scripted model the CLI gets, after an ``auto`` fallback."""
    fake = CliLLM()

    def make(settings: Settings, backend: str | None = None) -> CliLLM:
        fake.built_with.append(settings)
        return fake

    install_llm(monkeypatch, make, lambda settings: ("gguf", FALLBACK))
    return fake


def invoke(store: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_ask_streams_the_answer_then_sources_and_the_fallback_warning(
    store: Path, llm: CliLLM
) -> None:
    llm.enqueue("The station owns two boats [1].")
    code, out, err = invoke(store, "ask", "How many boats does the station own?")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "The station owns two boats [1]."
    assert lines[1].startswith("[1] ") and lines[1].endswith("boats.md § Boats (line 1) ✓")
    assert f"warning: {FALLBACK}" in err
    assert llm.closed


def test_ask_without_citations_lists_every_source_given(store: Path, llm: CliLLM) -> None:
    llm.enqueue("Two.")
    code, out, _ = invoke(store, "ask", "How many boats?")
    assert code == 0 and out.splitlines()[1:] == [
        line for line in out.splitlines()[1:] if line.startswith(("[1] ", "[2] "))
    ]
    assert len(out.splitlines()) == 3


def test_flags_reach_the_settings(store: Path, llm: CliLLM) -> None:
    llm.enqueue("Two [1].")
    code, _, _ = invoke(
        store, "ask", "How many boats?", "--model", "llama3", "--preset", "concise", "-k", "1"
    )
    assert code == 0
    used = llm.built_with[0]
    assert (used.model, used.preset, used.top_k) == ("llama3", "concise", 1)
    user = llm.calls[0][-1].content
    assert "[1] " in user and "[2] " not in user
    assert prompts.PRESETS["concise"] in llm.calls[0][0].content


def test_file_glob_limits_the_sources(store: Path, llm: CliLLM) -> None:
    llm.enqueue("Four degrees [1].")
    code, out, _ = invoke(store, "ask", "How cold?", "--file", "*.txt")
    assert code == 0 and "cold.txt" in out and "boats.md" not in out


def test_ask_json(store: Path, llm: CliLLM) -> None:
    llm.enqueue("Two boats [1]. Also [7].")
    code, out, err = invoke(store, "ask", "How many boats?", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["text"] == "Two boats [1]. Also."  # [7] was not among the sources given
    assert data["citations"][0]["file"].endswith("boats.md") and data["backend"] == "scripted"
    assert data["warnings"][0] == FALLBACK and "[7]" in err


def test_abstention_is_printed_without_a_model(
    store: Path, llm: CliLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCQA_RELEVANCE_FLOOR", "2")
    code, out, err = invoke(store, "ask", "How many boats?")
    assert code == 0 and out.strip() == prompts.ABSTENTION["en"]
    assert llm.calls == [] and llm.built_with == [] and err == ""


def test_compare_marks_sentences_one_after_the_other_or_side_by_side(
    store: Path, llm: CliLLM
) -> None:
    def reply(messages: Sequence[Message]) -> str:
        return f"{BOATS} [1]" if "Sources:" in messages[-1].content else "Probably 5 boats."

    llm.enqueue(reply, reply)
    code, out, err = invoke(store, "ask", "How many boats?", "--compare")
    assert code == 0
    assert out.index("MODEL ONLY") < out.index("WITH DOCUMENTS") < out.index("Sources:")
    assert "✓ The station owns two boats" in out and "[1] " in out
    assert f"warning: {FALLBACK}" in err
    llm.enqueue(reply, reply)
    wide = CliRunner().invoke(
        cli, ["--store", str(store), "ask", "How?", "--compare"], env={"COLUMNS": "160"}
    )
    assert " | WITH DOCUMENTS" in wide.stdout.splitlines()[0]


def test_compare_json(store: Path, llm: CliLLM) -> None:
    llm.enqueue("Five.", f"{BOATS} [1]")
    code, out, _ = invoke(store, "ask", "How many boats?", "--compare", "--json")
    data = json.loads(out)
    assert code == 0 and data["baseline"]["text"] == "Five."
    assert data["rag_support"][0]["status"] == "supported"


def test_ctrl_c_during_an_answer_exits_130(store: Path, llm: CliLLM) -> None:
    def interrupt(messages: Sequence[Message]) -> str:
        raise KeyboardInterrupt

    llm.enqueue(interrupt)
    code, _, err = invoke(store, "ask", "How many boats?")
    assert code == 130 and "interrupted" in err


def test_chat_reads_lines_until_exit_and_remembers(store: Path, llm: CliLLM) -> None:
    llm.enqueue("Two boats [1].", "What engine does the Goéland have?", "A 90 hp engine [1].")
    stdin = "How many boats?\n\nWhat engine does it have?\nexit\nnever asked\n"
    code, out, err = invoke(store, "chat", stdin=stdin)
    assert code == 0
    assert "Two boats [1]." in out and "A 90 hp engine [1]." in out
    assert len(llm.calls) == 3 and llm.calls[2][1].content == "How many boats?"
    assert err.count(f"warning: {FALLBACK}") == 2 and llm.closed


def test_chat_ends_at_eof_and_survives_an_interrupted_answer(store: Path, llm: CliLLM) -> None:
    def interrupt(messages: Sequence[Message]) -> str:
        raise KeyboardInterrupt

    llm.enqueue(interrupt, "Two [1].")
    code, out, err = invoke(store, "chat", stdin="How many boats?\nHow many boats?\n")
    assert code == 0 and "interrupted" in err and "Two [1]." in out
    assert len(llm.calls) == 2  # the interrupted turn was not remembered: no condense call


def test_chat_reports_errors_and_goes_on(store: Path, llm: CliLLM) -> None:
    def fail(messages: Sequence[Message]) -> str:
        raise LLMError("the model fell over: retry")

    llm.enqueue(fail, "Two [1].")
    code, out, err = invoke(store, "chat", stdin="How many boats?\nHow many boats?\n")
    assert code == 0 and "error: the model fell over: retry" in err and "Two [1]." in out
