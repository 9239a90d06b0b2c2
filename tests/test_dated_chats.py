"""Documents of another shape (issue #24): short dated chat logs (``Time:``, ``Name: text`` lines).

Joined names and time stamps reach BM25 in pieces, a file's date line is every chunk's context, and
the relevance floor is derived from what unrelated questions score against the store. Real stores
(Qdrant Edge in tmp_path) filled by a real ingest with the bag-of-words HashEmbedder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from docqa import floor, sparse
from docqa.api import ingest, search
from docqa.chunking import Chunker, ChunkSpec, embed_text
from docqa.config import Settings
from docqa.embedding import chunk_tokenizer
from docqa.formats.text import date_line
from docqa.language import stopwords, word_parts, words, words_and_parts
from docqa.parsing import parse
from docqa.prompts import source_label
from docqa.retrieval import MUTED_DENSE, floor_for, fusion_weights, relevant
from docqa.sparse import Bm25Encoder
from docqa.types import Hit

from .fakes import HashEmbedder


@pytest.fixture(autouse=True)
def _no_store_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``Settings()`` names ``./.docqa``: run where there is none, so a store the developer made
    in the checkout (``make demo``, with its derived floor) never decides a floor here."""
    monkeypatch.chdir(tmp_path)


class ContentEmbedder(HashEmbedder):
    """HashEmbedder over content words only (English stopwords left out): its cosine is the
    overlap of what two texts are about, as a real embedder's roughly is, so questions on other
    subjects score near 0 against any store instead of sharing "what", "the" and "is" (and
    1,024 buckets, so that few words collide)."""

    def __init__(self) -> None:
        super().__init__(dim=1024, name="content-bow")

    def _vector(self, text: str) -> NDArray[np.float32]:
        stop = stopwords("en")
        return super()._vector(" ".join(w for w in words(text) if w not in stop))


CHATS = {
    "chat_001.txt": "Time: 20260405_15:00\n"
    "WolfgangSchulz: How about target practice at the range?\n"
    "AnnaKowalski: Or some epic games, just saying.\n"
    "WolfgangSchulz: Let's meet at the north parking lot.\n",
    "chat_002.txt": "Time: 20260406_10:30\n"
    "BorisPetrov: I suggest a potluck before the jam.\n"
    "ChloeMartin: What happened to the amp? It sounds broken.\n",
    "chat_003.txt": "Time: 20260407_18:45\n"
    "GraceLiu: Movie night at Sofia's? Someone suggested Dune.\n"
    "SofiaCosta: Fine by me.\n",
}


@pytest.fixture
def chats(tmp_path: Path) -> Path:
    folder = tmp_path / "chats"
    folder.mkdir()
    for name, text in CHATS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# --- joined words in BM25 ----------------------------------------------------------------------


def test_word_parts_cut_joined_names_time_stamps_and_camel_case() -> None:
    assert word_parts("WolfgangSchulz") == ["Wolfgang", "Schulz"]
    assert word_parts("20260405_15") == ["20260405", "15"]
    assert word_parts("HTMLParser") == ["HTML", "Parser"]
    assert word_parts("ÉlodieMartin") == ["Élodie", "Martin"]
    for whole in ("Debian", "DEBIAN", "schulz", "x86", "i386", "__init__", "2026"):
        assert word_parts(whole) == []
    assert words_and_parts("WolfgangSchulz: hi") == ["wolfgangschulz", "wolfgang", "schulz", "hi"]


def test_joined_and_apart_names_share_tokens_both_ways() -> None:
    enc = Bm25Encoder(("en",))
    doc = set(enc.encode_document("WolfgangSchulz: target practice", "en").indices)
    apart = set(enc.encode_query("Wolfgang Schulz").indices)
    joined = set(enc.encode_query("WolfgangSchulz").indices)
    assert apart and apart <= doc  # the question writes the name apart
    assert joined <= doc and apart < joined  # written joined: the whole and its pieces
    stamp = set(enc.encode_document("Time: 20260405_15:00", "en").indices)
    assert set(enc.encode_query("20260405").indices) <= stamp


