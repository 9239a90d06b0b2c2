"""The answer as docqa shows it: sources numbered 1..k in order of use, markers by sentence, the
same text streamed or whole (docqa.answering.presenting)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from docqa.answering import AnswerStream
from docqa.answering.checking import SentenceJudge
from docqa.answering.presenting import Presenter, with_markers
from docqa.api import ask, ingest
from docqa.config import Settings
from docqa.llm import Message
from docqa.support import cited_numbers
from docqa.types import Answer, Hit

from .fakes import HashEmbedder, ScriptedLLM

BOATS = "The station owns two boats: the Goéland, a launch with a 90 hp engine, and the Pétrel."
COLD = "The cold room is kept at 4 degrees. Unlabelled samples are discarded every Friday."
SAFETY = "Every outing at sea is logged on the whiteboard by the boat shed."
QUESTION = "How many boats does the station own, and how cold is the cold room?"

TEXTS = [
    "The station owns two boats [7]. The Goéland has a 90 hp engine [1]. It is fast.",
    "  Two boats. [8] The Pétrel [1], and the Goéland [7].\n\nSources:\n[1] a, page 1\n[7] b",
    "- First item [3]\n- Second item [3][2]\n\nDone [9].",
    'He said "yes." [2] Then left.\nSources: [2] f2',
    "No citation at all.",
    "**Sources:**\n[1] only a list",
]


def _present(text: str, size: int | None) -> tuple[str, list[str], list[int]]:
    hits = [Hit(file=f"f{i}.pdf", text=f"text {i}", score=1.0, page=i) for i in range(1, 9)]
    shown = Presenter(SentenceJudge(hits, list(range(1, 9)), None))
    if size is None:
        pieces = [shown.feed(text), shown.close()]
    else:
        pieces = [shown.feed(text[i : i + size]) for i in range(0, len(text), size)]
        pieces.append(shown.complete(text))
    assert "".join(pieces) == shown.text
    return shown.text, [p for p in pieces if p], shown.presented.order


@pytest.mark.parametrize("text", TEXTS)
def test_the_text_is_the_same_streamed_in_any_pieces_or_whole(text: str) -> None:
    whole, _, order = _present(text, None)
    for size in (1, 2, 3, 5, 8):
        assert _present(text, size)[0] == whole
        assert _present(text, size)[2] == order
    # the sources are numbered 1..k in the order the text uses them, the model's list left out
    used = cited_numbers(whole)
    assert used == list(range(1, len(order) + 1))
    assert "Sources" not in whole and not whole.startswith(" ")


def test_markers_go_at_the_end_of_their_sentence_numbered_by_first_use() -> None:
    text, _, order = _present(TEXTS[1], None)
    assert text == "Two boats [1]. The Pétrel, and the Goéland [2][3]."
    assert order == [8, 1, 7]
    assert _present(TEXTS[2], None)[0] == "- First item [1]\n- Second item [1][2]\n\nDone."
    assert with_markers("It is.", [2]) == "It is [2]."
    assert with_markers('He said "yes."', [1]) == 'He said "yes." [1]'
    assert with_markers("A list line", [1, 2]) == "A list line [1][2]"


def test_words_are_shown_as_they_come() -> None:
    _, pieces, _ = _present("The station owns two boats [7]. It is.", 1)
    assert pieces[:4] == ["T", "h", "e", " s"]  # a space waits for the next word
    # the marker and the full stop go out once the next sentence begins
    assert " [1]. I" in pieces
    assert pieces[-1] == "."


@pytest.fixture
def emb() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def settings(tmp_path: Path, emb: HashEmbedder) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boats.md").write_text(f"# Boats\n\n{BOATS}\n")
    (docs / "cold.md").write_text(f"# Cold room\n\n{COLD}\n")
    (docs / "safety.txt").write_text(f"{SAFETY}\n")
    s = Settings(store=tmp_path / "store", relevance_floor=0.0, top_k=3, max_tokens=64)
    ingest(docs, s, embedder=emb)
    return s


def _numbered(messages: Sequence[Message]) -> dict[str, int]:
    found = re.findall(r"^\[(\d+)\] (\S+?)(?:,|$)", messages[-1].content, re.M)
    return {name: int(n) for n, name in found}


def small_model(messages: Sequence[Message]) -> str:
    """What a 1.5B model writes: no inline marker, then a list of sources with a gap."""
    n = _numbered(messages)
    return (
        f"{COLD.split('. ')[0]}. {BOATS}\n\n"
        f"Sources:\n[{n['cold.md']}] cold.md, Cold room\n[{n['safety.txt']}] safety.txt"
    )


def _consistent(answer: Answer) -> None:
    """Text, citations and hits tell the same numbering."""
    used = cited_numbers(answer.text)
    assert used == [c.n for c in answer.citations] == list(range(1, len(used) + 1))
    for c in answer.citations:
        assert answer.hits[c.n - 1].chunk_id == c.chunk_id


def test_an_answer_without_markers_gets_them_by_sentence_numbered_in_order(
    settings: Settings, emb: HashEmbedder
) -> None:
    answer = ask(QUESTION, settings, llm=ScriptedLLM(small_model), embedder=emb)
    # the cold sentence comes first: cold.md is [1] whatever its rank; the list is gone
    assert answer.text == (
        "The cold room is kept at 4 degrees [1]. " + BOATS.removesuffix(".") + " [2]."
    )
    assert [c.file.rsplit("/", 1)[-1] for c in answer.citations] == ["cold.md", "boats.md"]
    assert all(c.attributed for c in answer.citations)
    _consistent(answer)
    # the hits follow the text's numbering, the uncited one after
    assert [h.file.rsplit("/", 1)[-1] for h in answer.hits] == ["cold.md", "boats.md", "safety.txt"]
    assert re.match(r"\[1\] .*cold\.md", answer.sources()[0])
    # each cited sentence carries its support mark
    assert answer.citations[0].support == (("The cold room is kept at 4 degrees.", "supported"),)
    assert answer.citations[0].marks == "✓"


def test_the_stream_shows_the_text_of_the_finished_answer(
    settings: Settings, emb: HashEmbedder
) -> None:
    whole = ask(QUESTION, settings, llm=ScriptedLLM(small_model), embedder=emb)
    stream = ask(QUESTION, settings, llm=ScriptedLLM(small_model), embedder=emb, stream=True)
    assert isinstance(stream, AnswerStream)
    pieces = list(stream)
    assert len(pieces) > 10  # word by word, not one block
    assert "".join(pieces) == stream.answer.text == whole.text
    assert stream.answer.citations == whole.citations
    _consistent(stream.answer)


def test_a_citation_the_model_numbered_high_is_shown_as_1(
    settings: Settings, emb: HashEmbedder
) -> None:
    def reply(messages: Sequence[Message]) -> str:
        n = _numbered(messages)
        return f"{BOATS} [{n['boats.md']}] {SAFETY} [{n['safety.txt']}]"

    answer = ask(QUESTION, settings, llm=ScriptedLLM(reply), embedder=emb)
    _consistent(answer)
    assert [c.file.rsplit("/", 1)[-1] for c in answer.citations] == ["boats.md", "safety.txt"]
    assert answer.text.endswith("boat shed [2].")
