"""Text, Markdown and HTML of docqa's records: hits, answers, comparisons, ingest reports and store
status (an evaluation report draws its own tables, :mod:`docqa.evaluation.report`, with the
escaping and :data:`Table` shape from here). The records' ``summary``, ``_repr_markdown_`` and
``_repr_html_`` (what Jupyter shows) and the CLI's output all come from here.

One location format (decided once): ``file p. N`` for a PDF page, else ``file § a > b (line N)``
with the heading path and the first line when known (:func:`locate`).

The records are named by what is drawn of them (:mod:`docqa.shapes`), not imported: they import
this module.
"""

from __future__ import annotations

import html
import os
import re
import textwrap
from collections.abc import Sequence
from itertools import zip_longest

from docqa.shapes import (
    Answer,
    Citation,
    Comparison,
    Hit,
    IngestReport,
    SentenceSupport,
    StoreStatus,
)

Table = tuple[str, list[str], list[list[str]]]  # title, header, rows of cells

SIDE_BY_SIDE_MIN = 120
"""Terminal columns from which a comparison shows the two answers side by side."""
SNIPPET_CHARS = 300
_BACKGROUND = {"supported": "#c8f0c8", "similar": "#fff1a8"}


# --- escaping: text from documents and models is data, never markup or terminal commands -----

# C0 and C1 controls but tab and newline (ESC starts terminal sequences that retitle the window,
# move the cursor or hide text; CR overwrites a line), and the bidirectional overrides that make
# a line read differently from what it holds.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAK = re.compile(r"[\n\t\u2028\u2029]")
# What Markdown reads as syntax; a backslash makes any ASCII punctuation literal (CommonMark).
# ``&``, ``<`` and ``>`` are left to html.escape: raw HTML (``<script>``, ``<img onerror>``)
# and ``![](http://...)`` images that a notebook would fetch must stay text.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """``text`` safe to print: control characters shown as ``\\xNN``, lines kept."""
    return _CONTROL.sub(_visible, text)


def one_line(text: str) -> str:
    """``text`` safe to print on one line (a file name): line breaks shown as ``\\xNN`` too."""
    return _LINE_BREAK.sub(_visible, terminal(text))


def markdown(text: str) -> str:
    """``text`` as literal Markdown: no emphasis, link, image, code or raw HTML survives."""
    return html.escape(_MARKDOWN.sub(r"\\\1", text), quote=False)


# --- places --------------------------------------------------------------------------------


