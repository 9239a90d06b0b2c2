"""Markdown: sections by ATX and setext headings (fences and front matter respected), each with
its heading path and 1-based line range."""

from __future__ import annotations

import re

from docqa.formats.text import split_lines
from docqa.types import Section

MARKDOWN_VERSION = 1
"""Bump when the Markdown sections change, so ingest re-parses Markdown files."""

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines that start some other block, so they cannot be a setext heading's text.
_NOT_PARAGRAPH = re.compile(
    r"^(?: {4}|\t| {0,3}(?:[-*+][ \t]|\d{1,9}[.)][ \t]|[>|<]|(?:[-*_][ \t]*){3,}$))"
)


def markdown_sections(text: str) -> tuple[Section, ...]:
    """Split Markdown into sections at ATX (``#``) and setext (``===``/``---``) headings.

    Args:
        text: Markdown with ``\\n`` newlines.

    Returns:
        Sections in order whose texts concatenate back to ``text``. Each holds its heading line,
        its heading path (outermost first) and its 1-based inclusive line range; text before
        the first heading is a section with an empty heading path.
    """
    lines = split_lines(text)
    headings = _headings(lines)
    sections: list[Section] = []
    first = headings[0][0] if headings else len(lines)
    if first > 0:
        sections.append(Section(text="".join(lines[:first]), first_line=1, last_line=first))
    stack: list[tuple[int, str]] = []
    for k, (start, level, title) in enumerate(headings):
        end = headings[k + 1][0] if k + 1 < len(headings) else len(lines)
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = tuple(t for _, t in stack if t)
        body = "".join(lines[start:end])
        sections.append(Section(text=body, heading=path, first_line=start + 1, last_line=end))
    return tuple(sections)


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """``(first line index, level, title)`` of each heading outside code blocks."""
    found: list[tuple[int, int, str]] = []
    fence: str | None = None
    paragraph = 0  # paragraph lines in a row just before this line
    for i in range(_front_matter_end(lines), len(lines)):
        line = lines[i].rstrip("\n")
        fence, in_code = _fence_state(line, fence)
        atx = None if in_code else _ATX.match(line)
        setext = None if in_code or paragraph != 1 else _SETEXT.match(line)
        if atx:
            found.append((i, len(atx.group(1)), (atx.group(2) or "").strip()))
        elif setext:
            found.append((i - 1, 1 if setext.group(1)[0] == "=" else 2, lines[i - 1].strip()))
        is_text = not (in_code or atx or setext) and line.strip() != ""
        paragraph = paragraph + 1 if is_text and not _NOT_PARAGRAPH.match(line) else 0
    return found


def _fence_state(line: str, fence: str | None) -> tuple[str | None, bool]:
    """The open fence after ``line`` and whether ``line`` belongs to a code block."""
    if fence is None:
        match = _FENCE.match(line)
        if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
            return None, False
        return match.group(1), True
    closing = _FENCE.match(line)
    if (
        closing
        and closing.group(1)[0] == fence[0]
        and len(closing.group(1)) >= len(fence)
        and not closing.group(2).strip()
    ):
        return None, True
    return fence, True


def _front_matter_end(lines: list[str]) -> int:
    """Index after a leading YAML front-matter block, so its keys are not read as headings."""
    if not lines or lines[0].rstrip() != "---":
        return 0
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return i + 1
    return 0
