"""A conversation over the documents: follow-up questions are read in the light of earlier ones.

Each follow-up is first rewritten by the model into a standalone question ("how fast is it?" →
"how fast is the Goéland?"), which is what retrieval searches for; the answer prompt then holds
the conversation so far, bounded by the context window (oldest turns left out first).
"""

from __future__ import annotations

from typing import Literal, overload

from docqa.answering.ask import Answerer
from docqa.answering.jobs import Job, condense_messages
from docqa.answering.streaming import AnswerStream
from docqa.llm import Message
from docqa.support import strip_citations
from docqa.types import Answer


def _clean_question(text: str) -> str:
    """The first non-empty line of the model's rewrite, without a label or quotes."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if ":" in line[:30] and line.split(":", 1)[0].lower().startswith(("standalone", "question")):
        line = line.split(":", 1)[1].strip()
    return line.strip("\"'“”«» ")


class Conversation:
    """A conversation with memory over an :class:`~docqa.answering.Answerer` (the public
    :class:`docqa.Chat` builds one from settings).

    Attributes:
        history: The conversation so far (user questions and answers without their ``[n]``
            markers, which pointed at that turn's sources), oldest first.
        last_query: What the last question was searched as (the standalone rewrite).
    """

    def __init__(self, answerer: Answerer) -> None:
        """Start an empty conversation; the model and embedder load on the first question."""
        self._answerer = answerer
        self.history: list[Message] = []
        self.last_query: str | None = None

    @overload
    def ask(self, question: str, *, stream: Literal[False] = False) -> Answer: ...

    @overload
    def ask(self, question: str, *, stream: Literal[True]) -> AnswerStream: ...

    def ask(self, question: str, *, stream: bool = False) -> Answer | AnswerStream:
        """Answer ``question`` in the light of the conversation, and remember the turn.

        Args:
            question: The question or follow-up.
            stream: Return an :class:`~docqa.answering.AnswerStream`; the turn is remembered
                when the stream completes (not when it is interrupted).

        Returns:
            The answer, or a stream of it.

        Raises:
            NoStoreError: There is no store.
            LLMError: The model failed.
        """
        prepared = self._prepare(question)
        if isinstance(prepared, Answer):
            self._remember(prepared, len(self.history))
            return AnswerStream.of(prepared) if stream else prepared
        kept = prepared.history_kept

        def remember(answer: Answer) -> None:
            self._remember(answer, kept)

        if stream:
            return AnswerStream(prepared, self._answerer.llm, on_done=remember)
        answer = self._answerer.run(prepared)
        remember(answer)
        return answer

    def _prepare(self, question: str) -> Job | Answer:
        """Retrieve for the standalone rewrite; if it finds nothing, for the last two questions.

        A small model's rewrite can lose the subject ("what engine does it have?" comes back
        unchanged); the previous question usually still names it.
        """
        if not self.history:
            self.last_query = question
            return self._answerer.prepare(question, history=self.history)
        self.last_query = self.condense(question)
        prepared = self._answerer.prepare(question, query=self.last_query, history=self.history)
        if isinstance(prepared, Answer) and not prepared.hits:
            previous = next(m.content for m in reversed(self.history) if m.role == "user")
            self.last_query = f"{previous} {question}"
            prepared = self._answerer.prepare(question, query=self.last_query, history=self.history)
        return prepared

    def condense(self, question: str) -> str:
        """The follow-up ``question`` rewritten as a standalone question (one LLM call).

        The conversation given to the model is bounded by the context window, oldest turns
        left out first; an empty rewrite falls back on the question itself.
        """
        llm = self._answerer.llm
        messages = condense_messages(question, self.history, llm, self._answerer.settings)
        return _clean_question(llm.chat(messages).text) or question

    def _remember(self, answer: Answer, kept: int) -> None:
        # Turns that no longer fit are forgotten, so they are not re-sent (and re-reported).
        recent = self.history[len(self.history) - kept :] if kept else []
        self.history = [
            *recent,
            Message("user", answer.question),
            Message("assistant", strip_citations(answer.text)),
        ]

    def reset(self) -> None:
        """Forget the conversation."""
        self.history = []
        self.last_query = None

    def close(self) -> None:
        """Release what the conversation owns (nothing here; see :class:`docqa.Chat`)."""

    def __enter__(self) -> Conversation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
