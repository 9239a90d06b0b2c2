"""The relevance floor derived from the store: what unrelated questions score against it.

A single cosine calibrated on one corpus does not hold on another: on the Debian FAQ an
answerable question's best chunk scores 0.5–0.8 and an unrelated one 0.2–0.45, while the chunk of
a long chat that answers a question in one of its 30 lines scores lower, because the rest of the
chat is about other things. What an *unrelated* question scores against a store is a property of
that store (its length of chunks, its vocabulary, how alike its texts are), and it can be measured
without any labelled question: ingest asks :data:`PROBES`, questions about everyday subjects that
no store of documents is about as a whole (cooking, sport, astronomy, law, gardening…, in English
and French), retrieves for each as ``ask`` does, and keeps each one's best dense cosine. The floor
is :func:`derive` of those scores; it is written in the store folder (:data:`FILE`) and read by
:func:`docqa.retrieval.relevant`. An explicit ``DOCQA_RELEVANCE_FLOOR`` still wins, and a store
without the file (written before, or empty) keeps the embedder's calibrated constant.

A store about one of the probes' subjects (a cookbook) scores that probe high: the floor reads a
quantile of the scores, not their maximum, so a few probes that do match the store (up to 3 of
the 40) do not move it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from docqa import storedir

FILE = storedir.FLOOR
"""The derived floor's file in the store folder (``docqa reset`` removes it)."""
FLOOR_VERSION = 1
"""Bump when the probes or the rule change: stores then derive their floor again."""

PROBES: tuple[str, ...] = (
    "How long should I boil an egg for a soft yolk?",
    "What is a good substitute for buttermilk in pancakes?",
    "Who won the football World Cup in 1998?",
    "How many players are on a basketball team on the court?",
    "Why is the sky blue during the day?",
    "How far is the Moon from the Earth?",
    "What causes the seasons on Earth?",
    "When did the Roman Empire fall?",
    "Who painted the Mona Lisa?",
    "What is the capital city of Australia?",
    "Which river flows through Cairo?",
    "How do I get rid of aphids on my roses?",
    "When should tomato seedlings be planted outside?",
    "What are the symptoms of the flu?",
    "How much water should an adult drink each day?",
    "How do I change a flat tyre on a bicycle?",
    "What does a tenant do when the landlord keeps the deposit?",
    "How is income tax calculated on a salary?",
    "What is the difference between a stock and a bond?",
    "How do you tune a guitar by ear?",
    "Who composed the Four Seasons?",
    "What do cats eat in the wild?",
    "How long do elephants live?",
    "What is the chemical formula of table salt?",
    "What is Newton's second law of motion?",
    "How do I remove a red wine stain from a carpet?",
    "What should I pack for a week of hiking in the mountains?",
    "Which vaccines does a puppy need?",
    "How do I write a cover letter for a job application?",
    "What is the plot of Pride and Prejudice?",
    "Who was the first woman to win a Nobel Prize?",
    "How are earthquakes measured?",
    "Quelle est la recette de la pâte à crêpes ?",
    "Combien de temps faut-il pour apprendre à nager ?",
    "Qui a écrit Les Misérables ?",
    "Pourquoi les feuilles des arbres tombent-elles en automne ?",
    "Comment entretenir un parquet en bois ?",
    "Quelle est la hauteur de la tour Eiffel ?",
    "Comment soigner un rhume sans médicaments ?",
    "Quand a eu lieu la Révolution française ?",
)
"""Questions about everyday subjects, none about documents a user would ingest as a whole."""

QUANTILE = 0.9
"""The floor starts from this quantile of the probes' best cosines: 9 in 10 unrelated
questions score at or below it."""
MARGIN = 0.1
"""Added to that quantile. Quantile and margin were chosen on the tune splits of two stores of
different shapes (benchmarks/derive_floor.py: the Debian FAQ, floor 0.423; 300 short chat logs,
floor 0.365): the rule refusing the most unanswerable questions with at most 5 % of the
answerable ones refused on each set."""
LOWEST, HIGHEST = 0.2, 0.9
"""The derived floor is kept within these bounds."""


@dataclass(frozen=True)
class DerivedFloor:
    """A store's derived floor and what it came from."""

    floor: float
    scores: tuple[float, ...]
    fingerprint: str
    version: int = FLOOR_VERSION


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default rule) of non-empty ``values``."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def derive(scores: Sequence[float]) -> float:
    """The floor for a store whose probes scored ``scores`` (their best dense cosines)."""
    value = quantile(scores, QUANTILE) + MARGIN
    return round(min(HIGHEST, max(LOWEST, value)), 4)


def measure(best_cosine: Callable[[str], float], fingerprint: str) -> DerivedFloor:
    """Ask every probe (``best_cosine``: a question's best dense cosine among its hits, as
    ``ask`` retrieves them) and derive the floor."""
    scores = tuple(round(best_cosine(q), 4) for q in PROBES)
    return DerivedFloor(derive(scores), scores, fingerprint)


def write(folder: Path, derived: DerivedFloor) -> None:
    """Save ``derived`` in the store folder (atomically)."""
    path = folder / FILE
    tmp = path.with_suffix(".tmp")
    body = {
        "floor": derived.floor,
        "version": derived.version,
        "fingerprint": derived.fingerprint,
        "quantile": QUANTILE,
        "probe_scores": list(derived.scores),
    }
    tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
    os.replace(tmp, path)


_CACHE: dict[Path, tuple[float, DerivedFloor | None]] = {}


def read(folder: Path) -> DerivedFloor | None:
    """The store's derived floor, or None when it has none (or an unreadable or older one).
    Read once per change of the file."""
    path = folder / FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    found: DerivedFloor | None = None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("version") == FLOOR_VERSION:
            scores = tuple(float(s) for s in body["probe_scores"])
            found = DerivedFloor(float(body["floor"]), scores, str(body["fingerprint"]))
    except (OSError, ValueError, KeyError, TypeError):
        found = None
    _CACHE[path] = (mtime, found)
    return found


def remove(folder: Path) -> None:
    """Forget the store's derived floor (its contents changed and it is not derived again)."""
    (folder / FILE).unlink(missing_ok=True)
    _CACHE.pop(folder / FILE, None)
