"""One question to several models of the backend, each with and without the documents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

import docqa
from docqa import prompts
from docqa.cli import cli
from docqa.config import Settings
from docqa.llm import Message
from docqa.session import close_sessions

from .fakes import ScriptedLLM, install_hash_embedder, install_llm


def _model_says(model: str) -> ScriptedLLM:
    def reply(messages: Sequence[Message]) -> str:
        if messages[0].content.startswith(prompts.RAG_SYSTEM):
            return f"{model} with documents: the station owns two boats [1]."
        return f"{model} alone: I do not know."

    return ScriptedLLM(default=reply, model=model)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    install_hash_embedder(monkeypatch)
    install_llm(monkeypatch, lambda settings, backend: _model_says(settings.model))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boats.md").write_text(
        "# Boats\n\nThe station owns two boats: the Goéland and the Pétrel.\n"
    )
    settings = Settings(store=tmp_path / "store", relevance_floor=0.0, llm="ollama", model="a")
    docqa.ingest(docs, settings)
    close_sessions()  # the CLI opens the store in a session of its own
    return settings


def test_compare_several_models_gives_one_comparison_each(store: Settings) -> None:
    results = docqa.compare("How many boats?", store, models=["a", "b", "c"])
    assert [r.rag.model for r in results] == ["a", "b", "c"]
    assert [r.baseline.text for r in results] == [f"{m} alone: I do not know." for m in "abc"]
    assert all(r.rag.citations and r.rag.citations[0].file.endswith("boats.md") for r in results)
    assert all(r.rag_support for r in results)


def test_ask_compare_takes_several_models(store: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCQA_RELEVANCE_FLOOR", "0")
    monkeypatch.setenv("DOCQA_LLM", "ollama")
    runner = CliRunner()
    args = ["--store", str(store.store), "ask", "How many boats?", "--compare"]
    done = runner.invoke(cli, [*args, "--model", "a", "--model", "b"])
    assert done.exit_code == 0, done.output
    assert "== a ==" in done.output and "== b ==" in done.output
    assert "b with documents" in done.output and "a alone" in done.output
    refused = runner.invoke(
        cli, ["--store", str(store.store), "ask", "q", "--model", "a", "--model", "b"]
    )
    assert refused.exit_code == 2 and "only with --compare" in refused.output
