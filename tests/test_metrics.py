"""Evaluation metrics on small cases computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from docqa.metrics import (
    answer_terms,
    contains_answer,
    content_recall,
    first_relevant,
    hit_rate,
    ndcg,
    recall,
    reciprocal_rank,
    token_f1,
)


@pytest.fixture(autouse=True)
def _no_store_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``Settings()`` names ``./.docqa``: run where there is none, so a store the developer made
    in the checkout (``make demo``, with its derived floor) never decides a floor here."""
    monkeypatch.chdir(tmp_path)


# --- ranking ---------------------------------------------------------------------------------

FLAGS = [False, True, False, True]  # relevant at ranks 2 and 4; 3 relevant things exist


def test_hit_rate() -> None:
    assert hit_rate(FLAGS, 10) == 1.0
    assert hit_rate(FLAGS, 2) == 1.0
    assert hit_rate(FLAGS, 1) == 0.0
    assert hit_rate([], 10) == 0.0


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(FLAGS, 10) == 0.5
    assert reciprocal_rank([True], 10) == 1.0
    assert reciprocal_rank([False, False, True], 10) == pytest.approx(1 / 3)
    assert reciprocal_rank([False, False, True], 2) == 0.0
    assert first_relevant(FLAGS) == 2 and first_relevant([False]) is None


def test_ndcg_by_hand() -> None:
    # DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068; IDCG(3) = 1 + 0.63093 + 0.5
    assert ndcg(FLAGS, 10, 3) == pytest.approx(1.06161 / 2.13093, abs=1e-5)
    assert ndcg(FLAGS, 10, 3) == pytest.approx(0.49819, abs=1e-5)
    assert ndcg([True], 10, 1) == 1.0
    assert ndcg([False, True], 10, 1) == pytest.approx(1 / math.log2(3))
    assert ndcg(FLAGS, 1, 3) == 0.0
    assert ndcg([False], 10, 0) == 0.0


def test_ndcg_ideal_is_cut_at_k() -> None:
    # 5 relevant things but k = 2: the ideal list has only 2 relevant hits
    assert ndcg([True, True], 2, 5) == 1.0


def test_recall() -> None:
    assert recall(FLAGS, 10, 3) == pytest.approx(2 / 3)
    assert recall(FLAGS, 3, 3) == pytest.approx(1 / 3)
    assert recall([False], 10, 0) == 0.0
    assert recall([True, True], 10, 1) == 1.0  # never above 1 when n_relevant is too low


# --- answer containment ----------------------------------------------------------------------


def test_answer_terms_drop_stopwords_keep_repeats_in_order() -> None:
    assert answer_terms("The cat sat on the mat with the cat.", "en") == [
        "cat",
        "sat",
        "mat",
        "cat",
    ]
    assert answer_terms("Le chat est sur le tapis", "fr") == ["chat", "tapis"]


def test_answer_terms_keep_the_first_40() -> None:
    gold = " ".join(f"w{i}" for i in range(50))
    assert answer_terms(gold, "en") == [f"w{i}" for i in range(40)]


def test_containment_counts_repetitions() -> None:
    terms = answer_terms("The cat sat on the mat with the cat", "en")  # cat sat mat cat
    assert contains_answer(terms, "A cat!")  # 2 of 4 (cat counted twice): 50 %
    assert contains_answer(terms, "sat on a mat")  # 2 of 4
    assert not contains_answer(terms, "only the mat")  # 1 of 4
    # as a set the key would be {cat, sat, mat}, and "A cat" would hold only 1 of 3


def test_containment_drops_stopwords_of_the_language() -> None:
    terms = answer_terms("The the the of cat", "en")
    assert terms == ["cat"]
    assert not contains_answer(terms, "the the the of")  # 4 of 5 words without the drop
    assert contains_answer(terms, "CAT")  # lowercased


def test_containment_threshold_and_the_40_word_window() -> None:
    terms = answer_terms(" ".join(f"w{i}" for i in range(50)), "en")
    assert contains_answer(terms, " ".join(f"w{i}" for i in range(20, 50)))  # 20 of 40
    assert not contains_answer(terms, " ".join(f"w{i}" for i in range(21, 50)))  # 19 of 40
    assert not contains_answer(terms, " ".join(f"w{i}" for i in range(40, 50)))  # past the key


def test_empty_key_contains_nothing() -> None:
    assert not contains_answer([], "anything at all")
    assert contains_answer(["cat"], {"cat"})  # pre-split words are accepted


# --- answers ---------------------------------------------------------------------------------


def test_token_f1_by_hand() -> None:
    # common: the, cat, sat = 3; P = 3/3, R = 3/6; F1 = 2 * 1 * 0.5 / 1.5
    assert token_f1("The cat sat", "the cat sat on the mat") == pytest.approx(2 / 3)
    assert token_f1("the the", "the") == pytest.approx(2 * 0.5 * 1 / 1.5)  # bags, not sets
    assert token_f1("dog", "cat") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("", "cat") == 0.0


def test_content_recall() -> None:
    gold = "The cat sat on the mat with the cat"  # key: cat sat mat cat
    assert content_recall("a cat", gold, "en") == 0.5
    assert content_recall("cat sat mat", gold, "en") == 1.0
    assert content_recall("", gold, "en") == 0.0
