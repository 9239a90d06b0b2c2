"""LangChain JS ``ChatOpenAI`` (``@langchain/openai`` on Node) against docqa serve's OpenAI face."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import RAG_REPLY, Serve

JS = Path(__file__).parents[1] / "browser"


def test_langchain_js_chat_openai_invokes_and_streams(serve: Serve) -> None:
    why = None
    if shutil.which("node") is None:
        why = "node is not installed"
    elif not (JS / "node_modules" / "@langchain" / "openai").is_dir():
        why = "run `npm ci` in tests/browser"
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    server = serve()
    done = subprocess.run(
        ["node", "langchain.mjs", server.url], cwd=JS, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["invoke"].startswith(RAG_REPLY) and "Sources:" in said["invoke"]
    assert len([p for p in said["pieces"] if p]) > 3
    assert "".join(said["pieces"]) == said["invoke"]
