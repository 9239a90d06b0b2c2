"""What Open WebUI shows of a docqa answer over the OpenAI face: one chip per source with its
passage, named "file, page N", the right page, a relevance, pills that match the chips
(modelled in tests/serve/open_webui.py from Open WebUI's code)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from docqa.api import ingest
from docqa.config import Settings
from docqa.llm import Message
from docqa.server.citations import SourceRef, source_event
from docqa.support import cited_numbers
from docqa.types import Hit

from ..fakes import HashEmbedder, ScriptedLLM
from . import open_webui
from .conftest import BOATS, Serve

PDF = Path(__file__).parents[1] / "data" / "corpus" / "scanned_with_ocr_layer_vicksburg.pdf"
ASK = [{"role": "user", "content": "What happened during the siege of Vicksburg, and the boats?"}]


def _sources(messages: Sequence[Message]) -> list[tuple[int, str]]:
    """The prompt's sources: (number, passage)."""
    blocks = re.split(r"^\[(\d+)\] [^\n]*\n", messages[-1].content, flags=re.M)
    return [(int(n), text) for n, text in zip(blocks[1::2], blocks[2::2], strict=True)]


def small_model(messages: Sequence[Message]) -> str:
    """A 1.5B model's habits: no inline marker, sentences copied from the sources (the last
    ranked first), then its own source list with gaps in the numbers."""
    sources = _sources(messages)
    if not sources:  # the condense or baseline prompts
        return "I do not know."
    said = []
    for _, text in reversed(sources):
        sentence = next(
            (s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if len(s) > 40), None
        )
        if sentence and sentence not in said:
            said.append(sentence)
    listed = "\n".join(f"[{n}] source {n}" for n, _ in sources)
    return " ".join(said[:3]) + f"\n\nSources:\n{listed}"


@pytest.fixture
def pdf_corpus(tmp_path: Path) -> Settings:
    docs = tmp_path / "pdf-docs"
    docs.mkdir()
    shutil.copy(PDF, docs / "vicksburg.pdf")
    (docs / "boats.md").write_text(f"# Boats\n\n{BOATS}\n")
    settings = Settings(store=tmp_path / "pdf-store", relevance_floor=0.0, top_k=4, max_tokens=64)
    ingest(docs, settings, embedder=HashEmbedder())
    return settings


def _stream(url: str) -> list[dict[str, object]]:
    body = {"model": "docqa", "messages": ASK, "stream": True}
    chunks = []
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunks.append(json.loads(line[6:]))
    return chunks


def test_open_webui_gets_one_chip_per_source_named_by_file_and_page(
    serve: Serve, pdf_corpus: Settings
) -> None:
    server = serve(ScriptedLLM(default=small_model), settings_=pdf_corpus)
    chunks = _stream(server.url)
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""  # type: ignore[index]
        for c in chunks
        if c["choices"]
    )
    sources = open_webui.stored_sources(chunks)
    answer, _, block = text.partition("\n\nSources:\n")
    # the support marks of the sentences, after each source's line
    assert all(re.search(r"\)( [✓~]+)$", line) for line in block.splitlines())
    for head in (False, True):  # v0.12.4, and the newer code
        _read_as_open_webui_would(server.url, sources, answer, block, head=head)


def _read_as_open_webui_would(
    url: str, sources: list[dict[str, object]], answer: str, block: str, *, head: bool
) -> None:
    chips = open_webui.chips(sources, head=head)
    used = cited_numbers(answer)
    # inline markers where the model wrote none, numbered 1..k in order of use, no gaps
    assert used == list(range(1, len(used) + 1)) and len(used) >= 2
    # one chip per source the answer shows, each stored once (no annotation copy), with its
    # passage as the only document
    assert len(sources) == len(chips) == len(re.findall(r"^\[\d+\] ", block, re.M)) == len(used)
    for chip in chips:
        assert len(chip.documents) == 1 and len(chip.documents[0]) > 40
        assert chip.url and chip.url.startswith(f"{url}/documents/")
        assert not chip.name.startswith("http")
    # the pill [n] of the text opens chip n, and shows its name
    assert open_webui.pill_titles(sources, head=head) == [c.name for c in chips]
    # "vicksburg.pdf, page N": the pop-up shows page N, the link opens page N
    pdf_chips = [c for c in chips if c.name.startswith("vicksburg.pdf, page ")]
    assert pdf_chips
    for chip in pdf_chips:
        page = int(re.findall(r"page (\d+)", chip.name)[0])
        assert chip.pages_shown() == [page]
        assert chip.url is not None and chip.url.endswith(f"#page={page}")
    # relevance: every source carries its cosine to the question, shown as a percentage
    assert all(len(c.distances) == 1 and -1 <= c.distances[0] <= 1 for c in chips)
    assert open_webui.shows_relevance(chips)


def test_the_whole_message_tells_the_same_numbering_as_the_stream(
    serve: Serve, pdf_corpus: Settings
) -> None:
    server = serve(ScriptedLLM(default=small_model), settings_=pdf_corpus)
    streamed = _stream(server.url)
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""  # type: ignore[index]
        for c in streamed
        if c["choices"]
    )
    body = {"model": "docqa", "messages": ASK}
    message = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60).json()[
        "choices"
    ][0]["message"]
    assert message["content"] == text
    chips = open_webui.chips(open_webui.stored_sources(streamed))
    notes = message["annotations"]
    assert [n["url_citation"]["url"] for n in notes] == [c.url for c in chips]
    for k, note in enumerate(notes, 1):
        cite = note["url_citation"]
        assert text[cite["start_index"] : cite["end_index"]] == f"[{k}]"
    ollama = httpx.post(
        f"{server.url}/api/chat",
        json={"model": "docqa:latest", "messages": ASK, "stream": False},
        timeout=60,
    ).json()
    assert ollama["message"]["content"] == text


def test_a_pdf_page_and_two_sources_of_one_page_read_right_in_open_webui() -> None:
    hit = Hit(file="/docs/manual.pdf", text="The passage.", score=0.03, page=49, dense_score=0.71)
    twin = Hit(file="/docs/manual.pdf", text="Another passage.", score=0.02, page=49)
    refs = [
        SourceRef(1, "manual.pdf, page 49", "http://h:1/documents/a#page=49", hit),
        SourceRef(2, "manual.pdf, page 49", "http://h:1/documents/a#page=49", twin),
    ]
    names = ["manual.pdf, page 49", "manual.pdf, page 49 (2)"]
    sources = [source_event(r, n)["event"]["data"] for r, n in zip(refs, names, strict=True)]
    for head in (False, True):
        chips = open_webui.chips(sources, head=head)
        assert [c.name for c in chips] == names
        assert [c.url for c in chips] == ["http://h:1/documents/a#page=49"] * 2
        assert [c.pages_shown() for c in chips] == [[49], [49]]
        assert [c.documents for c in chips] == [["The passage."], ["Another passage."]]
        assert chips[0].distances == [0.71] and chips[1].distances == []
        assert open_webui.pill_titles(sources, head=head) == names
