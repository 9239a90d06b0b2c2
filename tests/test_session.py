"""The session: collaborators built once and reused, the embedded store released when idle."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import docqa
from docqa.config import Settings
from docqa.errors import NoStoreError, StoreLockedError
from docqa.session import Session, get_session
from docqa.stores import EdgeStore, Store, open_store

from .fakes import (
    HashEmbedder,
    ScriptedLLM,
    factories_with,
    hash_embedder,
    install_factories,
    install_llm,
    scripted_llm,
)


def _locked(folder: Path) -> bool:
    try:
        with EdgeStore(folder, lock_wait_s=0) as other:
            other.count()
    except StoreLockedError:
        return True
    return False


def test_consecutive_searches_build_the_embedder_once_and_open_the_store_once(
    corpus: Settings,
) -> None:
    built: list[HashEmbedder] = []
    opened: list[Path] = []

    def make(s: Settings) -> HashEmbedder:
        built.append(HashEmbedder())
        return built[-1]

    def opener(s: Settings, folder: Path, *, writer: bool = False) -> Store:
        opened.append(folder)
        return open_store(s, folder, writer=writer)

    made = factories_with(make_embedder=make, open_store=opener)
    with Session(corpus, factories=made) as session:
        first = session.search("how many boats")
        second = session.search("cold room degrees")
    assert Path(first[0].file).name == "boats.md" and Path(second[0].file).name == "cold.md"
    assert len(built) == 1 and built[0].calls == 2
    assert opened == [corpus.store]


def test_the_embedded_store_is_released_after_the_idle_time(
    corpus: Settings, emb: HashEmbedder
) -> None:
    assert corpus.store is not None
    session = Session(corpus, factories=factories_with(**hash_embedder(emb)), store_idle_s=0.3)
    session.search("boats")
    deadline = time.monotonic() + 20
    while _locked(corpus.store):  # another EdgeStore on the folder can open once released
        assert time.monotonic() < deadline, "the session never released the store"
        time.sleep(0.1)
    assert session.search("boats")  # and the session opens it again when asked
    session.close()


def test_ingest_lets_go_of_the_store_when_it_returns(corpus: Settings, emb: HashEmbedder) -> None:
    assert corpus.store is not None
    made = factories_with(**hash_embedder(emb))
    with Session(corpus, factories=made, store_idle_s=60) as session:
        session.search("boats")
        assert _locked(corpus.store)  # a search keeps it for the next call
        session.ingest(corpus.store.parent / "docs")
        assert not _locked(corpus.store)  # an ingest is done: another process may write now


def test_a_session_holds_the_store_while_calls_come_and_lets_go_at_close(
    corpus: Settings,
) -> None:
    assert corpus.store is not None
    session = Session(corpus, embedder=HashEmbedder(), store_idle_s=60)
    session.search("boats")
    assert _locked(corpus.store)
    session.close()
    assert not _locked(corpus.store)


def test_a_given_store_is_used_as_is_and_never_closed(corpus: Settings) -> None:
    assert corpus.store is not None
    with EdgeStore(corpus.store) as store:
        with Session(corpus, embedder=HashEmbedder(), store=store) as session:
            with session.open_store() as opened:
                assert opened is store
            assert session.search("boats")
        assert store.count() > 0  # still open: the session did not close it


def test_equal_settings_share_one_session_and_the_llm_is_built_once(
    corpus: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_factories(monkeypatch, make_embedder=lambda s: HashEmbedder())
    llm = ScriptedLLM(default="Two boats [1].")
    built: list[str] = []

    def make(s: Settings, backend: str) -> ScriptedLLM:
        built.append(backend)
        return llm

    install_llm(monkeypatch, make, lambda s: ("gguf", "fell back"))
    assert get_session(corpus) is get_session(corpus.with_())
    first = docqa.ask("How many boats?", corpus)
    second = docqa.ask("How many boats again?", corpus)
    assert built == ["gguf"] and first.warnings[0] == second.warnings[0] == "fell back"
    assert not llm.closed  # kept for the next call


def test_llm_for_builds_another_model_of_the_same_backend_once(corpus: Settings) -> None:
    built: list[tuple[str, str]] = []

    def make(s: Settings, backend: str) -> ScriptedLLM:
        built.append((s.model, backend))
        return ScriptedLLM(model=s.model)

    made = factories_with(**scripted_llm(make, lambda s: ("ollama", None)))
    with Session(corpus, factories=made) as session:
        assert session.llm_for(None) is session.llm
        other = session.llm_for("qwen2.5")
        assert session.llm_for("qwen2.5") is other and other.model == "qwen2.5"
    assert built == [(corpus.model, "ollama"), ("qwen2.5", "ollama")]
    assert isinstance(other, ScriptedLLM) and other.closed  # the session built it: closed


def test_no_store_is_the_one_line_error_and_nothing_is_created(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "missing")
    with pytest.raises(NoStoreError):
        _ = Session(settings).store_dir
    with pytest.raises(docqa.IngestPathError):
        docqa.ingest(tmp_path / "nowhere", settings, embedder=HashEmbedder())
    assert not (tmp_path / "missing").exists()


def test_an_answerer_takes_one_request_settings_over_the_same_collaborators(
    corpus: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM(default="Two boats [1].", model="smollm2.gguf")  # not settings.model
    with Session(corpus.with_(top_k=2), embedder=emb, llm=llm) as session:
        assert session.llm_for("smollm2.gguf") is llm  # the name it gives itself: no second one
        hits, _ = session.answerer(settings=session.settings.with_(top_k=1)).retrieve("boats")
        assert len(hits) == 1 and len(session.answerer().retrieve("boats")[0]) == 2
        instructed = session.answerer().with_instructions("Answer like a pirate.")
        instructed.run(instructed.prepare_baseline("How many boats?"))
        assert llm.calls[-1][0].content.endswith("Answer like a pirate.")
        assert instructed.llm is session.llm and instructed.embedder is session.embedder
        assert session.settings.preset is None  # the session's own settings are untouched
