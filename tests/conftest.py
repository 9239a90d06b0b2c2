"""Shared fixtures: offline model env, paths to the real test documents.

``CURATED`` is tests/data/corpus, the small set of real third-party files the fast tier reads
(licences in tests/data/README.md), so a fresh clone runs every fast test. ``SHARED`` is the
larger ../shared corpora used by the integration tier and the benchmarks, which skip when absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CURATED = REPO / "tests" / "data" / "corpus"
EVAL = SHARED / "corpora" / "eval"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's DOCQA_* env or docqa.toml, or writes outside tmp_path."""
    for key in list(os.environ):
        if key.startswith("DOCQA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DOCQA_CONFIG", str(tmp_path / "no-docqa.toml"))


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
