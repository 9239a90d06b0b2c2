"""Run an ingest in this process and SIGKILL it at a named stage (used by test_crash.py).

usage: python crash_driver.py STAGE DATA STORE MARKER

Stages: after-parse (2nd file parsed), mid-embed (2nd embedding batch), mid-upsert (2nd upsert
call, after it wrote), optimize (while optimize runs), none (run to the end), slow (no kill: each
8 texts embedded take 0.1 s, and MARKER says "embedding" from the first one on). Before the kill
the driver writes STAGE into MARKER, so the test can assert the stage was reached. Upserts are
16 points each, so a file of more than 16 chunks takes several.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import time  # noqa: E402

from docqa import parsing, writing  # noqa: E402
from docqa.api import ingest  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.stores import edge  # noqa: E402
from tests.fakes import HashEmbedder  # noqa: E402

STAGE, DATA, STORE, MARKER = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
calls: dict[str, int] = {}


def die(stage: str) -> None:
    MARKER.write_text(stage)
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(owner: Any, name: str, stage: str, nth: int, before: bool = False) -> None:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[name] = calls.get(name, 0) + 1
        if before and calls[name] == nth:
            die(stage)
        result = original(*args, **kwargs)
        if calls[name] == nth:
            die(stage)
        return result

    setattr(owner, name, wrapper)


class SlowEmbedder(HashEmbedder):
    """Small batches so there are several embedding calls per file."""


writing.UPSERT_BATCH = 16
if STAGE == "slow":
    original_embed = SlowEmbedder.embed_documents

    def slow_embed(self: Any, texts: Any) -> Any:
        MARKER.write_text("embedding")
        # 0.1 s per 8 texts, as a real embedder's batches: ingest groups small files into one
        # call, and a fixed 0.1 s per call would let the whole run end within a test's waits
        time.sleep(0.1 * max(1, len(texts) // 8))
        return original_embed(self, texts)

    SlowEmbedder.embed_documents = slow_embed  # type: ignore[method-assign]

if STAGE == "after-parse":
    wrap(parsing, "parse", STAGE, 2)
elif STAGE == "mid-embed":
    wrap(SlowEmbedder, "embed_documents", STAGE, 2, before=True)
elif STAGE == "mid-upsert":
    wrap(edge.EdgeStore, "upsert", STAGE, 2)
elif STAGE == "optimize":
    original = edge.EdgeStore.optimize

    def optimize(self: Any) -> None:
        MARKER.write_text(STAGE)
        subprocess.Popen(["sh", "-c", f"sleep 0.02; kill -9 {os.getpid()}"])
        original(self)
        die(STAGE)  # optimize finished before the kill landed: kill now, still inside the run

    edge.EdgeStore.optimize = optimize  # type: ignore[method-assign]

ingest(DATA, Settings(store=STORE, embed_batch_size=2), embedder=SlowEmbedder())
MARKER.write_text("finished")