def test_pieces_do_not_lengthen_the_document() -> None:
    """BM25's length normalisation counts words: a joined name weighs like a plain word."""
    enc = Bm25Encoder(("en",))
    plain = enc.encode_document("schulz proposed target practice", "en")
    joined = enc.encode_document("WolfgangSchulz proposed target practice", "en")
    weight = dict(zip(plain.indices, plain.values, strict=True))
    other = dict(zip(joined.indices, joined.values, strict=True))
    practice = set(enc.encode_query("practice").indices).pop()
    assert other[practice] == pytest.approx(weight[practice])


def test_bm25_finds_the_file_of_a_name_written_apart_and_of_a_day(
    chats: Path, tmp_path: Path
) -> None:
    """Before the pieces were tokens, "Wolfgang Schulz" matched no word of chat_001 (its only
    match was chat_002's "suggest"), and "20260405" no word at all."""
    settings = Settings(store=tmp_path / "store", relevance_floor=0.0)
    ingest(chats, settings, embedder=HashEmbedder())
    hits = search("What did Wolfgang Schulz suggest?", settings, mode="bm25")
    assert Path(hits[0].file).name == "chat_001.txt"
    hits = search("What happened on 20260405?", settings, mode="bm25")
    assert Path(hits[0].file).name == "chat_001.txt"


