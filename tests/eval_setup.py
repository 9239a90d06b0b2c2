"""What the evaluation tests share: a question file, a small store and a scripted model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from docqa.api import ingest
from docqa.config import Settings
from docqa.llm import Message

from .fakes import COLD, HashEmbedder, ScriptedLLM, install_llm, write_corpus

BIKES = "Bicycles are parked behind the main building."
FALLBACK = "Ollama not reachable at http://localhost:11434: answering with x.gguf in-process"
ROWS = [
    {
        "id": "boats",
        "question": "How many boats does the station own?",
        "answer": "The station owns two boats, the Goéland and the Pétrel.",
        "sources": ["boats.md"],
    },
    {"id": "cold", "question": "How cold is the cold room kept?", "answer": COLD},
    {"id": "gil", "question": "What is the GIL in Python?", "answerable": False},
    {"id": "skipped", "question": "Not asked", "use": False},
]


def write(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


def make_store(tmp_path: Path, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The boats corpus and bikes.txt ingested with ``emb``; the relevance floor set to 0."""
    docs = write_corpus(tmp_path / "docs", {"bikes.txt": BIKES})
    path = tmp_path / "store"
    ingest(docs, Settings(store=path), embedder=emb)
    monkeypatch.setenv("DOCQA_RELEVANCE_FLOOR", "0")
    return path


def reply(messages: Sequence[Message]) -> str:
    """RAG prompts get a cited answer, baselines a guess; the GIL question gets an abstention."""
    prompt = messages[-1].content
    if "GIL" in prompt:
        return "The documents do not say." if "[1]" in prompt else "A lock in CPython."
    if "[1]" not in prompt:
        return "Probably three boats."
    if "cold room" in prompt.rsplit("Question:", 1)[-1]:
        return "It is kept at 4 degrees [1]; see also [2]."
    return "The station owns two boats, the Goéland and the Pétrel [1]."


def install_reply_llm(monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    """A scripted model answering with :func:`reply`; ``auto`` falls back to it with a warning."""
    fake = ScriptedLLM(default=reply)

    def resolve(settings: Settings) -> tuple[str, str | None]:
        return ("gguf", FALLBACK) if settings.llm == "auto" else (settings.llm, None)

    install_llm(monkeypatch, lambda settings, backend: fake, resolve)
    return fake