def shown_path(path: str) -> str:
    """``path`` relative to the current folder when it lies inside it, on one line."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return one_line(path)
    return one_line(path if rel.startswith("..") else rel)


def locate(file: str, page: int | None, heading: Sequence[str], first_line: int | None) -> str:
    """``file p. N`` for PDFs, ``file § a > b (line N)`` for text, Markdown, HTML and DOCX."""
    if page is not None:
        return f"{file} p. {page}"
    parts = [file]
    if heading:
        parts.append("§ " + " > ".join(one_line(h) for h in heading))
    if first_line is not None:
        parts.append(f"(line {first_line})")
    return " ".join(parts)


def source_lines(hits: Sequence[Hit], skip: Sequence[int] = ()) -> list[str]:
    """``[n] file p. N`` for each hit numbered from 1, leaving out the numbers in ``skip``."""
    return [
        f"[{n}] {locate(shown_path(h.file), h.page, h.heading, h.first_line)}"
        for n, h in enumerate(hits, 1)
        if n not in skip
    ]


# --- hits ----------------------------------------------------------------------------------


def hit_line(rank: int, hit: Hit) -> str:
    """One line of ``docqa search``: rank, score, cosine, place and the start of the text."""
    cos = f" (cos {hit.dense_score:.2f})" if hit.dense_score is not None else ""
    place = locate(shown_path(hit.file), hit.page, hit.heading, hit.first_line)
    return f"{rank}. {hit.score:.4f}{cos} {place}  {one_line(' '.join(hit.text.split())[:100])}"


def hit_html(hit: Hit) -> str:
    """A hit for a notebook: its place, score and a snippet."""
    cosine = "" if hit.dense_score is None else f", cosine {hit.dense_score:.3f}"
    snippet = " ".join(hit.text.split())
    snippet = snippet[:SNIPPET_CHARS] + ("…" if len(snippet) > SNIPPET_CHARS else "")
    place = locate(shown_path(hit.file), hit.page, hit.heading, hit.first_line)
    return (
        f"<div><b>{html.escape(place)}</b> "
        f"<small>(score {hit.score:.4f}{cosine})</small>"
        f"<blockquote>{html.escape(snippet)}</blockquote></div>"
    )


# --- ingest and status ---------------------------------------------------------------------


def ingest_summary(report: IngestReport) -> str:
    """One line: counts of what happened."""
    return (
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.failed)} failed, {report.skipped} skipped "
        f"({report.chunks} chunks, {report.seconds:.1f} s)"
    )


def ingest_markdown(report: IngestReport) -> str:
    """The summary and a table of the failed files."""
    rows = "\n".join(
        f"| {markdown(one_line(p))} | {markdown(one_line(r))} |" for p, r in report.failed
    )
    failed = f"\n\n| failed file | reason |\n|---|---|\n{rows}" if rows else ""
    store = markdown(one_line(report.store))
    return f"**docqa ingest** into {store}: {ingest_summary(report)}{failed}"


def ingest_html(report: IngestReport) -> str:
    """The summary and a table of the failed files, as HTML."""
    rows = "".join(
        f"<tr><td><code>{html.escape(p)}</code></td><td>{html.escape(r)}</td></tr>"
        for p, r in report.failed
    )
    table = f"<table><tr><th>failed file</th><th>reason</th></tr>{rows}</table>" if rows else ""
    return (
        f"<p><b>docqa ingest</b> into <code>{html.escape(report.store)}</code>: "
        f"{html.escape(ingest_summary(report))}</p>{table}"
    )


def _status_rows(status: StoreStatus, roots: Sequence[str]) -> list[tuple[str, str]]:
    return [
        ("store", f"{status.store} ({status.backend})"),
        ("files", f"{status.files} ({status.failed} failed)"),
        ("chunks", f"{status.chunks} ({status.points} points)"),
        ("embedder", f"{status.embed_model} ({status.dim}-d)"),
        *((("embeds with", status.embed_backend),) if status.embed_backend else ()),
        ("fingerprint", status.fingerprint),
        ("size", f"{status.size_bytes / 1e6:.1f} MB"),
        *(("roots", r) for r in roots),
        *(("warning", w) for w in status.warnings),
        *(("failed", f"{f.path}: {f.reason}") for f in status.failures),
    ]


def status_summary(status: StoreStatus) -> str:
    """A few lines for the terminal."""
    roots = [", ".join(status.roots)] if status.roots else []
    rows = _status_rows(status, roots)
    return "\n".join(f"{f'{key}:':<13}{one_line(value)}" for key, value in rows)


def status_markdown(status: StoreStatus) -> str:
    """The status as a Markdown list."""
    rows = _status_rows(status, status.roots)
    return "\n".join(f"- **{key}**: {markdown(one_line(value))}" for key, value in rows)


def status_html(status: StoreStatus) -> str:
    """The status as an HTML table."""
    cells = "".join(
        f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _status_rows(status, status.roots)
    )
    return f"<table>{cells}</table>"


# --- answers -------------------------------------------------------------------------------


def citation_locator(citation: Citation) -> str:
    """``[n] file p. N`` or ``[n] file § heading (line N)``, the path relative when possible,
    then the support marks of the sentences citing it (``✓``, ``~``); "(found by docqa)" after a
    source the model did not cite (see ``Citation.attributed``)."""
    place = locate(shown_path(citation.file), citation.page, citation.heading, citation.first_line)
    marks = f" {citation.marks}" if citation.marks else ""
    found = " (found by docqa)" if citation.attributed else ""
    return f"[{citation.n}] {place}{marks}{found}"


def citation_html(citation: Citation) -> str:
    """The citation's place and quote, as HTML."""
    return (
        f"<p><b>{html.escape(citation_locator(citation))}</b></p>"
        f"<blockquote>{html.escape(citation.quote)}</blockquote>"
    )


def citation_markdown(citation: Citation) -> str:
    """The citation's place and quote, as Markdown."""
    return f"**{markdown(citation_locator(citation))}**: {markdown(citation.quote)}"


def support_markdown(support: SentenceSupport) -> str:
    """A sentence led by its support mark, the reason after it."""
    return f"{support.mark} {markdown(support.sentence)} ({markdown(support.reason)})"


def answer_markdown(answer: Answer) -> str:
    """The text, the sources given to the model, the warnings."""
    sources = "\n".join(f"- {markdown(s)}" for s in answer.sources())
    notes = "\n".join(f"> ⚠ {markdown(w)}" for w in answer.warnings)
    return "\n\n".join(p for p in (markdown(answer.text), sources, notes) if p)


