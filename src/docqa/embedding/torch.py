"""The ``torch-fp32`` backend: sentence-transformers on any local sentence-transformers folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from docqa.embedding.base import TORCH_BACKEND, BaseEmbedder, ModelInfo


def _load_sentence_transformer(path: Path) -> Any:
    """Load a sentence-transformers folder without transformers' "Loading weights" bar."""
    from sentence_transformers import SentenceTransformer

    # Typed Any: transformers' progress-bar switches are unannotated.
    hf_logging: Any = importlib.import_module("transformers.utils.logging")

    # The bar would land in the middle of docqa's own progress output; restore it afterwards
    # because the switch is process-wide.
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device="cpu")
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class TorchEmbedder(BaseEmbedder):
    """sentence-transformers in fp32 on the CPU; runs any sentence-transformers folder."""

    backend = TORCH_BACKEND

    def __init__(self, info: ModelInfo, batch_size: int = 32, threads: int = 0) -> None:
        """Load the model.

        Args:
            info: The resolved model.
            batch_size: Texts per forward pass.
            threads: torch CPU threads; 0 keeps torch's default.
        """
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._model = _load_sentence_transformer(info.path)
        self._model.max_seq_length = info.max_tokens
        # sentence-transformers 6 renamed the method; >= 3.0 is allowed, so try both names.
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        real_dim = dimension()
        # The JSON guess misses exotic heads (e.g. concatenated poolings); the model knows.
        if real_dim and real_dim != info.dim:
            info = ModelInfo(**{**info.__dict__, "dim": int(real_dim)})
        super().__init__(info, batch_size)

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
