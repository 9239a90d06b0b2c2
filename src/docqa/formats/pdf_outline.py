"""Heading paths for PDF text, from the PDF's outline (its bookmarks).

Manuals and FAQs made with LaTeX, Word or LibreOffice carry an outline: one bookmark per
chapter and section, with the page it points to. Each page is cut where one of its bookmarks'
titles starts a line, and every piece gets the heading path open at that point, so a chunk is
embedded with "Chapter > Section" above it, as Markdown chunks are. Questions are often
phrased like section titles, so this helps both the dense and the BM25 ranking
(benchmarks/README.md). The pieces tile the page: no text is added or lost, and the locator
stays the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from docqa.language import words
from docqa.types import Section

MAX_DEPTH = 6
# A piece shorter than this is a title line ("Chapter 1") or a stub: it joins the next piece
# rather than becoming a chunk of its own.
MIN_PIECE_WORDS = 8
# So does a longer piece with fewer than this many words that are neither numbers nor words of a
# title open there:
# a chapter's title page ("Chapter 5 / Software available in the Debian system").
MIN_BODY_WORDS = 3


@dataclass(frozen=True)
class Mark:
    """One bookmark: its 0-based page, nesting level (0 = top) and title."""

    page: int
    level: int
    title: str


def read_outline(document: Any) -> list[Mark]:
    """The bookmarks of an open ``pypdfium2.PdfDocument`` that point at a page, in order.

    A broken outline is no reason to lose the text: it yields the bookmarks read so far.
    """
    marks: list[Mark] = []
    try:
        for item in document.get_toc(max_depth=MAX_DEPTH):
            dest = item.get_dest()
            page = dest.get_index() if dest is not None else None
            title = " ".join(str(item.get_title() or "").split())
            if page is not None and title:
                marks.append(Mark(int(page), int(item.level), title))
    except Exception:  # pypdfium2 raises several types for damaged outlines
        return marks
    return marks


def _find_title(text: str, title: str, cursor: int) -> re.Match[str] | None:
    """The title's words in order with anything but word characters between them; as written
    first, then in any case (running headers repeat titles in capitals)."""
    words = re.findall(r"\w+", title)
    if not words:
        return None
    body = r"\W+".join(re.escape(w) for w in words)
    return re.compile(body).search(text, cursor) or re.compile(body, re.I).search(text, cursor)


def _cut_at(text: str, title: str, cursor: int) -> int:
    """Where the section titled ``title`` starts in ``text`` at or after ``cursor``: the start of
    the line holding the title, or ``cursor`` when the title is not found."""
    found = _find_title(text, title, cursor)
    if found is None:
        return cursor
    return max(cursor, text.rfind("\n", 0, found.start()) + 1)


def _is_stub(piece: str, titles: Iterable[str]) -> bool:
    """A piece too short to stand alone, or made of nothing but title words and numbers."""
    found = words(piece)
    if len(found) < MIN_PIECE_WORDS:
        return True
    known = {w for title in titles for w in words(title)}
    body = [w for w in found if w not in known and not w.isdigit()]
    return len(body) < MIN_BODY_WORDS


def _path(stack: Sequence[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(title for _, title in stack)


def _push(stack: list[tuple[int, str]], mark: Mark) -> None:
    while stack and stack[-1][0] >= mark.level:
        stack.pop()
    stack.append((mark.level, mark.title))


def sections(
    texts: Sequence[str], marks: Iterable[Mark], captions: dict[int, str] | None = None
) -> tuple[Section, ...]:
    """Page texts cut at their bookmarks, each piece under the heading path open there.

    Args:
        texts: Text of each page, in order.
        marks: Bookmarks from :func:`read_outline`.
        captions: Table captions by 0-based page, added at the end of that page's headings.

    Returns:
        Sections with 1-based ``page``; blank pieces are left out; stubs (pieces under
        :data:`MIN_PIECE_WORDS` words, or with fewer than :data:`MIN_BODY_WORDS` words outside
        the titles open there) go with the next piece on their page.
    """
    captions = captions or {}
    by_page: dict[int, list[Mark]] = {}
    for mark in marks:
        by_page.setdefault(mark.page, []).append(mark)
    stack: list[tuple[int, str]] = []
    out: list[Section] = []
    for index, text in enumerate(texts):
        extra = (captions[index],) if captions.get(index) else ()
        start, path = 0, _path(stack)
        for mark in by_page.get(index, []):
            cut = _cut_at(text, mark.title, start)
            titles = [m.title for m in by_page[index]] + list(path)
            if not _is_stub(text[start:cut], titles):
                out.append(Section(text[start:cut], page=index + 1, heading=path + extra))
                start = cut
            _push(stack, mark)
            path = _path(stack)
        if text[start:].strip():
            out.append(Section(text[start:], page=index + 1, heading=path + extra))
    return tuple(out)
