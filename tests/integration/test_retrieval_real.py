"""Integration: retrieval with the real default embedder over the repo's data/ sample."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from docqa import embedding
from docqa.api import ingest, search
from docqa.config import Settings
from docqa.embedding import Embedder
from docqa.retrieval import relevant
from docqa.stores import Store, open_store

from ..conftest import REPO

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    work = tmp_path_factory.mktemp("retrieval")
    shutil.copytree(REPO / "data", work / "data")
    settings = Settings(store=work / ".docqa")
    report = ingest(work / "data", settings)
    assert not report.failed and report.chunks > 0
    return settings


@pytest.fixture(scope="module")
def embedder(settings: Settings) -> Embedder:
    return embedding.make_embedder(settings)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings, settings.store)  # type: ignore[arg-type]
    yield opened
    opened.close()


def test_french_question_finds_the_french_faq(
    settings: Settings, embedder: Embedder, store: Store
) -> None:
    question = "Comment mettre à jour Debian vers une nouvelle version ?"
    hits = search(question, settings, k=5, embedder=embedder, store=store)
    assert any(Path(h.file).name == "debian-faq.fr.pdf" for h in hits), [h.locator for h in hits]
    assert relevant(hits, settings)  # answerable: the floor keeps something


def test_handbook_question_ranks_the_boats_section_first(
    settings: Settings, embedder: Embedder, store: Store
) -> None:
    hits = search(
        "How many boats does the field station own?", settings, embedder=embedder, store=store
    )
    assert Path(hits[0].file).name == "field-station-handbook.md"
    assert hits[0].heading[-1] == "Boats", hits[0].locator
    assert relevant(hits, settings)[0] == hits[0]


def test_an_unrelated_question_falls_below_the_floor(
    settings: Settings, embedder: Embedder, store: Store
) -> None:
    hits = search("How do I write a decorator in Python?", settings, embedder=embedder, store=store)
    assert hits and relevant(hits, settings) == []


def test_file_glob_restricts_to_one_pdf(
    settings: Settings, embedder: Embedder, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(str(settings.store)).parent)
    hits = search(
        "apt-get upgrade", settings, files=["data/*.en.pdf"], embedder=embedder, store=store
    )
    assert hits and {Path(h.file).name for h in hits} == {"debian-faq.en.pdf"}
    assert all(h.page is not None for h in hits)
