"""``docqa eval``: tables, JSON, --compare-to and errors in one line (with fakes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa.cli import cli

from .eval_setup import ROWS, install_reply_llm, make_store, write
from .fakes import HashEmbedder, ScriptedLLM, install_hash_embedder


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    emb: HashEmbedder = install_hash_embedder(monkeypatch)
    return make_store(tmp_path, emb, monkeypatch)


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    return install_reply_llm(monkeypatch)


# --- the command -----------------------------------------------------------------------------


def invoke(store: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), "eval", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_modes_table_json_and_compare_to(store: Path, tmp_path: Path, llm: ScriptedLLM) -> None:
    questions = write(tmp_path / "q.jsonl", ROWS)
    code, out, _ = invoke(store, str(questions), "--retrieval-only", "--modes", "dense,bm25,hybrid")
    assert code == 0, out
    assert all(f"| {m} | en | 2 |" in out for m in ("dense", "bm25", "hybrid"))
    assert "Answers" not in out and not llm.calls

    code, out, _ = invoke(store, str(questions), "--retrieval-only", "--json", "-k", "1")
    assert code == 0 and json.loads(out)["k"] == 1
    old = tmp_path / "old.json"
    old.write_text(out)
    code, out, _ = invoke(store, str(questions), "--retrieval-only", "--compare-to", str(old))
    assert code == 0 and f"compared with {questions}" in out
    assert "the earlier run used k=1, this one k=10" in out


def test_cli_answers_and_errors(store: Path, tmp_path: Path, llm: ScriptedLLM) -> None:
    questions = write(tmp_path / "q.jsonl", ROWS)
    code, _, err = invoke(store, str(questions))
    assert code == 1 and "DOCQA_LLM=gguf|ollama|openai" in err and "--retrieval-only" in err
    result = CliRunner(env={"DOCQA_LLM": "gguf"}).invoke(
        cli, ["--store", str(store), "eval", str(questions)]
    )
    assert result.exit_code == 0, result.output
    assert "### Answers (scripted-1 via scripted)" in result.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n\n{oops\n')
    code, _, err = invoke(store, str(bad))
    assert code == 1 and "bad.jsonl line 3: not JSON (" in err
    code, _, err = invoke(store, str(questions), "--retrieval-only", "--compare-to", str(bad))
    assert code == 1 and "cannot compare to" in err
