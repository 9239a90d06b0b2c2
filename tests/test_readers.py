"""Readers keep answering while an ingest writes: no lock-out, never a half-updated file."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from docqa.api import search, status
from docqa.config import Settings

DRIVER = Path(__file__).with_name("crash_driver.py")
FILES = 6


def write(folder: Path, version: str) -> None:
    """Six files of ~10 chunks each; every line names the file's version."""
    for i in range(FILES):
        lines = (
            f"Line {n} of file {i}, {version} edition, about harbour gate {n}.\n"
            for n in range(200)
        )
        (folder / f"f{i}.txt").write_text("".join(lines))


def ingest(stage: str, data: Path, store: Path, marker: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), stage, str(data), str(store), str(marker)],
        stderr=subprocess.PIPE,
        text=True,
    )


def versions(store: Path) -> tuple[dict[str, set[str]], dict[str, int]]:
    """Per file: the versions its hits come from, and how many hits it has."""
    seen: dict[str, set[str]] = defaultdict(set)
    count: dict[str, int] = defaultdict(int)
    for hit in search("edition harbour", Settings(store=store), k=1000, mode="bm25"):
        seen[Path(hit.file).name].add("old" if "old edition" in hit.text else "new")
        count[Path(hit.file).name] += 1
    return seen, count


def test_search_and_status_answer_throughout_an_ingest(tmp_path: Path) -> None:
    data, store, marker = tmp_path / "data", tmp_path / "store", tmp_path / "marker"
    data.mkdir()
    write(data, "old")
    first = ingest("none", data, store, marker)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    _, before = versions(store)
    assert len(before) == FILES
    write(data, "new")  # same number of chunks per file, other words
    proc = ingest("slow", data, store, marker)
    started, rounds = time.monotonic(), 0
    try:
        while proc.poll() is None:
            seen, count = versions(store)  # raises StoreLockedError if locked out
            assert set(seen) == set(before), "a file dropped out of search"
            for name, got in seen.items():
                assert len(got) == 1, f"{name} mixes its old and new chunks"
                assert count[name] == before[name], f"{name} is half there"
            status(Settings(store=store))
            rounds += 1
    finally:
        _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    assert rounds >= 5, "the ingest ended before the readers could try it"
    # Readers searching back to back do not starve the writer (alone it takes ~3 s here).
    assert time.monotonic() - started < 60
    seen, count = versions(store)
    assert seen and all(v == {"new"} for v in seen.values()) and count == before
