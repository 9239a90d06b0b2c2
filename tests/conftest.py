"""Shared fixtures: offline model env, paths to the real test documents.

``CURATED`` is tests/data/corpus, the small set of real third-party files the fast tier reads
(licences in tests/data/README.md), so a fresh clone runs every fast test. ``SHARED`` is the
larger ../shared corpora used by the integration tier and the benchmarks, which skip when absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from docqa.config import Settings

    from .fakes import HashEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CURATED = REPO / "tests" / "data" / "corpus"
EVAL = SHARED / "corpora" / "eval"


@pytest.fixture(scope="session")
def _backend_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding-backend cache per test session: the real embedder is measured once."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _backend_cache: Path) -> None:
    """No test reads the developer's DOCQA_* env, docqa.toml or backend cache, or writes outside
    the test's temporary folders."""
    for key in list(os.environ):
        if key.startswith("DOCQA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DOCQA_CONFIG", str(tmp_path / "no-docqa.toml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_backend_cache))


@pytest.fixture(autouse=True)
def _no_shared_sessions() -> Iterator[None]:
    """Each test starts without the process-wide sessions (and their models) of the last one."""
    yield
    from docqa.session import close_sessions

    close_sessions()


@pytest.fixture
def curated() -> Path:
    """The curated real documents (tests/data/corpus, in the repository)."""
    return CURATED


@pytest.fixture
def emb() -> HashEmbedder:
    """The fake embedder (one per test: it counts its calls)."""
    from .fakes import HashEmbedder

    return HashEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings over a store of the test's own, the relevance floor off (the fake embedder's
    scores are not calibrated)."""
    from docqa.config import Settings

    return Settings(store=tmp_path / "store", relevance_floor=0.0)


@pytest.fixture
def corpus(settings: Settings, tmp_path: Path, emb: HashEmbedder) -> Settings:
    """The boats corpus (:func:`tests.fakes.write_corpus`, in ``tmp_path/docs``) ingested with
    ``emb`` into ``settings``' store; two sources to a prompt, answers of 16 tokens at most."""
    from docqa.api import ingest

    from .fakes import write_corpus

    ingest(write_corpus(tmp_path / "docs"), settings, embedder=emb)
    return settings.with_(top_k=2, max_tokens=16)
