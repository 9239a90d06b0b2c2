"""A conversation over the documents: follow-up questions are read in the light of earlier ones.

Each follow-up is first rewritten by the model into a standalone question ("how fast is it?" →
"how fast is the Goéland?"), which is what retrieval searches for; the answer prompt then holds
the conversation so far, bounded by the context window (oldest turns left out first).

A conversation is also built from a client's messages (:meth:`Conversation.from_messages`, what
``docqa serve`` does for each request): their system text, the earlier turns and the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, overload

from docqa.answering.ask import Answerer
from docqa.answering.jobs import Job, condense_messages
from docqa.answering.streaming import AnswerStream
from docqa.llm import Message
from docqa.support import strip_citations
from docqa.types import Answer

SOURCES_HEADING = "Sources:"
"""The heading of the sources block docqa adds under an answer it sends to a client."""


class Said(Protocol):
    """One message of a client's conversation (roles ``system``/``developer``, ``user``,
    ``assistant``; others are ignored)."""

    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


def strip_sources(text: str) -> str:
    """An answer as docqa sent it, without its sources block."""
    cut = text.rfind("\n\n" + SOURCES_HEADING + "\n")
    return text[:cut] if cut >= 0 else text


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

    def __init__(
        self, answerer: Answerer, *, history: Sequence[Message] = (), instructions: str = ""
    ) -> None:
        """Start a conversation; the model and embedder load on the first question.

        Args:
            answerer: The answering pipeline.
            history: Earlier turns (user and assistant messages, oldest first).
            instructions: The conversation's own instructions, added to docqa's
                (:func:`docqa.prompts.with_instructions`).
        """
        self._answerer = answerer.with_instructions(instructions)
        self.history: list[Message] = list(history)
        self.last_query: str | None = None

    @staticmethod
    def from_messages(answerer: Answerer, messages: Sequence[Said]) -> tuple[Conversation, str]:
        """The conversation a client's messages hold, and the question it ends with.

        System (and ``developer``) messages become the conversation's instructions; assistant
        turns lose the sources block and ``[n]`` markers docqa added (they pointed at that
        turn's sources).

        Raises:
            ValueError: The last user/assistant message is not a non-empty user message.
        """
        instructions = "\n\n".join(
            m.content.strip()
            for m in messages
            if m.role in ("system", "developer") and m.content.strip()
        )
        talk = [m for m in messages if m.role in ("user", "assistant")]
        if not talk or talk[-1].role != "user" or not talk[-1].content.strip():
            raise ValueError(
                "the last message must be the user's question (role 'user', not empty)"
            )
        history = [
            Message("assistant", strip_citations(strip_sources(m.content)).strip())
            if m.role == "assistant"
            else Message("user", m.content)
            for m in talk[:-1]
        ]
        chat = Conversation(answerer, history=history, instructions=instructions)
        return chat, talk[-1].content.strip()

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
        return self._answer(self._prepare(question), stream)

    @overload
    def baseline(self, question: str, *, stream: Literal[False] = False) -> Answer: ...

    @overload
    def baseline(self, question: str, *, stream: Literal[True]) -> AnswerStream: ...

    def baseline(self, question: str, *, stream: bool = False) -> Answer | AnswerStream:
        """The model's answer without documents, in the light of the conversation (the earlier
        turns that fit); the turn is remembered as :meth:`ask`'s.

        Raises:
            LLMError: The model failed.
        """
        job = self._answerer.prepare_baseline(question, self.history)
        return self._answer(job, stream)

    def _answer(self, prepared: Job | Answer, stream: bool) -> Answer | AnswerStream:
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
