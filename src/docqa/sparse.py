"""BM25 sparse vectors: the one tokenizer both Qdrant adapters use for documents and queries.

A word becomes a token like this: lowercase ``\\w+`` run (:func:`docqa.language.words`), dropped
when it is a stopword of the language or a single letter, Snowball-stemmed, accents folded, then
hashed to a stable 31-bit id. A compound run also gives the tokens of its pieces
(:func:`docqa.language.word_parts`), documents and queries alike. Documents carry BM25
term-frequency saturation (as fastembed's ``Qdrant/bm25``); the collection's IDF modifier supplies
the IDF half at query time.

Decisions, each for a reason:

- Single letters are dropped (the elided ``l'``/``d'``/``j'`` of French, the ``s`` of English
  possessives) but single digits are kept: "chapter 3" should match "3".
- Accents are folded *after* stemming (the stemmers rely on them), so a query typed without
  accents ("systeme") meets the document's "système".
- Token ids are not namespaced by language: a stem shared by English and French ("install",
  "configur") matches across languages in a mixed store.
- Queries are stemmed under every configured language, because their language is unknown.
- A run joined from several words is indexed whole and in pieces (``WolfgangSchulz`` as
  ``wolfgangschulz``, ``wolfgang`` and ``schulz``; ``20260405_15`` as itself, ``20260405`` and
  ``15``): chat exports write a speaker's name joined and time stamps glue the day to the hour,
  while questions write "Wolfgang Schulz" and "20260405". The pieces add to a term's frequency
  but not to the document's length, so BM25's length normalisation is that of the words.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from hashlib import blake2b

import snowballstemmer

from docqa.errors import ConfigError
from docqa.language import LANGUAGE_NAMES, WORD, stopwords, word_parts, words
from docqa.stores.base import SparseVector

FORMAT_VERSION = 2
"""Bump when tokens change: stores written before are re-ingested (see fingerprint.py).
2: the pieces of joined words (``WolfgangSchulz``, ``20260405_15``) are tokens too."""
# Cached words per language before the cache is cleared; bounds memory on huge vocabularies.
_CACHE_LIMIT = 500_000
_MISSING = -1


def token_id(stem: str) -> int:
    """Stable 31-bit id of a stemmed token (same in every process, unlike ``hash``).

    Args:
        stem: The stemmed, accent-folded token.

    Returns:
        An int in ``[0, 2**31)``.
    """
    digest = blake2b(stem.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def fold_accents(text: str) -> str:
    """Remove combining marks: ``"systèm"`` -> ``"system"``."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Analyzer:
    """Word -> token id (or nothing) for one language, memoised: a corpus repeats its words."""

    def __init__(self, lang: str) -> None:
        name = LANGUAGE_NAMES.get(lang)
        if name is None or name not in snowballstemmer.algorithms():
            known = ", ".join(sorted(LANGUAGE_NAMES))
            raise ConfigError(f"no BM25 stemmer for language {lang!r}: use one of {known}")
        self._stem: Callable[[str], str] = snowballstemmer.stemmer(name).stemWord
        self._stopwords = stopwords(lang)
        # a run as written -> (its token or _MISSING, the tokens of its kept pieces)
        self._cache: dict[str, tuple[int, tuple[int, ...]]] = {}

    def _one(self, word: str) -> int:
        if word in self._stopwords or (len(word) < 2 and not word.isdigit()):
            return _MISSING
        return token_id(fold_accents(self._stem(word)))

    def _compute(self, run: str) -> tuple[int, tuple[int, ...]]:
        pieces = (self._one(p.lower()) for p in word_parts(run))
        return self._one(run.lower()), tuple(t for t in pieces if t != _MISSING)

    def ids(self, text: str) -> tuple[list[int], int]:
        """Token ids of the text's kept words and their pieces, in order, with repeats; and how
        many kept words (pieces not counted) the text has."""
        cache = self._cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        out: list[int] = []
        n = 0
        for run in WORD.findall(text):
            found = cache.get(run)
            if found is None:
                found = cache[run] = self._compute(run)
            tid, parts = found
            if tid != _MISSING:
                out.append(tid)
                n += 1
            out.extend(parts)
        return out, n


