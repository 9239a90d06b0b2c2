"""Questions about a whole file: recognised from the question (or ``file=`` / ``--file``), read
part by part (map), the parts' notes combined (reduce), citations kept on each part's chunks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa import prompts
from docqa.answering import whole_file
from docqa.answering.whole_file import Progress, recognise
from docqa.api import Chat, ask, ingest
from docqa.cli import cli
from docqa.config import Settings
from docqa.llm import Message

from .fakes import HashEmbedder, ScriptedLLM, install_hash_embedder, install_llm

SECTIONS = {
    "Boats": "The station owns two boats named Goeland and Petrel.",
    "Cold room": "The cold room is kept at four degrees at all times.",
    "Deadlines": "Field reports are due on the first Monday of each month.",
}
PATHS = ["/d/field-station-handbook.md", "/d/minutes_2024.txt", "/d/boats.md"]


def handbook(folder: Path) -> Path:
    """A handbook of three sections, each long enough to be its own chunk and part."""
    body = "\n\n".join(f"# {h}\n\n" + " ".join([s] * 6) for h, s in SECTIONS.items())
    path = folder / "field-station-handbook.md"
    path.write_text(body + "\n")
    (folder / "other.md").write_text("# Other\n\nThe library opens at nine.\n")
    return path


def reply(messages: Sequence[Message]) -> str:
    """Map (and single-part RAG): each source's first sentence with its number; reduce: the
    notes as they are."""
    system, user = messages[0].content, messages[-1].content
    if system.startswith(whole_file.REDUCE_SYSTEM):
        return " ".join(ln for ln in user.splitlines() if re.search(r"\[\d+\]\.?$", ln))
    blocks = re.findall(r"^\[(\d+)\] [^\n]*\n([^.]*\.)", user, re.M)
    return "\n".join(f"{text.strip()[:-1]} [{n}]." for n, text in blocks)


@pytest.fixture
def emb() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def settings(tmp_path: Path, emb: HashEmbedder) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    handbook(docs)
    s = Settings(store=tmp_path / "store", relevance_floor=0.0, top_k=1, max_tokens=16)
    ingest(docs, s, embedder=emb)
    return s


def small_llm() -> ScriptedLLM:
    """A model whose window holds one section a call (tokens are words)."""
    return ScriptedLLM(default=reply, context_window=200)


def test_recognises_a_whole_file_question_naming_a_stored_file() -> None:
    assert recognise("Summarize the field station handbook", PATHS) == PATHS[0]
    assert (
        recognise("What are the main points of the field-station-handbook.md?", PATHS) == PATHS[0]
    )
    assert recognise("List every deadline in the minutes", PATHS) == PATHS[1]
    assert recognise("Résume le field station handbook", PATHS) == PATHS[0]


def test_an_ordinary_question_is_not_a_whole_file_question() -> None:
    assert recognise("How many boats does the station own?", PATHS) is None
    assert recognise("What engine does the boat in boats.md have?", PATHS) is None
    assert recognise("Summarize the safety rules", PATHS) is None  # names no stored file


def test_all_chunks_reach_the_model_in_order_across_parts(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = small_llm()
    answer = ask("Summarize the field station handbook", settings, llm=llm, embedder=emb)
    maps = [c for c in llm.calls if c[0].content.startswith(whole_file.MAP_SYSTEM)]
    assert len(maps) == 3 and len(llm.calls) == 4  # three parts, then the combine step
    seen = [next(s for s in SECTIONS.values() if s in c[-1].content) for c in maps]
    assert seen == list(SECTIONS.values())
    assert all(s[:-1] in answer.text for s in SECTIONS.values())
    assert "library" not in " ".join(c[-1].content for c in llm.calls)  # the other file


def test_citations_point_at_the_chunks_each_part_came_from(
    settings: Settings, emb: HashEmbedder
) -> None:
    answer = ask("Summarize the field station handbook", settings, llm=small_llm(), embedder=emb)
    assert len(answer.citations) == 3
    for sentence in SECTIONS.values():
        marker = re.search(re.escape(sentence[:-1]) + r" ?\[(\d+)\]", answer.text)
        assert marker, answer.text
        cited = answer.hits[int(marker.group(1)) - 1]
        assert sentence in cited.text
        assert cited.file.endswith("field-station-handbook.md")


def test_progress_fires_per_part(settings: Settings, emb: HashEmbedder) -> None:
    events: list[Progress] = []
    ask(
        "Summarize the field station handbook",
        settings,
        llm=small_llm(),
        embedder=emb,
        on_progress=events.append,
    )
    assert [(e.done, e.total) for e in events] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert events[0].estimate_s is None  # a fast backend: no estimate


def test_a_slow_backend_gets_an_estimate_first(settings: Settings, emb: HashEmbedder) -> None:
    events: list[Progress] = []
    llm = ScriptedLLM(default=reply, context_window=200, backend="gguf")
    ask(
        "Summarize the field station handbook",
        settings,
        llm=llm,
        embedder=emb,
        on_progress=events.append,
    )
    assert events[0].estimate_s is not None and events[0].estimate_s > 0


def test_file_argument_reads_the_file_whatever_the_question(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM(default=reply, context_window=4096)
    answer = ask(
        "What is in it?", settings, llm=llm, embedder=emb, file="field-station-handbook.md"
    )
    assert len(llm.calls) == 1  # one part: a single call, no combine step
    assert all(s in llm.calls[0][-1].content for s in SECTIONS.values())
    assert len(answer.citations) == 3


def test_a_streamed_answer_streams_the_combine_step(settings: Settings, emb: HashEmbedder) -> None:
    stream = ask(
        "Summarize the field station handbook", settings, stream=True, llm=small_llm(), embedder=emb
    )
    text = "".join(stream)
    assert text == stream.answer.text and len(stream.answer.citations) == 3


def test_chat_gets_whole_file_questions(settings: Settings, emb: HashEmbedder) -> None:
    llm = small_llm()
    with Chat(settings, llm=llm, embedder=emb) as chat:
        answer = chat.ask("Summarize the field station handbook")
    assert len(llm.calls) == 4 and len(answer.citations) == 3


def test_cli_file_option_reads_the_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb = install_hash_embedder(monkeypatch)
    docs = tmp_path / "docs"
    docs.mkdir()
    handbook(docs)
    ingest(docs, Settings(store=tmp_path / "store"), embedder=emb)
    llm = small_llm()
    install_llm(monkeypatch, lambda settings, backend=None: llm)
    monkeypatch.setenv("DOCQA_MAX_TOKENS", "16")
    result = CliRunner().invoke(
        cli,
        [
            "--store",
            str(tmp_path / "store"),
            "ask",
            "What does it say?",
            "--file",
            "field-station-handbook.md",
            "--whole",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(llm.calls) == 4
    assert all(s[:-1] in result.stdout for s in SECTIONS.values())


def test_served_chat_request_gets_the_whole_file_path(
    settings: Settings, emb: HashEmbedder
) -> None:
    import httpx

    from docqa.server import start
    from docqa.session import Session

    llm = small_llm()
    session = Session(settings, embedder=emb, llm=llm)
    server = start(settings, session=session)
    try:
        body = {
            "model": "docqa",
            "messages": [{"role": "user", "content": "Summarize the field station handbook"}],
        }
        response = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=30)
        ollama = httpx.post(f"{server.url}/api/chat", json={**body, "stream": False}, timeout=30)
    finally:
        server.stop()
    assert response.status_code == 200 and ollama.status_code == 200
    maps = [c for c in llm.calls if c[0].content.startswith(whole_file.MAP_SYSTEM)]
    assert len(maps) == 6  # three parts for each face
    text = response.json()["choices"][0]["message"]["content"]
    assert all(s[:-1] in text for s in SECTIONS.values())
    assert all(s[:-1] in ollama.json()["message"]["content"] for s in SECTIONS.values())


def test_rag_prompt_is_untouched_for_ordinary_questions(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM(default=reply)
    ask("How many boats does the station own?", settings, llm=llm, embedder=emb)
    assert len(llm.calls) == 1 and llm.calls[0][0].content.startswith(prompts.RAG_SYSTEM)


def test_one_file_named_with_files_is_read_whole_for_a_whole_file_question(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = small_llm()
    answer = ask("Summarize it", settings, llm=llm, embedder=emb, files=["field-station-*"])
    assert len(llm.calls) == 4 and len(answer.citations) == 3


def test_cli_whole_needs_one_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ask", "Summarize", "--whole"])
    assert result.exit_code == 2 and "one --file" in result.output


def test_the_estimate_uses_the_speed_measured_on_the_last_read() -> None:
    from docqa.llm import Completion
    from docqa.types import TokenUsage

    llm = ScriptedLLM(backend="gguf", model="slow-1")
    settings = Settings(max_tokens=100)
    assumed = whole_file.estimate_s(6000, 3, llm, settings)
    whole_file.measure(
        Completion("x", "slow-1", "gguf", TokenUsage(1000, 50), 15.0, 10.0, "stop")
    )  # 100 prompt tokens/s, 10 written/s
    assert whole_file.estimate_s(6000, 3, llm, settings) == pytest.approx(60 + 3 * 50 / 10)
    assert assumed != whole_file.estimate_s(6000, 3, llm, settings)


def test_the_speed_is_measured_from_docqa_counts_when_the_backend_reports_none() -> None:
    from docqa.llm import Completion
    from docqa.types import TokenUsage

    llm = ScriptedLLM(backend="gguf", model="silent-1")
    silent = Completion("x", "silent-1", "gguf", TokenUsage(), 15.0, 10.0, "stop")
    whole_file.measure(silent, 1000, 50)  # 100 prompt tokens/s, 10 written/s
    assert whole_file.estimate_s(6000, 3, llm, Settings(max_tokens=100)) == pytest.approx(75)
