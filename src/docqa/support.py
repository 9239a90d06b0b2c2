"""Mark which sentences of an answer the retrieved sources back, without calling an LLM.

Each sentence is embedded (query side) and compared by cosine with the sources (document side).
The closest source *supports* the sentence only when the cosine is high enough **and** every
number and name in the sentence also appears in that source: embeddings barely move when "90 hp"
becomes "95 hp" or "Debian" becomes "Ubuntu", so the exact-term rule catches what the cosine
cannot. A sentence on the right subject that fails either test is *similar*; the rest is
*unsupported*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from docqa.types import SentenceSupport, SupportStatus

if TYPE_CHECKING:
    from docqa.embedding import Embedder

# Calibrated by benchmarks/calibrate_support.py with all-MiniLM-L6-v2 (int8 ONNX) on the Debian
# FAQ gold answers, EN+FR (sentences vs. ~200-token chunks of their own answer; negatives are
# sentences of other answers). Chosen on the tune split: the lowest cosine where <= 2 % of the
# negatives are supported, and Youden's best cosine for "similar". On the test split (884
# positives, 2708 negatives, 366 altered): supported precision 0.973, recall 0.531, 0.5 % of
# negatives supported, 0 altered sentences supported (the cosine alone would pass about half
# of them at 0.65); 78 % of positives and 8 % of negatives reach "similar".
# See "Support marking" in benchmarks/README.md.
SUPPORTED_MIN = 0.65
"""Cosine from which a sentence whose numbers and names all appear in the source is supported."""
SIMILAR_MIN = 0.50
"""Cosine from which a sentence is on the subject of a source (similar)."""

# A citation marker: [1], [1, 2], [1; 2].
CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# A sentence ends at . ! ? … (plus closing quotes) before whitespace, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»)\]]*\s+|\s*\n+\s*")
_LEADING_CITATIONS = re.compile(r"((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)\s*")
LIST_MARK = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+")
"""A list item's mark at a line's start (``- ``, ``* ``, ``1. ``, ``2) ``)."""
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*")
_UNIT_AFTER = re.compile(r"\s*-?\s*(°\s?[CF]|%|[^\W\d_]+)")
_UNIT_NAMES = {
    "m": ("metre", "metres", "meter", "meters", "mètre", "mètres"),
    "km": ("kilometre", "kilometres", "kilometer", "kilometers", "kilomètre", "kilomètres"),
    "l": ("litre", "litres", "liter", "liters"),
    "kn": ("knot", "knots", "noeud", "noeuds", "nœud", "nœuds"),
    "byte": ("bytes", "octet", "octets"),
    "bit": ("bits",),
}
UNIT_ALIASES = {name: unit for unit, names in _UNIT_NAMES.items() for name in names}
"""Spelled-out units and plurals, mapped to one symbol: "6.2 metres" matches "6.2-metre"."""
UNITS = frozenset(
    {
        *("hp", "kw", "w", "v", "mv", "mah", "km", "m", "cm", "mm", "nm", "kg", "g", "mg"),
        *("l", "ml", "s", "ms", "min", "h", "kn", "mph", "kph", "°c", "°f", "%"),
        *("kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "bit", "byte"),
        *("mhz", "ghz", "hz"),
    }
)
"""Unit symbols that make a number a measure: "90 hp" only matches "90 hp", not "90 kW"."""


def strip_citations(text: str) -> str:
    """``text`` without ``[n]`` markers (their digits are not facts to check)."""
    return re.sub(r"\s+([.,;:!?])", r"\1", CITATION.sub("", text)).strip()


def cited_numbers(text: str) -> list[int]:
    """Source numbers cited in ``text`` (``[1]``, ``[1, 2]``, ``[1][2]``), in order, once each."""
    found: list[int] = []
    for match in CITATION.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            n = int(part)
            if n not in found:
                found.append(n)
    return found


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: split at sentence punctuation and line breaks.

    List bullets are removed, and citation markers that open a piece (``"[2]"`` after a full
    stop) are moved to the end of the sentence before it.
    """
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        piece = LIST_MARK.sub("", piece).strip()
        lead = _LEADING_CITATIONS.match(piece)
        if out and lead:  # "… engine. [1] The Pétrel …": [1] belongs to the sentence before
            out[-1] = f"{out[-1]} {lead.group(1).strip()}"
            piece = piece[lead.end() :]
        if piece:
            out.append(piece)
    return [s for s in out if _WORD.search(s)]


# Numbers written as words count as numbers: "three boats" is not supported by "two boats".
# "one"/"un"/"une" are left out: they are pronouns and articles far more often than counts.
_NUMBER_WORDS_EN = (
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
    "thousand million billion twice thrice half"
)
_NUMBER_WORDS_FR = (
    "deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize vingt "
    "trente quarante cinquante soixante cent mille milliard moitié"
)
NUMBER_WORDS = frozenset(f"{_NUMBER_WORDS_EN} {_NUMBER_WORDS_FR}".split())


def _number(text: str) -> str:
    # "6,2" (French) and "6.2" are the same number.
    return text.replace(",", ".")


