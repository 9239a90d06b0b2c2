"""The CLI is a shell: flags reach the library, results render, errors are one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa.cli import cli

from .fakes import HashEmbedder, install_factories, install_hash_embedder


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    """The CLI builds its embedder from settings: hand it the hashed bag-of-words fake."""
    return install_hash_embedder(monkeypatch)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.md").write_text("# Boats\n\nThe launch has a 90 hp engine.\n")
    (folder / "b.txt").write_text("Samples are kept at four degrees.\n")
    return folder


def invoke(*args: str, store: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args])
    return result.exit_code, result.stdout, result.stderr


def test_ingest_then_unchanged_then_status(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    code, out, _ = invoke("ingest", str(data), store=store)
    assert code == 0 and out.startswith("2 added, 0 updated, 0 unchanged")
    code, out, _ = invoke("ingest", str(data), store=store)
    assert code == 0 and "0 added, 0 updated, 2 unchanged" in out
    code, out, _ = invoke("status", store=store)
    assert code == 0 and f"store:       {store}" in out and "files:       2 (0 failed)" in out
    assert "embeds with: " in out  # the line itself: tests/test_embedding_choice.py


def test_second_run_never_builds_the_embedder(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    invoke("ingest", str(data), store=store)

    def boom(settings: object) -> None:
        raise AssertionError("the embedder was loaded for an unchanged folder")

    install_factories(monkeypatch, make_embedder=boom)
    code, out, _ = invoke("ingest", str(data), store=store)
    assert code == 0 and "2 unchanged" in out


def test_failed_files_are_listed_and_exit_2(data: Path, tmp_path: Path) -> None:
    (data / "empty.txt").write_bytes(b"")
    code, out, err = invoke("ingest", str(data), store=tmp_path / "store")
    assert code == 2
    assert f"failed: {data / 'empty.txt'}: empty file" in err
    assert "2 added" in out and "1 failed" in out


def test_nothing_ingested_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00" * 64)
    code, _, err = invoke("ingest", str(bad), store=tmp_path / "store")
    assert code == 1 and "binary" in err


def test_json_report(data: Path, tmp_path: Path) -> None:
    import json

    code, out, _ = invoke("ingest", str(data), "--json", store=tmp_path / "store")
    assert code == 0 and json.loads(out)["added"] == 2


def test_errors_are_one_line(tmp_path: Path) -> None:
    code, out, err = invoke("status", store=tmp_path / "nowhere")
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "no docqa store at" in err
    assert "docqa ingest PATH" in err and "Traceback" not in err


def test_missing_path_is_one_line(tmp_path: Path) -> None:
    code, _, err = invoke("ingest", str(tmp_path / "nope"), store=tmp_path / "s")
    assert code == 1 and "no such file or folder" in err


def test_debug_reraises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from docqa.errors import NoStoreError

    monkeypatch.setenv("DOCQA_DEBUG", "1")
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "x"), "status"])
    assert isinstance(result.exception, NoStoreError)


def test_bad_setting_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCQA_CHUNK_TOKENS", "many")
    code, _, err = invoke("status", store=tmp_path)
    assert code == 1 and "bad setting chunk_tokens" in err


def test_reset_needs_yes_without_a_terminal(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    invoke("ingest", str(data), store=store)
    code, _, err = invoke("reset", store=store)
    assert code == 1 and "--yes" in err and store.exists()
    code, out, _ = invoke("reset", "--yes", store=store)
    assert code == 0 and not store.exists()


def test_removing_most_files_needs_yes(data: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    invoke("ingest", str(data), store=store)
    (data / "a.md").unlink()
    (data / "b.txt").unlink()
    (data / "c.txt").write_text("A new file.\n")
    code, _, err = invoke("ingest", str(data), store=store)
    assert code == 1 and "would remove 2 of 2 files" in err
    code, out, _ = invoke("ingest", str(data), "--yes", store=store)
    assert code == 0 and "2 removed" in out


def test_store_found_in_a_parent_folder(data: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    project = tmp_path / "project"
    (project / "deep" / "er").mkdir(parents=True)
    shutil.copytree(data, project / "data")
    runner = CliRunner(env=env)
    cwd = os.getcwd()
    try:
        os.chdir(project)
        assert runner.invoke(cli, ["ingest", "data"]).exit_code == 0
        assert (project / ".docqa").is_dir()
        os.chdir(project / "deep" / "er")
        result = runner.invoke(cli, ["status"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0 and str(project / ".docqa") in result.stdout


def test_help_lists_the_verbs() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "docqa", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert all(verb in help_text for verb in ("ingest", "status", "reset"))


def test_follow_links_flag_and_setting(data: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("A note kept outside the folder.\n")
    (data / "link.txt").symlink_to(outside)
    code, out, err = invoke("ingest", str(data), store=tmp_path / "s1")
    assert code == 0 and "2 added" in out and "1 skipped" in out and "lead out of" in err
    code, out, _ = invoke("ingest", "--follow-links", str(data), store=tmp_path / "s2")
    assert code == 0 and "3 added" in out and "0 skipped" in out
    result = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "s3"), "ingest", str(data)], env={"DOCQA_FOLLOW_LINKS": "1"}
    )
    assert result.exit_code == 0 and "3 added" in result.stdout
