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
from dataclasses import dataclass

from docqa.llm import LLM, Completion, Message, TokenCallback
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


def _source_list_end(text: str) -> tuple[int, bool]:
    """How much of ``text`` is clear of a copied source list, and whether it ends there."""
    lines = text.split("\n")
    offset, in_list = 0, False
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if in_list and line.strip() and not _REFERENCE_LINE.match(line):
            if last and _REFERENCE_START.match(line):
                return offset, False  # may yet be "[n] ...": hold it back
            return offset, True  # the list gives way to the sources' own text
        if i > 0 and not last and not in_list and _LIST_HEADER.match(line):
            in_list = True
        if last:
            if i > 0 and not in_list and _could_open_list(line):
                return offset, False  # may yet be "Sources:": hold it back
            return len(text), False
        offset += len(line) + 1
    return len(text), False


def _repeat_end(text: str) -> tuple[int, bool]:
    """How much of ``text`` is clear of a repeated sentence, and whether it ends there.

    Lines inside a Markdown code block are not compared: code repeats lines on purpose.
    """
    seen: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence, start = match.group(), match.start()
        if not sentence.strip() or text.count(_FENCE, 0, start) % 2:
            continue
        finished = match.end() < len(text) or sentence.endswith("\n")
        key = _normalised(sentence)
        if finished and len(key.split()) >= REPEAT_MIN_WORDS and key in seen:
            return start, True
        if not finished and key and any(s.startswith(key) for s in seen):
            return start, False  # may be the start of a repeat: hold it back
        seen.append(key)
    return len(text), False


def end_of_answer(text: str) -> tuple[int, bool]:
    """How much of the text generated so far can be shown, and whether the answer ends there.

    Returns:
        ``(shown, ended)``: ``text[:shown]`` is answer for sure; ``ended`` means the model has
        begun to copy its sources after a source list, or to repeat a sentence of
        :data:`REPEAT_MIN_WORDS` words or more, and ``text[:shown]`` is the whole answer.
    """
    listed, list_ended = _source_list_end(text)
    repeated, repeat_ended = _repeat_end(text)
    if list_ended and (not repeat_ended or listed <= repeated):
        return listed, True
    if repeat_ended:
        return repeated, True
    return min(listed, repeated), False


@dataclass
class _Watch:
    on_token: TokenCallback | None
    started: float
    text: str = ""
    shown: int = 0
    first_token_s: float | None = None

    def __call__(self, piece: str) -> None:
        if not piece:
            return
        if self.first_token_s is None:
            self.first_token_s = time.perf_counter() - self.started
        self.text += piece
        shown, ended = end_of_answer(self.text)
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
    try:
        completion = llm.chat(messages, on_token=watch)
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
