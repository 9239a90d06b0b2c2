"""docqa serve's own page: its assets make no outside request, and in a real headless Chromium
it streams, stops, compares, opens sources, adds files and searches (tests/browser/page.mjs)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from docqa.llm import Message
from docqa.server.page import STATIC

from .conftest import Serve, SlowLLM, reply

BROWSER = Path(__file__).parents[1] / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium-headless-shell")


def test_page_assets_name_no_outside_address() -> None:
    for asset in STATIC.iterdir():
        text = asset.read_text()
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), asset.name
        assert "innerHTML = " not in text.replace("innerHTML = renderMarkdown(", "")


def _story_or_reply(messages: Sequence[Message]) -> str:
    if "long story" in messages[-1].content:
        return " ".join(["word"] * 300) + " [1]."
    return reply(messages)


def browser_ready() -> str | None:
    """Why the browser test cannot run here, or None (in CI it must: .ci/run installs both)."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (BROWSER / "node_modules" / "puppeteer-core").is_dir():
        return "run `npm ci` in tests/browser"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium-headless-shell)"
    return None


def run_page(
    url: str, screenshot: Path | None, mode: str = "full", key: str | None = None
) -> dict[str, object]:
    shot = str(screenshot) if screenshot else ""
    extra = {"DOCQA_KEY": key} if key else {}
    done = subprocess.run(
        ["node", "page.mjs", url, shot, mode],
        cwd=BROWSER,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CHROMIUM": CHROMIUM, **extra},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_page_in_headless_chromium(serve: Serve, tmp_path: Path) -> None:
    why = browser_ready()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    server = serve(SlowLLM(delay=0.02, default=_story_or_reply))
    report = run_page(server.url, tmp_path / "page.png")
    assert report["opened"] and "/documents/" in str(report["opened"])
    assert report["label"] == "docqa · scripted-1"  # the model that answered
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_page_with_an_api_key_of_plus_slash_equals(serve: Serve) -> None:
    why = browser_ready()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    server = serve(api_key="a+b/c==")  # the page keeps it percent-encoded in its cookie
    report = run_page(server.url, None, "quick", key="a+b/c==")
    assert report["label"] == "docqa · scripted-1"
    assert "boats" in str(report["answer"])
