"""BM25 encoder: stable ids, stemming, stopwords, query union, saturation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from hashlib import blake2b

import pytest

from docqa.errors import ConfigError
from docqa.sparse import Bm25Encoder, fold_accents, token_id

TEXT = "Les paquets installés; the packages were installed by Debian's installer"


def ids(vector: object) -> set[int]:
    return set(vector.indices)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def enc() -> Bm25Encoder:
    return Bm25Encoder(("en", "fr"))


def test_token_id_is_blake2b_31_bits() -> None:
    expected = int.from_bytes(blake2b(b"system", digest_size=4).digest(), "little") & 0x7FFFFFFF
    assert token_id("system") == expected
    assert 0 <= token_id("x" * 100) < 2**31
    assert token_id("system") != token_id("systèm")


def test_ids_are_the_same_in_another_process_with_another_hash_seed(enc: Bm25Encoder) -> None:
    code = (
        "import json; from docqa.sparse import Bm25Encoder; e = Bm25Encoder(('en', 'fr'));"
        f"d = e.encode_document({TEXT!r}, 'fr'); q = e.encode_query({TEXT!r});"
        "print(json.dumps([d.indices, d.values, q.indices]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    doc_ids, doc_values, query_ids = json.loads(out.stdout)
    doc = enc.encode_document(TEXT, "fr")
    assert tuple(doc_ids) == doc.indices
    assert tuple(doc_values) == pytest.approx(doc.values)
    assert tuple(query_ids) == enc.encode_query(TEXT).indices
    assert doc.indices  # the comparison above compared something


def test_english_inflections_share_one_stem(enc: Bm25Encoder) -> None:
    vector = enc.encode_document("backups backup", "en")
    assert vector.indices == (token_id("backup"),)
    assert ids(enc.encode_document("running", "en")) == ids(enc.encode_document("runs", "en"))


def test_french_inflections_share_one_stem(enc: Bm25Encoder) -> None:
    forms = ["installées", "installer", "installation", "installés"]
    stems = [enc.encode_document(word, "fr").indices for word in forms]
    assert stems == [(token_id("install"),)] * len(forms)
    assert ids(enc.encode_document("sauvegardes", "fr")) == ids(enc.encode_query("sauvegarder"))


def test_stopwords_and_single_letters_are_dropped_digits_kept(enc: Bm25Encoder) -> None:
    assert enc.encode_document("the of and it is", "en").indices == ()
    assert enc.encode_document("les de la et du", "fr").indices == ()
    assert ids(enc.encode_document("l'homme", "fr")) == {token_id("homm")}
    assert ids(enc.encode_document("chapter 3", "en")) == {token_id("chapter"), token_id("3")}
    # "on"/"me" are stopwords in both languages; "the" makes the query English, where it is one.
    assert enc.encode_query("on me").indices == ()
    assert enc.encode_query("the").indices == ()


def test_stopwords_depend_on_the_document_language(enc: Bm25Encoder) -> None:
    # "le" is a French stopword but an English word.
    assert token_id("le") not in ids(enc.encode_document("le système", "fr"))
    assert token_id("le") in ids(enc.encode_document("le système", "en"))


def test_query_is_stemmed_in_its_own_language(enc: Bm25Encoder) -> None:
    french_q = "Comment installer le système de sauvegarde ?"
    assert enc.query_languages(french_q) == ("fr",)
    assert ids(enc.encode_query(french_q)) == ids(enc.encode_document(french_q, "fr"))
    english_q = "How do I install the backup system?"
    assert enc.query_languages(english_q) == ("en",)
    assert ids(enc.encode_query(english_q)) == ids(enc.encode_document(english_q, "en"))


def test_query_without_stopwords_is_the_union_of_every_language(enc: Bm25Encoder) -> None:
    text = "Installing système sauvegarde"
    english = ids(enc.encode_document(text, "en"))
    french = ids(enc.encode_document(text, "fr"))
    query = enc.encode_query(text)
    assert enc.query_languages(text) == ("en", "fr")
    assert set(query.indices) == english | french
    assert english != french
    assert query.values == (1.0,) * len(query.indices)
    assert list(query.indices) == sorted(set(query.indices))


def test_queries_without_accents_meet_accented_documents(enc: Bm25Encoder) -> None:
    assert fold_accents("systèm") == "system"
    assert ids(enc.encode_query("systeme")) & ids(enc.encode_document("le système", "fr"))


def test_saturation_rises_with_tf_and_stays_below_k1_plus_1() -> None:
    enc = Bm25Encoder(("en",), k1=1.2, b=0.75, avg_len=10.0)
    filler = " ".join(f"filler{i}" for i in range(20))
    values = []
    for tf in range(1, 12):
        vector = enc.encode_document(" ".join(["database"] * tf) + " " + filler, "en")
        values.append(dict(zip(vector.indices, vector.values, strict=True))[token_id("databas")])
    assert all(a < b for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < 1.2 + 1.0


def test_exact_bm25_weight_and_length_normalisation() -> None:
    enc = Bm25Encoder(("en",), k1=1.2, b=0.75, avg_len=4.0)
    vector = enc.encode_document("database database server", "en")  # 3 kept tokens
    weights = dict(zip(vector.indices, vector.values, strict=True))
    norm = 1.2 * (1 - 0.75 + 0.75 * 3 / 4.0)
    assert weights[token_id("databas")] == pytest.approx(2 * 2.2 / (2 + norm))
    assert weights[token_id("server")] == pytest.approx(1 * 2.2 / (1 + norm))
    longer = enc.encode_document("database server " + "other words here " * 5, "en")
    assert (
        dict(zip(longer.indices, longer.values, strict=True))[token_id("server")]
        < weights[token_id("server")]
    )


def test_version_names_languages_and_parameters() -> None:
    base = Bm25Encoder(("en", "fr"))
    assert base.version.startswith("bm25-snowball/2:en,fr")
    assert Bm25Encoder(("fr", "en")).version != base.version
    assert Bm25Encoder(("en", "fr"), k1=1.5).version != base.version


def test_unknown_language_and_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no BM25 stemmer for language 'xx'"):
        Bm25Encoder(("en", "xx"))
    with pytest.raises(ConfigError):
        Bm25Encoder(("en",), b=2.0)
    with pytest.raises(ConfigError):
        Bm25Encoder(())


def test_empty_text_gives_empty_vectors(enc: Bm25Encoder) -> None:
    assert enc.encode_document("", "en").indices == ()
    assert enc.encode_query("  ... !!").indices == ()
