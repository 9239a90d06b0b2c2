"""``docqa.evaluate``: question files, relevance, scoring, reports (with fakes; the CLI is in
test_eval_cli.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from docqa.api import evaluate
from docqa.config import Settings
from docqa.errors import ConfigError, QuestionFileError
from docqa.evaluation import (
    EvalReport,
    Judge,
    Question,
    Source,
    load_questions,
    path_matches,
)
from docqa.llm import Message
from docqa.types import Hit

from .eval_setup import ROWS, install_reply_llm, make_store, write
from .fakes import HashEmbedder, ScriptedLLM, install_hash_embedder, install_llm

# --- question files --------------------------------------------------------------------------


def test_load_questions_reads_every_field_and_skips_unused_rows(tmp_path: Path) -> None:
    rows = [
        *ROWS,
        {
            "question": "Où est le fichier de la configuration ?",
            "sources": [{"file": "faq.fr.pdf", "pages": [13, 12]}],
            "split": "t",
        },
    ]
    got = load_questions(write(tmp_path / "q.jsonl", rows))
    assert [q.id for q in got] == ["boats", "cold", "gil", "5"]  # no id: the line number
    assert got[0].sources == (Source("boats.md"),) and got[0].lang == "en"
    assert not got[2].answerable
    assert got[3].sources == (Source("faq.fr.pdf", (12, 13)),) and got[3].split == "t"
    assert got[3].lang == "fr"
    row = {"question": "Où ?", "lang": "fr"}
    assert load_questions(write(tmp_path / "l.jsonl", [row]))[0].lang == "fr"
    assert [q.id for q in load_questions(tmp_path / "q.jsonl", split="t")] == ["5"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "q.jsonl line 2: not JSON (Expecting property name"),
        ("[1, 2]", "q.jsonl line 2: not a JSON object"),
        ('{"answer": "x"}', 'q.jsonl line 2: "question" must be non-empty text'),
        ('{"question": "q", "sources": [3]}', 'q.jsonl line 2: "sources" must be a list'),
        ('{"question": "q", "sources": [{"file": "a", "pages": [0]}]}', '"sources" must be'),
        ('{"question": "q", "answerable": "no"}', '"answerable" must be true or false'),
    ],
)
def test_bad_lines_are_named_by_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "fine"}\n' + line + "\n")
    with pytest.raises(QuestionFileError) as err:
        load_questions(path)
    assert str(err.value).startswith(message) or message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_or_empty_question_files(tmp_path: Path) -> None:
    with pytest.raises(QuestionFileError, match="cannot read question file"):
        load_questions(tmp_path / "nope.jsonl")
    with pytest.raises(QuestionFileError, match="no question to evaluate"):
        load_questions(write(tmp_path / "q.jsonl", [{"question": "x", "use": False}]))


# --- relevance -------------------------------------------------------------------------------


def test_path_matches_by_name_or_suffix() -> None:
    assert path_matches("guide.pdf", "/docs/a/guide.pdf")
    assert path_matches("a/guide.pdf", "/docs/a/guide.pdf")
    assert path_matches("/docs/a/guide.pdf", "/docs/a/guide.pdf")
    assert not path_matches("b/guide.pdf", "/docs/a/guide.pdf")
    assert not path_matches("uide.pdf", "/docs/a/guide.pdf")


def hit(file: str, page: int | None = None, text: str = "", chunk: str = "") -> Hit:
    return Hit(file=file, text=text, score=1.0, page=page, chunk_id=chunk, files=(file,))


def test_page_sources_count_each_page_once() -> None:
    q = Question("1", "q", sources=(Source("faq.pdf", (12, 13)), Source("other.md")))
    judge = Judge.of(q)
    hits = [
        hit("/d/faq.pdf", 11),
        hit("/d/faq.pdf", 12),
        hit("/d/faq.pdf", 12),  # same page again: nothing new
        hit("/d/x/other.md"),
        hit("/d/faq.pdf", 13),
    ]
    assert judge.by == "sources" and judge.source_targets() == 3
    assert judge.flags(hits) == [False, True, False, True, True]


def test_answer_containment_judges_chunks() -> None:
    q = Question("1", "q", answer="The cold room is kept at 4 degrees")
    judge = Judge.of(q)
    assert judge.by == "answer" and judge.terms == ("cold", "room", "kept", "4", "degrees")
    hits = [hit("a", text="A room, kept cold."), hit("b", text="It is warm."), hit("c", text="x")]
    hits[0] = Hit(file="a", text="A room, kept cold.", score=1.0, chunk_id="c1")
    assert judge.flags(hits) == [True, False, False]
    assert Judge.of(Question("2", "q", answer="x", answerable=False)).by is None
    assert Judge.of(Question("3", "q")).by is None


# --- evaluate with fakes ---------------------------------------------------------------------


@pytest.fixture
def emb(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    return install_hash_embedder(monkeypatch)


@pytest.fixture
def store(tmp_path: Path, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_store(tmp_path, emb, monkeypatch)


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    return install_reply_llm(monkeypatch)


def test_retrieval_only_needs_no_llm(store: Path, tmp_path: Path, llm: ScriptedLLM) -> None:
    questions = write(tmp_path / "q.jsonl", ROWS)
    report = evaluate(questions, Settings(store=store), retrieval_only=True, modes=["bm25"])
    assert not llm.calls and report.modes == ("bm25",)
    assert [r.id for r in report.rows] == ["boats", "cold", "gil"]
    boats, cold, gil = report.rows
    assert boats.judged_by == "sources" and boats.retrieval["bm25"].rank == 1
    assert boats.retrieval["bm25"].n_relevant == 1
    assert cold.judged_by == "answer" and cold.retrieval["bm25"].hit == 1.0
    assert cold.retrieval["bm25"].n_relevant == 1  # the one chunk of cold.md holds it
    assert gil.retrieval == {} and gil.rag is None
    (summary,) = report.retrieval()
    assert (summary.questions, summary.hit_rate, summary.mrr) == (2, 1.0, 1.0)
    assert report.answers() == []


def test_answers_baseline_versus_rag(store: Path, tmp_path: Path, llm: ScriptedLLM) -> None:
    questions = write(tmp_path / "q.jsonl", ROWS)
    # citations as the model gave them (checking them would drop the wrong one scored here)
    settings = Settings(store=store, llm="gguf", check_citations=False)
    report = evaluate(questions, settings, modes=["dense", "hybrid"])
    boats, cold, gil = report.rows
    assert boats.rag is not None and boats.baseline is not None
    assert boats.rag.f1 is not None and boats.baseline.f1 is not None
    assert boats.rag.f1 > boats.baseline.f1
    assert boats.rag.citations == 1 and boats.rag.citation_precision == 1.0
    # [1] is the cold.md chunk, [2] another file's: half of the cited chunks hold the answer
    assert cold.rag is not None and cold.rag.citation_precision == 0.5
    assert gil.rag is not None and gil.rag.abstained and gil.rag.f1 is None
    assert gil.baseline is not None and not gil.baseline.abstained
    rag = next(s for s in report.answers() if s.answer == "rag")
    assert rag.correct_abstention == 1.0 and rag.false_abstention == 0.0
    assert rag.citation_precision == 0.75 and rag.latency_s is not None
    assert report.config["model"] == "scripted-1 via scripted"
    text = report.to_markdown()
    assert "### Retrieval (top 10)" in text and "| dense | en | 2 |" in text
    assert "| rag | en | 3 |" in text and "citation precision" in text
    assert "<table>" in report._repr_html_() and report._repr_markdown_() == text


def test_eval_refuses_the_fallback_model(store: Path, tmp_path: Path, llm: ScriptedLLM) -> None:
    questions = write(tmp_path / "q.jsonl", ROWS)
    with pytest.raises(ConfigError, match=r"DOCQA_LLM=gguf\|ollama\|openai"):
        evaluate(questions, Settings(store=store))
    assert not llm.calls


def test_unknown_or_unavailable_modes(store: Path, tmp_path: Path) -> None:
    questions = write(tmp_path / "q.jsonl", ROWS)
    with pytest.raises(ConfigError, match="unknown retrieval mode 'sparse'"):
        evaluate(questions, Settings(store=store), modes=["sparse"], retrieval_only=True)
    with pytest.raises(ConfigError, match="DOCQA_RERANK_MODEL"):
        evaluate(questions, Settings(store=store), modes=["rerank"], retrieval_only=True)


def test_json_round_trip(store: Path, tmp_path: Path, llm: ScriptedLLM) -> None:
    questions = write(tmp_path / "q.jsonl", ROWS)
    report = evaluate(questions, Settings(store=store, llm="gguf"))
    again = EvalReport.from_json(report.to_json())
    assert again.rows == report.rows and again.retrieval() == report.retrieval()
    assert json.loads(report.to_json())["summary"]["answers"][0]["answer"] == "baseline"
    with pytest.raises(ValueError, match="not a docqa eval report"):
        EvalReport.from_json('{"k": 1}')


def test_eval_counts_the_abstentions_it_sees(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disclaimer followed by a citation is an abstention (flagged, its citation unscored);
    an answer followed by a bare disclaimer is flagged as mixed."""

    def replies(messages: Sequence[Message]) -> str:
        prompt = messages[-1].content
        if "[1]" not in prompt:
            return "Probably three boats."
        if "cold room" in prompt.rsplit("Question:", 1)[-1]:
            return "The documents do not say. [1]"
        return "The station owns two boats [1]. The documents do not say."

    fake = ScriptedLLM(default=replies)
    install_llm(monkeypatch, lambda settings, backend: fake)
    questions = write(tmp_path / "q.jsonl", ROWS[:2])
    report = evaluate(questions, Settings(store=store, llm="gguf"))
    boats, cold = report.rows
    assert cold.rag is not None and cold.rag.abstained and cold.rag.cited_abstention
    assert cold.rag.citation_precision is None and not cold.rag.mixed
    assert boats.rag is not None and boats.rag.mixed and not boats.rag.abstained
    rag = next(s for s in report.answers() if s.answer == "rag")
    assert rag.false_abstention == 0.5 and (rag.mixed, rag.cited_abstention) == (1, 1)
    assert any(
        "cold: the answer says the documents do not say, yet cites" in w for w in report.warnings
    )
    assert any("boats: the answer answers, then says" in w for w in report.warnings)
    assert "| mixed | abstentions citing |" in report.to_markdown()
