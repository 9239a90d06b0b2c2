"""Answering: retrieve, fit the prompt to the context window, ask the LLM, parse its citations.

:func:`ask` answers from the documents (streaming if asked), :func:`baseline` asks the bare model
and :func:`compare` does both and marks which sentences the sources back. :class:`Answerer` is
the pipeline with its collaborators, kept across questions by :class:`docqa.chat.Chat`.

Nothing is cut silently: when the sources do not fit the context window, the lowest-ranked
ones are left out and the answer says which (``Answer.dropped_sources`` and a warning). When no
retrieved chunk passes the relevance floor, docqa answers that the documents do not contain an
answer, without calling the model.
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, overload

from docqa import embedding, prompts, retrieval
from docqa import llm as backends
from docqa.config import Settings
from docqa.errors import ConfigError, DocqaError
from docqa.language import detect_language, stopwords, words
from docqa.llm import Completion, Message, TokenCallback
from docqa.passages import passages
from docqa.support import CITATION, mark_support, split_sentences, strip_citations
from docqa.types import Answer, Citation, Comparison, Hit, Timings, TokenUsage

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.llm import LLM
    from docqa.stores import Store

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.2
"""Characters per token assumed when the backend cannot count tokens (dense, multilingual)."""
ESTIMATE_MARGIN = 1.1
"""Safety factor on character-based estimates, so that an underestimate rarely overflows."""
MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message (role markers, separators)."""
MISMATCH = 0.25
"""Relative gap between the estimated and the reported prompt size that earns a warning."""
MISMATCH_MIN_TOKENS = 64
"""Gaps below this many tokens are never flagged: template tokens dominate short prompts."""
QUOTE_CHARS = 200
CONCURRENT_BACKENDS = frozenset({"ollama", "openai"})
"""Backends served by another process, which can take the baseline and RAG calls at once."""
_JOIN_S = 2.0  # how long an interrupted stream waits for the LLM thread to notice
# "The documents do not say", "the provided sources don't contain …", "les sources ne le
# précisent pas": a subject naming the documents, a negation and a verb of saying or holding.
_DOCS_EN = (
    r"(?:the |these |those )?(?:provided |given |retrieved |above )?"
    r"(?:documents?|sources?|context|texts?|passages?|excerpts?)"
)
_VERBS_EN = (
    r"(?:say|state|contain|mention|specify|provide|include|cover|explain|describe|give|address"
    r"|discuss|indicate|answer|tell|have|offer|list|detail)s?"
)
_DOCS_FR = r"(?:les |ces )?(?:documents?|sources?|textes?|passages?|extraits?)(?: fournie?s)?"
_VERBS_FR = (
    r"(?:disent|dit|contiennent|contient|précisent|précise|mentionnent|mentionne|indiquent"
    r"|indique|fournissent|fournit|expliquent|explique|donnent|donne|abordent|aborde|parlent"
    r"|parle|traitent|traite|répondent|répond|couvrent|couvre)"
)
_NOT_IN_DOCUMENTS = re.compile(
    rf"(?:(?:but|however|mais|cependant),? )?(?:{_DOCS_EN} (?:do|does|did)(?: not|n't) "
    rf"{_VERBS_EN}|there is no (?:information|mention|answer)"
    rf"|{_DOCS_FR} (?:ne |n')(?:le |l'|en |y )?{_VERBS_FR})"
)
# What may follow that phrase in a bare, whole-question disclaimer: "The documents do not say.",
# "… do not contain an answer to this question.", "Les documents ne le disent pas."
_BARE_TAIL = re.compile(
    r"(?: pas)?"
    r"(?: (?:so|this|that|it|anything|an answer|the answer|any information|information"
    r"|de réponse|la réponse|rien|d'information|d'informations|cela))?"
    r"(?: (?:to|about|on|for|regarding|à|sur|concernant) (?:this|that|it|cela|ce sujet"
    r"|(?:the|this|that|cette|la) question))?"
    r"(?: (?:in|from) (?:the |these )?(?:provided )?(?:documents?|sources?|context)"
    r"| dans (?:les|ces) (?:documents|sources))?"
    r"[\s.!…]*"
)
# "… do not cover the question about Knoppix, but …": the whole question, whatever follows.
_WHOLE_QUESTION = re.compile(
    r"(?: pas)?(?: (?:fully|completely|entirely|entièrement|complètement|totalement))?"
    r" (?:the|this|your|that|cette|la|votre) question\b"
)


# --- token budget --------------------------------------------------------------------------


