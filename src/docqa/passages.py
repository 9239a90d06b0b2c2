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

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from functools import cache

from docqa.language import LANGUAGE_NAMES, stopwords, words
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


# --- the sentences of a source that bear on the question ---------------------------------------

# A unit ends after sentence punctuation (and any closing quote or bracket), at a blank line, or
# before a line that opens a list item or a (numbered or Markdown) heading: PDF text breaks lines
# inside sentences, so a line break alone is no boundary.
_UNIT_END = re.compile(
    r"(?<=[.!?…:;])[\"'”’»)\]]*\s+|\n\s*\n\s*"
    r"|\n(?=\s*(?:[•◦▪‣–—*-]\s|\d+(?:\.\d+)+\.?\s|#+\s))"
)
_TERM = re.compile(r"[^\W\d_]{3,}|\d+(?:\.\d+)*")
STEM_CHARS = 6
"""Question and source words match on their first 6 letters, accents ignored ("distributions"
matches "distribution", "installé" "installer"): no stemmer per language needed."""
HEADING_SHARE = 0.6
"""A unit holding this share of the question's terms (and 2) is the question's own heading (a
FAQ entry, a section title): the source is kept from it on, the answer being what follows."""
_SECTION = re.compile(r"\s*(?:\d+(?:\.\d+)+\.?|#+)\s")
_ASKS = re.compile(r"[?？]\W*$")
GAP = " … "
"""What stands for the text left out between two kept units."""


def _fold(word: str) -> str:
    plain = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in plain if not unicodedata.combining(c))[:STEM_CHARS]


@cache
def _stopwords() -> frozenset[str]:
    return frozenset(_fold(w) for lang in LANGUAGE_NAMES for w in stopwords(lang))


def terms(text: str) -> frozenset[str]:
    """The content words of ``text``, folded (lowercased, accents off, first 6 letters), less the
    stopwords of every language docqa knows."""
    return frozenset(_fold(w) for w in _TERM.findall(text)) - _stopwords()


def units(text: str) -> list[str]:
    """``text`` cut into sentences, list items and headings, each with the whitespace after it
    (``"".join(units(text)) == text``)."""
    out, start = [], 0
    for match in _UNIT_END.finditer(text):
        if match.end() > start:
            out.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        out.append(text[start:])
    return out


def _normal(unit: str) -> str:
    return " ".join(words(unit))


def weights(asked: frozenset[str], texts: Sequence[str]) -> dict[str, float]:
    """How much each question term says, read from the units of ``texts`` (the sources): a term
    in every unit ("debian" over the Debian FAQ) little, a rare one much (``log((n + 1) /
    df)``, n units, df of them holding it; 0 for a term no unit holds)."""
    held = [terms(u) for text in texts for u in units(text)]
    n = len(held)
    out = {}
    for term in asked:
        df = sum(term in h for h in held)
        out[term] = math.log((n + 1) / df) if df else 0.0
    return out


def excerpt(
    text: str,
    weight: dict[str, float],
    floor: float = 0.0,
    seen: set[str] | None = None,
    title: str = "",
) -> str:
    """The units of ``text`` that bear on a question whose terms weigh ``weight``, with their
    neighbours.

    A unit's score is the weight of the question terms it holds. It bears on the question when
    its score reaches half the best unit's of the text, and ``floor``. Each is kept with the
    unit before it and the one after (a sentence often names its subject in the one before, or
    is finished by the next); from the question's own heading (a unit holding
    :data:`HEADING_SHARE` of the terms, and 2, over up to three units) everything after it is
    kept, and all of it when ``title`` (the section the text lies in) is the question's. Runs
    left out are marked :data:`GAP`. A unit already in ``seen`` (sent in a better-ranked
    source) is left out; the units kept are added to it.

    Returns:
        The excerpt, stripped; ``""`` when nothing in ``text`` bears on the question or all of it
        was sent already.
    """
    seen = set() if seen is None else seen
    pieces = units(text)
    held = [terms(p) & weight.keys() for p in pieces]
    scores = [sum(weight[t] for t in h) for h in held]
    best = max(scores, default=0.0)
    heading = HEADING_SHARE * len(weight)
    keep = [False] * len(pieces)
    if title and len(terms(title) & weight.keys()) >= max(1, heading):
        keep = [True] * len(pieces)  # the question's own section
    elif best <= 0 or best < floor:
        return ""
    for i, score in enumerate(scores):
        if all(keep):
            break
        # the question's own heading, which may run over a few units ("… old. Why is it so?")
        run = slice(i, i + 3)
        if (
            held[i]
            and len(frozenset().union(*held[run])) >= max(2, heading)
            and _titled(pieces[run])
        ):
            keep[i:] = [True] * (len(pieces) - i)
            break
        if score >= LOCAL_SHARE * best and score >= floor:
            for j in (i - 1, i, i + 1):
                if 0 <= j < len(pieces):
                    keep[j] = True
    return _joined(pieces, keep, seen)


def _titled(run: Sequence[str]) -> bool:
    """Whether a run of units reads as a heading: a section number opens it, or a question mark
    ends one of its units ("1.3 What is Linux?!", "4.2 Where is …?")."""
    return bool(_SECTION.match(run[0])) or any(_ASKS.search(u) for u in run)


def _joined(pieces: Sequence[str], keep: Sequence[bool], seen: set[str]) -> str:
    """The kept pieces not in ``seen``, in order, :data:`GAP` where some were left out."""
    out: list[str] = []
    gap = False
    for piece, kept in zip(pieces, keep, strict=True):
        normal = _normal(piece)
        if not kept or (normal and normal in seen):
            gap = gap or bool(out)
            continue
        if normal:
            seen.add(normal)
        if gap:
            out[-1] = out[-1].rstrip() + GAP
            gap = False
        out.append(piece)
    return "".join(out).strip()


GLOBAL_SHARE = 0.5
"""A unit must reach this share of the best unit's score over all sources to bear on the
question."""
LOCAL_SHARE = 0.5
"""A unit must reach this share of the best unit's score in its own source."""


def select_sentences(question: str, hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` with their text cut to what bears on ``question`` (:func:`excerpt`), each unit
    sent once; a hit with nothing left keeps its first unit, so that the numbering holds and the
    model sees what the source is about.

    Args:
        question: The question, and the search query when it differs (their terms are joined).
        hits: The sources, best first (:func:`passages`).
    """
    weight = weights(terms(question), [h.text for h in hits])
    best = max(
        (sum(weight[t] for t in terms(u) & weight.keys()) for h in hits for u in units(h.text)),
        default=0.0,
    )
    seen: set[str] = set()
    out = []
    for hit in hits:
        title = hit.heading[-1] if hit.heading else ""
        text = excerpt(hit.text, weight, GLOBAL_SHARE * best, seen, title)
        if not text:
            text = next((u for u in units(hit.text) if _normal(u)), hit.text).strip()
        out.append(hit if text == hit.text.strip() else replace(hit, text=text, vector=None))
    return out
