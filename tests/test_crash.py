"""kill -9 during ingest, then run again: the same points as a clean run, nothing half-done."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from docqa.config import Settings
from docqa.manifest import Manifest
from docqa.stores import open_store

DRIVER = Path(__file__).with_name("crash_driver.py")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import CURATED

    folder = tmp_path_factory.mktemp("data")
    shutil.copy(CURATED / "en_faq_debian-faq.en.pdf", folder / "faq.pdf")
    shutil.copy(CURATED / "md_node_url.md", folder / "url.md")
    (folder / "note.txt").write_text("A short note about the harbour. " * 40)
    return folder


def run(stage: str, data: Path, store: Path) -> tuple[int, str]:
    marker = store.parent / f"marker-{store.name}"
    marker.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, str(DRIVER), stage, str(data), str(store), str(marker)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    reached = marker.read_text() if marker.exists() else ""
    assert proc.returncode in (0, -9), proc.stderr[-2000:]
    return proc.returncode, reached


def snapshot(store: Path) -> dict[str, tuple[dict[str, object], np.ndarray]]:
    s = open_store(Settings(store=store), store)
    try:
        return {p.id: (dict(p.payload), np.array(p.dense)) for p in s.points(with_vectors=True)}
    finally:
        s.close()


@pytest.fixture(scope="module")
def clean(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    store = tmp_path_factory.mktemp("clean") / "store"
    assert run("none", data, store) == (0, "finished")
    return snapshot(store)  # type: ignore[return-value]


@pytest.mark.parametrize("stage", ["after-parse", "mid-embed", "mid-upsert", "optimize"])
def test_kill_then_rerun_equals_clean_run(
    stage: str, data: Path, clean: dict[str, tuple[dict[str, object], np.ndarray]], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    code, reached = run(stage, data, store)
    assert (code, reached) == (-9, stage), "the kill did not happen at the named stage"
    if stage != "after-parse":
        manifest = Manifest(store)
        done = [r for r in manifest.files() if r.status == "done"]
        manifest.close()
        assert len(done) < 3 or stage == "optimize", "a half-ingested file was recorded as done"
    assert run("none", data, store) == (0, "finished")
    again = snapshot(store)
    assert again.keys() == clean.keys()
    for pid, (payload, vector) in again.items():
        assert payload == clean[pid][0]
        assert np.allclose(vector, clean[pid][1], atol=1e-6)


# --- a kill while a file is written: old points stay, half-written ones are never served --------


def write_text(path: Path, word: str, lines: int = 400) -> None:
    """~20 chunks (several 16-point upserts in the driver), each naming ``word``."""
    path.write_text(
        "".join(f"Line {i}: the {word} rests by harbour gate {i}.\n" for i in range(lines))
    )


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    folder = tmp_path / "texts"
    folder.mkdir()
    write_text(folder / "a.txt", "walrus")
    write_text(folder / "b.txt", "pelican")
    return folder


def hits_of(store: Path, word: str) -> list[str]:
    from docqa.api import search

    hits = search(word, Settings(store=store), k=1000, mode="bm25")
    return sorted(h.text for h in hits if word in h.text)


def interrupted(store: Path) -> bool:
    from docqa.api import status

    return (
        "an ingest was interrupted: run `docqa ingest` again to finish"
        in status(Settings(store=store)).warnings
    )


def test_kill_during_an_update_keeps_the_old_version_searchable(
    texts: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert run("none", texts, store) == (0, "finished")
    old = hits_of(store, "walrus")
    assert len(old) > 16 and not interrupted(store)
    write_text(texts / "a.txt", "walrus", lines=420)  # changed: new bytes, new points
    assert run("mid-upsert", texts, store) == (-9, "mid-upsert")
    assert hits_of(store, "walrus") == old, "the old version must stay whole and alone"
    assert interrupted(store)
    assert run("none", texts, store) == (0, "finished")
    new = hits_of(store, "walrus")
    assert new != old and any("gate 419" in t for t in new) and not interrupted(store)


def test_kill_during_a_first_ingest_serves_no_half_written_file(
    texts: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert run("mid-upsert", texts, store) == (-9, "mid-upsert")  # inside a.txt, the first file
    assert hits_of(store, "walrus") == []
    assert interrupted(store)
    assert run("none", texts, store) == (0, "finished")
    assert len(hits_of(store, "walrus")) > 16 and not interrupted(store)
