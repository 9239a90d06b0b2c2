"""Judging and scoring one question: which retrieved chunks are relevant (by sources or by the
gold answer), rank metrics of a hit list, token F1 and citation precision of an answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from docqa.answering.abstention import mentions_not_in_documents, says_not_in_documents
from docqa.evaluation.questions import Question
from docqa.metrics import (
    answer_terms,
    contains_answer,
    content_recall,
    first_relevant,
    hit_rate,
    ndcg,
    recall,
    reciprocal_rank,
    token_f1,
)
from docqa.types import Answer, Hit

# --- relevance ---------------------------------------------------------------------------------


def path_matches(source: str, path: str) -> bool:
    """Whether the stored ``path`` is the file ``source`` names: same name, or same path suffix.

    ``"guide.pdf"`` matches ``/docs/a/guide.pdf``; ``"a/guide.pdf"`` matches it too, but
    ``"b/guide.pdf"`` does not.
    """
    wanted = PurePosixPath(source.replace("\\", "/")).parts
    parts = PurePosixPath(Path(path).as_posix()).parts
    return 0 < len(wanted) <= len(parts) and parts[-len(wanted) :] == wanted


JudgedBy = Literal["sources", "answer"]


@dataclass(frozen=True)
class Judge:
    """Decides which retrieved chunks are relevant to one question.

    By ``sources`` when the question has them (each source page, or file, counts once), else
    by containment of the gold ``answer`` (each chunk holding it counts). Unanswerable
    questions, and questions with neither, are not judged (``by`` is ``None``).
    """

    question: Question
    terms: tuple[str, ...] = ()

    @classmethod
    def of(cls, question: Question) -> Judge:
        """The judge of ``question``, with its answer's containment key computed once."""
        terms = answer_terms(question.answer, question.lang) if question.answer else []
        return cls(question, tuple(terms))

    @property
    def by(self) -> JudgedBy | None:
        """``sources``, ``answer`` or ``None`` (nothing to judge retrieval by)."""
        if not self.question.answerable:
            return None
        if self.question.sources:
            return "sources"
        return "answer" if self.terms else None

    def keys(self, hit: Hit) -> set[str]:
        """The relevant things ``hit`` brings: source pages/files, or its own chunk id."""
        if self.by == "answer":
            return {hit.chunk_id or hit.text} if contains_answer(self.terms, hit.text) else set()
        keys: set[str] = set()
        for i, source in enumerate(self.question.sources):
            if not any(path_matches(source.file, f) for f in hit.files or (hit.file,)):
                continue
            if not source.pages:
                keys.add(str(i))
            elif hit.page in source.pages:
                keys.add(f"{i}:{hit.page}")
        return keys

    def flags(self, hits: Sequence[Hit]) -> list[bool]:
        """One flag per hit: does it bring a relevant thing no higher hit brought?"""
        seen: set[str] = set()
        flags = []
        for hit in hits:
            new = self.keys(hit) - seen
            flags.append(bool(new))
            seen |= new
        return flags

    def source_targets(self) -> int:
        """How many relevant things the sources name (pages, or 1 per whole file)."""
        return sum(len(s.pages) or 1 for s in self.question.sources)


# --- per-question results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """How well one retrieval mode ranked one question's relevant chunks, at ``k``."""

    hit: float
    rr: float
    ndcg: float
    recall: float
    rank: int | None
    n_relevant: int
    seconds: float


@dataclass(frozen=True)
class AnswerScore:
    """One answer (baseline or RAG) scored against the question's gold answer."""

    text: str
    abstained: bool
    seconds: float
    f1: float | None = None
    content_recall: float | None = None
    citation_precision: float | None = None
    citations: int = 0
    mixed: bool = False
    cited_abstention: bool = False


@dataclass(frozen=True)
class EvalRow:
    """Everything measured for one question."""

    id: str
    question: str
    lang: str
    answerable: bool
    split: str | None = None
    judged_by: JudgedBy | None = None
    retrieval: dict[str, Ranking] = field(default_factory=dict)
    baseline: AnswerScore | None = None
    rag: AnswerScore | None = None


def rank_hits(
    hits: Sequence[Hit], judge: Judge, k: int, n_relevant: int, seconds: float
) -> Ranking:
    """Score a ranked list of hits for one question.

    Args:
        hits: The hits, best first.
        judge: The question's judge.
        k: Cut-off.
        n_relevant: How many relevant things exist (raised to those found when lower).
        seconds: Time the search took, kept in the result.
    """
    flags = judge.flags(hits)
    n = max(n_relevant, sum(flags[:k]))
    return Ranking(
        hit=hit_rate(flags, k),
        rr=reciprocal_rank(flags, k),
        ndcg=ndcg(flags, k, n),
        recall=recall(flags, k, n),
        rank=first_relevant(flags[:k]),
        n_relevant=n,
        seconds=seconds,
    )


def score_answer(answer: Answer, question: Question, judge: Judge) -> AnswerScore:
    """Score one answer: F1 and content recall against the gold, precision of its citations.

    Abstention is read from the text: an answer with sources that opens by saying the
    documents do not say is one whatever follows (its citations are flagged, not scored); one
    that answers and then says so is flagged as *mixed*.
    """
    gold = question.answer if question.answerable else None
    abstained = answer.abstained or (bool(answer.hits) and says_not_in_documents(answer.text))
    cited = [answer.hits[c.n - 1] for c in answer.citations if 1 <= c.n <= len(answer.hits)]
    precision = None
    if cited and judge.by is not None and not abstained:
        precision = sum(1 for h in cited if judge.keys(h)) / len(cited)
    return AnswerScore(
        text=answer.text,
        abstained=abstained,
        seconds=answer.timings.total_s,
        f1=token_f1(answer.text, gold) if gold else None,
        content_recall=content_recall(answer.text, gold, question.lang) if gold else None,
        citation_precision=precision,
        citations=len(answer.citations),
        mixed=bool(answer.hits) and not abstained and mentions_not_in_documents(answer.text),
        cited_abstention=abstained and bool(answer.citations),
    )
