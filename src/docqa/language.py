"""Language of a text, from stopword counts — enough to pick a stemmer per file.

Stopword lists are NLTK's, read from the copy llama-index-core ships as data files (found without
importing llama_index, which is slow to import).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

# ISO code -> NLTK / Snowball name
LANGUAGE_NAMES = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
}

WORD = re.compile(r"\w+", re.UNICODE)


def _stopword_dir() -> Path | None:
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(next(iter(spec.submodule_search_locations)))
    folder = base / "_static" / "nltk_cache" / "corpora" / "stopwords"
    return folder if folder.is_dir() else None


@cache
def stopwords(lang: str) -> frozenset[str]:
    """NLTK stopwords for an ISO language code; empty when unknown or not installed."""
    name = LANGUAGE_NAMES.get(lang)
    folder = _stopword_dir()
    if name is None or folder is None or not (folder / name).is_file():
        return frozenset()
    return frozenset((folder / name).read_text(encoding="utf-8").split())


def words(text: str) -> list[str]:
    """Lowercased ``\\w+`` runs."""
    return WORD.findall(text.lower())


def word_parts(word: str) -> list[str]:
    """The pieces of a compound ``\\w+`` run, case kept; ``[]`` when it is one piece.

    A run is cut at underscores and where a lowercase letter meets an uppercase one, or an
    uppercase run meets a capitalised word: chat exports write names joined
    (``WolfgangSchulz`` → ``Wolfgang``, ``Schulz``), identifiers are CamelCase (``HTMLParser``
    → ``HTML``, ``Parser``) and time stamps glue a date to an hour (``20260405_15`` →
    ``20260405``, ``15``). Letters next to digits stay together (``x86``, ``mp3``, ``i386``).
    """
    if word.isalpha() and (word.islower() or word.isupper()) or word.isdigit():
        return []  # the common cases, quickly
    pieces: list[str] = []
    for part in word.split("_"):
        start = 0
        for i in range(1, len(part)):
            before, here = part[i - 1], part[i]
            after = part[i + 1] if i + 1 < len(part) else ""
            if here.isupper() and (before.islower() or (before.isupper() and after.islower())):
                pieces.append(part[start:i])
                start = i
        if part[start:]:
            pieces.append(part[start:])
    return pieces if len(pieces) > 1 else []


def words_and_parts(text: str) -> list[str]:
    """Lowercased ``\\w+`` runs, each followed by its pieces when it is a compound
    (:func:`word_parts`): ``"WolfgangSchulz: hi"`` → ``wolfgangschulz, wolfgang, schulz, hi``."""
    out: list[str] = []
    for run in WORD.findall(text):
        out.append(run.lower())
        out.extend(p.lower() for p in word_parts(run))
    return out


def _stopword_counts(text: str, langs: Sequence[str]) -> list[int]:
    """How many of the text's words are stopwords of each language."""
    tokens = words(text)
    return [sum(1 for t in tokens if t in stopwords(lang)) for lang in langs]


def detect_language(
    text: str, candidates: Iterable[str] = ("en", "fr"), sample: int = 20000
) -> str:
    """The candidate whose stopwords cover most of the text's words (first candidate on ties)."""
    langs = list(candidates)
    if not langs:
        return "en"
    scores = _stopword_counts(text[:sample], langs)
    return langs[max(range(len(langs)), key=lambda i: (scores[i], -i))]


def confident_language(text: str, candidates: Iterable[str]) -> str | None:
    """The candidate whose stopwords strictly outnumber every other's in ``text``; None on a tie
    (a short question can hold no stopword at all: "Debian fournit uniquement GNU/Linux ?")."""
    langs = list(candidates)
    counts = _stopword_counts(text, langs)
    best = max(counts, default=0)
    if best == 0 or counts.count(best) > 1:
        return None
    return langs[counts.index(best)]


def answer_language(question: str, sources: Sequence[str], candidates: Iterable[str]) -> str | None:
    """The language an answer to ``question`` should be written in: the question's, or where
    its words do not tell, the language of the best source (retrieval found it by those words);
    None when neither tells."""
    langs = list(candidates)
    found = confident_language(question, langs)
    if found is None and sources:
        found = confident_language(sources[0], langs)
    return found
