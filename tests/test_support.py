"""Support marking: sentence splitting, the exact-term rule and the cosine thresholds."""

from __future__ import annotations

import pytest

from docqa.support import (
    SIMILAR_MIN,
    SUPPORTED_MIN,
    classify,
    key_terms,
    mark_support,
    missing_terms,
    split_sentences,
    strip_citations,
)

from .fakes import COLD, HashEmbedder

SOURCE = (
    "The station owns two boats: the Goéland, a 6.2-metre aluminium launch with a 90 hp "
    "engine, and the Pétrel, a 4.5-metre inflatable. The Goéland may only leave the harbour "
    "when the wind is below 20 knots."
)


def test_sentences_split_at_punctuation_and_lines_with_citations_glued() -> None:
    text = "Two boats [1]. The launch [2]\n- has 90 hp.\n[3]\nWhy? Because.  "
    assert split_sentences(text) == [
        "Two boats [1].",
        "The launch [2]",
        "has 90 hp. [3]",
        "Why?",
        "Because.",
    ]
    assert split_sentences("  \n[1]\n") == []


def test_key_terms_are_numbers_measures_and_names_not_the_first_word() -> None:
    terms = key_terms("The launch Goéland has a 90 hp engine and is 6,2 m long since 1998 [1].")
    assert terms == {"goéland", "90", "90 hp", "6.2", "6.2 m", "1998"}
    assert key_terms("Debian is free.") == frozenset()  # first word: capitalised by grammar
    assert key_terms("I think so.") == frozenset()
    assert strip_citations("Two boats [1, 2] .") == "Two boats."


@pytest.mark.parametrize(
    ("sentence", "missing"),
    [
        ("The launch has a 90 hp engine.", []),
        ("The launch has a 95 hp engine.", ["95", "95 hp"]),  # number changed
        ("The launch has a 90 kW engine.", ["90 kw"]),  # unit changed
        ("The station owns the Albatros and the Pétrel.", ["albatros"]),  # name changed
        ("It leaves when the wind is below 25 knots.", ["25", "25 kn"]),
        ("The Goéland is 6.2 metres long.", []),  # "6.2-metre" in the source: same measure
        ("The Pétrel is 4.5 km long.", ["4.5 km"]),
    ],
)
def test_altered_numbers_units_and_names_are_missing_from_the_source(
    sentence: str, missing: list[str]
) -> None:
    assert missing_terms(sentence, SOURCE) == missing


def test_classify_needs_both_the_cosine_and_every_term() -> None:
    assert classify(0.9, [], 0.65, 0.5) == "supported"
    assert classify(0.9, ["95"], 0.65, 0.5) == "similar"
    assert classify(0.55, [], 0.65, 0.5) == "similar"
    assert classify(0.3, [], 0.65, 0.5) == "unsupported"
    assert 0 < SIMILAR_MIN < SUPPORTED_MIN < 1


def test_marks_with_the_hashed_embedder() -> None:
    answer = (
        "The station owns two boats: the Goéland, a 6.2-metre aluminium launch with a 90 hp "
        "engine [1]. The station owns two boats: the Goéland, a 6.2-metre aluminium launch with "
        "a 95 hp engine. Penguins eat krill in Antarctica."
    )
    emb = HashEmbedder()
    marks = mark_support(answer, [COLD, SOURCE], emb)
    assert [m.status for m in marks] == ["supported", "similar", "unsupported"]
    assert marks[0].source == 2 and marks[0].score >= SUPPORTED_MIN
    assert "[2]" in marks[0].reason
    assert "95" in marks[1].reason and marks[1].score >= SUPPORTED_MIN
    assert marks[2].score < SIMILAR_MIN
    assert marks[0].mark == "✓" and marks[1].mark == "~" and marks[2].mark == " "


def test_precomputed_source_vectors_are_used_and_no_sources_means_unsupported() -> None:
    emb = HashEmbedder()
    vectors = emb.embed_documents([SOURCE])
    before = emb.calls
    marks = mark_support("The launch has a 90 hp engine.", [SOURCE], emb, source_vectors=vectors)
    assert emb.calls == before + 1  # only the sentence was embedded
    assert marks[0].source == 1
    none = mark_support("Anything at all.", [], None)
    assert [(m.status, m.source) for m in none] == [("unsupported", None)]


def test_thresholds_can_be_overridden() -> None:
    emb = HashEmbedder()
    sentence = "The cold room is kept at 4 degrees."
    marks = mark_support(sentence, [sentence], emb, supported=1.01, similar=0.99)
    assert {m.status for m in marks} == {"similar"}


def test_number_words_must_appear_in_the_source() -> None:
    from docqa.support import missing_terms

    source = "The station owns two boats: the Goéland and the Pétrel."
    assert missing_terms("It owns two boats.", source) == []
    assert missing_terms("It owns three boats.", source) == ["three"]
    assert missing_terms("One of them is the Goéland.", source) == []


def test_a_check_mark_is_backed_by_the_source_the_sentence_cites() -> None:
    emb = HashEmbedder()
    claim = (
        "The station owns two boats: the Goéland, a 6.2-metre aluminium launch with a 90 hp engine"
    )
    answer = f"{claim} [1]. {claim} [2]. {claim}. {claim} [9]."
    marks = mark_support(answer, [COLD, SOURCE], emb, citations=True)
    assert [m.status for m in marks] == ["similar", "supported", "supported", "supported"]
    assert marks[0].source == 1 and "backed by [2]" in marks[0].reason
    assert "not by the cited [1]" in marks[0].reason
    assert marks[1].source == 2 and marks[2].source == 2  # no citation: the closest source
    assert marks[3].source == 2  # a number that names no source is ignored
    unchecked = mark_support(answer, [COLD, SOURCE], emb)
    assert [m.status for m in unchecked] == ["supported"] * 4
