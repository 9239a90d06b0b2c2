"""An answer as docqa shows it: the sources numbered 1..k in the order the answer uses them, each
sentence's ``[n]`` markers at its end, the model's own source list left out.

The model numbers its sources as the prompt did (by rank) and cites them loosely: a 1.5B model
often cites nothing inline, then lists "Sources: [1] …, [7] …" (see
:mod:`docqa.answering.ending`). docqa knows which source backs each sentence
(:class:`~docqa.answering.checking.SentenceJudge`), so it writes the markers itself: the model's
are taken out of each sentence, the sentence is judged, and its sources go at its end as
``[1]``, ``[2]``… in order of first use (``"… two boats [1]."``). Clients that draw a chip per
source (Open WebUI) then find one chip per number, and the numbers have no gaps.

:class:`Presenter` reads the text as it grows, so a streamed answer shows the same text as the
finished :class:`~docqa.types.Answer`: the words of a sentence go out as they come, what may yet
be a marker or the sentence's end is held back until the sentence is complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from docqa.answering.checking import SentenceJudge
from docqa.answering.ending import _LIST_HEADER, _could_open_list
from docqa.support import CITATION, LIST_MARK
from docqa.types import SupportStatus

_MARKER = re.compile(r"[ \t]*" + CITATION.pattern)
_TRAILING_MARKERS = re.compile(r"(?:\s*" + CITATION.pattern + r")+$")
_CLOSERS = "\"'»)"
_END = re.compile(r"[.!?…]+[\"'»)]*$")
# what may still change at the end of an unfinished sentence: spaces, punctuation, a marker begun
_UNSETTLED = re.compile(r"(?:[\s.,;:!?…\"'»)\]]|\[[\d,; ]*$)*$")
_BEGUN_MARKER = re.compile(r"\[[\d,; ]*$")
_SPACE_RUN = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]")


def _clean(text: str) -> str:
    """``text`` without its ``[n]`` markers (and the spaces before them)."""
    return _MARKER.sub("", text)


def _ends_sentence(before: str) -> bool:
    """Whether text ending so (markers and closing quotes aside) ends a sentence."""
    bare = _TRAILING_MARKERS.sub("", before).rstrip(_CLOSERS)
    return bare.endswith((".", "!", "?", "…"))


def with_markers(sentence: str, numbers: list[int]) -> str:
    """``sentence`` (without markers) with ``[a][b]`` before its final punctuation."""
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    end = _END.search(sentence)
    if end is None or end.group()[-1] in _CLOSERS:  # 'He said "yes." [1]'
        return f"{sentence} {marks}"
    return f"{sentence[: end.start()]} {marks}{end.group()}"


@dataclass
class Presented:
    """The sources an answer's text uses, in the order it uses them.

    Attributes:
        order: Prompt numbers; the source numbered ``n`` in the text is ``order[n - 1]``.
        claims: For each prompt number, the sentences citing it (as the model wrote them).
        support: For each prompt number, each citing sentence (without markers) with how well
            the source backs it (``None`` where it was not judged).
        unknown: Numbers the model cited that were not among the sources given.
    """

    order: list[int] = field(default_factory=list)
    claims: dict[int, list[str]] = field(default_factory=dict)
    support: dict[int, list[tuple[str, SupportStatus | None]]] = field(default_factory=dict)
    unknown: list[int] = field(default_factory=list)


class Presenter:
    """Turns the model's text, fed piece by piece, into the text docqa shows.

    ``feed`` returns what may be shown now; ``close`` the rest. Their concatenation is
    :attr:`text`, whether the text came in one piece or many.
    """

    def __init__(self, judge: SentenceJudge) -> None:
        self.judge = judge
        self.presented = Presented()
        self._raw = ""
        self._start = 0  # where the unfinished sentence begins in the raw text
        self._shown = 0  # characters of that sentence's clean text already shown
        self._gap = ""  # the space before it, shown with its first characters
        self._line_start = True
        self._dropping = False  # in the model's own source list: nothing more is shown
        self._closed = False
        self._out: list[str] = []

    @property
    def text(self) -> str:
        """What was shown so far."""
        return "".join(self._out)

    def feed(self, piece: str) -> str:
        """Take the next piece of the model's text; return what can be shown now."""
        self._raw += piece
        shown = len(self._out)
        while not self._dropping and self._next_sentence():
            pass
        if not self._dropping:
            self._show_settled()
        return "".join(self._out[shown:])

    def complete(self, text: str) -> str:
        """The model's whole text is ``text``: take what was not fed yet and close.

        What was fed is a prefix of ``text`` (:func:`docqa.answering.ending.generate` shows
        nothing it later drops); a text that is not is taken as ending there.
        """
        if self._closed:
            return ""
        rest = text[len(self._raw) :] if text.startswith(self._raw) else ""
        return self.feed(rest) + self.close()

    def close(self) -> str:
        """The text is complete: return what was still held back."""
        if self._closed:
            return ""
        self._closed = True
        shown = len(self._out)
        if not self._dropping:
            rest = self._raw[self._start :].rstrip()
            if rest and not self._is_list(rest, complete=True):
                self._finish_sentence(rest)
        return "".join(self._out[shown:])

    # --- sentences ------------------------------------------------------------------------------

    def _skip_space(self) -> None:
        raw = self._raw
        while self._start < len(raw) and raw[self._start].isspace():
            self._line_start = self._line_start or raw[self._start] == "\n"
            self._start += 1

    def _next_sentence(self) -> bool:
        """Close the unfinished sentence if its end is now known; whether one was closed."""
        if not self._out and not self._shown:
            self._skip_space()  # the answer starts at its first word
        if self._is_list(self._raw[self._start :], complete=False):
            return False
        for gap in _SPACE_RUN.finditer(self._raw, self._start):
            after = gap.end()
            if after >= len(self._raw):
                return False  # the next sentence has not begun: its first mark may be a [n]
            if self._raw[after] == "[":
                continue  # a marker after a full stop belongs to the sentence before
            sentence = self._raw[self._start : gap.start()]
            if not sentence:
                continue
            if "\n" in gap.group() or _ends_sentence(sentence):
                self._finish_sentence(sentence)
                # the space between the sentences as written, less the markers in it
                space = re.search(r"\s*$", _clean(self._raw[self._start : after]))
                self._gap = space.group() if space else " "  # always matches
                self._start, self._shown = after, 0
                self._line_start = "\n" in self._gap
                return True
        return False

    def _is_list(self, rest: str, *, complete: bool) -> bool:
        """Whether the unfinished sentence opens the model's source list (then dropped)."""
        if not self._line_start:
            return False
        line, newline, _ = rest.partition("\n")
        header = bool(_LIST_HEADER.match(line.strip()))
        if newline or complete:
            self._dropping = header
            return header
        # held back until the line is known: "Sources: [" may still be the list's header
        begun = _BEGUN_MARKER.sub("", line.strip()).strip()
        return bool(_LIST_HEADER.match(begun)) or _could_open_list(begun)

    def _finish_sentence(self, sentence: str) -> None:
        key = LIST_MARK.sub("", sentence).strip()
        clean = _clean(sentence).rstrip()
        numbers: list[int] = []
        if _WORD.search(key):
            verdict = self.judge(key)
            self.presented.unknown += [
                n for n in verdict.unknown if n not in self.presented.unknown
            ]
            numbers = [self._number(n, key, verdict.support[n]) for n in verdict.numbers]
        self._emit(with_markers(clean, numbers)[self._shown :])

    def _number(self, n: int, sentence: str, status: SupportStatus | None) -> int:
        p = self.presented
        if n not in p.order:
            p.order.append(n)
            p.claims[n], p.support[n] = [], []
        p.claims[n].append(sentence)
        p.support[n].append((_clean(sentence).strip(), status))
        return p.order.index(n) + 1

    def _show_settled(self) -> None:
        """Show the unfinished sentence's words, less what may still change at its end."""
        if self._is_list(self._raw[self._start :], complete=False):
            return
        clean = _clean(self._raw[self._start :])
        settled = clean[: _UNSETTLED.search(clean).start()]  # type: ignore[union-attr]  # always matches
        if len(settled) > self._shown:
            self._emit(settled[self._shown :])
            self._shown = len(settled)

    def _emit(self, text: str) -> None:
        if not text:
            return
        if self._out and self._gap:
            text = self._gap + text
        self._gap = ""
        self._out.append(text)
