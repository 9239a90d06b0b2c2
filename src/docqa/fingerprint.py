"""Fingerprints: a short hash of everything that changes a file's points.

The *settings fingerprint* covers what applies to every file (the embedder's vector space: model
and dim, and the backend only when its vectors cannot be mixed with the others'; chunker version
and sizes, document prefix, BM25 tokenizer and languages, OCR mode); a *file
fingerprint* adds the parser that reads that file's type. A file whose recorded fingerprint differs
from the current one is re-ingested on the next run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from docqa import parsing
from docqa.chunking import CHUNKER_VERSION
from docqa.config import Settings
from docqa.embedding.measurement import vectors_id


def _digest(parts: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def settings_fingerprint(settings: Settings, embedder_id: str, bm25_version: str) -> str:
    """Hash of the settings that change every file's points.

    ``embedder_id`` (``name:backend:dim``) counts through :func:`vectors_id`: backends whose
    vectors are interchangeable (benchmarks/embed_backends.py) give one fingerprint, so moving a
    store to a faster machine or backend does not re-embed it.
    """
    return _digest(
        {
            "embedder": vectors_id(embedder_id),
            "chunker": CHUNKER_VERSION,
            "chunk_tokens": settings.chunk_tokens,
            "overlap": settings.chunk_overlap,
            "prefix": settings.document_prefix,
            "bm25": bm25_version,
            "ocr": settings.ocr,
        }
    )


def file_fingerprint(settings: Settings, base: str, path: Path) -> str:
    """``base`` (a settings fingerprint) plus the parser that reads ``path``."""
    return _digest({"settings": base, "parser": parsing.parser_id(path, settings)})


def current(settings: Settings, embedder_id: str | None = None) -> str:
    """The settings fingerprint for ``settings`` without loading any model."""
    from docqa import embedding
    from docqa.sparse import Bm25Encoder

    emb = embedder_id or embedding.embedder_id(settings)
    return settings_fingerprint(settings, emb, Bm25Encoder(settings.languages).version)