def answer_html(answer: Answer) -> str:
    """The text, the sources given to the model, the warnings, as HTML."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in answer.sources())
    notes = "".join(f"<p><i>⚠ {html.escape(w)}</i></p>" for w in answer.warnings)
    body = html.escape(answer.text).replace("\n", "<br>")
    sources = f"<ol style='list-style:none'>{items}</ol>" if items else ""
    return f"<p>{body}</p>{sources}{notes}"


def answer_sources(answer: Answer) -> list[str]:
    """What follows an answer's text in the terminal: the cited sources, else all given."""
    return [citation_locator(c) for c in answer.citations] or [
        one_line(s) for s in answer.sources()
    ]


# --- comparisons ---------------------------------------------------------------------------


def _support_html(marks: Sequence[SentenceSupport], fallback: str) -> str:
    if not marks:
        return html.escape(fallback).replace("\n", "<br>")
    spans = []
    for m in marks:
        color = _BACKGROUND.get(m.status)
        style = f" style='background:{color}'" if color else ""
        spans.append(
            f"<span{style} title='{html.escape(m.reason, quote=True)}'>"
            f"{html.escape(m.sentence)}</span>"
        )
    return " ".join(spans)


def comparison_markdown(result: Comparison) -> str:
    """Both answers, each sentence led by its support mark, then the sources."""

    def column(title: str, marks: Sequence[SentenceSupport], text: str) -> str:
        body = "\n".join(f"- {m.mark} {markdown(m.sentence)}".replace("-   ", "- ") for m in marks)
        return f"**{title}**\n\n{body or markdown(text)}"

    sources = "\n".join(f"- {markdown(s)}" for s in source_lines(result.hits))
    return "\n\n".join(
        [
            f"### {markdown(one_line(result.question))}",
            column("Model only", result.baseline_support, result.baseline.text),
            column("With documents", result.rag_support, result.rag.text),
            f"**Sources** (✓ supported, ~ similar)\n\n{sources}" if sources else "",
        ]
    ).strip()


def comparison_html(result: Comparison) -> str:
    """Both answers side by side, supported sentences highlighted, then the sources."""
    sources = "".join(f"<li>{html.escape(s)}</li>" for s in source_lines(result.hits))
    cell = "style='vertical-align:top;text-align:left;width:50%'"
    legend = (
        f"<span style='background:{_BACKGROUND['supported']}'>supported</span> "
        f"<span style='background:{_BACKGROUND['similar']}'>similar</span> (hover for why)"
    )
    return (
        f"<p><b>{html.escape(result.question)}</b></p><table>"
        f"<tr><th {cell}>baseline (model only)</th><th {cell}>with documents</th></tr>"
        f"<tr><td {cell}>{_support_html(result.baseline_support, result.baseline.text)}</td>"
        f"<td {cell}>{_support_html(result.rag_support, result.rag.text)}</td></tr></table>"
        f"<p>{legend}</p><ol style='list-style:none'>{sources}</ol>"
    )


def _marked_lines(marks: Sequence[SentenceSupport], fallback: str, width: int) -> list[str]:
    """Each sentence wrapped to ``width``, led by its mark (✓ supported, ~ similar)."""
    if not marks:
        return textwrap.wrap(terminal(fallback), width) or [""]
    lines: list[str] = []
    for m in marks:
        lead = f"{m.mark} "
        sentence = terminal(m.sentence)
        lines += textwrap.wrap(sentence, width, initial_indent=lead, subsequent_indent="  ")
    return lines


def comparison_text(result: Comparison, columns: int) -> str:
    """Both answers, side by side on a wide terminal, else one after the other, then sources."""
    side = columns >= SIDE_BY_SIDE_MIN
    width = (columns - 3) // 2 if side else max(40, columns)
    left = ["MODEL ONLY", *_marked_lines(result.baseline_support, result.baseline.text, width)]
    right = ["WITH DOCUMENTS", *_marked_lines(result.rag_support, result.rag.text, width)]
    if side:
        rows = zip_longest(left, right, fillvalue="")
        body = [f"{a:<{width}} | {b}".rstrip() for a, b in rows]
    else:
        body = [*left, "", *right]
    sources = source_lines(result.hits)
    legend = "✓ supported by a source, ~ similar to one"
    return "\n".join([*body, "", *(["Sources:", *sources, ""] if sources else []), legend])
