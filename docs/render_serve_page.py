"""Renders docs/serve_page.png: docqa serve's page answering one question, in headless Chromium.

Run from the repository root after ``make install``, ``apt-get install chromium-headless-shell``
and ``npm ci`` in tests/browser::

    .venv/bin/python docs/render_serve_page.py

It ingests ``data/`` into a temporary store, serves it with SmolLM2-135M in-process (64 answer
tokens) and has tests/browser/page.mjs ask the question of ``make demo``; the answer's label
names the model that produced it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import docqa  # noqa: E402
from docqa.server import start  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "serve_page.png"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = docqa.Settings(store=Path(tmp) / "store", llm="gguf", max_tokens=64)
        docqa.ingest(REPO / "data", settings)
        with start(settings) as server:
            done = subprocess.run(
                ["node", "page.mjs", server.url, str(OUT), "quick"],
                cwd=REPO / "tests" / "browser",
                capture_output=True,
                text=True,
                timeout=600,
            )
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    print(done.stdout.strip().splitlines()[-1])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
