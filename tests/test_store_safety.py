"""The store folder: marked when made; reset deletes only docqa's files; readers create nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import docqa
from docqa import storedir
from docqa.cli import cli
from docqa.config import Settings
from docqa.errors import ConfigError, NoStoreError, StoreLockedError

from .fakes import HashEmbedder, ScriptedLLM, install_hash_embedder

DRIVER = Path(__file__).with_name("crash_driver.py")


@pytest.fixture(autouse=True)
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    return install_hash_embedder(monkeypatch)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# Boats\n\nThe launch has a 90 hp engine.\n")
    (folder / "b.txt").write_text("Samples are kept at four degrees.\n")
    return folder


def cli_run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --- the marker --------------------------------------------------------------------------------


def test_ingest_marks_the_store_with_a_format(docs: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert cli_run("--store", str(store), "ingest", str(docs))[0] == 0
    assert json.loads((store / storedir.MARKER).read_text())["format"] == storedir.FORMAT


def test_a_store_without_marker_is_recognised_and_marked_again(docs: Path, tmp_path: Path) -> None:
    """Stores made before the marker: their manifest beside their shard folder."""
    store = tmp_path / "store"
    cli_run("--store", str(store), "ingest", str(docs))
    (store / storedir.MARKER).unlink()
    code, out, _ = cli_run("--store", str(store), "status")
    assert code == 0 and "files:       2 (0 failed)" in out
    assert not (store / storedir.MARKER).exists(), "status marked the store"
    assert cli_run("--store", str(store), "ingest", str(docs))[0] == 0
    assert (store / storedir.MARKER).is_file()


# --- reset -------------------------------------------------------------------------------------


def test_reset_of_a_store_in_the_documents_folder_keeps_the_documents(docs: Path) -> None:
    before = listing(docs)
    code, out, _ = cli_run("--store", str(docs), "ingest", str(docs))
    assert code == 0 and out.startswith("2 added") and "0 skipped" in out  # not its own files
    assert cli_run("--store", str(docs), "reset", "--yes")[0] == 0
    assert listing(docs) == before


def test_reset_removes_a_store_folder_left_empty(docs: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    cli_run("--store", str(store), "ingest", str(docs))
    code, out, _ = cli_run("--store", str(store), "reset", "--yes")
    assert code == 0 and out.strip() == f"removed the docqa store at {store}"
    assert not store.exists()


def test_reset_refuses_a_folder_that_is_not_a_store(docs: Path) -> None:
    before = listing(docs)
    (docs / "manifest.sqlite").write_text("the user's own file, not docqa's")
    code, _, err = cli_run("--store", str(docs), "reset", "--yes")
    assert code == 1 and f"{docs} is not a docqa store" in err and "Traceback" not in err
    assert listing(docs) == sorted([*before, "manifest.sqlite"])


@pytest.mark.parametrize("where", ["home", "cwd", "parent of cwd"])
def test_reset_refuses_home_and_the_current_folder(
    where: str, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Make each a real (marked) store, so only the place itself can be the reason to refuse.
    store = tmp_path / "place"
    cli_run("--store", str(store), "ingest", str(docs))
    (store / "sub").mkdir()
    before = listing(store)
    if where == "home":
        monkeypatch.setenv("HOME", str(store))
    elif where == "cwd":
        monkeypatch.chdir(store)
    else:
        monkeypatch.chdir(store / "sub")
    code, _, err = cli_run("--store", str(store), "reset", "--yes")
    assert code == 1 and "refusing to reset" in err, err
    assert listing(store) == before


def test_reset_refuses_the_root_folder() -> None:
    # Only the check is run on "/": a test that ran `reset` on the real root folder would,
    # against a regressed reset, delete this machine's files (it did once: /etc went).
    with pytest.raises(ConfigError, match="refusing to reset /"):
        storedir.check_resettable(Path("/"))


def test_reset_question_names_the_folder(docs: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    cli_run("--store", str(store), "ingest", str(docs))
    code, _, err = cli_run("--store", str(store), "reset")
    assert code == 1 and f"deletes the docqa store at {store}" in err and "--yes" in err
    assert storedir.is_marked(store)


def test_empty_store_setting_is_a_bad_setting(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("mine")
    monkeypatch.chdir(work)
    for command in (["status"], ["reset", "--yes"], ["ingest", str(docs)]):
        code, _, err = cli_run(*command, env={"DOCQA_STORE": ""})
        assert code == 1 and "bad setting store" in err and err.count("\n") == 1, command
    assert listing(work) == ["keep.txt"]
    with pytest.raises(ConfigError, match="bad setting store"):
        Settings(store="")  # type: ignore[arg-type]


def test_store_setting_naming_a_file_is_one_line(docs: Path, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    for command in (["ingest", str(docs)], ["status"], ["reset", "--yes"]):
        code, _, err = cli_run(*command, env={"DOCQA_STORE": str(file)})
        assert code == 1 and f"{file} is a file, not a folder" in err, (command, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert file.read_text() == "mine"


# --- readers create nothing --------------------------------------------------------------------


def test_read_commands_never_create_a_store(tmp_path: Path) -> None:
    empty, missing = tmp_path / "empty", tmp_path / "missing"
    empty.mkdir()
    for folder in (empty, missing):
        for command in (["status"], ["search", "boats"]):
            code, _, err = cli_run("--store", str(folder), *command)
            assert code == 1 and "docqa ingest" in err, (folder, command, err)
        settings = Settings(store=folder)
        with pytest.raises(NoStoreError):
            docqa.ask("boats?", settings, llm=ScriptedLLM("x"))
    assert listing(empty) == [] and not missing.exists()


# --- reset against a running ingest ------------------------------------------------------------


def test_reset_during_an_ingest_fails_and_the_ingest_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        (data / f"f{i}.txt").write_text(f"Line {{}} of file {i} about the harbour.\n" * 300)
    store, marker = tmp_path / "store", tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), "slow", str(data), str(store), str(marker)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and marker.read_text() == "embedding"):
            assert proc.poll() is None and time.monotonic() < deadline, "the ingest never started"
            time.sleep(0.05)
        monkeypatch.setattr(storedir, "WRITER_WAIT_S", 0.5)
        with pytest.raises(StoreLockedError, match=rf"being written by pid {proc.pid} "):
            docqa.reset(Settings(store=store), yes=True)
        assert proc.poll() is None, "reset was refused only because the ingest had ended"
    finally:
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    assert marker.read_text() == "finished"
    status = docqa.status(Settings(store=store))
    assert status.files == 4 and status.points == status.chunks > 0
    assert not any("interrupted" in w for w in status.warnings)
    assert os.path.isdir(store)
