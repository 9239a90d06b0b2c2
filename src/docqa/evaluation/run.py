"""Running an evaluation over a session's collaborators (what ``docqa.evaluate`` runs)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from docqa.config import Settings
from docqa.errors import ConfigError, LLMTimeoutError, QuestionFileError
from docqa.evaluation.questions import Question, load_questions
from docqa.evaluation.report import EvalReport, load_report
from docqa.evaluation.scoring import AnswerScore, EvalRow, Judge, Ranking, rank_hits, score_answer
from docqa.language import words
from docqa.metrics import (
    contains_answer,
)
from docqa.types import Hit

if TYPE_CHECKING:
    from docqa.collaborators import Collaborators


SEARCH_MODES = ("dense", "bm25", "hybrid", "rerank")
"""Retrieval modes ``evaluate`` compares; ``rerank`` is the configured mode plus the reranker."""
DEFAULT_K = 10
Progress = Callable[[int, int], None]


class EvalOptions(TypedDict, total=False):
    """The keyword options of :func:`run_evaluation` (and ``Session.evaluate``)."""

    k: int
    modes: Sequence[str] | None
    retrieval_only: bool
    split: str | None
    compare_to: str | Path | None
    on_progress: Progress | None


class _Run:
    """What one evaluation shares across questions: the session, and the store's chunk words."""

    def __init__(self, collaborators: Collaborators, answers: bool) -> None:
        self.collaborators = collaborators
        self.settings = collaborators.settings
        self.answers = answers
        self.embedded = answers  # whether the embedder was needed (answers mark support)
        self._chunk_words: list[frozenset[str]] | None = None

    def check_llm(self) -> None:
        """Refuse ``auto``'s fallback to a small model: its scores would mislead."""
        self.collaborators.backend  # noqa: B018  (resolves the backend and its warning)
        warning = self.collaborators.backend_warning
        if warning:
            raise ConfigError(
                f"eval will not score a fallback model ({warning}): name the backend with "
                "DOCQA_LLM=gguf|ollama|openai, or run with --retrieval-only"
            )

    def count_containing(self, terms: Sequence[str]) -> int:
        """How many chunks of the whole store contain the answer keyed by ``terms``."""
        if self._chunk_words is None:
            with self.collaborators.open_store() as store:
                points = store.points()
                self._chunk_words = [
                    frozenset(words(str(p.payload.get("text", "")))) for p in points
                ]
        return sum(1 for chunk in self._chunk_words if contains_answer(terms, chunk))

    def search(self, question: str, mode: str, k: int) -> list[Hit]:
        """Top ``k`` hits in ``mode``; the reranker only in ``rerank`` mode."""
        settings = self.settings
        if mode != "rerank":
            settings = settings.model_copy(update={"rerank_model": None, "search_mode": mode})
        self.embedded = self.embedded or settings.search_mode != "bm25"
        return self.collaborators.search(question, k=k, settings=settings)


def _modes(modes: Sequence[str] | None, settings: Settings) -> tuple[str, ...]:
    if not modes:
        return ("rerank",) if settings.rerank_model is not None else (settings.search_mode,)
    for mode in modes:
        if mode not in SEARCH_MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r}: use {', '.join(SEARCH_MODES)}")
    if "rerank" in modes and settings.rerank_model is None:
        raise ConfigError(
            "mode 'rerank' needs a cross-encoder: set DOCQA_RERANK_MODEL to its folder"
        )
    return tuple(dict.fromkeys(modes))


def _retrieve(
    q: Question, judge: Judge, session: _Run, modes: Sequence[str], k: int
) -> dict[str, Ranking]:
    if judge.by is None:
        return {}
    if judge.by == "sources":
        n_relevant = judge.source_targets()
    else:
        n_relevant = session.count_containing(judge.terms)
    results = {}
    for mode in modes:
        started = time.perf_counter()
        hits = session.search(q.question, mode, k)
        results[mode] = rank_hits(hits, judge, k, n_relevant, time.perf_counter() - started)
    return results


def _answer(q: Question, judge: Judge, session: _Run) -> tuple[AnswerScore, AnswerScore]:
    from docqa.answering import Answerer, compare

    result = compare(Answerer(session.collaborators), q.question)
    return score_answer(result.baseline, q, judge), score_answer(result.rag, q, judge)


def _evaluate_one(
    q: Question, session: _Run, modes: Sequence[str], k: int, warnings: list[str]
) -> EvalRow:
    judge = Judge.of(q)
    retrieval = _retrieve(q, judge, session, modes, k)
    if judge.by == "answer" and retrieval and not next(iter(retrieval.values())).n_relevant:
        warnings.append(f"question {q.id}: no chunk of the store contains its gold answer")
    base = rag = None
    if session.answers:
        try:
            base, rag = _answer(q, judge, session)
        except LLMTimeoutError as exc:
            warnings.append(f"question {q.id}: left out of the answer metrics ({exc})")
        else:
            if rag.cited_abstention:
                warnings.append(
                    f"question {q.id}: the answer says the documents do not say, yet cites"
                )
            if rag.mixed:
                warnings.append(
                    f"question {q.id}: the answer answers, then says the documents do not say"
                )
    return EvalRow(q.id, q.question, q.lang, q.answerable, q.split, judge.by, retrieval, base, rag)


def _config(settings: Settings, session: _Run) -> dict[str, str]:
    collaborators = session.collaborators
    config = {
        "embedder": collaborators.embedder.id if session.embedded else settings.embed_model,
        "chunks": f"{settings.chunk_tokens} tokens, {settings.chunk_overlap} overlap",
    }
    if settings.rerank_model is not None:
        config["reranker"] = str(settings.rerank_model)
    if session.answers:
        llm = collaborators.llm
        config["model"] = f"{llm.model} via {llm.backend}"
        config["answers"] = f"top {settings.top_k} {settings.search_mode}, floor {settings.floor}"
    return config


def run_evaluation(
    collaborators: Collaborators,
    questions: str | Path,
    *,
    k: int = DEFAULT_K,
    modes: Sequence[str] | None = None,
    retrieval_only: bool = False,
    split: str | None = None,
    compare_to: str | Path | None = None,
    on_progress: Progress | None = None,
) -> EvalReport:
    """Evaluate with a session's collaborators (what :func:`docqa.evaluate` runs; same options).

    Raises:
        QuestionFileError: the question file is missing or malformed.
        ConfigError: an unknown mode, or ``DOCQA_LLM=auto`` fell back to the small GGUF model.
        NoStoreError: there is no store.
    """
    started = time.perf_counter()
    settings = collaborators.settings
    items = load_questions(questions, settings.languages, split)
    chosen = _modes(modes, settings)
    previous = load_report(compare_to) if compare_to is not None else None
    if retrieval_only and not any(Judge.of(q).by for q in items):
        raise QuestionFileError(
            f'{Path(questions).name}: no question has an "answer" or "sources" '
            "to judge retrieval by"
        )
    warnings: list[str] = []
    session = _Run(collaborators, answers=not retrieval_only)
    if session.answers:
        session.check_llm()
    rows = []
    for done, q in enumerate(items, 1):
        rows.append(_evaluate_one(q, session, chosen, k, warnings))
        if on_progress is not None:
            on_progress(done, len(items))
    config = _config(settings, session)
    return EvalReport(
        questions_file=str(questions),
        k=k,
        modes=chosen,
        rows=tuple(rows),
        config=config,
        seconds=time.perf_counter() - started,
        warnings=tuple(warnings),
        previous=previous,
    )
