"""Folders that stay in sync: real file events in temp folders, a real Qdrant Edge store.

Every wait is bounded (:data:`WAIT_S`) and polls; nothing sleeps longer than the watcher's own
quiet time needs.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import docqa
from docqa import watching
from docqa.config import Settings
from docqa.errors import ConfigError
from docqa.manifest import Manifest
from docqa.session import Session
from docqa.stores import open_store
from docqa.watching import Sync, Watcher

from .fakes import HashEmbedder, install_hash_embedder

WAIT_S = 10.0
CALM_S = 1.0  # well past QUIET_S + STEP_MS + TICK_MS: a sync that was coming has come


@pytest.fixture(autouse=True)
def _hash_embedder(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    return install_hash_embedder(monkeypatch)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("The cold room is kept at four degrees.\n")
    (data / "sub" / "b.md").write_text("# Boats\n\nThe launch has a 90 hp engine.\n")
    return data


@pytest.fixture
def settings(folder: Path) -> Settings:
    return Settings(store=folder / ".docqa")  # inside the watched folder, as `cd data` would


class Syncs:
    """What the watcher reported, read from the test's thread."""

    def __init__(self) -> None:
        self.items: list[Sync] = []
        self.lock = threading.Lock()

    def __call__(self, sync: Sync) -> None:
        with self.lock:
            self.items.append(sync)

    def after(self, n: int) -> list[Sync]:
        with self.lock:
            return self.items[n:]

    def touching(self, name: str) -> list[Sync]:
        with self.lock:
            return [s for s in self.items if any(p.endswith(name) for p in s.paths)]


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.02)
    raise AssertionError(f"not within {WAIT_S} s: {what}")


def found(settings: Settings, word: str) -> set[str]:
    """The files a BM25 search for ``word`` finds (the store opened for the call only)."""
    with Session(settings, store_idle_s=0) as session:
        return {Path(h.file).name for h in session.search(word, mode="bm25", k=5)}


def rows(settings: Settings) -> set[str]:
    manifest = Manifest(settings.store)  # type: ignore[arg-type]
    try:
        return {Path(r.abspath).name for r in manifest.files() if r.status == "done"}
    finally:
        manifest.close()


@pytest.fixture
def watch(settings: Settings) -> Iterator[Callable[..., tuple[Watcher, Syncs]]]:
    started: list[Watcher] = []

    def start(path: Path, **options: Any) -> tuple[Watcher, Syncs]:
        syncs = Syncs()
        watcher = docqa.watch(path, settings, on_sync=syncs, background=True, **options)
        started.append(watcher)
        return watcher, syncs

    yield start
    for watcher in started:
        watcher.stop()


def test_added_changed_and_deleted_files_are_synced(folder: Path, settings: Settings, watch: Any):
    watcher, syncs = watch(folder)
    first = syncs.after(0)
    assert [s.full for s in first] == [True] and first[0].report is not None
    assert first[0].report.added == 2 and rows(settings) == {"a.txt", "b.md"}

    (folder / "sub" / "new.md").write_text("The zanzibar protocol is documented here.\n")
    wait_for(lambda: "new.md" in found(settings, "zanzibar"), "the new file searchable")
    (added,) = wait_for(lambda: syncs.touching("new.md"), "its sync reported")
    assert added.report is not None and (added.report.added, added.report.unchanged) == (1, 0)
    assert added.paths == (str(folder / "sub" / "new.md"),)  # only what changed is looked at

    (folder / "a.txt").write_text("The cold room is kept at four degrees, said the quokka.\n")
    wait_for(lambda: "a.txt" in found(settings, "quokka"), "the changed file searchable")
    (changed,) = wait_for(lambda: syncs.touching("a.txt"), "its sync reported")
    assert changed.report is not None
    assert (changed.report.updated, changed.report.added, changed.report.unchanged) == (1, 0, 0)

    (folder / "sub" / "b.md").unlink()
    wait_for(lambda: "b.md" not in rows(settings), "the deleted file gone from the manifest")
    assert found(settings, "launch") == set()
    removed = wait_for(lambda: syncs.touching("b.md"), "its sync reported")[-1]
    assert removed.report is not None and removed.report.removed == 1
    state = watcher.state()
    assert state.syncs == len(syncs.after(0)) and state.files_synced == 2 + 1 + 1 + 1
    assert state.pending == 0 and not state.syncing and not state.polling


def test_a_folder_moved_in_or_out_is_synced(folder: Path, tmp_path: Path, watch: Any) -> None:
    settings = Settings(store=folder / ".docqa")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "one.md").write_text("Walrus notes.\n")
    (outside / "two.txt").write_text("More walrus notes.\n")
    _watcher, _syncs = watch(folder)
    (outside).rename(folder / "moved")
    wait_for(lambda: {"one.md", "two.txt"} <= rows(settings), "a moved-in folder ingested")
    (folder / "moved").rename(tmp_path / "gone")
    wait_for(lambda: not {"one.md", "two.txt"} & rows(settings), "a moved-out folder removed")
    assert rows(settings) == {"a.txt", "b.md"}


