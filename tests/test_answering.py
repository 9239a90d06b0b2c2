"""Answering against a real Edge store (hashed embedder) and a scripted, prompt-recording LLM."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from docqa import answering, prompts, render
from docqa.answering import (
    MESSAGE_OVERHEAD,
    AnswerStream,
    TokenCounter,
    parse_citations,
)
from docqa.answering.checking import check_citations
from docqa.api import ask, baseline, compare, ingest
from docqa.config import Settings
from docqa.errors import ConfigError, DocqaError, LLMError
from docqa.llm import Completion, Message, TokenCallback
from docqa.passages import is_contents, passages
from docqa.support import SUPPORTED_MIN
from docqa.types import Hit, TokenUsage

from .fakes import HashEmbedder, ScriptedLLM, install_llm

QUESTION = "How many boats does the station own?"
BOATS = "The station owns two boats: the Goéland, a launch with a 90 hp engine, and the Pétrel."
COLD = "The cold room is kept at 4 degrees. Unlabelled samples are discarded every Friday."
SAFETY = "Every outing at sea is logged on the whiteboard by the boat shed."


@pytest.fixture
def emb() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def settings(tmp_path: Path, emb: HashEmbedder) -> Settings:
    """A store with three small files; the floor is off so every chunk counts as relevant."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boats.md").write_text(f"# Boats\n\n{BOATS}\n")
    (docs / "cold.md").write_text(f"# Cold room\n\n{COLD}\n")
    (docs / "safety.txt").write_text(f"{SAFETY}\n")
    s = Settings(store=tmp_path / "store", relevance_floor=0.0, top_k=3, max_tokens=16)
    report = ingest(docs, s, embedder=emb)
    assert report.added == 3
    return s


def user_text(llm: ScriptedLLM, call: int = 0) -> str:
    return llm.calls[call][-1].content


# --- the RAG and baseline prompts ------------------------------------------------------------


