"""The session: collaborators built once and reused, the embedded store released when idle."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import docqa
from docqa import factories
from docqa import session as sessions
from docqa.config import Settings
from docqa.errors import NoStoreError, StoreLockedError
from docqa.session import Session, get_session
from docqa.stores import EdgeStore, Store

from .fakes import HashEmbedder, ScriptedLLM, install_factories, install_hash_embedder, install_llm

BOATS = "The station owns two boats: the Goéland and the Pétrel."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boats.md").write_text(f"# Boats\n\n{BOATS}\n")
    (docs / "cold.txt").write_text("The cold room is kept at 4 degrees.\n")
    s = Settings(store=tmp_path / "store", relevance_floor=0.0)
    docqa.ingest(docs, s, embedder=HashEmbedder())
    return s


def _locked(folder: Path) -> bool:
    try:
        with EdgeStore(folder, lock_wait_s=0) as other:
            other.count()
    except StoreLockedError:
        return True
    return False


def test_consecutive_searches_build_the_embedder_once_and_open_the_store_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[HashEmbedder] = []
    opened: list[Path] = []
    real_open = factories.active.open_store

    def make(s: Settings) -> HashEmbedder:
        built.append(HashEmbedder())
        return built[-1]

    def open_store(s: Settings, folder: Path) -> Store:
        opened.append(folder)
        return real_open(s, folder)

    install_factories(monkeypatch, make_embedder=make, open_store=open_store)
    first = docqa.search("how many boats", settings)
    second = docqa.search("cold room degrees", settings)
    assert Path(first[0].file).name == "boats.md" and Path(second[0].file).name == "cold.txt"
    assert len(built) == 1 and built[0].calls == 2
    assert opened == [settings.store]


def test_the_embedded_store_is_released_after_the_idle_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_factories(monkeypatch, make_embedder=lambda s: HashEmbedder())
    monkeypatch.setattr(sessions, "STORE_IDLE_S", 0.3)
    assert settings.store is not None
    docqa.search("boats", settings)
    deadline = time.monotonic() + 20
    while _locked(settings.store):  # another EdgeStore on the folder can open once released
        assert time.monotonic() < deadline, "the session never released the store"
        time.sleep(0.1)
    docqa.search("boats", settings)  # and the session opens it again when asked


def test_ingest_lets_go_of_the_store_when_it_returns(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_hash_embedder(monkeypatch)
    monkeypatch.setattr(sessions, "STORE_IDLE_S", 60)
    assert settings.store is not None
    docqa.search("boats", settings)
    assert _locked(settings.store)  # a search keeps it for the next call
    docqa.ingest(settings.store.parent / "docs", settings)
    assert not _locked(settings.store)  # an ingest is done: another process may write now


def test_a_session_holds_the_store_while_calls_come_and_lets_go_at_close(
    settings: Settings,
) -> None:
    assert settings.store is not None
    session = Session(settings, embedder=HashEmbedder(), store_idle_s=60)
    session.search("boats")
    assert _locked(settings.store)
    session.close()
    assert not _locked(settings.store)


def test_a_given_store_is_used_as_is_and_never_closed(settings: Settings) -> None:
    assert settings.store is not None
    with EdgeStore(settings.store) as store:
        with Session(settings, embedder=HashEmbedder(), store=store) as session:
            with session.open_store() as opened:
                assert opened is store
            assert session.search("boats")
        assert store.count() > 0  # still open: the session did not close it


def test_equal_settings_share_one_session_and_the_llm_is_built_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_factories(monkeypatch, make_embedder=lambda s: HashEmbedder())
    llm = ScriptedLLM(default="Two boats [1].")
    built: list[str] = []

    def make(s: Settings, backend: str) -> ScriptedLLM:
        built.append(backend)
        return llm

    install_llm(monkeypatch, make, lambda s: ("gguf", "fell back"))
    assert get_session(settings) is get_session(settings.with_())
    first = docqa.ask("How many boats?", settings)
    second = docqa.ask("How many boats again?", settings)
    assert built == ["gguf"] and first.warnings[0] == second.warnings[0] == "fell back"
    assert not llm.closed  # kept for the next call


def test_llm_for_builds_another_model_of_the_same_backend_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[tuple[str, str]] = []

    def make(s: Settings, backend: str) -> ScriptedLLM:
        built.append((s.model, backend))
        return ScriptedLLM(model=s.model)

    install_llm(monkeypatch, make, lambda s: ("ollama", None))
    with Session(settings) as session:
        assert session.llm_for(None) is session.llm
        other = session.llm_for("qwen2.5")
        assert session.llm_for("qwen2.5") is other and other.model == "qwen2.5"
    assert built == [(settings.model, "ollama"), ("qwen2.5", "ollama")]
    assert isinstance(other, ScriptedLLM) and other.closed  # the session built it: closed


def test_no_store_is_the_one_line_error_and_nothing_is_created(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "missing")
    with pytest.raises(NoStoreError):
        _ = Session(settings).store_dir
    with pytest.raises(docqa.IngestPathError):
        docqa.ingest(tmp_path / "nowhere", settings, embedder=HashEmbedder())
    assert not (tmp_path / "missing").exists()
