"""Evaluation metrics: pure functions on words and ranked relevance flags, no model involved.

Retrieval metrics take ``relevant``, one flag per ranked hit, best first, where a hit counts
only when it brings something *new* (a source page, or an answer-bearing chunk, not yet found
higher up), and ``n_relevant``, how many such things exist. With that convention hit rate, MRR,
nDCG and recall stay in ``[0, 1]`` even when several chunks of one page are retrieved.

**Answer containment** decides whether a text holds a gold answer when no source is labelled:
lowercase, split on ``\\w+``, drop the stopwords of the question's language, keep the first
:data:`ANSWER_TERMS` words of the gold answer; a text contains the answer when at least
:data:`CONTAINMENT_SHARE` of those words, counted with repetition, occur among its own words.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence

from docqa.language import stopwords, words

ANSWER_TERMS = 40
"""Gold-answer words kept for containment: the start of an answer says what it is about."""
CONTAINMENT_SHARE = 0.5
"""Share of those words a text must hold to contain the answer."""


def content_words(text: str, lang: str) -> list[str]:
    """Lowercased ``\\w+`` words of ``text`` without the NLTK stopwords of ``lang``, in order.

    Args:
        text: Any text.
        lang: ISO code of the language whose stopwords are dropped (none when unknown).
    """
    stop = stopwords(lang)
    return [w for w in words(text) if w not in stop]


def answer_terms(answer: str, lang: str, limit: int = ANSWER_TERMS) -> list[str]:
    """The first ``limit`` content words of a gold answer, repeats kept (the containment key).

    Args:
        answer: The gold answer text.
        lang: ISO code of the question's language.
        limit: How many words to keep.
    """
    return content_words(answer, lang)[:limit]


def term_share(terms: Sequence[str], text_words: Collection[str]) -> float:
    """Share of ``terms`` (counted with repetition) found in ``text_words``; 0 without terms.

    Args:
        terms: Words to look for, e.g. from :func:`answer_terms`.
        text_words: The words of the text (a set is fastest).
    """
    if not terms:
        return 0.0
    return sum(1 for t in terms if t in text_words) / len(terms)


def contains_answer(
    terms: Sequence[str], text: str | Collection[str], share: float = CONTAINMENT_SHARE
) -> bool:
    """Whether a text contains the answer whose containment key is ``terms``.

    Args:
        terms: The answer's key words (:func:`answer_terms`); an empty key matches nothing.
        text: The text, or its lowercased words already split.
        share: The minimum share of ``terms`` the text must hold.
    """
    text_words = set(words(text)) if isinstance(text, str) else text
    return bool(terms) and term_share(terms, text_words) >= share


# --- ranking -------------------------------------------------------------------------------------


def hit_rate(relevant: Sequence[bool], k: int) -> float:
    """1.0 when a relevant hit is in the top ``k``, else 0.0."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int) -> float:
    """1 / rank of the first relevant hit in the top ``k`` (1-based); 0.0 when there is none."""
    for rank, flag in enumerate(relevant[:k], 1):
        if flag:
            return 1.0 / rank
    return 0.0


def ndcg(relevant: Sequence[bool], k: int, n_relevant: int) -> float:
    """Binary nDCG at ``k``: DCG of the flags over the DCG of ``min(k, n_relevant)`` leading hits.

    Args:
        relevant: One flag per ranked hit, each relevant thing counted once.
        k: Cut-off.
        n_relevant: How many relevant things exist (at least the flags set); 0 gives 0.0.
    """
    n_ideal = min(k, max(n_relevant, sum(relevant[:k])))
    if n_ideal == 0:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1) for rank, f in enumerate(relevant[:k], 1) if f)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, n_ideal + 1))
    return dcg / ideal


def recall(relevant: Sequence[bool], k: int, n_relevant: int) -> float:
    """Share of the ``n_relevant`` relevant things found in the top ``k``; 0.0 when none exist."""
    found = sum(relevant[:k])
    total = max(n_relevant, found)
    return found / total if total else 0.0


def first_relevant(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant hit, or ``None``."""
    return next((rank for rank, flag in enumerate(relevant, 1) if flag), None)


# --- answers -------------------------------------------------------------------------------------


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style token F1 of two texts over their lowercased ``\\w+`` words (bags, not sets).

    Returns:
        ``2PR / (P + R)``; 1.0 when both are empty, 0.0 when only one is.
    """
    pred, ref = words(prediction), words(gold)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, rec = common / len(pred), common / len(ref)
    return 2 * precision * rec / (precision + rec)


def content_recall(prediction: str, gold: str, lang: str) -> float:
    """Share of the gold answer's key words (:func:`answer_terms`) the prediction contains.

    Args:
        prediction: The answer to judge.
        gold: The gold answer.
        lang: ISO code of the question's language (its stopwords are not key words).
    """
    return term_share(answer_terms(gold, lang), set(words(prediction)))
