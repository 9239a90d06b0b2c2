"""``docqa search``: ranked lines, JSON, filters, and errors in one line (hashed embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa.api import ingest
from docqa.cli import cli
from docqa.config import Settings

from .fakes import HashEmbedder, install_hash_embedder
from .test_retrieval import FILES


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def cli_embedder(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    """The CLI builds its embedder from settings: hand it the hashed bag-of-words fake."""
    return install_hash_embedder(monkeypatch)


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_search_prints_ranked_lines(
    cli_embedder: HashEmbedder, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "store")
    assert run_cli("--store", store, "ingest", str(folder))[0] == 0
    monkeypatch.chdir(tmp_path)  # paths under the cwd are shown relative to it
    code, out, _ = run_cli("--store", store, "search", "launch outboard engine", "-k", "2")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith("1. ")
    assert "(cos " in lines[0] and "data/guide/boats.md § Boats > Launch" in lines[0]
    assert lines[0].endswith("  ## Launch The launch has a 90 hp outboard engine, seats six.")
    code, out, _ = run_cli("--store", store, "search", "boat", "--file", "notes/**/*.txt")
    assert code == 0 and all("data/notes/" in line for line in out.splitlines())


def test_cli_search_json_and_bm25(cli_embedder: HashEmbedder, folder: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    run_cli("--store", store, "ingest", str(folder))
    code, out, _ = run_cli("--store", store, "search", "life jackets", "--mode", "bm25", "--json")
    hits = json.loads(out)
    assert code == 0 and isinstance(hits, list) and hits
    assert hits[0]["file"] == str(folder / "notes" / "deep" / "guide-safety.txt")
    assert set(hits[0]) >= {"file", "text", "score", "page", "heading", "dense_score"}
    assert hits[0]["dense_score"] is None


def test_cli_search_errors_are_one_line(cli_embedder: HashEmbedder, tmp_path: Path) -> None:
    code, out, err = run_cli("--store", str(tmp_path / "none"), "search", "anything")
    assert code == 1 and out == ""
    assert err.strip() == f"Error: no docqa store at {tmp_path / 'none'} or its parents, " + (
        "run `docqa ingest PATH` first"
    )


def test_cli_where_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emb = HashEmbedder()
    install_hash_embedder(monkeypatch, emb)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "en.txt").write_text("The boat leaves the harbour.\n")
    (folder / "fr.txt").write_text("Le bateau quitte le port.\n")
    ingest(folder, Settings(store=tmp_path / "store"), embedder=emb)
    runner = CliRunner()
    base = ["--store", str(tmp_path / "store"), "search", "boat bateau"]
    result = runner.invoke(cli, [*base, "--where", "lang=fr"])
    assert result.exit_code == 0 and "fr.txt" in result.stdout and "en.txt" not in result.stdout
    bad = runner.invoke(cli, [*base, "--where", "lang"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.stderr
