"""Answers ended where the model stops answering: a source list turning into the sources' text,
a sentence written again. Rules on text, then the stream through a scripted model."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqa.answering import AnswerStream
from docqa.answering.ending import end_of_answer, generate
from docqa.api import ask, ingest
from docqa.config import Settings
from docqa.llm import Message
from docqa.support import strip_citations

from .fakes import HashEmbedder, ScriptedLLM

ANSWER = "Testing holds packages that waited ten days in unstable without serious bugs [1]."
LISTED = "\n\nSources:\n[1] en_faq_debian-faq.en.pdf, page 16\n"
COPIED = "3.1.2 Will there be different versions of packages in different distributions?\nYes."
LOOP = (
    "The unstable distribution holds the newest packages of the archive. "
    "They are tested there before they move on to testing. "
)


def test_a_source_list_is_kept_and_the_sources_text_after_it_is_not() -> None:
    text = ANSWER + LISTED + COPIED
    shown, ended = end_of_answer(text)
    assert ended and text[:shown] == ANSWER + LISTED


@pytest.mark.parametrize(
    "text",
    [
        ANSWER + LISTED.rstrip("\n"),  # a list that ends the answer
        ANSWER + "\n\nSources: [1], [3]",
        ANSWER + "\nSources [1] and [2] say more about the freeze.\nThe freeze lasts months.",
        "Sources:\nthe answer opens like this and goes on.",  # not after an answer
    ],
)
def test_a_list_of_references_alone_or_a_sentence_about_sources_ends_nothing(text: str) -> None:
    assert end_of_answer(text) == (len(text), False)


def test_a_line_that_may_yet_open_a_list_is_held_back() -> None:
    for tail in ("\n\nSour", "\n\n**Sources:", "\n\nSources:\n[1"):
        shown, ended = end_of_answer(ANSWER + tail)
        assert not ended and shown < len(ANSWER + tail)
    text = ANSWER + "\n\nSourdough bread"  # no longer a possible header
    assert end_of_answer(text) == (len(text), False)


def test_a_sentence_written_again_ends_the_answer_before_it() -> None:
    text = "Stable is the released distribution. " + LOOP + LOOP
    shown, ended = end_of_answer(text)
    assert (
        ended and text[:shown].rstrip() == ("Stable is the released distribution. " + LOOP).rstrip()
    )


def test_short_sentences_and_code_may_repeat() -> None:
    short = "Yes. Run it as root. Yes. Run it as root. Then reboot."
    assert end_of_answer(short) == (len(short), False)
    line = "for name in sorted(os.listdir(folder)): print(name, os.stat(name).st_size)\n"
    code = f"Both loops print sizes.\n```python\n{line}{line}```\nDone."
    assert end_of_answer(code) == (len(code), False)


def test_a_sentence_that_may_be_a_repeat_is_held_back_until_it_is_not() -> None:
    first = "The unstable distribution holds the newest packages of the archive. "
    text = first + "The unstable distribution holds"
    shown, ended = end_of_answer(text)
    assert not ended and text[:shown] == first.rstrip()
    text = first + "The unstable distribution is called sid"
    assert end_of_answer(text) == (len(text), False)


def _streamed(reply: str) -> tuple[list[str], ScriptedLLM, str]:
    llm = ScriptedLLM(reply)
    pieces: list[str] = []
    completion = generate(llm, [Message("user", "q")], pieces.append)
    return pieces, llm, completion.text


def test_the_model_is_stopped_and_the_stream_never_shows_what_the_answer_drops() -> None:
    reply = ANSWER + LISTED + COPIED + " " + " ".join(["more copied text"] * 100)
    pieces, llm, text = _streamed(reply)
    assert text == (ANSWER + LISTED).rstrip()
    assert "".join(pieces) == text
    words = len(reply.split())
    assert llm.streamed < len((ANSWER + LISTED + COPIED).split()) < words  # stopped early


def test_an_answer_that_ends_by_itself_streams_whole() -> None:
    reply = ANSWER + "\n\nSources:\n[1] en_faq_debian-faq.en.pdf, page 16"
    pieces, llm, text = _streamed(reply)
    assert text == reply and "".join(pieces) == reply
    assert llm.streamed == len(reply.split())


def test_ask_and_its_stream_end_a_looping_answer(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "dists.md").write_text(f"# Distributions\n\n{LOOP}\n")
    emb = HashEmbedder()
    settings = Settings(store=tmp_path / "store", relevance_floor=0.0)
    ingest(docs, settings, embedder=emb)
    question = "What does the unstable distribution hold?"
    answer = ask(question, settings, llm=ScriptedLLM(LOOP * 5), embedder=emb)
    assert strip_citations(answer.text) == LOOP.rstrip()  # docqa may add its [1]
    stream = ask(question, settings, llm=ScriptedLLM(LOOP * 5), embedder=emb, stream=True)
    assert isinstance(stream, AnswerStream)
    assert "".join(stream) == answer.text == stream.answer.text
