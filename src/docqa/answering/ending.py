"""Where an answer stops answering: docqa ends the generation there.

Small models often go on after the answer. Measured with Qwen2.5-Coder-1.5B on the questions of
``benchmarks/answers.py`` (runs ``tune-v8`` and ``test-v8``, 78 questions):

- **a source list that turns into the sources' text**: the answer closes with "Sources:", lists
  "[1] file, page 16" and then copies the source itself, up to the token limit (6 of 43 tune
  answers, 4 of 35 test; one 2,357-character answer was 460 characters of answer);
- **a loop**: sentences already written come again, sometimes a whole paragraph (6 of 36
  answered tune questions, 3 of 29 test).

Both lengthen the answer with nothing new. :func:`end_of_answer` finds the point, and
:class:`Ending` watches the streamed text and stops the model there. The source list the model
writes is kept (its ``[n]`` lines are its citations); only the copied text after it goes. Text
that may yet turn out to be such a start is held back from the stream until it is clear, so a
client is never shown what the answer then drops.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from docqa.llm import LLM, Completion, Message, TokenCallback
from docqa.llm.stopping import check_stop
from docqa.support import strip_citations
from docqa.types import TokenUsage

REPEAT_MIN_WORDS = 6
"""A sentence this long, written a second time, ends the answer before the repeat."""

_LIST_HEADER = re.compile(
    r"^[ \t>*_#-]*(?:sources?|references?|références?)[ \t*_]*:[ \t*_]*(?:\[\d+\].*)?$",
    re.IGNORECASE,
)
_HEADER_WORDS = ("sources", "source", "references", "reference", "références", "référence")
_REFERENCE_LINE = re.compile(r"^[ \t>*•+-]*\[\d+\]")
_REFERENCE_START = re.compile(r"^[ \t>*•+-]*(?:\[\d*)?$")
_SENTENCE = re.compile(r".*?(?:[.!?…]+[\"'»)\]]*(?=\s)|\n|$)")
_SPACE = re.compile(r"\s+")
_FENCE = "```"


class Ended(Exception):
    """Raised in the LLM's token callback: the answer is complete, stop generating."""


def _normalised(sentence: str) -> str:
    return _SPACE.sub(" ", strip_citations(sentence)).strip().lower()


def _could_open_list(line: str) -> bool:
    """Whether an unfinished line may still become "Sources:"."""
    bare = line.strip(" \t>*_#-:").lower()
    return len(line) < 20 and any(word.startswith(bare) for word in _HEADER_WORDS)


class _Rules:
    """:func:`end_of_answer` over a text that only grows, each call reading only what is new:
    the finished lines and sentences are remembered, so a long answer costs linear time."""

    def __init__(self) -> None:
        self._line_at = 0  # text[:_line_at] is whole lines, read
        self._lines = 0
        self._in_list = False
        self._sentence_at = 0  # text[:_sentence_at] is finished sentences, read
        self._fences = 0
        self._seen: list[str] = []

    def __call__(self, text: str) -> tuple[int, bool]:
        listed, list_ended = self._source_list_end(text)
        repeated, repeat_ended = self._repeat_end(text)
        if list_ended and (not repeat_ended or listed <= repeated):
            return listed, True
        if repeat_ended:
            return repeated, True
        return min(listed, repeated), False

    def _source_list_end(self, text: str) -> tuple[int, bool]:
        """How much of ``text`` is clear of a copied source list, and whether it ends there."""
        while (newline := text.find("\n", self._line_at)) >= 0:
            line = text[self._line_at : newline]
            if self._in_list and line.strip() and not _REFERENCE_LINE.match(line):
                return self._line_at, True  # the list gives way to the sources' own text
            if self._lines and not self._in_list and _LIST_HEADER.match(line):
                self._in_list = True
            self._line_at, self._lines = newline + 1, self._lines + 1
        line = text[self._line_at :]  # unfinished
        if self._in_list and line.strip() and not _REFERENCE_LINE.match(line):
            return self._line_at, not _REFERENCE_START.match(line)
        if self._lines and not self._in_list and _could_open_list(line):
            return self._line_at, False  # may yet be "Sources:": hold it back
        return len(text), False

    def _repeat_end(self, text: str) -> tuple[int, bool]:
        """How much of ``text`` is clear of a repeated sentence, and whether it ends there.

        Lines inside a Markdown code block are not compared: code repeats lines on purpose.
        """
        for match in _SENTENCE.finditer(text, self._sentence_at):
            sentence, start = match.group(), match.start()
            finished = match.end() < len(text) or sentence.endswith("\n")
            in_code = self._fences % 2 == 1
            key = _normalised(sentence) if sentence.strip() and not in_code else ""
            if not finished:
                if key and any(s.startswith(key) for s in self._seen):
                    return start, False  # may be the start of a repeat: hold it back
                break
            if len(key.split()) >= REPEAT_MIN_WORDS and key in self._seen:
                return start, True
            if key:
                self._seen.append(key)
            self._fences += sentence.count(_FENCE)
            self._sentence_at = match.end()
        return len(text), False


def end_of_answer(text: str) -> tuple[int, bool]:
    """How much of the text generated so far can be shown, and whether the answer ends there.

    Returns:
        ``(shown, ended)``: ``text[:shown]`` is answer for sure; ``ended`` means the model has
        begun to copy its sources after a source list, or to repeat a sentence of
        :data:`REPEAT_MIN_WORDS` words or more, and ``text[:shown]`` is the whole answer.
    """
    return _Rules()(text)


@dataclass
class _Watch:
    on_token: TokenCallback | None
    started: float
    text: str = ""
    shown: int = 0
    first_token_s: float | None = None
    rules: _Rules = field(default_factory=_Rules)

    def __call__(self, piece: str) -> None:
        if not piece:
            return
        if self.first_token_s is None:
            self.first_token_s = time.perf_counter() - self.started
        self.text += piece
        shown, ended = self.rules(self.text)
        if ended:
            self.text = self.text[:shown].rstrip()
            shown = min(shown, len(self.text))
        self._show(max(shown, self.shown))
        if ended:
            raise Ended

    def _show(self, upto: int) -> None:
        if upto > self.shown and self.on_token is not None:
            self.on_token(self.text[self.shown : upto])
        self.shown = max(self.shown, upto)

    def flush(self) -> None:
        self._show(len(self.text))


def generate(
    llm: LLM, messages: list[Message], on_token: TokenCallback | None = None
) -> Completion:
    """``llm.chat(messages)``, ended where the answer stops answering (:func:`end_of_answer`).

    ``on_token`` gets the answer's text as it comes, less what is held back until it is clear
    (at most a line or a sentence). An answer docqa ends has ``done_reason`` ``"docqa"`` and no
    token usage (the backend reports it only at the end of a generation).
    """
    watch = _Watch(on_token, time.perf_counter())

    def piece(text: str) -> None:
        check_stop()  # a caller that stopped this call (stop_on): not one more token
        watch(text)

    check_stop()
    try:
        completion = llm.chat(messages, on_token=piece)
    except Ended:
        return Completion(
            text=watch.text,
            model=llm.model,
            backend=llm.backend,
            usage=TokenUsage(),
            seconds=time.perf_counter() - watch.started,
            first_token_s=watch.first_token_s,
            done_reason="docqa",
        )
    watch.flush()
    return completion