class Bm25Encoder:
    """Documents and queries to BM25 sparse vectors, identically for every store adapter.

    Args:
        languages: ISO codes of the languages documents may be in (queries use all of them).
        k1: Term-frequency saturation; higher lets repeated terms weigh more.
        b: Length normalisation, 0 (none) to 1 (full).
        avg_len: Expected document length in kept tokens.

    Raises:
        ConfigError: a language has no Snowball stemmer, or a parameter is out of range.
    """

    def __init__(
        self,
        languages: Sequence[str] = ("en", "fr"),
        k1: float = 1.2,
        b: float = 0.75,
        avg_len: float = 256.0,
    ) -> None:
        if not languages:
            raise ConfigError("BM25 needs at least one language: set DOCQA_LANGUAGES")
        if k1 < 0 or not 0.0 <= b <= 1.0 or avg_len <= 0:
            raise ConfigError(f"invalid BM25 parameters k1={k1}, b={b}, avg_len={avg_len}")
        self.languages = tuple(dict.fromkeys(languages))
        self.k1 = k1
        self.b = b
        self.avg_len = avg_len
        self._analyzers = {lang: _Analyzer(lang) for lang in self.languages}

    @property
    def version(self) -> str:
        """Identifies the tokenization and weights, for the ingest fingerprint."""
        params = f"k1={self.k1:g},b={self.b:g},avg_len={self.avg_len:g}"
        return f"bm25-snowball/{FORMAT_VERSION}:{','.join(self.languages)}:{params}"

    def _analyzer(self, lang: str) -> _Analyzer:
        found = self._analyzers.get(lang)
        if found is None:
            # A language outside the configured ones still gets its own stemmer.
            found = self._analyzers[lang] = _Analyzer(lang)
        return found

    def encode_document(self, text: str, lang: str) -> SparseVector:
        """BM25 document vector: saturated term frequency per stem (IDF comes from Qdrant).

        Args:
            text: The chunk text.
            lang: ISO code of the chunk's language (picks stopwords and stemmer).

        Returns:
            Sparse vector with sorted, unique indices; empty when no word is kept.
        """
        ids, n_words = self._analyzer(lang).ids(text)
        counts = Counter(ids)
        k1 = self.k1
        norm = k1 * (1.0 - self.b + self.b * n_words / self.avg_len)
        indices = sorted(counts)
        values = tuple(counts[i] * (k1 + 1.0) / (counts[i] + norm) for i in indices)
        return SparseVector(indices=tuple(indices), values=values)

    def query_languages(self, text: str) -> tuple[str, ...]:
        """The language(s) to stem a query in: the clear stopword winner, else all of them."""
        tokens = words(text)
        scores = [sum(1 for t in tokens if t in stopwords(lang)) for lang in self.languages]
        best = max(scores, default=0)
        if best == 0 or scores.count(best) > 1:
            return self.languages
        return (self.languages[scores.index(best)],)

    def encode_query(self, text: str) -> SparseVector:
        """BM25 query vector, weight 1 per stem, stemmed in the query's own language.

        The language is the configured one whose stopwords the question uses most; when it uses
        none, or two languages tie, the query is stemmed under every language (union). Stemming
        every query under all languages measured worse: English BM25 MRR@10 0.545 vs 0.763 on
        the Debian FAQ test split (benchmarks/README.md, "Retrieval quality").

        Args:
            text: The question.

        Returns:
            Sparse vector with sorted, unique indices; empty when every word is a stopword.
        """
        found: set[int] = set()
        for lang in self.query_languages(text):
            found.update(self._analyzers[lang].ids(text)[0])
        indices = tuple(sorted(found))
        return SparseVector(indices=indices, values=(1.0,) * len(indices))
