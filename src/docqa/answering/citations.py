"""From the LLM's reply to an :class:`~docqa.types.Answer`: the text as docqa shows it (sources
numbered 1..k in the order it uses them, markers placed by sentence, see
:mod:`~docqa.answering.presenting`), its citations with their best quote, abstentions
recognised, prompt-size estimates checked."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docqa.answering.abstention import mentions_not_in_documents, says_not_in_documents
from docqa.answering.checking import SentenceJudge, check_citations
from docqa.answering.jobs import Job
from docqa.answering.presenting import Presenter
from docqa.language import stopwords, words
from docqa.llm import Completion
from docqa.support import cited_numbers, split_sentences, strip_citations
from docqa.types import Answer, Citation, Hit, Timings

if TYPE_CHECKING:
    from docqa.embedding import Embedder

MISMATCH = 0.25
"""Relative gap between the estimated and the reported prompt size that earns a warning."""
MISMATCH_MIN_TOKENS = 64
"""Gaps below this many tokens are never flagged: template tokens dominate short prompts."""
QUOTE_CHARS = 200


def _content_words(text: str) -> set[str]:
    common = stopwords("en") | stopwords("fr")
    return {w for w in words(strip_citations(text)) if w not in common and len(w) > 1}


def best_quote(chunk: str, claims: Sequence[str]) -> str:
    """The sentence of ``chunk`` sharing most words with ``claims``, else its first ~200 chars."""
    wanted = _content_words(" ".join(claims))
    scored = [(len(_content_words(s) & wanted), s) for s in split_sentences(chunk)]
    best = max(scored, key=lambda p: p[0], default=(0, ""))
    if best[0] > 0:
        return best[1]
    text = " ".join(chunk.split())
    if len(text) <= QUOTE_CHARS:
        return text
    return text[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"


def parse_citations(
    text: str, hits: Sequence[Hit], given: Sequence[int]
) -> tuple[tuple[Citation, ...], list[str]]:
    """The citations in ``text`` mapped to the sources, and a warning per unknown number.

    Args:
        text: The answer.
        hits: The hits numbered from 1.
        given: The numbers that were in the prompt.

    Returns:
        ``(citations, warnings)``: citations to numbers not given are dropped and flagged.
    """
    sentences = split_sentences(text)
    citations, warnings = [], []
    for n in cited_numbers(text):
        if n not in given:
            warnings.append(
                f"the answer cites [{n}], which was not among the sources given: ignored"
            )
            continue
        claims = [s for s in sentences if n in cited_numbers(s)]
        citations.append(_citation(n, hits[n - 1], claims))
    return tuple(citations), warnings


def checked_citations(
    text: str, hits: Sequence[Hit], given: Sequence[int], embedder: Embedder
) -> tuple[tuple[Citation, ...], list[str]]:
    """The citations of ``text`` checked against the sources (:mod:`~docqa.answering.checking`):
    kept where a sentence citing them is on their subject, added where a sentence the model
    left uncited is backed by a source; a warning names the citations dropped."""
    checked = check_citations(text, hits, given, embedder)
    citations = tuple(
        _citation(n, hits[n - 1], checked.claims[n], attributed=n in checked.added)
        for n in checked.numbers
    )
    warnings = []
    if checked.dropped:
        numbers = "".join(f"[{n}]" for n in checked.dropped)
        warnings.append(
            f"the answer cites {numbers} for sentences that source is not about: "
            "left out of the citations"
        )
    return citations, warnings


def _citation(
    n: int,
    hit: Hit,
    claims: Sequence[str],
    *,
    attributed: bool = False,
    support: Sequence[tuple[str, str]] = (),
) -> Citation:
    return Citation(
        n=n,
        file=hit.file,
        page=hit.page,
        quote=best_quote(hit.text, claims),
        heading=hit.heading,
        first_line=hit.first_line,
        last_line=hit.last_line,
        chunk_id=hit.chunk_id,
        attributed=attributed,
        support=tuple(support),
    )


def presenter(job: Job) -> Presenter:
    """The :class:`Presenter` of the answer to ``job``: its sentences judged against the sources
    given (checked with ``job.checker``, else taken as the model cites them)."""
    given = [n for n in range(1, len(job.hits) + 1) if n not in job.dropped]
    return Presenter(SentenceJudge(job.hits, given, job.checker if job.hits else None))


def _presented(
    job: Job, shown: Presenter
) -> tuple[tuple[Citation, ...], tuple[Hit, ...], tuple[int, ...], list[str]]:
    """Citations numbered 1..k as the text shows them, the hits in that numbering (the cited ones
    first, in order of use, then the others by rank), the dropped ones' numbers, warnings."""
    p, checked = shown.presented, shown.judge.checked
    rest = [n for n in range(1, len(job.hits) + 1) if n not in p.order]
    position = {old: new for new, old in enumerate([*p.order, *rest], 1)}
    citations = tuple(
        _citation(
            position[n],
            job.hits[n - 1],
            p.claims[n],
            attributed=n in checked.added,
            support=[(sentence, status or "") for sentence, status in p.support[n]],
        )
        for n in p.order
    )
    warnings = [
        f"the answer cites [{n}], which was not among the sources given: ignored" for n in p.unknown
    ]
    if checked.dropped:
        numbers = "".join(f"[{position[n]}]" for n in checked.dropped)
        warnings.append(
            f"the answer cites {numbers} for sentences that source is not about: "
            "left out of the citations"
        )
    hits = tuple(job.hits[n - 1] for n in [*p.order, *rest])
    return citations, hits, tuple(sorted(position[n] for n in job.dropped)), warnings


