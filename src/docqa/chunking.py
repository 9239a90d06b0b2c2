"""Sections → chunks that the embedder reads whole.

Sizes are counted in the embedder's own tokens, special tokens ([CLS]/[SEP]), the document prefix
and the heading line included, so no chunk is ever truncated by the model (LlamaIndex's default
1024-token SentenceSplitter with MiniLM's 256-token window embeds about a third of the text).

Each section is cut into contiguous *segments* (sentences, or lines/paragraph pieces where text has
no sentence punctuation, and word runs where one sentence alone is too long); chunks are runs of
whole segments. A run of over 100 characters that the tokenizer reads as one token (WordPiece's
[UNK] for a 5 MB "word" or a hex blob) is counted as the tokens of its 100-character pieces, so it
is cut like any other text and no chunk holds more than a window's worth of characters. Segments
tile the section text, so the chunks' character spans cover every character of every section:
nothing is dropped. Neighbouring chunks share up to ``overlap`` tokens
of whole trailing segments. Chunks never cross a section (a PDF page or a Markdown section), so
every chunk has one locator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from docqa.types import Chunk, Section

CHUNKER_VERSION = "sent/1"

# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by space, or at a newline.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'»)\]]*\s+|\n+")
# WordPiece reads a word longer than this as one [UNK] token, and a tokenizer's normaliser drops
# some characters (controls, zero-width) without a token: such runs are counted as the tokens of
# their pieces of this many characters, so a 5 MB "word" or a hex blob is cut like any text.
_LONG_RUN = 100


class TokenOffsets(Protocol):
    """What the chunker needs of a tokenizer: ``tokenizers.Tokenizer.encode_batch`` whose
    results have ``offsets`` (character spans of the tokens)."""

    def encode_batch(
        self, input: Sequence[Any], is_pretokenized: bool = False, add_special_tokens: bool = True
    ) -> Sequence[Any]:
        """One encoding with ``.offsets`` per text."""
        ...


@dataclass(frozen=True)
class ChunkSpec:
    """How to cut: ``max_tokens`` is the model's limit, ``target`` the wanted size (both counted
    with ``special_tokens`` and ``prefix`` included)."""

    max_tokens: int
    target: int
    overlap: int = 0
    special_tokens: int = 2
    prefix: str = ""

    def __post_init__(self) -> None:
        if self.target > self.max_tokens:
            object.__setattr__(self, "target", self.max_tokens)


def embed_text(chunk: Chunk, prefix: str = "") -> str:
    """The text the embedder reads for a chunk: prefix, heading path line, then the chunk.

    Trailing whitespace is dropped: SentencePiece tokenizers (E5's) spend a token on it.
    """
    head = " > ".join(chunk.heading)
    body = chunk.text.rstrip()
    return f"{prefix}{head}\n{body}" if head else f"{prefix}{body}"


def _segments(text: str) -> list[tuple[int, int]]:
    """Contiguous spans tiling ``text``; each ends after its trailing whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.end() > start:
            spans.append((start, match.end()))
            start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _split_long(
    span: tuple[int, int], offsets: Sequence[tuple[int, int]], budget: int
) -> list[tuple[int, int]]:
    """Cut one over-long segment at token boundaries into pieces of at most ``budget`` tokens."""
    start, end = span
    inside = [o for o in offsets if start <= o[0] < end]
    pieces: list[tuple[int, int]] = []
    piece_start, idx = start, 0
    while len(inside) - idx > budget:
        cut = idx + budget
        # back off to a word start (a token not glued to the one before) so words stay whole
        j = cut
        while j > idx + budget // 2 and inside[j][0] == inside[j - 1][1]:
            j -= 1
        cut = j if j > idx + budget // 2 else cut
        pieces.append((piece_start, inside[cut][0]))
        piece_start, idx = inside[cut][0], cut
    pieces.append((piece_start, end))
    return pieces


def _fine_offsets(
    tokenizer: TokenOffsets, text: str, offsets: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """``offsets`` with every run over ``_LONG_RUN`` characters that has one token (or none,
    outside whitespace) replaced by the tokens of its ``_LONG_RUN``-character pieces."""
    out: list[tuple[int, int]] = []
    cursor = 0
    for start, end in offsets:
        if start - cursor > _LONG_RUN and text[cursor:start].strip():
            out.extend(_piece_offsets(tokenizer, text, cursor, start))  # dropped characters
        if end - start > _LONG_RUN:
            out.extend(_piece_offsets(tokenizer, text, start, end))
        else:
            out.append((start, end))
        cursor = max(cursor, end)
    if len(text) - cursor > _LONG_RUN and text[cursor:].strip():
        out.extend(_piece_offsets(tokenizer, text, cursor, len(text)))
    return out


def _piece_offsets(
    tokenizer: TokenOffsets, text: str, start: int, end: int
) -> list[tuple[int, int]]:
    """Token spans of ``text[start:end]`` read in ``_LONG_RUN``-character pieces; a piece with
    no token counts as one."""
    starts = range(start, end, _LONG_RUN)
    pieces = [text[a : min(a + _LONG_RUN, end)] for a in starts]
    out: list[tuple[int, int]] = []
    for a, encoding in zip(
        starts, tokenizer.encode_batch(pieces, add_special_tokens=False), strict=True
    ):
        spans = [(a + x, a + y) for x, y in encoding.offsets if y > x]
        out.extend(spans or [(a, min(a + _LONG_RUN, end))])
    return out


def _token_counts(
    spans: Sequence[tuple[int, int]], offsets: Sequence[tuple[int, int]]
) -> list[int]:
    """Tokens per span: tokens are assigned to the span holding their first character."""
    counts = [0] * len(spans)
    i = 0
    for tok_start, _ in offsets:
        while i < len(spans) - 1 and tok_start >= spans[i][1]:
            i += 1
        counts[i] += 1
    return counts


def _pack(
    spans: Sequence[tuple[int, int]], counts: Sequence[int], budget: int, overlap: int
) -> list[tuple[int, int]]:
    """Greedy runs of whole segments within ``budget`` tokens; returns segment index ranges."""
    runs: list[tuple[int, int]] = []
    first, total = 0, 0
    for i, n in enumerate(counts):
        if total + n > budget and i > first:
            runs.append((first, i))
            first, total = i, 0
            # step back over trailing segments for overlap, never to the run's own start
            while first > runs[-1][0] + 1 and total + counts[first - 1] <= overlap:
                first -= 1
                total += counts[first]
            if total + n > budget:
                first, total = i, 0
        total += n
    if first < len(spans):
        runs.append((first, len(spans)))
    return runs


class Chunker:
    """Cuts sections into chunks with a tokenizer; see the module docstring for the rules."""

    def __init__(self, tokenizer: TokenOffsets, spec: ChunkSpec) -> None:
        self.tokenizer = tokenizer
        self.spec = spec

    def _overhead(self, heading: tuple[str, ...]) -> int:
        head = " > ".join(heading)
        extra = f"{self.spec.prefix}{head}\n" if head else self.spec.prefix
        n = len(self.tokenizer.encode_batch([extra], add_special_tokens=False)[0].offsets)
        return self.spec.special_tokens + n

    def _section_spans(self, section: Section) -> list[tuple[int, int, int]]:
        text = section.text
        offsets = self.tokenizer.encode_batch([text], add_special_tokens=False)[0].offsets
        offsets = _fine_offsets(self.tokenizer, text, offsets)
        overhead = self._overhead(section.heading)
        budget = max(8, self.spec.target - overhead)
        hard = max(8, self.spec.max_tokens - overhead)
        spans: list[tuple[int, int]] = []
        for span, n in zip(_segments(text), _token_counts(_segments(text), offsets), strict=True):
            spans.extend(_split_long(span, offsets, budget) if n > budget else [span])
        counts = _token_counts(spans, offsets)
        out = []
        for a, b in _pack(spans, counts, budget, self.spec.overlap):
            n = sum(counts[a:b])
            if n > hard:  # cannot happen with budget <= hard; guard the invariant anyway
                raise AssertionError(f"chunk of {n} tokens exceeds {hard}")
            out.append((spans[a][0], spans[b - 1][1], n + overhead))
        return out

    def chunk(self, sections: Iterable[Section]) -> list[Chunk]:
        """Chunks of every section, numbered in order; whitespace-only pieces are left out."""
        chunks: list[Chunk] = []
        for section in sections:
            for start, end, n_tokens in self._section_spans(section):
                piece = section.text[start:end]
                if not piece.strip():
                    continue
                chunks.append(_make_chunk(section, piece, len(chunks), start, end, n_tokens))
        return chunks


def _make_chunk(section: Section, piece: str, position: int, start: int, end: int, n: int) -> Chunk:
    first = last = None
    if section.first_line is not None:
        first = section.first_line + section.text.count("\n", 0, start)
        last = section.first_line + section.text.count("\n", 0, start + len(piece.rstrip()))
    return Chunk(
        text=piece,
        position=position,
        start=start,
        end=end,
        n_tokens=n,
        page=section.page,
        heading=section.heading,
        first_line=first,
        last_line=last,
    )