def test_rag_prompt_numbers_the_sources_and_holds_the_question(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM("The station owns two boats [1].")
    answer = ask(QUESTION, settings, llm=llm, embedder=emb)
    system, user = llm.calls[0][0], llm.calls[0][-1]
    assert system.role == "system" and re.search(r"like \[\d\]", system.content)
    assert "do not cover it" in system.content
    assert "[1] boats.md, Boats\n# Boats" in user.content and BOATS in user.content
    assert "[2] " in user.content and "[3] " in user.content
    assert user.content.endswith(f"Answer in English.\nQuestion: {QUESTION}")
    assert [h.file.rsplit("/", 1)[-1] for h in answer.hits][0] == "boats.md"
    assert answer.model == "scripted-1" and answer.usage.completion_tokens == 6
    assert not answer.abstained and not llm.closed  # an injected LLM is left open


def test_baseline_prompt_holds_no_source_text(settings: Settings) -> None:
    llm = ScriptedLLM("Probably two.")
    answer = baseline(QUESTION, settings, llm=llm)
    sent = " ".join(m.content for m in llm.calls[0])
    assert QUESTION in sent
    assert "Goéland" not in sent and "Sources" not in sent and "[1]" not in sent
    assert answer.text == "Probably two." and answer.hits == () and answer.citations == ()


def test_preset_extends_the_system_prompt_and_unknown_preset_is_an_error(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM("Two [1].")
    ask(QUESTION, settings.with_(preset="concise"), llm=llm, embedder=emb)
    system = llm.calls[0][0].content
    assert system.startswith(prompts.RAG_SYSTEM) and prompts.PRESETS["concise"] in system
    custom = settings.with_(preset="pirate", presets={"pirate": "Talk like a pirate."})
    ask(QUESTION, custom, llm=llm.__class__("Arr [1]."), embedder=emb)
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        ask(QUESTION, settings.with_(preset="nope"), llm=ScriptedLLM(), embedder=emb)


def test_history_goes_between_system_and_question(settings: Settings, emb: HashEmbedder) -> None:
    llm = ScriptedLLM("Two [1].")
    history = [Message("user", "Hello"), Message("assistant", "Hi, ask away.")]
    ask(QUESTION, settings, llm=llm, embedder=emb, history=history)
    assert llm.calls[0][1:3] == history and llm.calls[0][-1].role == "user"


def test_files_filter_limits_the_sources(settings: Settings, emb: HashEmbedder) -> None:
    llm = ScriptedLLM("Logged [1].")
    answer = ask(QUESTION, settings, llm=llm, embedder=emb, files=["*.txt"])
    assert [h.file.rsplit("/", 1)[-1] for h in answer.hits] == ["safety.txt"]
    assert SAFETY in user_text(llm) and BOATS not in user_text(llm)


def test_the_prompt_asks_for_partial_answers_and_narrows_refusal() -> None:
    """An all-or-nothing rule, and a refusal sentence to copy, made refusal the safe choice."""
    system = prompts.RAG_SYSTEM
    assert "reply exactly" not in system and prompts.NOT_IN_DOCUMENTS not in system
    assert "Start with the answer" in system and "only part of the question" in system
    assert "If no source is about the question at all" in system
    user = prompts.rag_user(["[1] a.md\nText."], QUESTION)
    assert user.startswith(f"Question: {QUESTION}") and user.endswith(f"Question: {QUESTION}")


def test_the_answer_language_is_asked_for_before_the_last_question(tmp_path: Path) -> None:
    """The system prompt's rule alone let a small model answer French questions in English."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bateaux.md").write_text(
        "# Bateaux\n\nLa station possède deux bateaux : le Goéland et le Pétrel. "
        "Ils sont amarrés au ponton, à côté du laboratoire.\n"
    )
    s = Settings(store=tmp_path / "store", relevance_floor=0.0, top_k=1, max_tokens=16)
    emb = HashEmbedder()
    ingest(docs, s, embedder=emb)

    def prompt(question: str) -> str:
        llm = ScriptedLLM("Deux [1].")
        ask(question, s, llm=llm, embedder=emb)
        return user_text(llm)

    fr = "Combien de bateaux la station possède-t-elle ?"
    assert prompt(fr).endswith(f"Answer in French.\nQuestion: {fr}")
    # no stopword in the question: the best source's language decides
    assert prompt("Goéland Pétrel ?").endswith("Answer in French.\nQuestion: Goéland Pétrel ?")
    assert prompt(QUESTION).endswith(f"Answer in English.\nQuestion: {QUESTION}")


def test_a_source_is_labelled_with_its_file_and_page_or_heading_path() -> None:
    pdf = Hit(file="/d/faq.pdf", text="…", score=1.0, page=12, heading=("Packages", "Conffiles?"))
    assert prompts.source_label(pdf) == "faq.pdf, page 12"  # no folder, no heading path
    md = Hit(file="/d/notes.md", text="…", score=1.0, heading=("Boats", "Engines"))
    assert prompts.source_label(md) == "notes.md, Boats > Engines"
    assert prompts.source_label(Hit(file="C:\\d\\a.txt", text="…", score=1.0)) == "a.txt"


# --- the sources in the prompt -------------------------------------------------------------

CONTENTS = "\n".join(f"4.{n} Question number {n} . . . . . . . . {10 + n}" for n in range(1, 6))


def test_passages_drop_contents_pages_and_join_overlapping_neighbours() -> None:
    first = "Apt reads the sources list. It then downloads the package index files.\n"
    second = "It then downloads the package index files. Dpkg unpacks what apt fetched.\n"
    third = "Dpkg unpacks what apt fetched. Conffiles are kept when you upgrade.\n"
    other_page = Hit(file="/d/faq.pdf", text=second, score=0.5, page=13)
    hits = [
        Hit(file="/d/faq.pdf", text=third, score=0.9, page=12, dense_score=0.7),
        Hit(file="/d/faq.pdf", text=CONTENTS, score=0.8, page=3),
        Hit(file="/d/other.pdf", text="Something else entirely, long enough.", score=0.7),
        Hit(file="/d/faq.pdf", text=first, score=0.6, page=12, dense_score=0.6),
        Hit(file="/d/faq.pdf", text=second, score=0.5, page=12, dense_score=0.5),
        other_page,
    ]
    got = passages(hits)
    assert [h.file for h in got] == ["/d/faq.pdf", "/d/other.pdf", "/d/faq.pdf"]
    joined = got[0]
    assert joined.text.count("It then downloads") == 1 and joined.text.count("Dpkg unpacks") == 1
    assert joined.text.startswith("Apt reads") and joined.text.rstrip().endswith("upgrade.")
    assert (joined.page, joined.score, joined.dense_score) == (12, 0.9, 0.7)
    assert got[2] is other_page  # the same text on another page is another source
    assert is_contents(CONTENTS) and not is_contents(first + second)


def test_the_prompt_sends_overlapping_text_once(tmp_path: Path, emb: HashEmbedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    sentences = [f"Boat rule {n} says the crew checks item {n} before leaving." for n in range(40)]
    (docs / "rules.md").write_text("# Rules\n\n" + " ".join(sentences) + "\n")
    s = Settings(store=tmp_path / "store", relevance_floor=0.0, top_k=8, chunk_tokens=64)
    s = s.with_(chunk_overlap=16, max_tokens=16)
    ingest(docs, s, embedder=emb)
    llm = ScriptedLLM("The crew checks the items [1].")
    answer = ask("What does the crew check before leaving?", s, llm=llm, embedder=emb)
    user = user_text(llm)
    sent = [x for x in sentences if x in user]
    assert sent and all(user.count(x) == 1 for x in sent)  # overlaps sent once
    assert len(answer.hits) < 8 and user.count("\n[") == len(answer.hits)


# --- citations -----------------------------------------------------------------------------


def test_citations_are_parsed_mapped_and_unknown_numbers_flagged(
    settings: Settings, emb: HashEmbedder
) -> None:
    reply = "There are two boats [1][2]. The launch has 90 hp [1, 3]. See also [9]."
    as_given = settings.model_copy(update={"check_citations": False})
    answer = ask(QUESTION, as_given, llm=ScriptedLLM(reply), embedder=emb)
    assert [c.n for c in answer.citations] == [1, 2, 3]
    first = answer.citations[0]
    assert first.file == answer.hits[0].file and first.heading == ("Boats",)
    assert first.chunk_id == answer.hits[0].chunk_id and first.first_line == 1
    assert "two boats" in first.quote
    assert any("[9]" in w and "not among the sources" in w for w in answer.warnings)
    # the sources are numbered as the text uses them; an unknown number is taken out
    assert answer.text == "There are two boats [1][2]. The launch has 90 hp [1][3]. See also."


def test_citation_of_a_pdf_chunk_keeps_its_page() -> None:
    hits = [
        Hit(
            file="/d/faq.pdf",
            text="Debian has many packages. Apt installs them.",
            score=1.0,
            page=51,
        )
    ]
    citations, warnings = parse_citations("Apt installs packages [1]. Also [2].", hits, [1])
    assert citations[0].page == 51 and citations[0].quote == "Apt installs them."
    assert citations[0].locator.endswith("faq.pdf p. 51")
    assert warnings and "[2]" in warnings[0]


def test_quote_falls_back_on_the_chunk_start() -> None:
    long = "word " * 100
    hits = [Hit(file="/d/a.txt", text=long, score=1.0)]
    citations, _ = parse_citations("Nothing in common [1].", hits, [1])
    assert citations[0].quote.endswith("…") and len(citations[0].quote) <= 201


def test_model_saying_the_documents_do_not_say_is_an_abstention(
    settings: Settings, emb: HashEmbedder
) -> None:
    answer = ask(QUESTION, settings, llm=ScriptedLLM(prompts.NOT_IN_DOCUMENTS), embedder=emb)
    assert answer.abstained and answer.citations == ()


def test_a_disclaimer_that_cites_is_still_an_abstention_and_is_flagged(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM("The documents do not say. [1]")
    answer = ask(QUESTION, settings, llm=llm, embedder=emb)
    assert answer.abstained
    assert any("do not say, yet cites [1]" in w for w in answer.warnings)


def test_an_answer_that_then_disclaims_is_flagged_as_mixed(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM("The station owns two boats [1]. The documents do not say.")
    answer = ask(QUESTION, settings, llm=llm, embedder=emb)
    assert not answer.abstained and [c.n for c in answer.citations] == [1]
    assert any("answers, then says the documents do not say" in w for w in answer.warnings)
    precise = "The station owns two boats [1]. The documents do not say how old they are."
    answer = ask(QUESTION, settings, llm=ScriptedLLM(precise), embedder=emb)
    assert not answer.abstained and not any("answers, then" in w for w in answer.warnings)


@pytest.mark.parametrize(
    ("text", "abstains", "mixed"),
    [
        ("The documents do not say.", True, False),
        ("The documents do not say. [7]", True, False),
        ("The provided sources don't mention the GIL. It is a lock [2].", True, False),
        ("There is no information about this in the documents.", True, False),
        ("Les documents ne le disent pas.", True, False),
        ("Les sources fournies ne précisent pas la date.", True, False),
        ("Two boats [1]. The documents do not say.", False, True),
        ("Two boats [1]. The documents do not contain an answer to this question.", False, True),
        (
            "Deux bateaux [1]. Les documents ne contiennent pas de réponse à cette question.",
            False,
            True,
        ),
        ("Two boats [1]. The document does not cover the question about Knoppix.", False, True),
        ("Deux bateaux [1]. Les sources ne couvrent pas complètement cette question.", False, True),
        ("Two boats [1]. The sources do not say how old they are.", False, False),
        ("Two boats [1]; the documents say nothing else.", False, False),
        ("Debian documents its sources [1].", False, False),
    ],
)
def test_disclaimers_are_read_in_english_and_french(text: str, abstains: bool, mixed: bool) -> None:
    assert answering.says_not_in_documents(text) is abstains
    assert answering.mentions_not_in_documents(text) is mixed


# --- abstention ----------------------------------------------------------------------------


def test_nothing_relevant_abstains_without_calling_the_llm(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM()
    high = settings.with_(relevance_floor=0.99)
    answer = ask(QUESTION, high, llm=llm, embedder=emb)
    assert answer.abstained and answer.text == prompts.ABSTENTION["en"]
    assert llm.calls == [] and answer.hits == () and answer.model == ""
    french = ask("Combien de bateaux la station possède-t-elle ?", high, llm=llm, embedder=emb)
    assert french.text == prompts.ABSTENTION["fr"] and llm.calls == []


def test_abstention_never_builds_a_model(
    settings: Settings, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> None:
        raise AssertionError("an LLM was built for an abstention")

    install_llm(monkeypatch, boom, boom)
    stream = ask(QUESTION, settings.with_(relevance_floor=0.99), stream=True, embedder=emb)
    assert list(stream) == [prompts.ABSTENTION["en"]] and stream.answer.abstained


# --- the token budget ----------------------------------------------------------------------


def _fixed_cost(llm: ScriptedLLM, settings: Settings) -> int:
    count = TokenCounter(llm)
    system = prompts.system_prompt(prompts.RAG_SYSTEM, settings)
    return count(system) + count(prompts.rag_user([], QUESTION, "en"))


def test_tight_context_drops_the_lowest_ranked_sources_and_says_so(
    settings: Settings, emb: HashEmbedder
) -> None:
    probe = ScriptedLLM()
    hits = ask(QUESTION, settings, llm=ScriptedLLM("x"), embedder=emb).hits
    first = TokenCounter(probe)(prompts.format_source(1, hits[0])) - MESSAGE_OVERHEAD + 1
    window = settings.max_tokens + _fixed_cost(probe, settings) + first + 2
    llm = ScriptedLLM("Two boats [1].", context_window=window)
    answer = ask(QUESTION, settings, llm=llm, embedder=emb)
    assert answer.dropped_sources == (2, 3)
    assert hits[0].text.strip() in user_text(llm)
    assert hits[1].text.strip() not in user_text(llm) and "[2]" not in user_text(llm)
    assert any("[2], [3]" in w and "DOCQA_NUM_CTX" in w for w in answer.warnings)
    assert answer.sources() == [answer.sources()[0]] and len(answer.hits) == 3


def test_no_source_fits_abstains_and_a_question_too_long_is_an_error(
    settings: Settings, emb: HashEmbedder
) -> None:
    probe = ScriptedLLM()
    llm = ScriptedLLM(context_window=settings.max_tokens + _fixed_cost(probe, settings) + 1)
    answer = ask(QUESTION, settings, llm=llm, embedder=emb)
    assert answer.abstained and answer.dropped_sources == (1, 2, 3) and llm.calls == []
    assert any("no source fits" in w for w in answer.warnings)
    with pytest.raises(ConfigError, match="raise DOCQA_NUM_CTX"):
        ask(QUESTION, settings, llm=ScriptedLLM(context_window=60), embedder=emb)


def test_character_estimate_when_the_backend_cannot_count() -> None:
    count = TokenCounter(ScriptedLLM(exact_tokens=False))
    english = "The station owns two boats and keeps its samples in a cold room. " * 20
    cost = count(english)
    assert not count.exact  # the backend said it cannot count: estimated from then on
    # about 4 characters per English token: the estimate must never fall below that count
    assert cost >= len(english) / 4 + MESSAGE_OVERHEAD
    assert count(english * 2) > cost
    assert count.expected(cost) < cost  # the size the server should report: margin taken out


def test_estimate_far_from_the_reported_prompt_size_is_flagged(
    settings: Settings, emb: HashEmbedder
) -> None:
    exact = ask(QUESTION, settings, llm=ScriptedLLM("Two [1]."), embedder=emb)
    assert not any("estimated" in w for w in exact.warnings)
    llm = ScriptedLLM("Two [1].", prompt_tokens=lambda messages: 10_000)
    answer = ask(QUESTION, settings, llm=llm, embedder=emb)
    assert any("10000 tokens" in w and "estimated" in w for w in answer.warnings)


# --- streaming -----------------------------------------------------------------------------


def test_stream_yields_tokens_then_holds_the_answer(
    settings: Settings, emb: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = ScriptedLLM("The station owns two boats [1].")
    install_llm(monkeypatch, lambda s, backend: llm, lambda s: ("gguf", "Ollama is down"))
    stream = ask(QUESTION, settings, stream=True, embedder=emb)
    assert isinstance(stream, AnswerStream)
    pieces = list(stream)
    assert pieces == ["The", " station", " owns", " two", " boats", " [1]."]
    answer = stream.answer
    assert answer.text == "".join(pieces) and [c.n for c in answer.citations] == [1]
    assert answer.warnings[0] == "Ollama is down"  # the fallback warning rides on the answer
    assert answer.timings.first_token_s is not None and answer.timings.total_s > 0
    assert llm.closed  # ask built it, so ask closed it
    with pytest.raises(DocqaError, match="already read"):
        list(stream)


class SlowLLM(ScriptedLLM):
    """Streams many pieces slowly, counting how many it produced before it was stopped."""

    produced = 0

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        for _ in range(500):
            time.sleep(0.005)
            self.produced += 1
            if on_token is not None:
                on_token(" word")
        return Completion("", self.model, self.backend, TokenUsage(), 0.0, None, "stop")


def test_interrupting_a_stream_stops_the_model(settings: Settings, emb: HashEmbedder) -> None:
    llm = SlowLLM()
    stream = ask(QUESTION, settings, stream=True, llm=llm, embedder=emb)
    pieces = iter(stream)
    assert next(pieces) == "word"  # the answer starts at its first word
    with pytest.raises(KeyboardInterrupt):
        pieces.throw(KeyboardInterrupt)
    stopped_at = llm.produced
    time.sleep(0.05)
    assert llm.produced == stopped_at < 500
    assert not any(t.name == "docqa-answer" for t in threading.enumerate())
    with pytest.raises(DocqaError, match="interrupted"):
        _ = stream.answer


def test_a_failing_model_raises_on_the_iterating_thread(
    settings: Settings, emb: HashEmbedder
) -> None:
    def fail(messages: Sequence[Message]) -> str:
        raise LLMError("the model fell over")

    stream = ask(QUESTION, settings, stream=True, llm=ScriptedLLM(fail), embedder=emb)
    with pytest.raises(LLMError, match="fell over"):
        list(stream)


# --- compare -------------------------------------------------------------------------------


def test_compare_runs_both_and_marks_supported_sentences(
    settings: Settings, emb: HashEmbedder
) -> None:
    # in-process backends run one after the other: baseline first
    llm = ScriptedLLM(
        "The station has 5 boats. Penguins live in Antarctica.",
        f"{BOATS} [1]",
    )
    result = compare(QUESTION, settings, llm=llm, embedder=emb)
    assert len(llm.calls) == 2 and "Sources" not in user_text(llm, 0)
    assert result.rag.citations[0].n == 1 and result.hits == result.rag.hits
    assert [m.status for m in result.rag_support] == ["supported"]
    assert result.rag_support[0].source == 1
    statuses = [m.status for m in result.baseline_support]
    assert "supported" not in statuses and statuses[-1] == "unsupported"
    assert result.supported_share() == (0.0, 1.0)
    html = result._repr_html_()
    assert "with documents" in html and "background:#c8f0c8" in html and "p." not in html
    assert json.loads(result.to_json())["rag"]["citations"][0]["n"] == 1


def test_compare_asks_a_served_model_concurrently(settings: Settings, emb: HashEmbedder) -> None:
    threads: set[str] = set()
    both_in = threading.Barrier(2, timeout=5)  # broken (an error) unless the calls overlap

    def reply(messages: Sequence[Message]) -> str:
        threads.add(threading.current_thread().name)
        both_in.wait()
        return f"{BOATS} [1]" if "Sources:" in messages[-1].content else "No idea."

    llm = ScriptedLLM(default=reply, backend="ollama")
    result = compare(QUESTION, settings, llm=llm, embedder=emb)
    assert result.baseline.text == "No idea." and result.rag.citations
    assert len(threads) == 2 and all(t.startswith("docqa-compare") for t in threads)


class FailingBaselineLLM(SlowLLM):
    """A served model whose baseline call fails while the RAG call streams slowly."""

    backend = "ollama"

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        if "Sources:" not in messages[-1].content:
            time.sleep(0.05)
            raise LLMError("the baseline failed")
        return super().chat(messages, on_token=on_token)


def test_a_failing_call_in_compare_stops_the_other(settings: Settings, emb: HashEmbedder) -> None:
    llm = FailingBaselineLLM()
    with pytest.raises(LLMError, match="baseline failed"):
        compare(QUESTION, settings, llm=llm, embedder=emb)
    assert llm.produced < 500


def test_compare_with_nothing_relevant_still_asks_the_baseline(
    settings: Settings, emb: HashEmbedder
) -> None:
    llm = ScriptedLLM("Two, I think.")
    result = compare(QUESTION, settings.with_(relevance_floor=0.99), llm=llm, embedder=emb)
    assert result.rag.abstained and len(llm.calls) == 1 and result.hits == ()
    assert [m.status for m in result.baseline_support] == ["unsupported"]


def test_answer_records_render(settings: Settings, emb: HashEmbedder) -> None:
    answer = ask(QUESTION, settings, llm=ScriptedLLM("Two boats [1]."), embedder=emb)
    data = json.loads(answer.to_json())
    assert data["citations"][0]["file"].endswith("boats.md") and data["abstained"] is False
    assert set(data["timings"]) == {"retrieval_s", "llm_s", "first_token_s", "total_s"}
    assert "boats.md § Boats" in answer._repr_markdown_()
    assert "<ol" in answer._repr_html_() and "boats.md" in answer.citations[0]._repr_html_()


# --- citations checked against the sources ---------------------------------------------------


def _numbered(messages: Sequence[Message]) -> dict[str, int]:
    """The source numbers of the prompt by file name: {"boats.md": 1, ...}."""
    found = re.findall(r"^\[(\d+)\] (\S+?)(?:,|$)", messages[-1].content, re.M)
    return {name: int(n) for n, name in found}


def test_a_sentence_left_uncited_gets_the_source_that_backs_it(
    settings: Settings, emb: HashEmbedder
) -> None:
    answer = ask(QUESTION, settings, llm=ScriptedLLM(BOATS), embedder=emb)
    boats = next(n for n, h in enumerate(answer.hits, 1) if h.file.endswith("boats.md"))
    assert [(c.n, c.attributed) for c in answer.citations] == [(boats, True)] == [(1, True)]
    # docqa writes the marker the model left out, at the end of the sentence
    assert answer.text == BOATS.removesuffix(".") + " [1]."
    assert "two boats" in answer.citations[0].quote
    (shown,) = render.answer_sources(answer)
    assert shown.startswith(f"[{boats}] ")
    assert shown.endswith("boats.md § Boats (line 1) ✓ (found by docqa)")  # supported


def test_a_citation_to_a_source_the_sentence_is_not_about_is_dropped_and_said(
    settings: Settings, emb: HashEmbedder
) -> None:
    def reply(messages: Sequence[Message]) -> str:
        n = _numbered(messages)
        return f"The cold room is kept at 4 degrees [{n['cold.md']}]. {BOATS} [{n['safety.txt']}]"

    answer = ask(QUESTION, settings, llm=ScriptedLLM(reply), embedder=emb)
    n = {h.file.rsplit("/", 1)[-1]: i for i, h in enumerate(answer.hits, 1)}
    # [cold] is kept as the model gave it; the boats sentence is re-pointed to the source
    # that backs it, and [safety] is named as left out
    assert [(c.n, c.attributed) for c in answer.citations] == [
        (n["cold.md"], False),
        (n["boats.md"], True),
    ]
    dropped = [w for w in answer.warnings if "left out of the citations" in w]
    assert dropped == [
        f"the answer cites [{n['safety.txt']}] for sentences that source is not about: "
        "left out of the citations"
    ]


def test_a_sentence_with_a_number_no_source_has_gets_no_source(
    settings: Settings, emb: HashEmbedder
) -> None:
    altered = BOATS.replace("90 hp", "95 hp")
    answer = ask(QUESTION, settings, llm=ScriptedLLM(altered), embedder=emb)
    assert answer.citations == () and not answer.abstained


def test_citations_are_taken_as_given_when_checking_is_off(
    settings: Settings, emb: HashEmbedder
) -> None:
    off = settings.model_copy(update={"check_citations": False})
    answer = ask(QUESTION, off, llm=ScriptedLLM(BOATS), embedder=emb)
    assert answer.citations == ()


def test_of_two_sources_backing_a_sentence_the_better_ranked_one_is_cited() -> None:
    sentence = "The Goéland is a launch with a 90 hp engine and a blue hull."
    emb = HashEmbedder()
    hits = [
        Hit(
            file="fleet.md",
            text=f"{sentence} It was bought in 2019 for the summer survey.",
            score=0.9,
        ),
        Hit(file="engines.md", text=sentence, score=0.8),
    ]
    scores = [
        float(v) for v in emb.embed_documents([h.text for h in hits]) @ emb.embed_query(sentence)
    ]
    assert SUPPORTED_MIN <= scores[0] < scores[1]  # both back it, the second more closely
    checked = check_citations(sentence, hits, [1, 2], emb)
    assert checked.claims == {1: [sentence]} and checked.added == {1}