def key_terms(sentence: str) -> frozenset[str]:
    """The facts a source must contain for the sentence to count as supported.

    Numbers (digits, decimals, years, number words such as "three"), measures (``"90 hp"``: a
    number and a unit from :data:`UNITS`) and names (capitalised words that do not start the
    sentence), lowercased.
    """
    text = strip_citations(LIST_MARK.sub("", sentence))
    terms: set[str] = set()
    for match in _NUMBER.finditer(text):
        number = _number(match.group())
        terms.add(number)
        after = _UNIT_AFTER.match(text, match.end())
        unit = after.group(1).lower().replace(" ", "") if after else ""
        unit = UNIT_ALIASES.get(unit, unit)
        if unit in UNITS:
            terms.add(f"{number} {unit}")
    words = _WORD.findall(text)
    terms.update(w.lower() for w in words if w.lower() in NUMBER_WORDS)
    # The first word is capitalised by grammar, not because it is a name; "I" is a pronoun.
    terms.update(w.lower() for w in words[1:] if w[0].isupper() and w != "I")
    return frozenset(terms)


def _source_terms(source: str) -> frozenset[str]:
    """Every term of ``source`` in :func:`key_terms` form, names from all its words."""
    terms = set(key_terms(source))
    terms.update(w.lower() for w in _WORD.findall(source))
    return frozenset(terms)


def missing_terms(sentence: str, source: str) -> list[str]:
    """The key terms of ``sentence`` (see :func:`key_terms`) that ``source`` lacks, sorted."""
    return sorted(key_terms(sentence) - _source_terms(source))


def classify(
    cosine: float, missing: Sequence[str], supported: float, similar: float
) -> SupportStatus:
    """The support status for a sentence's best cosine and the key terms its source lacks."""
    if cosine >= supported and not missing:
        return "supported"
    return "similar" if cosine >= similar else "unsupported"


@dataclass(frozen=True)
class _Best:
    index: int
    cosine: float


def _best(scores: NDArray[np.float32], among: Sequence[int] | None = None) -> _Best:
    """The best-scoring source, among the 0-based indexes ``among`` when given."""
    indexes = list(among) if among else list(range(len(scores)))
    i = max(indexes, key=lambda n: float(scores[n]))
    return _Best(i, float(scores[i]))


def _reason(status: SupportStatus, best: _Best, missing: Sequence[str], supported: float) -> str:
    where = f"[{best.index + 1}] (cosine {best.cosine:.2f})"
    if status == "supported":
        return f"backed by {where}"
    if missing and best.cosine >= supported:
        return f"close to {where}, which does not mention {', '.join(missing)}"
    if status == "similar":
        return f"on the subject of {where}, not close enough to count as backed"
    return f"no source says this; closest is {where}"


def _cited(sentence: str, count: int) -> list[int]:
    """0-based indexes of the sources ``sentence`` cites (numbers out of range ignored)."""
    found = []
    for match in CITATION.finditer(sentence):
        for part in re.split(r"[,;]", match.group(1)):
            n = int(part)
            if 1 <= n <= count and n - 1 not in found:
                found.append(n - 1)
    return found


def _mark(
    sentence: str,
    scores: NDArray[np.float32],
    sources: Sequence[str],
    cited: Sequence[int],
    thresholds: tuple[float, float],
) -> SentenceSupport:
    supported, similar = thresholds
    best = _best(scores, cited)
    missing = missing_terms(sentence, sources[best.index])
    status = classify(best.cosine, missing, supported, similar)
    reason = _reason(status, best, missing, supported)
    if cited and status != "supported":
        other = _best(scores)
        other_missing = missing_terms(sentence, sources[other.index])
        if classify(other.cosine, other_missing, supported, similar) == "supported":
            # The claim is in the sources, but not where the answer points: no ✓.
            status = "similar"
            reason = (
                f"backed by [{other.index + 1}] (cosine {other.cosine:.2f}), "
                f"not by the cited [{best.index + 1}]"
            )
    return SentenceSupport(sentence, status, best.index + 1, best.cosine, reason)


def mark_support(
    text: str,
    sources: Sequence[str],
    embedder: Embedder | None,
    *,
    source_vectors: NDArray[np.float32] | None = None,
    supported: float = SUPPORTED_MIN,
    similar: float = SIMILAR_MIN,
    citations: bool = False,
) -> tuple[SentenceSupport, ...]:
    """Mark each sentence of ``text`` as supported, similar or unsupported by ``sources``.

    Args:
        text: An answer.
        sources: The source texts, numbered from 1 in the result.
        embedder: Embeds the sentences (query side) and, unless given, the sources; may be
            ``None`` only when there are no sources.
        source_vectors: The sources already embedded with ``embed_documents`` (saves a pass
            when several answers are checked against the same sources).
        supported: Cosine from which a sentence with all its key terms in the source is
            supported.
        similar: Cosine from which a sentence is similar.
        citations: Read the sentences' ``[n]`` markers: a sentence that cites sources is
            checked against those only, so a ✓ is always backed by a source it cites (when
            another source backs it, it is marked similar, and the reason says which). Off,
            markers are ignored and the closest source judges.

    Returns:
        One :class:`SentenceSupport` per sentence, in order.
    """
    sentences = split_sentences(text)
    if not sources or embedder is None:
        return tuple(
            SentenceSupport(s, "unsupported", None, 0.0, "no sources to check against")
            for s in sentences
        )
    vectors = source_vectors if source_vectors is not None else embedder.embed_documents(sources)
    marks = []
    for sentence in sentences:
        scores = vectors @ embedder.embed_query(strip_citations(sentence))
        cited = _cited(sentence, len(sources)) if citations else []
        marks.append(_mark(sentence, scores, sources, cited, (supported, similar)))
    return tuple(marks)
