"""From the LLM's reply to an :class:`~docqa.types.Answer`: the ``[n]`` citations mapped to the
sources with their best quote, abstentions recognised, prompt-size estimates checked."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from docqa.answering.abstention import mentions_not_in_documents, says_not_in_documents
from docqa.answering.jobs import Job
from docqa.language import stopwords, words
from docqa.llm import Completion
from docqa.support import CITATION, split_sentences, strip_citations
from docqa.types import Answer, Citation, Hit, Timings

MISMATCH = 0.25
"""Relative gap between the estimated and the reported prompt size that earns a warning."""
MISMATCH_MIN_TOKENS = 64
"""Gaps below this many tokens are never flagged: template tokens dominate short prompts."""
QUOTE_CHARS = 200


def cited_numbers(text: str) -> list[int]:
    """Source numbers cited in ``text`` (``[1]``, ``[1, 2]``, ``[1][2]``), in order, once each."""
    found: list[int] = []
    for match in CITATION.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            n = int(part)
            if n not in found:
                found.append(n)
    return found


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
        hit = hits[n - 1]
        claims = [s for s in sentences if n in cited_numbers(s)]
        citations.append(
            Citation(
                n=n,
                file=hit.file,
                page=hit.page,
                quote=best_quote(hit.text, claims),
                heading=hit.heading,
                first_line=hit.first_line,
                last_line=hit.last_line,
                chunk_id=hit.chunk_id,
            )
        )
    return tuple(citations), warnings


def _mismatch_warning(expected: int, reported: int | None) -> str | None:
    if not reported or abs(expected - reported) <= max(MISMATCH * reported, MISMATCH_MIN_TOKENS):
        return None
    return (
        f"the prompt was {reported} tokens by the backend's count but estimated at {expected}: "
        "sources may be left out needlessly, or cut by the server when DOCQA_NUM_CTX is tight"
    )


def finish(job: Job, completion: Completion, *, interrupted: bool = False) -> Answer:
    """Turn the LLM's reply to ``job`` into an :class:`Answer`."""
    given = [n for n in range(1, len(job.hits) + 1) if n not in job.dropped]
    citations, warnings = parse_citations(completion.text, job.hits, given)
    mismatch = _mismatch_warning(job.expected_tokens, completion.usage.prompt_tokens)
    notes = [*job.warnings, *warnings, *([mismatch] if mismatch else [])]
    abstained = bool(job.hits) and says_not_in_documents(completion.text)
    if abstained and citations:
        cited = "".join(f"[{c.n}]" for c in citations)
        notes.append(
            f"the answer says the documents do not say, yet cites {cited}: read it as an abstention"
        )
    elif job.hits and mentions_not_in_documents(completion.text):
        notes.append("the answer answers, then says the documents do not say: check its sources")
    if interrupted:
        notes.append("interrupted: the answer is incomplete")
    return Answer(
        question=job.question,
        text=completion.text.strip(),
        citations=citations,
        hits=job.hits,
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
        dropped_sources=job.dropped,
    )
