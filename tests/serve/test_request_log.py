"""``docqa serve`` logs one line per request (method, path, status, model, time to first
token, total, tokens); the page's files stay quiet; a question's text only when asked."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from .conftest import Serve

QUESTION = "How many boats does the station own?"
ASK = {"model": "docqa", "messages": [{"role": "user", "content": QUESTION}]}


def _lines(caplog: pytest.LogCaptureFixture, count: int = 2) -> list[str]:
    """The request lines (each is written just after its response ended: wait for them)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "docqa.serve"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


@pytest.mark.parametrize("stream", [True, False])
def test_one_line_per_request_without_the_question(
    serve: Serve, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    caplog.set_level(logging.INFO, logger="docqa.serve")
    server = serve()
    assert httpx.post(f"{server.url}/v1/chat/completions", json={**ASK, "stream": stream})
    assert httpx.get(f"{server.url}/static/app.js").status_code == 200
    assert httpx.post(f"{server.url}/api/chat", json={**ASK, "stream": stream}).status_code == 200
    lines = _lines(caplog)
    assert len(lines) == 2, lines  # the static file is quiet
    for line, path in zip(lines, ("/v1/chat/completions", "/api/chat"), strict=True):
        assert line.startswith(f"POST {path} 200 model=docqa first_token="), line
        assert " total=" in line and " tokens=" in line, line
        assert "first_token=-" not in line
        assert "boats" not in line
    assert all(QUESTION not in r.getMessage() for r in caplog.records)


def test_errors_and_the_question_when_asked(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="docqa.serve")
    server = serve(log_questions=True)
    httpx.post(f"{server.url}/v1/chat/completions", json=ASK)
    httpx.post(f"{server.url}/v1/chat/completions", json={**ASK, "model": "nope"})
    lines = _lines(caplog)
    assert QUESTION in lines[0]
    assert lines[1].startswith("POST /v1/chat/completions 404 "), lines


def test_the_cli_has_the_flag() -> None:
    from click.testing import CliRunner

    from docqa.cli import cli

    assert "--log-questions" in CliRunner().invoke(cli, ["serve", "--help"]).output