def test_a_file_saved_in_pieces_or_renamed_into_place_is_ingested_once(
    folder: Path, settings: Settings, watch: Any
) -> None:
    _watcher, syncs = watch(folder)
    # an editor's atomic save: write a temporary file in pieces, then rename it over the name
    temp = folder / "report.md.tmp"
    with temp.open("w") as handle:
        for piece in ("# Report\n\n", "The albatross ", "counts rose.\n"):
            handle.write(piece)
            handle.flush()
            time.sleep(0.05)
    temp.rename(folder / "report.md")
    # a file written in place in pieces, each before the last has settled
    with (folder / "log.txt").open("w") as handle:
        for piece in ("Pelican ", "sightings ", "doubled.\n"):
            handle.write(piece)
            handle.flush()
            time.sleep(0.08)  # each piece well within QUIET_S of the last
    wait_for(lambda: "report.md" in found(settings, "albatross"), "the saved file searchable")
    wait_for(lambda: "log.txt" in found(settings, "doubled"), "the written file searchable")
    time.sleep(CALM_S)
    for name in ("report.md", "log.txt"):
        (sync,) = syncs.touching(name)  # once, and complete
        assert sync.report is not None
        assert (sync.report.added, sync.report.updated) == (len(sync.paths), 0)
    assert not syncs.touching(".tmp")


@pytest.mark.parametrize("store_name", [".docqa", "docqa-store"])
def test_store_writes_and_temporaries_never_trigger_a_sync(
    folder: Path, store_name: str, watch: Any
) -> None:
    settings = Settings(store=folder / store_name)
    syncs = Syncs()
    watcher = docqa.watch(folder, settings, on_sync=syncs, background=True)
    try:
        time.sleep(CALM_S)
        assert len(syncs.after(0)) == 1  # the initial sync's own writes to the store: nothing
        docqa.ingest(folder / "a.txt", settings)  # another writer changes the store
        (folder / store_name / "notes.md").write_text("Not a document.\n")
        for name in ("a.md~", ".a.md.swp", "#a.md#", ".#a.md", "a.pdf.part", "x.py", ".hid.md"):
            (folder / name).write_text("scratch\n")
        (folder / "a.md~").unlink()
        (folder / "__pycache__").mkdir()
        (folder / "__pycache__" / "c.md").write_text("cache\n")
        time.sleep(CALM_S)
        assert len(syncs.after(0)) == 1, [s.paths for s in syncs.after(1)]
        assert watcher.state().pending == 0
    finally:
        watcher.stop()


def test_the_store_is_free_between_syncs(folder: Path, settings: Settings, watch: Any) -> None:
    """The manifest read every 20 ms also writes in the store's folder: those events must not
    hold a pending file back (each batch wakes the watcher)."""
    _watcher, syncs = watch(folder)
    (folder / "c.txt").write_text("Puffin colony.\n")
    wait_for(lambda: "c.txt" in rows(settings), "the file synced")
    wait_for(lambda: syncs.touching("c.txt"), "its sync reported")
    store = open_store(settings, settings.store, writer=True)  # type: ignore[arg-type]
    try:
        assert store.count() > 0
    finally:
        store.close()


def test_polling_when_asked(folder: Path, settings: Settings, watch: Any) -> None:
    watcher, _syncs = watch(folder, polling=True)
    assert watcher.state().polling
    (folder / "c.txt").write_text("Gannets dive.\n")
    wait_for(lambda: "c.txt" in found(settings, "gannets"), "the file synced by polling")


