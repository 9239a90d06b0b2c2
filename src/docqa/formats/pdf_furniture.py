"""Page furniture of a PDF — running headers, running footers and page numbers — left out.

Manuals and books made with LaTeX, Word or LibreOffice print a running header on most pages
("CHAPTER 3. CHOOSING A DEBIAN… 3.1. WHICH DEBIAN DISTRIBUTION…", "Chapter 2: Simple
manipulations; numbers and vectors 9") and a page number. Left in the text, every page starts
with a line about its chapter rather than its content: a page cut at a bookmark near its top
leaves a piece that is only the header, which became a chunk, was retrieved and was sent to the
model as a source that says nothing (7 of 21 Debian FAQ answers of the answers benchmark had
one); every other chunk of the page is embedded with it.

This is the PDF twin of the page chrome the HTML reader leaves out. The rule is narrow, so body
text is not taken for furniture:

- only the first and the last line of a page are candidates;
- a **page number** is a line that is only a number or a roman numeral (``"7"``, ``"vi"``,
  ``"- 7 -"``, ``"Page 7"``, ``"7 / 73"``), left out when such lines stand at that end of at
  least :data:`MIN_PAGES` pages;
- a **running header or footer** is a line of 3 to :data:`MAX_WORDS` words whose first
  :data:`KEY_WORDS` words (case and digits aside) open the line at that end of at least
  :data:`MIN_PAGES` pages — so the headers of one chapter go together even where each names
  a different section;
- and a chapter too short for that (a header on one or two pages) is known by its numbered
  family: when the headers found so far open with "Chapter 3", "Chapter 7"… (two words, one
  a number), a line at that end opening with "Chapter 16" is a header too.

The first page is a title page more often than not, and its title opens like the running
headers that repeat it ("National Hydro Network, Canada, Level 1" above "National Hydro Network,
Data Model – Edition 1.0"): there, only a line repeated word for word counts. Documents under
:data:`MIN_PAGES` pages keep every line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from docqa.language import words

MIN_PAGES = 3
"""A line pattern must open (or close) at least this many pages to count as furniture."""
KEY_WORDS = 3
"""Leading words that identify a running header across the pages of a chapter."""
MAX_WORDS = 20
"""A longer first or last line is text, whatever it starts with."""

_NUMBER_LINE = re.compile(
    r"^[\s\-–—]*(?:page\s+)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:/|of)\s*\d{1,4})?[\s\-–—]*$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")


def _normal(line: str) -> str:
    """A line's words, lowercased, every number as 0."""
    return " ".join(words(_DIGITS.sub("0", line)))


def _key(line: str) -> str | None:
    """The identity of a header line across pages: its first words (as :func:`_normal`)."""
    found = _normal(line).split()
    if not KEY_WORDS <= len(found) <= MAX_WORDS:
        return None
    return " ".join(found[:KEY_WORDS])


def _family(key: str) -> str | None:
    """The first two words of a key when one is a number ("chapter 0"), else None."""
    first_two = key.split()[:2]
    return " ".join(first_two) if "0" in first_two else None


def _ends(text: str) -> tuple[int, int] | None:
    """Indices of a page's first and last non-blank lines in ``text.split("\\n")``; None for
    a page without text."""
    lines = text.split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return None
    return filled[0], filled[-1]


class _Ends:
    """What opens (side 0) and closes (side 1) the pages of one document, counted."""

    def __init__(self, pages: Sequence[list[str]], ends: Sequence[tuple[int, int] | None]) -> None:
        self.numbers: Counter[int] = Counter()
        self.keys: Counter[tuple[int, str]] = Counter()
        self.exact: Counter[tuple[int, str]] = Counter()
        for lines, found in zip(pages, ends, strict=True):
            for side, index in enumerate(found or ()):
                if _NUMBER_LINE.match(lines[index]):
                    self.numbers[side] += 1
                elif (key := _key(lines[index])) is not None:
                    self.keys[side, key] += 1
                    self.exact[side, _normal(lines[index])] += 1
        self.families = Counter(
            (side, family)
            for (side, key), count in self.keys.items()
            if count >= MIN_PAGES and (family := _family(key)) is not None
        )

    def furniture(self, line: str, side: int, first_page: bool) -> bool:
        if _NUMBER_LINE.match(line):
            return self.numbers[side] >= MIN_PAGES
        key = _key(line)
        if key is None:
            return False
        if first_page:
            return self.exact[side, _normal(line)] >= MIN_PAGES
        family = _family(key)
        return self.keys[side, key] >= MIN_PAGES or (
            family is not None and self.families[side, family] >= 2
        )


def strip(texts: Sequence[str]) -> list[str]:
    """``texts`` (one per page) without their running headers, footers and page numbers.

    Only whole lines are removed; every other line is kept as it was.
    """
    if sum(1 for t in texts if t.strip()) < MIN_PAGES:
        return list(texts)
    pages = [t.split("\n") for t in texts]
    ends = [_ends(t) for t in texts]
    counted = _Ends(pages, ends)
    out = []
    for page, (lines, found) in enumerate(zip(pages, ends, strict=True)):
        drop = {
            i for side, i in enumerate(found or ()) if counted.furniture(lines[i], side, page == 0)
        }
        out.append("\n".join(line for i, line in enumerate(lines) if i not in drop))
    return out
