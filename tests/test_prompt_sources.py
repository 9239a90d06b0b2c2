"""What the answer prompt holds of its sources: the sentences that bear on the question, text sent
once, and a constant prefix the backend can keep evaluated across questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqa.answering.jobs import rag_job
from docqa.api import ask, ingest
from docqa.config import Settings
from docqa.passages import GAP, excerpt, select_sentences, terms, units, weights
from docqa.types import Hit

from .fakes import HashEmbedder, ScriptedLLM

ANSWER = "The Goéland is refuelled at the north pontoon every Monday morning."
FILLER = [
    "The cold room is kept at four degrees all year.",
    "Unlabelled samples are thrown away on Fridays.",
    "Visitors sign the register at the front desk.",
    "The library closes at six in the evening.",
    "Field notebooks are scanned once a month.",
    "The weather station reports every ten minutes.",
]
QUESTION = "Where is the Goéland refuelled?"


def hit(text: str, n: int = 0, heading: tuple[str, ...] = ()) -> Hit:
    return Hit(
        file=f"/d/handbook{n}.pdf", text=text, score=1.0 - n / 10, page=n + 1, heading=heading
    )


def test_units_cut_sentences_list_items_and_headings_and_lose_no_character() -> None:
    text = "1.3 What is it?\nIt is a boat. It has a\nlong hull.\n• a mast\n2.1 Next section\nMore."
    got = units(text)
    assert "".join(got) == text
    assert [u.strip() for u in got] == [
        "1.3 What is it?",
        "It is a boat.",
        "It has a\nlong hull.",
        "• a mast",
        "2.1 Next section\nMore.",
    ]


def test_terms_fold_case_accents_and_endings_and_drop_stopwords() -> None:
    assert terms("Where is the Goéland refuelled?") == {"goelan", "refuel"}
    assert terms("refuelling the goeland") == {"goelan", "refuel"}
    assert terms("Où est le Goéland ?") == {"goelan"}  # French stopwords too


def test_a_selected_source_keeps_the_sentence_that_holds_the_answer_and_its_neighbours() -> None:
    before, after = FILLER[:3], FILLER[3:]
    text = " ".join([*before, ANSWER, *after])
    got = select_sentences(QUESTION, [hit(text)])[0]
    assert ANSWER in got.text
    assert got.text == " ".join([before[-1], ANSWER, after[0]])  # with its neighbours
    # two passages apart: the text left out between them is marked
    again = "In winter the Goéland is refuelled at the south quay."
    twice = select_sentences(QUESTION, [hit(" ".join([ANSWER, *FILLER, again]))])[0]
    assert twice.text == f"{ANSWER} {FILLER[0]}{GAP}{FILLER[-1]} {again}"
    assert got.vector is None  # the store's vector was the whole chunk's


def test_the_questions_own_heading_keeps_the_answer_that_follows_it() -> None:
    # the answer's sentences share no word with the question: the heading above them does
    text = " ".join(
        [FILLER[0], "4.2 Where is the Goéland refuelled?", "At the north pontoon.", *FILLER[1:]]
    )
    got = select_sentences(QUESTION, [hit(text)])[0].text
    assert got.startswith("4.2 Where is the Goéland refuelled?") and FILLER[0] not in got
    assert "At the north pontoon." in got and got.endswith(FILLER[-1])


def test_a_source_in_the_questions_own_section_is_sent_whole() -> None:
    # the second chunk of the section: nothing in its text names the question's words
    text = " ".join(FILLER)
    section = ("Boats", "Where is the Goéland refuelled?")
    got = select_sentences(QUESTION, [hit(ANSWER), hit(text, 1, heading=section)])
    assert got[1].text == text


def test_text_sent_in_a_better_ranked_source_is_not_sent_again() -> None:
    first = " ".join([ANSWER, FILLER[0]])
    second = " ".join([FILLER[1], ANSWER, FILLER[2]])
    got = select_sentences(QUESTION, [hit(first), hit(second, 1)])
    assert sum(h.text.count(ANSWER) for h in got) == 1
    assert ANSWER in got[0].text


def test_a_source_with_nothing_on_the_question_keeps_its_first_sentence_and_its_number() -> None:
    got = select_sentences(QUESTION, [hit(ANSWER), hit(" ".join(FILLER), 1)])
    assert len(got) == 2 and got[1].text == FILLER[0]


def test_common_words_weigh_less_than_rare_ones() -> None:
    texts = [f"The Goéland {f}" for f in FILLER] + ["It is refuelled at the north pontoon."]
    weight = weights(terms(QUESTION), texts)
    assert weight["refuel"] > weight["goelan"] > 0
    assert excerpt("Nothing about it.", weight) == ""


# --- through ask: what the model is sent -------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> tuple[Settings, HashEmbedder]:
    emb = HashEmbedder()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boats.md").write_text("# Boats\n\n" + " ".join([*FILLER[:3], ANSWER, *FILLER[3:]]))
    (docs / "rules.md").write_text("# Rules\n\n" + " ".join(reversed(FILLER)) + "\n")
    s = Settings(store=tmp_path / "store", relevance_floor=0.0, top_k=4, max_tokens=16)
    ingest(docs, s, embedder=emb)
    return s, emb


def test_sentences_send_fewer_tokens_and_keep_the_answer(
    store: tuple[Settings, HashEmbedder],
) -> None:
    s, emb = store
    sizes = {}
    for mode in ("chunks", "sentences"):
        llm = ScriptedLLM("At the north pontoon [1].")
        answer = ask(QUESTION, s.with_(prompt_sources=mode), llm=llm, embedder=emb)
        user = llm.calls[0][-1].content
        assert ANSWER in user
        sizes[mode] = llm.count_tokens(user)
        # the answer's sources are what the model read
        assert all(h.text in user for h in answer.hits)
    assert sizes["sentences"] < sizes["chunks"]
    assert FILLER[-1] not in user  # the last answer: sentences


@pytest.mark.parametrize("mode", ["chunks", "sentences"])
def test_the_constant_prefix_is_byte_identical_across_questions(
    store: tuple[Settings, HashEmbedder], mode: str
) -> None:
    """The system prompt, then the opening of the user message, come before anything that
    depends on the question, so a backend reuses their evaluated prefix (llama.cpp's prompt
    cache, Ollama, OpenAI-style servers) instead of reading them again for every question."""
    s, emb = store
    llm = ScriptedLLM(default="Answer [1].")
    questions = [
        QUESTION,
        "What temperature is the cold room kept at?",
        "Quand ferme la bibliothèque ?",
    ]
    for q in questions:
        ask(q, s.with_(prompt_sources=mode), llm=llm, embedder=emb)
    prompts = list(llm.calls)
    systems = {call[0].content for call in prompts}
    assert len(systems) == 1 and [call[0].role for call in prompts] == ["system"] * 3
    users = [call[-1].content for call in prompts]
    assert all(u.startswith("Question: ") for u in users)
    assert all(q not in prompts[0][0].content for q in questions)


def test_the_budget_counts_the_excerpts_not_the_chunks(
    store: tuple[Settings, HashEmbedder],
) -> None:
    s, _ = store
    text = " ".join([*FILLER, ANSWER, *FILLER])
    hits = [hit(text), hit(" ".join(reversed(FILLER)), 1)]
    llm = ScriptedLLM()
    whole = rag_job(QUESTION, hits, llm, s.with_(prompt_sources="chunks"))
    cut = rag_job(QUESTION, hits, llm, s.with_(prompt_sources="sentences"))
    assert cut.expected_tokens < whole.expected_tokens
    assert ANSWER in cut.messages[-1].content and cut.hits[0].text in cut.messages[-1].content
