""":class:`AnswerStream`: an answer as it is generated, the LLM on a worker thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from docqa.answering.citations import finish, presenter
from docqa.answering.ending import generate
from docqa.answering.jobs import Job
from docqa.errors import DocqaError
from docqa.llm import Completion
from docqa.types import Answer

if TYPE_CHECKING:
    from docqa.llm import LLM


_JOIN_S = 2.0  # how long an interrupted stream waits for the LLM thread to notice


class Cancelled(Exception):
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
                raise Cancelled
            pieces.put(("piece", piece))

        def work() -> None:
            try:
                pieces.put(("done", generate(llm, job.messages, on_token)))
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
        # the model's text becomes the text docqa shows (markers by sentence, sources 1..k) as
        # it comes, so the pieces add up to the finished answer's text
        shown = presenter(job)
        while True:
            kind, value = pieces.get()
            if kind == "piece":
                text = shown.feed(str(value))
                if text:
                    self._pieces.append(text)
                    yield text
            elif kind == "done" and isinstance(value, Completion):
                rest = shown.complete(value.text)
                self._answer = finish(job, value, shown=shown)
                if self._on_done is not None:
                    self._on_done(self._answer)
                if rest:
                    self._pieces.append(rest)
                    yield rest
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
