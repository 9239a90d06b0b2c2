"""Optional reranking of retrieved chunks with a local cross-encoder (``rerank_model``).

No cross-encoder ships inside a PyPI package, so reranking is opt-in: point
``DOCQA_RERANK_MODEL`` at a local sentence-transformers ``CrossEncoder`` folder. The model reads
each (question, chunk) pair whole, which ranks better than comparing two separate vectors, at
the cost of one forward pass per candidate. sentence-transformers (and torch) are imported only
when a reranker is loaded.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docqa.config import Settings
from docqa.errors import EmbedderError
from docqa.types import Hit

# Candidates handed to the cross-encoder per wanted hit: it can only promote what was retrieved.
POOL_FACTOR = 3
POOL_MIN = 20


def pool_size(k: int) -> int:
    """How many candidates to retrieve so that reranking can still reorder the top ``k``."""
    return max(POOL_FACTOR * k, POOL_MIN)


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> Any:
    """The CrossEncoder in ``folder``, loaded once per process (chat sessions rerank often)."""
    from sentence_transformers import CrossEncoder

    # Typed Any: transformers' progress-bar switches are unannotated.
    hf_logging: Any = importlib.import_module("transformers.utils.logging")
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # no "Loading weights" bar in the middle of an answer
    try:
        return CrossEncoder(folder, device="cpu", local_files_only=True)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_reranker(folder: Path) -> Any:
    """Load the cross-encoder in ``folder`` (local files only, never a model hub).

    Args:
        folder: A sentence-transformers ``CrossEncoder`` folder (config, weights, tokenizer).

    Returns:
        The loaded ``CrossEncoder``.

    Raises:
        EmbedderError: the folder is missing or does not hold a loadable cross-encoder.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise EmbedderError(
            f"DOCQA_RERANK_MODEL={folder} is not a folder: point it at a local cross-encoder "
            "folder, or unset it to search without reranking"
        )
    try:
        return _load(str(path.resolve()))
    except Exception as exc:  # transformers/torch raise many types; all mean "cannot load"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise EmbedderError(
            f"cannot load the cross-encoder in DOCQA_RERANK_MODEL={folder}: {first}"
        ) from exc


def rerank(question: str, hits: Sequence[Hit], settings: Settings) -> list[Hit]:
    """Reorder ``hits`` by the cross-encoder's score of each (question, chunk text) pair.

    Each returned hit's ``score`` is the cross-encoder's score; ``dense_score`` is kept, so the
    relevance floor means the same with and without reranking. Ties keep retrieval order.

    Args:
        question: The question the hits were retrieved for.
        hits: Retrieved hits, best first.
        settings: Uses ``rerank_model``; without one the hits come back unchanged.

    Raises:
        EmbedderError: the reranker cannot be loaded.
    """
    if settings.rerank_model is None or not hits:
        return list(hits)
    model = load_reranker(settings.rerank_model)
    scores = model.predict([(question, h.text) for h in hits], show_progress_bar=False)
    ranked = sorted(zip(hits, scores, strict=True), key=lambda pair: -float(pair[1]))
    return [dataclasses.replace(h, score=float(s)) for h, s in ranked]
