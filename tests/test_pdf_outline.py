"""Heading paths for PDF pages from the PDF outline: hand-made cases and the real Debian FAQ."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from docqa.config import Settings
from docqa.formats import pdf as pdf_format
from docqa.formats.pdf_outline import Mark, sections
from docqa.parsing import parse
from docqa.types import Section

PAGE_1 = (
    "Chapter 1\nBoats\n1.1 How many boats?\nThe station owns two boats, moored at the pier "
    "next to the lab.\n1.2 Who may sail?\nOnly staff with a licence may take a boat out.\n"
)
PAGE_2 = "the licence is renewed every year by the harbour office.\nChapter 2\nLabs\nLab text.\n"
MARKS = [
    Mark(0, 0, "Boats"),
    Mark(0, 1, "How many boats?"),
    Mark(0, 1, "Who may sail?"),
    Mark(1, 0, "Labs"),
]


def _by_page(found: tuple[Section, ...]) -> dict[int | None, str]:
    pages: dict[int | None, str] = defaultdict(str)
    for section in found:
        pages[section.page] += section.text
    return pages


def test_pages_are_cut_at_title_lines_under_their_paths() -> None:
    found = sections([PAGE_1, PAGE_2], MARKS)
    got = [(s.page, s.heading, s.text.split("\n")[0]) for s in found]
    assert got == [
        (1, ("Boats", "How many boats?"), "Chapter 1"),  # "Chapter 1\nBoats" is too short alone
        (1, ("Boats", "Who may sail?"), "1.2 Who may sail?"),
        (2, ("Boats", "Who may sail?"), "the licence is renewed every year by the harbour office."),
        (2, ("Labs",), "Labs"),  # cut at the title's line; "Chapter 2" stays above it
    ]


def test_pieces_tile_each_page() -> None:
    pages = _by_page(sections([PAGE_1, PAGE_2], MARKS))
    assert pages == {1: PAGE_1, 2: PAGE_2}


def test_title_not_found_applies_from_where_the_page_was_cut() -> None:
    found = sections([PAGE_1], [Mark(0, 0, "Title that is nowhere")])
    assert [(s.heading, s.text) for s in found] == [(("Title that is nowhere",), PAGE_1)]


def test_capitals_in_a_running_header_lose_to_the_title_as_written() -> None:
    page = "HOW MANY BOATS? running header\n" + "filler words " * 5 + "\nHow many boats?\nTwo.\n"
    found = sections([page], [Mark(0, 0, "How many boats?")])
    assert found[-1].text == "How many boats?\nTwo.\n"
    assert found[-1].heading == ("How many boats?",)


def test_no_outline_keeps_one_section_per_page_with_captions() -> None:
    found = sections(["page one text\n", "  \n", "page three\n"], [], {2: "Table 1"})
    assert [(s.page, s.heading) for s in found] == [(1, ()), (3, ("Table 1",))]


def test_real_faq_chunks_carry_their_question(curated: Path) -> None:
    pdf = curated / "en_faq_debian-faq.en.pdf"
    doc = parse(pdf, pdf.read_bytes(), Settings())
    section = next(s for s in doc.sections if s.text.startswith("1.2 What is Debian GNU/Linux?"))
    assert section.heading == ("Definitions and overview", "What is Debian GNU/Linux?")
    assert sum(1 for s in doc.sections if len(s.heading) == 2) > 100


def test_real_faq_text_is_unchanged_by_the_cuts(
    curated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = curated / "fr_faq_debian-faq.fr.pdf"
    with_outline = parse(pdf, pdf.read_bytes(), Settings())
    monkeypatch.setattr(pdf_format, "_pdfium_outline", lambda *a: [])
    without = parse(pdf, pdf.read_bytes(), Settings())
    assert len(with_outline.sections) > len(without.sections)
    assert _by_page(with_outline.sections) == _by_page(without.sections)


def test_a_chapter_title_piece_joins_the_section_after_it() -> None:
    page = (
        "Chapter 14\nRedistributing Debian GNU/Linux in a\ncommercial product\n"
        "14.1 Can I make and sell Debian CDs?\nGo ahead. You do not need permission.\n"
    )
    marks = [
        Mark(0, 0, "Redistributing Debian GNU/Linux in a commercial product"),
        Mark(0, 1, "Can I make and sell Debian CDs?"),
    ]
    found = sections([page], marks)
    assert len(found) == 1 and found[0].text == page
    assert found[0].heading[-1] == "Can I make and sell Debian CDs?"
    # eight words that are not all title words stay a piece of their own
    page = "Chapter 14 opens with a long paragraph about selling\n" + page[page.index("14.1") :]
    assert len(sections([page], marks[1:])) == 2