class TokenCounter:
    """Counts prompt tokens with the model's tokenizer, or estimates them from characters.

    The estimate, used when ``llm.count_tokens`` returns ``None`` (Ollama, most OpenAI-style
    servers), is ``len(text) / 3.2`` tokens times a 1.1 safety margin, plus
    :data:`MESSAGE_OVERHEAD` per message. 3.2 characters per token is on the dense side for
    English prose (about 4) so that French, code and PDF text (closer to 3) still fit.
    """

    def __init__(self, llm: LLM) -> None:
        """Count for ``llm``; exact until its ``count_tokens`` first returns ``None``."""
        self._llm = llm
        self.exact = True

    def __call__(self, text: str) -> int:
        """Tokens of ``text`` as one message's content (overhead included)."""
        counted = self._llm.count_tokens(text) if self.exact else None
        if counted is None:
            self.exact = False
            # rounded first so that float noise (320 / 3.2 = 100.00000000000001) adds no token
            counted = math.ceil(round(len(text) / CHARS_PER_TOKEN * ESTIMATE_MARGIN, 6))
        return counted + MESSAGE_OVERHEAD

    def expected(self, cost: int) -> int:
        """What the backend should report for a prompt of ``cost``: the margin taken out."""
        return cost if self.exact else round(cost / ESTIMATE_MARGIN)


def _budget(llm: LLM, settings: Settings) -> int:
    """Prompt tokens available: the context window minus the tokens kept for the answer."""
    return llm.context_window - settings.max_tokens


def _too_long(what: str, cost: int, budget: int) -> ConfigError:
    return ConfigError(
        f"{what} needs about {cost} tokens but only {budget} are free "
        "(context window minus DOCQA_MAX_TOKENS): raise DOCQA_NUM_CTX or lower DOCQA_MAX_TOKENS"
    )


def fit_history(history: Sequence[Message], count: TokenCounter, room: int) -> list[Message]:
    """The most recent whole turns of ``history`` that fit in ``room`` tokens.

    Oldest messages go first; an assistant message left at the front without its question is
    dropped too, so the history still starts with the user.
    """
    kept = list(history)
    costs = [count(m.content) for m in kept]
    while kept and (sum(costs) > room or kept[0].role != "user"):
        kept.pop(0)
        costs.pop(0)
    return kept


