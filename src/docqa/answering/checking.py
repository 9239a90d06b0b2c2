"""Citations checked against the sources: a citation stays only where a sentence citing it is on
that source's subject, and a sentence left without one (uncited, or cited only to sources it is
not about) gets the source that backs it.

Small models cite little and loosely: on the tune questions of ``benchmarks/answers.py``
(Qwen2.5-Coder-1.5B), 21 of 32 answers cited nothing, and 38 % of the sources cited held no
answer. Checked the way ``docqa.compare`` marks support (the sentence embedded query-side,
compared by cosine with each source; a source *backs* a sentence only when every number and name
of the sentence is in it as well), the answers cite a source in 25 of 32 cases and citation
precision goes from 0.62 to 0.77 (see "Citations checked" in ``benchmarks/README.md``).

Of several sources backing a sentence, the best-ranked is cited, not the closest by cosine: the
sentence answers the question, and retrieval ranked the sources by the question. On the saved
``tune-v8`` answers (re-judged with ``benchmarks/answers_recheck.py --ending``) citation
precision went from 0.812 to 0.817, on ``test-v8`` from 0.792 to 0.833.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from docqa.embedding.base import embed_passages, embed_queries
from docqa.language import words
from docqa.support import (
    SIMILAR_MIN,
    SUPPORTED_MIN,
    cited_numbers,
    missing_terms,
    split_sentences,
    strip_citations,
)
from docqa.types import Hit

if TYPE_CHECKING:
    from docqa.embedding import Embedder

MIN_WORDS = 3
"""Sentences shorter than this ("See [2].") are not judged: their citations are kept as given."""


@dataclass
class Checked:
    """The citations of one answer after the check.

    Attributes:
        numbers: Source numbers to cite, in the order the answer first uses them.
        claims: For each number, the sentences it stands for (for the quote).
        added: Numbers docqa attributed that the model cites nowhere.
        dropped: Numbers the model cited only for sentences their source is not about.
    """

    numbers: list[int] = field(default_factory=list)
    claims: dict[int, list[str]] = field(default_factory=dict)
    added: set[int] = field(default_factory=set)
    dropped: list[int] = field(default_factory=list)

    def cite(self, n: int, sentence: str) -> None:
        if n not in self.claims:
            self.numbers.append(n)
            self.claims[n] = []
        self.claims[n].append(sentence)


def source_vectors(hits: Sequence[Hit], embedder: Embedder) -> NDArray[np.float32]:
    """The hits' dense vectors: those the store returned, the others (passages joined after
    retrieval) embedded again on the query backend (:func:`docqa.embedding.base.embed_passages`)."""
    missing = [h.text for h in hits if h.vector is None]
    fresh: Iterator[NDArray[np.float32]] = iter(
        list(embed_passages(embedder, missing)) if missing else []
    )
    rows = [np.asarray(h.vector, dtype=np.float32) if h.vector else next(fresh) for h in hits]
    return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def check_citations(
    text: str, hits: Sequence[Hit], given: Sequence[int], embedder: Embedder
) -> Checked:
    """Check the ``[n]`` citations of ``text`` against the sources, and attribute uncited
    sentences.

    Args:
        text: The answer.
        hits: The hits numbered from 1.
        given: The numbers that were in the prompt (others are never cited).
        embedder: Embeds the sentences (query side) and the hits the store gave no vector for.
    """
    checked = Checked()
    if not hits or not given:
        return checked
    allowed = set(given)
    ranked = sorted(allowed)
    sentences = [(s, strip_citations(s)) for s in split_sentences(text)]
    judged = [body for _, body in sentences if len(words(body)) >= MIN_WORDS]
    vectors = source_vectors(hits, embedder) if judged else np.zeros((0, 0), dtype=np.float32)
    # every judged sentence in one batch (one embedder call, not one per sentence)
    sentence_vectors = iter(embed_queries(embedder, judged))
    judged_against: dict[int, bool] = {}
    model_cited: set[int] = set()
    for sentence, body in sentences:
        cited = [n for n in cited_numbers(sentence) if n in allowed]
        model_cited.update(cited)
        if len(words(body)) < MIN_WORDS:
            for n in cited:
                checked.cite(n, sentence)
            continue
        scores = vectors @ next(sentence_vectors)
        kept = [n for n in cited if float(scores[n - 1]) >= SIMILAR_MIN]
        for n in cited:
            judged_against[n] = judged_against.get(n, False) or n in kept
        for n in kept:
            checked.cite(n, sentence)
        if kept:
            continue
        # uncited, or cited only to sources it is not about: the source that backs it, if any
        # of several that back it, the best-ranked (see the module's note)
        backer = next(
            (
                n
                for n in ranked
                if scores[n - 1] >= SUPPORTED_MIN and not missing_terms(body, hits[n - 1].text)
            ),
            None,
        )
        if backer is not None:
            checked.cite(backer, sentence)
    checked.added = set(checked.claims) - model_cited
    checked.dropped = [n for n, ok in judged_against.items() if not ok and n not in checked.claims]
    return checked
