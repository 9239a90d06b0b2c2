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

from docqa.answering.abstention import says_not_in_documents
from docqa.embedding.base import embed_passages, embed_queries
from docqa.language import words
from docqa.support import (
    SIMILAR_MIN,
    SUPPORTED_MIN,
    cited_numbers,
    classify,
    missing_terms,
    split_sentences,
    strip_citations,
)
from docqa.types import Hit, SupportStatus

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
    judge = SentenceJudge(hits, given, embedder)
    sentences = split_sentences(text)
    judge.prefetch(sentences)  # every judged sentence in one embedder call
    for sentence in sentences:
        judge(sentence)
    return judge.checked


@dataclass(frozen=True)
class Verdict:
    """What one sentence cites after the check.

    Attributes:
        numbers: The sources it cites (numbers as in the prompt), kept or attributed.
        support: For each of them, how well it backs the sentence (``None`` where the sentence
            was too short to judge, or no check ran).
        unknown: Numbers it cites that were not among the sources given.
    """

    numbers: list[int]
    support: dict[int, SupportStatus | None]
    unknown: list[int] = field(default_factory=list)


class SentenceJudge:
    """:func:`check_citations` one sentence at a time, for an answer read as it is written.

    Without an embedder the sentence's citations are taken as given (those given in the prompt).
    What the judge saw adds up in :attr:`checked`: ``added`` and ``dropped`` are final once every
    sentence was judged.
    """

    def __init__(self, hits: Sequence[Hit], given: Sequence[int], embedder: Embedder | None):
        self.hits, self.embedder = list(hits), embedder
        self.allowed = set(given)
        self.ranked = sorted(self.allowed)
        self.checked = Checked()
        self._vectors: NDArray[np.float32] | None = None
        self._queries: dict[str, NDArray[np.float32]] = {}
        self.model_cited: set[int] = set()
        """The numbers the model cited (among those given), as it numbered them."""
        self._judged: dict[int, bool] = {}

    def prefetch(self, sentences: Sequence[str]) -> None:
        """Embed these sentences in one batch (a whole answer judged at once)."""
        bodies = [b for b in map(strip_citations, sentences) if len(words(b)) >= MIN_WORDS]
        if self.embedder is not None and self.allowed and bodies:
            self._queries.update(zip(bodies, embed_queries(self.embedder, bodies), strict=True))

    def _scores(self, body: str) -> NDArray[np.float32]:
        assert self.embedder is not None
        if self._vectors is None:
            self._vectors = source_vectors(self.hits, self.embedder)
        if body not in self._queries:
            self._queries[body] = next(iter(embed_queries(self.embedder, [body])))
        return self._vectors @ self._queries[body]

    def __call__(self, sentence: str) -> Verdict:
        """The sources ``sentence`` (with its ``[n]`` markers, as the model wrote it) cites."""
        numbers = cited_numbers(sentence)
        cited = [n for n in numbers if n in self.allowed]
        unknown = [n for n in numbers if n not in self.allowed]
        self.model_cited.update(cited)
        body = strip_citations(sentence)
        # a disclaimer that cites ("The documents do not say. [1]") keeps its citation as given:
        # the answer is an abstention that cites, and is flagged as one (answering.citations)
        unjudged = len(words(body)) < MIN_WORDS or says_not_in_documents(body)
        if self.embedder is None or not self.allowed or unjudged:
            return self._cite(sentence, {n: None for n in cited}, unknown)
        scores = self._scores(body)

        def status(n: int) -> SupportStatus | None:
            missing = missing_terms(body, self.hits[n - 1].text)
            return classify(float(scores[n - 1]), missing, SUPPORTED_MIN, SIMILAR_MIN)

        kept = [n for n in cited if float(scores[n - 1]) >= SIMILAR_MIN]
        for n in cited:
            self._judged[n] = self._judged.get(n, False) or n in kept
        if kept:
            return self._cite(sentence, {n: status(n) for n in kept}, unknown)
        backer = next(
            (
                n
                for n in self.ranked
                if scores[n - 1] >= SUPPORTED_MIN and not missing_terms(body, self.hits[n - 1].text)
            ),
            None,
        )
        backed = {} if backer is None else {backer: status(backer)}
        return self._cite(sentence, backed, unknown)

    def _cite(
        self, sentence: str, support: dict[int, SupportStatus | None], unknown: list[int]
    ) -> Verdict:
        for n in support:
            self.checked.cite(n, sentence)
        self.checked.added = set(self.checked.claims) - self.model_cited
        self.checked.dropped = [
            n for n, ok in self._judged.items() if not ok and n not in self.checked.claims
        ]
        return Verdict(list(support), support, unknown)