# --- prompts -------------------------------------------------------------------------------


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
) -> Job:
    """Build the RAG prompt: system, the history that fits, numbered sources and the question.

    History gets at most half of the room left by the system prompt and the question; sources
    fill the rest in rank order, the lowest-ranked left out first.

    Raises:
        ConfigError: Not even the system prompt and the question fit the context window.
    """
    count, budget = TokenCounter(llm), _budget(llm, settings)
    system = prompts.system_prompt(prompts.RAG_SYSTEM, settings)
    fixed = count(system) + count(prompts.rag_user([], question))
    if fixed > budget:
        raise _too_long("the question", fixed, budget)
    turns = fit_history(history, count, (budget - fixed) // 2)
    room = budget - fixed - sum(count(m.content) for m in turns)
    blocks = [prompts.format_source(n, h) for n, h in enumerate(hits, 1)]
    # each block is joined into the user message: its cost is its tokens, without overhead
    sizes = [count(b) - MESSAGE_OVERHEAD + 1 for b in blocks]
    keep = len(blocks)
    while keep and sum(sizes[:keep]) > room:
        keep -= 1
    user = prompts.rag_user(blocks[:keep], question)
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
    if len(turns) < len(history):
        job.warnings.append(
            f"left out the {len(history) - len(turns)} oldest messages of the conversation "
            f"to fit the {llm.context_window}-token context window"
        )
    return job


def baseline_job(question: str, llm: LLM, settings: Settings) -> Job:
    """Build the baseline prompt: the model alone, no documents.

    Raises:
        ConfigError: The question does not fit the context window.
    """
    count, budget = TokenCounter(llm), _budget(llm, settings)
    system = prompts.system_prompt(prompts.BASELINE_SYSTEM, settings)
    cost = count(system) + count(question)
    if cost > budget:
        raise _too_long("the question", cost, budget)
    messages = [Message("system", system), Message("user", question)]
    return Job(question=question, messages=messages, expected_tokens=count.expected(cost))


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


# --- replies -------------------------------------------------------------------------------


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


def _normalised_sentences(text: str) -> list[str]:
    sentences = split_sentences(strip_citations(text))
    return [" ".join(s.lower().replace("’", "'").split()) for s in sentences]


def says_not_in_documents(text: str) -> bool:
    """Whether the answer opens by saying the documents do not say (English or French).

    Such an answer is an abstention whatever follows it: a citation (``"The documents do not
    say. [7]"``), or a guess after the disclaimer.
    """
    sentences = _normalised_sentences(text)
    return bool(sentences) and _NOT_IN_DOCUMENTS.match(sentences[0]) is not None


def _bare_disclaimer(sentence: str) -> bool:
    found = _NOT_IN_DOCUMENTS.match(sentence)
    if found is None:
        return False
    end = found.end()
    return bool(_BARE_TAIL.fullmatch(sentence, end) or _WHOLE_QUESTION.match(sentence, end))


def mentions_not_in_documents(text: str) -> bool:
    """Whether an answer that does not open with a disclaimer later says, bare, that the
    documents do not say ("… [1]. The documents do not say."): it answers and disclaims at
    once (*mixed*). A sentence naming what the documents leave out ("The sources do not say
    how long it takes.") is a precise answer, not a disclaimer.
    """
    sentences = _normalised_sentences(text)
    return not says_not_in_documents(text) and any(_bare_disclaimer(s) for s in sentences[1:])


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
        usage=TokenUsage(completion.usage.prompt_tokens, completion.usage.completion_tokens),
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


# --- streaming -----------------------------------------------------------------------------


class _Cancelled(Exception):
    """Raised in the LLM's token callback to stop generation after an interrupt."""


class AnswerStream:
    """An answer as it is generated: iterate for the text pieces, then read :attr:`answer`.

    The LLM runs on a worker thread and hands pieces over a queue, so the iterating thread is
    the one that receives Ctrl-C: a ``KeyboardInterrupt`` (or leaving the loop early) stops the
    generation at the next token and propagates.

        >>> stream = docqa.ask("How many boats?", stream=True)
        >>> for piece in stream:
        ...     print(piece, end="", flush=True)
        >>> stream.answer.citations
    """

    def __init__(
        self,
        job: Job | None,
        llm: LLM | None,
        *,
        ready: Answer | None = None,
        on_done: Callable[[Answer], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """Prepare a stream; nothing runs until iteration. Built by :func:`ask`."""
        self._job, self._llm = job, llm
        self._answer = ready
        self._on_done, self._on_close = on_done, on_close
        self._started = False
        self._closed = False
        self._pieces: list[str] = []

    @classmethod
    def of(cls, answer: Answer, on_close: Callable[[], None] | None = None) -> AnswerStream:
        """A stream of an answer that needs no LLM (an abstention): one piece, its text."""
        return cls(None, None, ready=answer, on_close=on_close)

    def __iter__(self) -> Iterator[str]:
        """The answer's text, piece by piece as the model produces it."""
        if self._started:
            raise DocqaError("this answer stream was already read: ask again for a new one")
        self._started = True
        try:
            if self._job is None or self._llm is None:
                yield self.answer.text
                return
            yield from self._generate(self._job, self._llm)
        finally:
            self.close()

    def close(self) -> None:
        """Release what the stream owns (the LLM :func:`ask` built); done after iteration."""
        if not self._closed and self._on_close is not None:
            self._on_close()
        self._closed = True

    def _generate(self, job: Job, llm: LLM) -> Iterator[str]:
        pieces: queue.Queue[tuple[str, object]] = queue.Queue()
        cancel = threading.Event()

        def on_token(piece: str) -> None:
            if cancel.is_set():
                raise _Cancelled
            pieces.put(("piece", piece))

        def work() -> None:
            try:
                pieces.put(("done", llm.chat(job.messages, on_token=on_token)))
            except BaseException as error:  # handed to the iterating thread, which raises it
                pieces.put(("error", error))

        worker = threading.Thread(target=work, name="docqa-answer", daemon=True)
        worker.start()
        try:
            yield from self._drain(job, pieces)
        finally:
            cancel.set()
            worker.join(_JOIN_S)

    def _drain(self, job: Job, pieces: queue.Queue[tuple[str, object]]) -> Iterator[str]:
        while True:
            kind, value = pieces.get()
            if kind == "piece":
                self._pieces.append(str(value))
                yield str(value)
            elif kind == "done" and isinstance(value, Completion):
                self._answer = finish(job, value)
                if self._on_done is not None:
                    self._on_done(self._answer)
                return
            else:
                raise value if isinstance(value, BaseException) else DocqaError(str(value))

    @property
    def answer(self) -> Answer:
        """The finished answer; reading it before iterating consumes the stream.

        Raises:
            DocqaError: The stream was interrupted before the answer was complete.
        """
        if self._answer is None and not self._started:
            for _ in self:
                pass
        if self._answer is None:
            raise DocqaError("the answer was interrupted before it was complete: ask again")
        return self._answer

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._pieces)


# --- the pipeline --------------------------------------------------------------------------


class Answerer:
    """The answering pipeline with its collaborators, reusable across questions.

    Collaborators left out are built from the settings on first use and closed by
    :meth:`close`: the LLM (``resolve_backend`` then ``make_llm``; its fallback warning goes
    into every answer) and the embedder. The store, when not given, is opened per search so
    that no lock is held between questions.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | None = None,
        embedder: Embedder | None = None,
        store: Store | None = None,
        files: Sequence[str] | None = None,
    ) -> None:
        """Keep the collaborators; nothing is loaded yet."""
        self.settings = settings or Settings()
        self._llm, self._owns_llm = llm, llm is None
        self.backend_warning: str | None = None
        self.embedder, self.store = embedder, store
        self.files = list(files) if files else None

    @property
    def llm(self) -> LLM:
        """The language model, built from the settings on first use."""
        if self._llm is None:
            backend, self.backend_warning = backends.resolve_backend(self.settings)
            self._llm = backends.make_llm(self.settings, backend)
        return self._llm

    def warnings(self) -> list[str]:
        """Warnings every answer carries (the backend fallback)."""
        return [self.backend_warning] if self.backend_warning else []

    def retrieve(self, query: str) -> tuple[list[Hit], float]:
        """The sources for ``query`` and the seconds it took: the relevant hits (relevance floor
        applied), contents pages left out and overlapping neighbours joined
        (:func:`docqa.passages.passages`)."""
        started = time.perf_counter()
        if self.embedder is None and self.settings.search_mode != "bm25":
            self.embedder = embedding.make_embedder(self.settings)
        hits = retrieval.search(
            query, self.settings, files=self.files, embedder=self.embedder, store=self.store
        )
        sources = passages(retrieval.relevant(hits, self.settings))
        return sources, time.perf_counter() - started

    def prepare(
        self, question: str, *, query: str | None = None, history: Sequence[Message] = ()
    ) -> Job | Answer:
        """Retrieve for ``query`` (default: the question) and build the prompt.

        Returns:
            A :class:`Job` for the LLM, or the finished abstention when nothing relevant was
            found or no source fits (the LLM is then neither built nor called).
        """
        started = time.perf_counter()
        hits, seconds = self.retrieve(query or question)
        timings = Timings(retrieval_s=seconds, total_s=time.perf_counter() - started)
        if not hits:
            return abstention(question, timings=timings)
        job = rag_job(question, hits, self.llm, self.settings, history)
        job.started, job.retrieval_s = started, seconds
        job.warnings[:0] = self.warnings()
        if len(job.dropped) == len(hits):
            warning = (
                f"no source fits the {self.llm.context_window}-token context window next to the "
                "question: raise DOCQA_NUM_CTX or lower DOCQA_MAX_TOKENS"
            )
            return abstention(question, hits, timings=timings, warnings=[*self.warnings(), warning])
        return job

    def run(self, job: Job, on_token: TokenCallback | None = None) -> Answer:
        """Call the LLM on ``job`` (pieces to ``on_token``) and build the answer."""
        return finish(job, self.llm.chat(job.messages, on_token=on_token))

    def baseline(self, question: str, on_token: TokenCallback | None = None) -> Answer:
        """The model's answer without documents."""
        job = baseline_job(question, self.llm, self.settings)
        job.warnings[:0] = self.warnings()
        return self.run(job, on_token)

    def close(self) -> None:
        """Close the LLM if this answerer built it."""
        if self._owns_llm and self._llm is not None:
            self._llm.close()
            self._llm = None


@overload
def ask(
    question: str,
    settings: Settings | None = None,
    *,
    stream: Literal[False] = False,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    history: Sequence[Message] | None = None,
    files: Sequence[str] | None = None,
) -> Answer: ...


@overload
def ask(
    question: str,
    settings: Settings | None = None,
    *,
    stream: Literal[True],
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    history: Sequence[Message] | None = None,
    files: Sequence[str] | None = None,
) -> AnswerStream: ...


def ask(
    question: str,
    settings: Settings | None = None,
    *,
    stream: bool = False,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    history: Sequence[Message] | None = None,
    files: Sequence[str] | None = None,
) -> Answer | AnswerStream:
    """Answer ``question`` from the ingested documents, citing them as ``[n]``.

    Args:
        question: The question, in any language the model speaks.
        settings: Settings; defaults to ``Settings()`` (env vars and ``docqa.toml``).
        stream: Return an :class:`AnswerStream` to iterate over as the model writes.
        llm: Language model to use instead of the one the settings name.
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).
        history: Earlier messages of a conversation (user and assistant, oldest first);
            the oldest are left out when they do not fit.
        files: Only use these files (globs, as :func:`docqa.retrieval.search` takes them).

    Returns:
        An :class:`Answer`, or an :class:`AnswerStream` whose ``answer`` holds it at the end.

    Raises:
        NoStoreError: There is no store (run ``docqa ingest PATH`` first).
        LLMError: The model failed; subclasses say whether it is missing or too slow.
        ConfigError: The question alone does not fit the context window, or a bad preset.
    """
    answerer = Answerer(settings, llm=llm, embedder=embedder, store=store, files=files)
    try:
        prepared = answerer.prepare(question, history=history or ())
    except BaseException:
        answerer.close()
        raise
    if isinstance(prepared, Answer):
        answerer.close()
        return AnswerStream.of(prepared) if stream else prepared
    if stream:
        return AnswerStream(prepared, answerer.llm, on_close=answerer.close)
    try:
        return answerer.run(prepared)
    finally:
        answerer.close()


def baseline(question: str, settings: Settings | None = None, *, llm: LLM | None = None) -> Answer:
    """The model's answer to ``question`` without any document (what RAG is compared with).

    Args:
        question: The question.
        settings: Settings; defaults to ``Settings()``.
        llm: Language model to use instead of the one the settings name.

    Raises:
        LLMError: The model failed.
        ConfigError: The question does not fit the context window, or a bad preset.
    """
    answerer = Answerer(settings, llm=llm)
    try:
        return answerer.baseline(question)
    finally:
        answerer.close()


def compare(
    question: str,
    settings: Settings | None = None,
    *,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    files: Sequence[str] | None = None,
) -> Comparison:
    """The model alone versus the model with the documents, each sentence marked for support.

    Both answers come from the same model and settings. They are requested at once when the
    model is served by another process (Ollama, OpenAI-style), one after the other in-process.
    Support is marked with the embedder (see :mod:`docqa.support`), without another LLM call.

    Args:
        question: The question.
        settings: Settings; defaults to ``Settings()``.
        llm: Language model to use instead of the one the settings name.
        embedder: Embedder for retrieval and support marking.
        store: Store to use instead of the one the settings name (left open).
        files: Only use these files (globs).

    Raises:
        NoStoreError: There is no store.
        LLMError: The model failed.
    """
    answerer = Answerer(settings, llm=llm, embedder=embedder, store=store, files=files)
    try:
        prepared = answerer.prepare(question)
        base, rag = _both(answerer, question, prepared)
    finally:
        answerer.close()
    return _marked(question, base, rag, answerer)


def _both(answerer: Answerer, question: str, prepared: Job | Answer) -> tuple[Answer, Answer]:
    """The baseline and RAG answers, concurrently where the backend allows it."""
    if isinstance(prepared, Answer):
        return answerer.baseline(question), prepared
    if answerer.llm.backend not in CONCURRENT_BACKENDS:
        return answerer.baseline(question), answerer.run(prepared)
    cancel = threading.Event()

    def check(piece: str) -> None:
        if cancel.is_set():
            raise _Cancelled

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="docqa-compare") as pool:
        base = pool.submit(answerer.baseline, question, check)
        rag = pool.submit(answerer.run, prepared, check)
        try:
            return base.result(), rag.result()
        except BaseException:
            # Ctrl-C or a failure: stop the other call at its next token, not at its end
            # (leaving the pool waits for both threads).
            cancel.set()
            raise


def _marked(question: str, base: Answer, rag: Answer, answerer: Answerer) -> Comparison:
    hits = rag.hits
    texts = [h.text for h in hits]
    embedder = answerer.embedder
    if embedder is None and texts:
        embedder = embedding.make_embedder(answerer.settings)
    vectors = embedder.embed_documents(texts) if embedder is not None and texts else None
    return Comparison(
        question=question,
        baseline=base,
        rag=rag,
        hits=hits,
        baseline_support=mark_support(base.text, texts, embedder, source_vectors=vectors),
        rag_support=(
            ()
            if rag.abstained
            else mark_support(rag.text, texts, embedder, source_vectors=vectors, citations=True)
        ),
    )
