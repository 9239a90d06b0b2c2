"""Behaving fakes for docqa's slow collaborators, shared by the fast tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from docqa.embedding import ModelInfo, default_model_dir

# --- HashEmbedder -----------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _gt_tokenizer_file() -> Path:
    """The real MiniLM tokenizer.json, so chunking with the fake sizes chunks as in production."""
    folder = default_model_dir()
    return (folder if folder is not None else Path(".")) / "tokenizer.json"


class HashEmbedder:
    """A fake embedder: hashed bag of lowercased words, L2-normalised; texts sharing words score
    higher. Deterministic across processes (blake2b, not Python's salted ``hash``).

    Attributes:
        calls: How many embed_documents / embed_query calls were made.
        embedded: How many texts were embedded in all (documents and queries).
    """

    backend = "hash"

    def __init__(self, dim: int = 64, name: str = "hash-bow", max_tokens: int = 256) -> None:
        self.info = ModelInfo(
            name=name,
            path=Path("."),
            dim=dim,
            max_tokens=max_tokens,
            tokenizer_file=_gt_tokenizer_file(),
            query_prefix="",
            document_prefix="",
        )
        self.calls = 0
        self.embedded = 0

    @property
    def id(self) -> str:
        """``name:backend:dim``, as the real embedders."""
        return f"{self.info.name}:{self.backend}:{self.info.dim}"

    def _vector(self, text: str) -> NDArray[np.float32]:
        vector = np.zeros(self.info.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest, "little") % self.info.dim] += 1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0  # a text without words still gets a unit vector
            return vector
        return vector / norm

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``len(texts) x dim`` unit vectors."""
        self.calls += 1
        self.embedded += len(texts)
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """One unit vector."""
        self.calls += 1
        self.embedded += 1
        return self._vector(text)
