"""The torch backends: sentence-transformers on any local sentence-transformers folder, on the
CPU in fp32 (``torch-fp32``, the reference) or bf16 (``torch-bf16``), or on a GPU
(``cuda-fp16``, ``mps-fp16``, and fp32)."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from docqa.embedding.base import BaseEmbedder, ModelInfo, l2_normalise

# bf16 on the CPU: autocast over fp32 weights (True) or bf16 weights (False). Weights: 1.15x the
# int8 ONNX model vs 1.00x for autocast on a 2-core AMD EPYC with AVX-512 BF16, both far inside
# the quality gate (top-10 overlap 0.995, cosine min 0.9996 vs 1.0000; benchmarks/README.md).
BF16_AUTOCAST = False


def _load_sentence_transformer(path: Path, device: str = "cpu") -> Any:
    """Load a sentence-transformers folder without transformers' "Loading weights" bar."""
    from sentence_transformers import SentenceTransformer

    # Typed Any: transformers' progress-bar switches are unannotated.
    hf_logging: Any = importlib.import_module("transformers.utils.logging")

    # The bar would land in the middle of docqa's own progress output; restore it afterwards
    # because the switch is process-wide.
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(path), device=device)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def torch_backend(device: str, precision: str) -> str:
    """The backend name of torch on ``device`` in ``precision``: ``torch-bf16``, ``cuda-fp16``."""
    return f"{'torch' if device == 'cpu' else device}-{precision}"


class TorchEmbedder(BaseEmbedder):
    """sentence-transformers on a torch device; runs any sentence-transformers folder.

    ``precision`` ``fp32`` is the reference every other backend is measured against. ``bf16``
    (CPUs with native bf16: AVX-512 BF16 or AMX) runs the model under
    ``torch.autocast(dtype=bfloat16)`` or, with ``autocast=False``, with bf16 weights;
    ``fp16`` (CUDA, MPS) casts the weights. Pooled vectors are normalised in float32 either way.
    """

    def __init__(
        self,
        info: ModelInfo,
        batch_size: int = 32,
        threads: int = 0,
        *,
        device: str = "cpu",
        precision: str = "fp32",
        autocast: bool | None = None,
    ) -> None:
        """Load the model.

        Args:
            info: The resolved model.
            batch_size: Texts per forward pass.
            threads: torch CPU threads; 0 keeps torch's default.
            device: ``cpu``, ``cuda`` or ``mps``.
            precision: ``fp32``, ``bf16`` or ``fp16``.
            autocast: For bf16/fp16: autocast over fp32 weights (True) or cast weights (False);
                None takes :data:`BF16_AUTOCAST` for bf16 and cast weights for fp16.
        """
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.backend = torch_backend(device, precision)
        self._device = device
        dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self._autocast_dtype = None
        self._model = _load_sentence_transformer(info.path, device)
        if dtype is not None:
            use_autocast = BF16_AUTOCAST if autocast is None and precision == "bf16" else autocast
            if use_autocast:
                self._autocast_dtype = dtype
            else:
                self._model.to(dtype)
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
        import torch

        context: Any = contextlib.nullcontext()
        if self._autocast_dtype is not None:
            context = torch.autocast(device_type=self._device, dtype=self._autocast_dtype)
        with context:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        return l2_normalise(vectors.float().cpu().numpy())
