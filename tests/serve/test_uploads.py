"""Uploads at the same time: each is written whole to a file of its own and ingested from
exactly the bytes its client sent (real uvicorn, two clients interleaving their bodies)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from docqa.config import store_path

from .conftest import Serve


def _lines(word: str, count: int = 400) -> list[bytes]:
    return [f"{word} line {n} of the {word} upload.\n".encode() for n in range(count)]


def test_two_uploads_of_the_same_name_at_once_never_mix(serve: Serve) -> None:
    server = serve()
    bodies = {"alpha": _lines("alpha"), "omega": _lines("omega")}
    turn = threading.Barrier(2)
    results: dict[str, httpx.Response] = {}

    def send(word: str) -> None:
        def slowly() -> Iterator[bytes]:
            for n, line in enumerate(bodies[word]):
                if n % 50 == 0:  # both clients are mid-body at the same moments
                    turn.wait(10)
                    time.sleep(0.02)
                yield line

        results[word] = httpx.put(
            f"{server.url}/docqa/upload", params={"name": "same.txt"}, content=slowly(), timeout=60
        )

    threads = [threading.Thread(target=send, args=(w,)) for w in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for word, response in results.items():
        assert response.status_code == 200, (word, response.text)
        assert '"report"' in response.text.strip().splitlines()[-1], response.text
    assert set(results) == {"alpha", "omega"}
    uploads = store_path(server.serving.session.settings, create=False) / "uploads"
    kept = (uploads / "same.txt").read_bytes()
    assert kept in (b"".join(bodies["alpha"]), b"".join(bodies["omega"]))
    assert [p.name for p in uploads.iterdir()] == ["same.txt"]  # no leftover part file
    # what the store holds of same.txt is one client's text, never lines of both
    hits = httpx.post(
        f"{server.url}/docqa/search", json={"query": "line of the upload", "k": 50}
    ).json()["hits"]
    texts = [h["text"] for h in hits if h["file"] == "same.txt"]
    words = {w for text in texts for w in ("alpha", "omega") if w in text}
    assert len(words) == 1, words


def test_a_refused_upload_leaves_nothing_behind(serve: Serve, tmp_path: Path) -> None:
    server = serve(upload_limit=1000)
    put = f"{server.url}/docqa/upload"
    assert httpx.put(put, params={"name": "big.md"}, content=b"x" * 2000).status_code == 413
    assert httpx.put(put, params={"name": "x.pdf"}, content=b"not a pdf").status_code == 415
    uploads = store_path(server.serving.session.settings, create=False) / "uploads"
    assert list(uploads.iterdir()) == []
