"""Text from documents and models is shown as text: never markup in a notebook, never commands
to the terminal, and a file name always stays on one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from docqa import render
from docqa.cli import cli
from docqa.types import Answer, Citation, Comparison, Hit, SentenceSupport

from .fakes import ScriptedLLM, install_hash_embedder, install_llm

HOSTILE = (
    "Boats <script>alert(1)</script> and <img src=x onerror=alert(2)> "
    "![pixel](http://tracker.example/p.png) [click](javascript:alert(3)) **bold** `code`"
)
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\rover\u202egnp.exe"


def _tags(markdown_text: str) -> set[str]:
    """The HTML tags a CommonMark renderer (as Jupyter's) makes of ``markdown_text``."""
    rendered = MarkdownIt("commonmark").render(markdown_text)
    return {t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", rendered)}


def _hit(text: str, file: str = "/docs/hostile.md") -> Hit:
    return Hit(chunk_id="c1", file=file, page=None, text=text, score=0.9, dense_score=0.8)


def _answer(text: str) -> Answer:
    hit = _hit(HOSTILE)
    citation = Citation(n=1, file=hit.file, page=None, quote=HOSTILE, chunk_id="c1")
    return Answer(question="q <b>?</b>", text=text, citations=(citation,), hits=(hit,))


def test_markdown_escape_keeps_the_text_and_makes_no_markup() -> None:
    rendered = MarkdownIt("commonmark").render(render.markdown(HOSTILE))
    assert _tags(render.markdown(HOSTILE)) == {"p"}
    for word in ("<script>", "onerror=alert(2)", "![pixel](http://tracker.example/p.png)"):
        assert word.replace("<", "&lt;").replace(">", "&gt;") in rendered


def test_notebook_markdown_of_every_record_is_inert() -> None:
    answer = _answer(f"The station owns two boats [1]. {HOSTILE}")
    comparison = Comparison(
        question=HOSTILE,
        baseline=_answer(HOSTILE),
        rag=answer,
        hits=answer.hits,
        baseline_support=(SentenceSupport(HOSTILE, "unsupported", None, 0.1, "no source"),),
        rag_support=(SentenceSupport(HOSTILE, "supported", 1, 0.9, "[1] says it"),),
    )
    shown = {
        "answer": answer._repr_markdown_(),
        "comparison": comparison._repr_markdown_(),
        "citation": answer.citations[0]._repr_markdown_(),
        "support": comparison.rag_support[0]._repr_markdown_(),
    }
    allowed = {"p", "strong", "ul", "li", "h3", "blockquote"}
    for name, text in shown.items():
        assert _tags(text) <= allowed, (name, _tags(text))
        assert "tracker.example" in text, name  # shown, as text


def test_terminal_lines_carry_no_control_characters() -> None:
    hit = _hit(f"Boats. {ESCAPES}", file=f"/docs/two\nlines{ESCAPES}.md")
    line = render.hit_line(1, hit)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", line)
    assert "\\x1b]0;pwned\\x07" in line and "two\\x0alines" in line
    assert "\n" not in render.source_lines([hit])[0]


def test_cli_search_and_ask_print_no_terminal_sequences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_hash_embedder(monkeypatch)
    monkeypatch.setenv("DOCQA_RELEVANCE_FLOOR", "-1")  # the hashed fake's cosines are low
    install_llm(monkeypatch, lambda settings, backend: ScriptedLLM(f"Boats {ESCAPES} [1]."))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boats.txt").write_text(f"The station owns two boats. {ESCAPES}\n")
    store = str(tmp_path / "store")
    runner = CliRunner()
    assert runner.invoke(cli, ["--store", store, "ingest", str(docs)]).exit_code == 0
    for args in (["search", "boats station"], ["ask", "boats station"]):
        result = runner.invoke(cli, ["--store", store, *args])
        assert result.exit_code == 0, result.output
        assert "pwned" in result.stdout, args  # the text is there ...
        assert "\x1b" not in result.output and "\x07" not in result.output, args  # ... inert
        assert "\u202e" not in result.output, args


def test_error_with_a_newline_in_a_path_is_one_line(tmp_path: Path) -> None:
    odd = tmp_path / "no\nsuch"
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "ingest", str(odd)])
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