def _mismatch_warning(expected: int, reported: int | None) -> str | None:
    if not reported or abs(expected - reported) <= max(MISMATCH * reported, MISMATCH_MIN_TOKENS):
        return None
    return (
        f"the prompt was {reported} tokens by the backend's count but estimated at {expected}: "
        "sources may be left out needlessly, or cut by the server when DOCQA_NUM_CTX is tight"
    )


def finish(
    job: Job,
    completion: Completion,
    *,
    shown: Presenter | None = None,
    interrupted: bool = False,
) -> Answer:
    """Turn the LLM's reply to ``job`` into an :class:`Answer`.

    Args:
        job: What was asked.
        completion: The model's reply.
        shown: The presenter that showed the reply as it streamed (it is completed here);
            ``None`` presents the reply whole.
        interrupted: The reply was stopped before its end.
    """
    if shown is None:
        shown = presenter(job)
        shown.judge.prefetch(split_sentences(completion.text))
    shown.complete(completion.text)
    citations, hits, dropped, warnings = _presented(job, shown)
    abstained = bool(job.hits) and says_not_in_documents(completion.text)
    mismatch = _mismatch_warning(job.expected_tokens, completion.usage.prompt_tokens)
    notes = [*job.warnings, *warnings, *([mismatch] if mismatch else [])]
    if abstained and shown.judge.model_cited:
        cited = "".join(f"[{n}]" for n in sorted(shown.judge.model_cited))  # as the model wrote
        notes.append(
            f"the answer says the documents do not say, yet cites {cited}: read it as an abstention"
        )
    elif job.hits and mentions_not_in_documents(completion.text):
        notes.append("the answer answers, then says the documents do not say: check its sources")
    if interrupted:
        notes.append("interrupted: the answer is incomplete")
    return Answer(
        question=job.question,
        text=shown.text,
        citations=citations,
        hits=hits,
        model=completion.model,
        backend=completion.backend,
        usage=completion.usage,
        timings=Timings(
            retrieval_s=job.retrieval_s,
            llm_s=completion.seconds,
            first_token_s=completion.first_token_s,
            total_s=time.perf_counter() - job.started,
        ),
        abstained=abstained,
        warnings=tuple(notes),
        dropped_sources=dropped,
    )
