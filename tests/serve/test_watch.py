"""``docqa serve --watch``: the server keeps its folders in sync, and its status says so."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from docqa.config import Settings

from ..fakes import HashEmbedder
from .conftest import Serve


def _status(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{url}/docqa/status").json()
    return data


def test_the_status_shows_the_sync_and_the_new_file_is_searchable(
    serve: Serve, corpus: tuple[Settings, HashEmbedder]
) -> None:
    server = serve(watch=True)
    docs = Path(_status(server.url)["watch"]["roots"][0])
    assert docs.name == "docs" and _status(server.url)["files"] == 2
    (docs / "gulls.md").write_text("# Gulls\n\nThe kittiwake colony counts forty pairs.\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the store has it, then the watcher's state says so
        status = _status(server.url)
        if status["files"] == 3 and status["watch"]["files_synced"]:
            break
        time.sleep(0.05)
    watch = status["watch"]
    assert status["files"] == 3 and watch["files_synced"] == 1 and watch["syncs"] in (1, 2)
    assert watch["last_sync"] and "1 added" in watch["last"] and not watch["polling"]
    hits = httpx.post(f"{server.url}/docqa/search", json={"query": "kittiwake", "k": 1}).json()
    assert "gulls.md" in str(hits)


def test_without_watch_the_status_says_none(serve: Serve) -> None:
    assert _status(serve().url)["watch"] is None
