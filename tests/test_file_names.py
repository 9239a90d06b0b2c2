"""File names that are not UTF-8 (issue 13, item 8): stored, searched and printed as ``\\xNN``,
never an encoding traceback; such a file is ingested, or named as failed, and the rest goes on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa.api import ingest, search, status
from docqa.cli import cli
from docqa.config import Settings
from docqa.session import close_sessions

from .fakes import HashEmbedder, install_hash_embedder

BAD = os.fsdecode(b"bad\xffname.txt")  # what Python hands over: 'bad\udcffname.txt'
SHOWN = "bad\\xffname.txt"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / os.fsdecode(b"docs\xfe")
    docs.mkdir()
    (docs / BAD).write_text("The field station owns four boats.\n", encoding="utf-8")
    (docs / "good.txt").write_text("Samples are kept at four degrees.\n", encoding="utf-8")
    return docs


def test_a_non_utf8_name_is_ingested_searched_and_removed(folder: Path, tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "store")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert (report.added, report.failed) == (2, ())
    hit = search("field station boats", settings, embedder=HashEmbedder())[0]
    assert hit.file.endswith("docs\\xfe/" + SHOWN) and "four boats" in hit.text
    hit.file.encode("utf-8")  # storable and printable text
    assert status(settings).files == 2
    close_sessions()  # status's shared session holds the store; ingest below opens its own
    assert ingest(folder, settings, embedder=HashEmbedder()).unchanged == 2
    (folder / BAD).unlink()
    again = ingest(folder, settings, embedder=HashEmbedder(), yes=True)
    assert (again.removed, again.unchanged) == (1, 1)
    assert status(settings).files == 1
    close_sessions()


def test_cli_names_a_failed_non_utf8_file_on_one_line(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_hash_embedder(monkeypatch)
    (folder / os.fsdecode(b"empty\xff.md")).write_bytes(b"")
    store = ["--store", str(tmp_path / "store")]
    result = CliRunner().invoke(cli, [*store, "ingest", str(folder)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert failed == [
        f"failed: {tmp_path}/docs\\xfe/empty\\xff.md: empty file: add content to it or remove it"
    ]
    assert result.stdout.startswith("2 added")
    found = CliRunner().invoke(cli, [*store, "search", "field station boats"])
    assert found.exit_code == 0 and SHOWN in found.stdout.splitlines()[0]


def test_a_non_utf8_name_can_be_given_to_file_filters(folder: Path, tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "store")
    ingest(folder, settings, embedder=HashEmbedder())
    for name in (BAD, SHOWN, "bad*"):  # as the shell passes it, as docqa prints it, a glob
        hits = search("four", settings, embedder=HashEmbedder(), files=[name])
        assert {h.file.rsplit("/", 1)[-1] for h in hits} == {SHOWN}, name
