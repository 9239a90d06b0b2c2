"""The passages an answer prompt holds: the relevant hits, less what cannot help, sent once.

Two things retrieval returns often and answers never use (measured on the Debian FAQ and the R
manual, ``benchmarks/answers.py``):

- *contents pages*: a table of contents names every section, so it matches most questions on
  words alone (a contents chunk was among the relevant hits of 16 of 18 Debian FAQ tune
  questions) while it answers none of them;
- *overlapping neighbours*: consecutive chunks of one page share ``chunk_overlap`` tokens, so two
  of them in the prompt send that text twice, cut in two sources.

:func:`passages` drops the first and joins the second into one source, keeping rank order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from docqa.types import Hit

_CONTENTS_LINE = re.compile(r"(?:\.\s?){4,}\s*\d+\s*$")  # "4.3 How compatible … . . . . 14"
CONTENTS_MIN_LINES = 3
CONTENTS_SHARE = 0.4
"""A chunk is a contents page when at least this share of its lines (and 3) are entries."""
MIN_OVERLAP = 24
"""Characters two chunks must share (the end of one starting the other) to be neighbours."""


def is_contents(text: str) -> bool:
    """Whether ``text`` reads as a table of contents: lines ending in dot leaders and a page."""
    lines = [line for line in text.splitlines() if line.strip()]
    entries = sum(1 for line in lines if _CONTENTS_LINE.search(line))
    return entries >= CONTENTS_MIN_LINES and entries >= CONTENTS_SHARE * len(lines)


def overlap(first: str, second: str) -> int:
    """Characters by which the end of ``first`` is the start of ``second`` (0 below
    :data:`MIN_OVERLAP`, and when ``second`` lies wholly inside ``first``)."""
    first = first.rstrip()
    probe = second[:MIN_OVERLAP]
    if len(probe) < MIN_OVERLAP:
        return 0
    start = first.find(probe)
    while start != -1:
        tail = first[start:]
        if len(tail) < len(second) and second.startswith(tail):
            return len(tail)
        start = first.find(probe, start + 1)
    return 0


def _join(earlier: Hit, later: Hit, shared: int) -> Hit:
    lines = [n for n in (earlier.first_line, later.first_line) if n is not None]
    ends = [n for n in (earlier.last_line, later.last_line) if n is not None]
    scores = [s for s in (earlier.dense_score, later.dense_score) if s is not None]
    return replace(
        earlier,
        text=earlier.text.rstrip() + later.text[shared:],
        score=max(earlier.score, later.score),
        first_line=min(lines) if lines else None,
        last_line=max(ends) if ends else None,
        dense_score=max(scores) if scores else None,
        vector=None,  # the stored vector was the earlier chunk's alone: embed the joined text
    )


def _neighbours(kept: Hit, hit: Hit) -> Hit | None:
    """``kept`` and ``hit`` joined when they are overlapping chunks of one page, else None."""
    if kept.file != hit.file or kept.page != hit.page:
        return None
    if shared := overlap(kept.text, hit.text):
        return _join(kept, hit, shared)
    if shared := overlap(hit.text, kept.text):
        return _join(hit, kept, shared)
    return None


def _absorb(out: list[Hit], i: int) -> None:
    """Join ``out[i]`` with any other source it now overlaps (a chain filled in the middle)."""
    j = 0
    while j < len(out):
        joined = _neighbours(out[i], out[j]) if j != i else None
        if joined is None:
            j += 1
            continue
        keep, drop = min(i, j), max(i, j)
        out[keep] = joined
        del out[drop]
        i, j = keep, 0


def passages(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` without contents pages, overlapping neighbours joined at the better one's rank.

    Args:
        hits: Relevant hits, best first.

    Returns:
        The sources to number in the prompt, best first.
    """
    out: list[Hit] = []
    for hit in hits:
        if is_contents(hit.text):
            continue
        out.append(hit)
        _absorb(out, len(out) - 1)
    return out