def test_a_watch_limit_hit_falls_back_to_polling_in_one_line(
    folder: Path, settings: Settings, watch: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watchfiles

    real = watchfiles.watch
    asked: list[bool | None] = []

    def limited(*paths: Any, force_polling: bool | None = None, **kw: Any) -> Any:
        asked.append(force_polling)
        if not force_polling:
            raise OSError(errno.ENOSPC, "OS file watch limit reached.")
        return real(*paths, force_polling=force_polling, **kw)

    monkeypatch.setattr(watchfiles, "watch", limited)
    monkeypatch.delenv("WATCHFILES_FORCE_POLLING", raising=False)
    lines: list[str] = []
    watcher, syncs = watch(folder, on_message=lines.append)
    assert asked == [None, True]
    assert len(lines) == 1 and "polling" in lines[0] and "limit reached" in lines[0]
    state = watcher.state()
    assert state.polling and state.message == lines[0]
    assert [s.full for s in syncs.after(0)] == [True]  # the initial sync, once
    (folder / "c.txt").write_text("Gannets dive.\n")
    wait_for(lambda: "c.txt" in found(settings, "gannets"), "the file synced by polling")


def test_serve_watch_defaults_to_the_ingested_roots(folder: Path, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="nothing to watch"):
        docqa.watch(None, settings, background=True)
    docqa.ingest(folder, settings)
    upload = settings.store / "uploads" / "u.md"  # type: ignore[operator]  (the page's uploads)
    upload.parent.mkdir()
    upload.write_text("Uploaded.\n")
    docqa.ingest(upload, settings)
    watcher = docqa.watch(None, settings, background=True)
    try:
        assert watcher.state().roots == (str(folder),)
    finally:
        watcher.stop()


def test_ingest_only_looks_at_the_paths_named(folder: Path, settings: Settings) -> None:
    docqa.ingest(folder, settings)
    (folder / "a.txt").write_text("Changed: the heron.\n")
    (folder / "sub" / "b.md").unlink()
    (folder / "c.txt").write_text("New: the egret.\n")
    with Session(settings, store_idle_s=0) as session:
        report = session.ingest(folder, only=[str(folder / "c.txt")])
        assert (report.added, report.updated, report.removed, report.unchanged) == (1, 0, 0, 0)
        assert rows(settings) == {"a.txt", "b.md", "c.txt"}  # the rest left as it was
        report = session.ingest(folder, only=[str(folder / "sub")])
        assert (report.added, report.updated, report.removed) == (0, 0, 1)
        report = session.ingest(folder)
        assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 1)


def test_temporary_names() -> None:
    for name in ("x.md~", ".x.md.swp", "x.pdf.part", "x.tmp", ".#x.md", "#x.md#", "~$x.docx"):
        assert watching.temporary(name), name
    for name in ("x.md", "notes.txt", "tmp.md", "part.pdf"):
        assert not watching.temporary(name), name
    assert os.sep == "/"  # the watcher's path keys are POSIX (as the manifest's)


_CLI = """
import sys
from dataclasses import replace
sys.path.insert(0, {repo!r})
from docqa import factories
from tests.fakes import HashEmbedder
fake = HashEmbedder()
identity = (fake.info.name, fake.info.dim, fake.id)
factories.active = replace(
    factories.active, make_embedder=lambda s: fake, embedder_identity=lambda s: identity
)
from docqa.cli import main
sys.argv = ["docqa", *sys.argv[1:]]
main()
"""


def test_cli_ingest_watch_reports_each_sync_and_stops_on_ctrl_c(
    folder: Path, tmp_path: Path
) -> None:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    code = _CLI.format(repo=str(Path(__file__).parents[1]))
    args = ["--store", str(folder / ".docqa"), "ingest", str(folder), "--watch"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=stdout, stderr=stderr, env=env
        )
        try:
            wait_for(lambda: "watching" in err.read_text(), "the watch begun")
            assert "2 added" in out.read_text()  # the first sync, reported as an ingest
            (folder / "c.md").write_text("Terns nest here.\n")
            wait_for(lambda: "1 added" in out.read_text(), "a line for the sync")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(WAIT_S) == 0
        finally:
            proc.kill()
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and lines[1].endswith(" s)") and "synced" in lines[1]
    assert err.read_text().splitlines()[-1] == "stopped"
    assert rows(Settings(store=folder / ".docqa")) == {"a.txt", "b.md", "c.md"}


def test_serve_watch_options_reach_docqa_serve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from docqa.cli import cli

    got: list[tuple[Any, bool]] = []
    monkeypatch.setattr(
        docqa, "serve", lambda *a, watch=None, poll=False, **k: got.append((watch, poll))
    )
    for args in (
        [],
        ["--watch"],
        ["--watch", "docs"],
        ["--watch", "a", "--watch", "b"],
        ["--poll"],
    ):
        result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "serve", *args])
        assert result.exit_code == 0, result.output
    assert got == [
        (None, False),
        (True, False),
        (["docs"], False),
        (["a", "b"], False),
        (True, True),
    ]


def test_a_name_that_is_not_utf8_is_synced_and_watching_goes_on(
    folder: Path, settings: Settings, watch: Any
) -> None:
    _watcher, _syncs = watch(folder)
    with open(os.fsencode(folder) + b"/bad\xffname.md", "w") as handle:  # watchfiles stops on it
        handle.write("Kestrel.\n")
    wait_for(lambda: "bad\\xffname.md" in rows(settings), "the odd name ingested")
    (folder / "c.txt").write_text("Gannets dive.\n")
    wait_for(lambda: "c.txt" in found(settings, "gannets"), "a later file synced")