def test_a_new_tokenizer_reingests_stores_written_before(
    chats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(store=tmp_path / "store")
    monkeypatch.setattr(sparse, "FORMAT_VERSION", 1)
    ingest(chats, settings, embedder=HashEmbedder())
    monkeypatch.setattr(sparse, "FORMAT_VERSION", 2)
    report = ingest(chats, settings, embedder=HashEmbedder())
    assert (report.updated, report.unchanged) == (3, 0)


# --- the date line -----------------------------------------------------------------------------


def test_date_line_of_chats_mail_and_notes() -> None:
    assert date_line("Time: 20260405_15:00\nA: b\n") == "Time: 20260405_15:00"
    mail = "From: a@b.org\nTo: c@d.org\nDate: Tue, 8 Dec 2026 10:00:00 +0000\nSubject: x\n\nHi"
    assert date_line(mail) == "Date: Tue, 8 Dec 2026 10:00:00 +0000"
    assert date_line("2026-04-05 standup\n- shipped it\n") == "2026-04-05 standup"
    assert date_line("Date: April 5, 2026\nnotes\n") == "Date: April 5, 2026"
    # not a date line: a date inside prose, a version, one line alone, a long line
    assert date_line("We met and talked.\nIt was released on 2024-01-01 by me.\n") is None
    assert date_line("Version: 1.2.3\ntext\n") is None
    assert date_line("Time: 20260405_15:00") is None
    assert date_line("Date: 2026-04-05 " + "x" * 80 + "\ntext\n") is None


def test_a_chunk_from_the_middle_of_a_dated_file_carries_its_date(tmp_path: Path) -> None:
    lines = [f"Person{i % 5}Name: message number {i} about the weekend plans" for i in range(80)]
    path = tmp_path / "long_chat.txt"
    path.write_text("Time: 20260405_15:00\n" + "\n".join(lines) + "\n", encoding="utf-8")
    parsed = parse(path, path.read_bytes(), Settings())
    emb = HashEmbedder()
    chunks = Chunker(chunk_tokenizer(emb.info), ChunkSpec(256, 64)).chunk(parsed.sections)
    middle = chunks[len(chunks) // 2]
    assert len(chunks) > 4 and "20260405" not in middle.text
    assert middle.heading == ("Time: 20260405_15:00",)
    assert embed_text(middle).startswith("Time: 20260405_15:00\n")  # embedded and BM25 text
    assert middle.n_tokens <= 64


def test_the_date_reaches_the_store_and_the_prompt_label(chats: Path, tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "store", relevance_floor=0.0)
    ingest(chats, settings, embedder=HashEmbedder())
    hit = search("epic games", settings, mode="bm25")[0]
    assert hit.heading == ("Time: 20260405_15:00",)
    assert source_label(hit) == "chat_001.txt, Time: 20260405_15:00"
    # the speakers' lines reach the prompt whole
    assert "AnnaKowalski: Or some epic games" in hit.text


# --- the floor derived from the store ----------------------------------------------------------


def test_derive_reads_a_quantile_of_the_probes_within_bounds() -> None:
    scores = [i / 100 for i in range(11)]  # 0.00 .. 0.10
    assert floor.quantile(scores, 0.5) == pytest.approx(0.05)
    assert floor.quantile(scores, 0.9) == pytest.approx(0.09)
    # 3 of the 40 probes matching the store (a cookbook and the cooking ones) move nothing
    assert floor.derive([0.3] * 37 + [0.9] * 3) == pytest.approx(0.3 + floor.MARGIN)
    assert floor.derive([0.0] * 40) == floor.LOWEST
    assert floor.derive([0.99] * 40) == floor.HIGHEST


def test_ingest_derives_the_floor_and_relevant_applies_it(chats: Path, tmp_path: Path) -> None:
    """The calibrated 0.45 refused an answerable question whose cosine fell under it; the
    floor of this store, derived from unrelated questions, passes it and refuses those."""
    settings = Settings(store=tmp_path / "store")
    emb = ContentEmbedder()
    ingest(chats, settings, embedder=emb)
    body = json.loads((tmp_path / "store" / floor.FILE).read_text())
    assert len(body["probe_scores"]) == len(floor.PROBES)
    derived = floor_for(settings)
    assert derived == body["floor"] < Settings().floor

    answerable = "Who wanted target practice at the range?"
    hits = search(answerable, settings, embedder=emb)
    best = max(h.dense_score or 0.0 for h in hits)
    assert derived <= best < Settings().floor  # the constant would refuse it
    assert relevant(hits, settings.with_(relevance_floor=Settings().floor)) == []
    assert relevant(hits, settings)

    unrelated = "How far is the planet Jupiter from the sun in kilometres?"
    assert relevant(search(unrelated, settings, embedder=emb), settings) == []
    # an explicit floor still wins
    assert floor_for(settings.with_(relevance_floor=0.05)) == 0.05


def test_the_floor_is_derived_again_only_when_the_store_changes(
    chats: Path, tmp_path: Path
) -> None:
    settings = Settings(store=tmp_path / "store")
    ingest(chats, settings, embedder=HashEmbedder())
    emb = HashEmbedder()
    ingest(chats, settings, embedder=emb)
    assert emb.calls == 0  # unchanged: no model, no probes
    (chats / "chat_004.txt").write_text("Time: 20260408_09:00\nMiaJansen: Hike to the lake?\n")
    emb = HashEmbedder()
    ingest(chats, settings, embedder=emb)
    assert emb.calls >= len(floor.PROBES)  # asked again
    assert floor.read(tmp_path / "store") is not None


def test_a_store_without_a_derived_floor_keeps_the_calibrated_one(
    chats: Path, tmp_path: Path
) -> None:
    settings = Settings(store=tmp_path / "store")
    ingest(chats, settings, embedder=HashEmbedder())
    (tmp_path / "store" / floor.FILE).unlink()
    assert floor_for(settings) == Settings().floor
    (tmp_path / "store" / floor.FILE).write_text("{not json")
    assert floor_for(settings) == Settings().floor


def test_a_question_naming_a_day_is_ranked_by_bm25() -> None:
    """The embedder reads no numbers: "the hiking chat of 20260717" is every hiking chat to it."""
    enc = Bm25Encoder(("en", "fr"))
    assert fusion_weights("What did Elena propose in the chat of 20260717?", ("en",), enc) == (
        MUTED_DENSE
    )
    assert fusion_weights("Which port, 8080 or 443?", ("en",), enc) == MUTED_DENSE
    assert fusion_weights("What did Elena propose for the hike?", ("en",), enc) is None
    assert fusion_weights("Is Debian 12 stable?", ("en",), enc) is None  # under 4 digits


def test_a_hit_dated_the_day_a_question_names_passes_the_floor() -> None:
    """Ranked first by BM25 for its date, the day's chat scored 0.30 by cosine, under the floor."""
    day = Hit(
        file="chat_017.txt",
        text="ElenaRossi: How about target practice at the archery range on the way?\n",
        score=1.0,
        dense_score=0.30,
        heading=("Time: 20260717_19:30",),
    )
    other = Hit(file="chat_020.txt", text="ElenaRossi: count me in\n", score=0.5, dense_score=0.31)
    settings = Settings(relevance_floor=0.36)
    question = "What did Elena Rossi propose for the hiking trip in the chat of 20260717?"
    assert relevant([day, other], settings) == []
    assert relevant([day, other], settings, question) == [day]
