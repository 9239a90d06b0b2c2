"""Prompts ready for the LLM (:class:`Job`): the RAG prompt fitted to the context window, the
baseline prompt, the condensing prompt of a conversation, and docqa's own abstention.

Nothing is cut silently: when the sources do not fit the context window, the lowest-ranked
ones are left out and the answer says which (``Answer.dropped_sources`` and a warning)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docqa import prompts
from docqa.answering.budget import (
    MESSAGE_OVERHEAD,
    TokenCounter,
    fit_history,
    prompt_budget,
    too_long,
)
from docqa.config import Settings
from docqa.language import answer_language, detect_language
from docqa.llm import Message
from docqa.passages import select_sentences
from docqa.types import Answer, Hit, Timings

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.llm import LLM


@dataclass
class Job:
    """A prompt ready for the LLM, with what is needed to turn the reply into an :class:`Answer`.

    Attributes:
        question: The question as asked.
        messages: The prompt.
        hits: The relevant hits, numbered from 1 (empty for a baseline).
        dropped: Numbers of hits left out of the prompt.
        history_kept: How many history messages made it into the prompt.
        expected_tokens: The prompt size the backend should report.
        warnings: Warnings so far (backend fallback, dropped sources).
        retrieval_s: Time spent retrieving.
        started: ``perf_counter()`` when the question came in.
        checker: Checks the reply's citations against the hits
            (:func:`docqa.answering.checking.check_citations`); ``None`` takes them as given.
    """

    question: str
    messages: list[Message]
    hits: tuple[Hit, ...] = ()
    dropped: tuple[int, ...] = ()
    history_kept: int = 0
    expected_tokens: int = 0
    warnings: list[str] = field(default_factory=list)
    retrieval_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    checker: Embedder | None = None


def _dropped_warning(dropped: Sequence[int], window: int) -> str:
    numbers = ", ".join(f"[{n}]" for n in dropped)
    return (
        f"left out the lowest-ranked sources {numbers} to fit the {window}-token context "
        "window: raise DOCQA_NUM_CTX or lower DOCQA_TOP_K"
    )


def rag_job(
    question: str,
    hits: Sequence[Hit],
    llm: LLM,
    settings: Settings,
    history: Sequence[Message] = (),
    query: str | None = None,
) -> Job:
    """Build the RAG prompt: system, the history that fits, numbered sources and the question.

    With ``settings.prompt_sources == "sentences"`` each source is cut to the sentences that
    bear on the question and ``query`` (the search query, when it differs from the question),
    with their neighbours, and text sent in a better-ranked source is not sent again
    (:func:`docqa.passages.select_sentences`); the job's hits are those excerpts, what the
    model read. History gets at most half of the room left by the system prompt and the
    question; sources fill the rest in rank order, the lowest-ranked left out first.

    Raises:
        ConfigError: Not even the system prompt and the question fit the context window.
    """
    count, budget = TokenCounter(llm), prompt_budget(llm, settings)
    if settings.prompt_sources == "sentences":
        asked = question if not query or query == question else f"{question}\n{query}"
        hits = select_sentences(asked, hits)
    system = prompts.system_prompt(prompts.RAG_SYSTEM, settings)
    language = answer_language(question, [h.text for h in hits[:1]], settings.languages)
    fixed = count(system) + count(prompts.rag_user([], question, language))
    if fixed > budget:
        raise too_long("the question", fixed, budget)
    turns = fit_history(history, count, (budget - fixed) // 2)
    room = budget - fixed - sum(count(m.content) for m in turns)
    blocks = [prompts.format_source(n, h) for n, h in enumerate(hits, 1)]
    # each block is joined into the user message: its cost is its tokens, without overhead
    sizes = [count(b) - MESSAGE_OVERHEAD + 1 for b in blocks]
    keep = len(blocks)
    while keep and sum(sizes[:keep]) > room:
        keep -= 1
    user = prompts.rag_user(blocks[:keep], question, language)
    job = Job(
        question=question,
        messages=[Message("system", system), *turns, Message("user", user)],
        hits=tuple(hits),
        dropped=tuple(range(keep + 1, len(blocks) + 1)),
        history_kept=len(turns),
        expected_tokens=count.expected(budget - room + sum(sizes[:keep])),
    )
    if job.dropped:
        job.warnings.append(_dropped_warning(job.dropped, llm.context_window))
    _history_warning(job, len(history), llm.context_window)
    return job


def _history_warning(job: Job, turns: int, window: int) -> None:
    if job.history_kept < turns:
        job.warnings.append(
            f"left out the {turns - job.history_kept} oldest messages of the conversation "
            f"to fit the {window}-token context window"
        )


def baseline_job(
    question: str, llm: LLM, settings: Settings, history: Sequence[Message] = ()
) -> Job:
    """Build the baseline prompt: the model alone, no documents; the history that fits (at most
    half the room the system prompt and the question leave) before the question.

    Raises:
        ConfigError: The question does not fit the context window.
    """
    count, budget = TokenCounter(llm), prompt_budget(llm, settings)
    system = prompts.system_prompt(prompts.BASELINE_SYSTEM, settings)
    cost = count(system) + count(question)
    if cost > budget:
        raise too_long("the question", cost, budget)
    turns = fit_history(history, count, (budget - cost) // 2)
    messages = [Message("system", system), *turns, Message("user", question)]
    cost += sum(count(m.content) for m in turns)
    job = Job(
        question=question,
        messages=messages,
        history_kept=len(turns),
        expected_tokens=count.expected(cost),
    )
    _history_warning(job, len(history), llm.context_window)
    return job


def _pairs(messages: Sequence[Message]) -> list[tuple[str, str]]:
    """(question, answer) pairs of a user/assistant history."""
    users = [m.content for m in messages if m.role == "user"]
    answers = [m.content for m in messages if m.role == "assistant"]
    return list(zip(users, answers, strict=False))


def condense_messages(
    question: str, history: Sequence[Message], llm: LLM, settings: Settings
) -> list[Message]:
    """The prompt that rewrites a follow-up ``question`` as a standalone one: the conversation,
    bounded by the context window (oldest turns left out first), then the question."""
    count = TokenCounter(llm)
    fixed = count(prompts.CONDENSE_SYSTEM) + count(prompts.condense_user([], question))
    room = llm.context_window - settings.max_tokens - fixed
    # the turns are joined into one message: each costs its text, not a message's overhead
    turns = fit_history(history, count, room + MESSAGE_OVERHEAD * len(history))
    return [
        Message("system", prompts.CONDENSE_SYSTEM),
        Message("user", prompts.condense_user(_pairs(turns), question)),
    ]


def abstention(
    question: str,
    hits: Sequence[Hit] = (),
    *,
    timings: Timings | None = None,
    warnings: Sequence[str] = (),
) -> Answer:
    """docqa's own "the documents do not contain an answer", in the question's language."""
    lang = detect_language(question, ("en", "fr"))
    return Answer(
        question=question,
        text=prompts.ABSTENTION.get(lang, prompts.ABSTENTION["en"]),
        hits=tuple(hits),
        timings=timings or Timings(),
        abstained=True,
        warnings=tuple(warnings),
        dropped_sources=tuple(range(1, len(hits) + 1)),
    )
