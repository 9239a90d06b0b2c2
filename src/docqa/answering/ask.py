"""The answering pipeline: :class:`Answerer` retrieves, builds the prompt and asks the LLM, over a
holder of collaborators (:class:`docqa.session.Session`); :func:`answer` is what ``docqa.ask``
runs. When no retrieved chunk passes the relevance floor, docqa answers that the documents do
not contain an answer, without calling the model."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from docqa import prompts, retrieval
from docqa.answering import whole_file
from docqa.answering.citations import finish, presenter
from docqa.answering.ending import generate
from docqa.answering.jobs import Job, abstention, baseline_job, rag_job
from docqa.answering.streaming import AnswerStream
from docqa.answering.whole_file import ProgressCallback
from docqa.llm import Message, TokenCallback
from docqa.passages import passages
from docqa.types import Answer, Hit, Timings

if TYPE_CHECKING:
    from docqa.collaborators import Collaborators
    from docqa.config import Settings
    from docqa.embedding import Embedder
    from docqa.llm import LLM


class Answerer:
    """The answering pipeline over a holder of collaborators (a :class:`docqa.session.Session`).

    The holder builds the LLM (its ``auto`` fallback warning goes into every answer) and the
    embedder once, and opens the store for each search. ``llm`` answers with another model of
    the same backend (a model picker, or several models compared); ``settings`` are one
    request's, in place of the holder's (a client's own instructions).
    """

    def __init__(
        self,
        collaborators: Collaborators,
        *,
        files: Sequence[str] | None = None,
        llm: LLM | None = None,
        settings: Settings | None = None,
        file: str | None = None,
        only_file: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Keep the holder; nothing is loaded yet. ``file``: the stored path every question is
        about as a whole (see :mod:`docqa.answering.whole_file`); ``only_file``: the one path
        ``files`` names, which a whole-file question ("summarize it") is about; ``on_progress``
        follows such a read part by part."""
        self.collaborators = collaborators
        self.settings = settings or collaborators.settings
        self.files = list(files) if files else None
        self._llm = llm
        self.file = file
        self.only_file = only_file
        self.on_progress = on_progress

    def with_instructions(self, instructions: str) -> Answerer:
        """The same pipeline with a conversation's own instructions added to docqa's
        (:func:`docqa.prompts.with_instructions`); itself when there are none."""
        if not instructions.strip():
            return self
        settings = prompts.with_instructions(self.settings, instructions)
        return Answerer(
            self.collaborators,
            files=self.files,
            llm=self._llm,
            settings=settings,
            file=self.file,
            only_file=self.only_file,
            on_progress=self.on_progress,
        )

    @property
    def llm(self) -> LLM:
        """The language model, built on first use."""
        return self._llm if self._llm is not None else self.collaborators.llm

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use."""
        return self.collaborators.embedder

    def warnings(self) -> list[str]:
        """Warnings every answer carries (the backend fallback)."""
        warning = self.collaborators.backend_warning
        return [warning] if warning else []

    def retrieve(self, query: str) -> tuple[list[Hit], float]:
        """The sources for ``query`` and the seconds it took: the relevant hits (relevance floor
        applied), contents pages left out and overlapping neighbours joined
        (:func:`docqa.passages.passages`)."""
        started = time.perf_counter()
        hits = self.collaborators.search(query, files=self.files, settings=self.settings)
        sources = passages(retrieval.relevant(hits, self.settings, query))
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
        whole = self.whole_file(question, started)
        if whole is not None:
            return whole
        hits, seconds = self.retrieve(query or question)
        timings = Timings(retrieval_s=seconds, total_s=time.perf_counter() - started)
        if not hits:
            return abstention(question, timings=timings)
        job = rag_job(question, hits, self.llm, self.settings, history, query=query)
        job.started, job.retrieval_s = started, seconds
        if self.settings.check_citations:
            job.checker = self.embedder
        job.warnings[:0] = self.warnings()
        if len(job.dropped) == len(hits):
            warning = (
                f"no source fits the {self.llm.context_window}-token context window next to the "
                "question: raise DOCQA_NUM_CTX or lower DOCQA_MAX_TOKENS"
            )
            return abstention(question, hits, timings=timings, warnings=[*self.warnings(), warning])
        return job

    def whole_file(self, question: str, started: float) -> Job | None:
        """The job of a question about a whole file (its parts read first), or ``None``."""
        read = whole_file.plan(self.collaborators, question, self.file, only_file=self.only_file)
        if read is None:
            return None
        job = whole_file.read_whole(read, self.llm, self.settings, self.on_progress)
        job.started, job.retrieval_s = started, 0.0
        if self.settings.check_citations:
            job.checker = self.embedder
        job.warnings[:0] = self.warnings()
        return job

    def run(self, job: Job, on_token: TokenCallback | None = None) -> Answer:
        """Call the LLM on ``job`` (pieces to ``on_token``) and build the answer."""
        if on_token is None:
            return finish(job, generate(self.llm, job.messages))
        shown = presenter(job)

        def show(piece: str) -> None:
            text = shown.feed(piece)
            if text:
                on_token(text)

        completion = generate(self.llm, job.messages, show)
        rest = shown.complete(completion.text)
        if rest:
            on_token(rest)
        return finish(job, completion, shown=shown)

    def prepare_baseline(self, question: str, history: Sequence[Message] = ()) -> Job:
        """The prompt of the model alone, no documents (``history``: as :meth:`prepare`)."""
        job = baseline_job(question, self.llm, self.settings, history)
        job.warnings[:0] = self.warnings()
        return job

    def baseline(self, question: str, on_token: TokenCallback | None = None) -> Answer:
        """The model's answer without documents."""
        return self.run(self.prepare_baseline(question), on_token)


def answer(
    answerer: Answerer,
    question: str,
    *,
    stream: bool = False,
    history: Sequence[Message] = (),
    on_close: Callable[[], None] | None = None,
) -> Answer | AnswerStream:
    """Answer ``question`` (what :func:`docqa.ask` runs); ``on_close`` once the work is done."""
    done = on_close or (lambda: None)
    try:
        prepared = answerer.prepare(question, history=history)
        if stream:
            if isinstance(prepared, Answer):
                return AnswerStream.of(prepared, on_close=done)
            return AnswerStream(prepared, answerer.llm, on_close=done)
    except BaseException:
        done()
        raise
    try:
        return prepared if isinstance(prepared, Answer) else answerer.run(prepared)
    finally:
        done()
