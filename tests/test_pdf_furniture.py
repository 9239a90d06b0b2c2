"""Running headers, footers and page numbers left out of PDF text; body lines kept."""

from __future__ import annotations

from pathlib import Path

from docqa.config import Settings
from docqa.formats.pdf_furniture import strip
from docqa.parsing import parse


def _pages(*bodies: str, header: str | None = None, numbers: bool = False) -> list[str]:
    out = []
    for i, body in enumerate(bodies, start=1):
        top = f"{header.format(n=i)}\n" if header else ""
        bottom = f"\n{i}" if numbers else ""
        out.append(f"{top}{body}{bottom}")
    return out


BODIES = (
    "Boats are moored at the pier.\nThe pier is next to the lab.",
    "Only staff may sail.\nA licence is needed.",
    "The licence is renewed yearly.\nThe harbour office renews it.",
    "Labs open at eight.\nThey close at six.",
)


def test_running_header_and_page_numbers_go_body_stays() -> None:
    pages = _pages(*BODIES, header="Chapter 2: Boats and labs {n}", numbers=True)
    assert strip(pages) == list(BODIES)


TITLE = "The Station Handbook\nMay 2022"


def test_headers_of_one_chapter_naming_different_sections_go_together() -> None:
    headers = [
        "CHAPTER 3. BOATS… 3.1. MOORING",
        "CHAPTER 3. BOATS… 3.1. MOORING",
        "CHAPTER 3. BOATS… 3.2. SAILING",
        "CHAPTER 3. BOATS… 3.4. LICENCES",
    ]
    pages = [TITLE] + [f"{h}\n{b}" for h, b in zip(headers, BODIES, strict=True)]
    assert strip(pages) == [TITLE, *BODIES]


def test_a_one_page_chapter_header_is_known_by_its_numbered_family() -> None:
    headers = ["CHAPTER 3. BOATS… 3.1. MOORING"] * 3 + ["CHAPTER 4. LABS… 4.2. HOURS"] * 3
    headers.append("CHAPTER 16. GENERAL… 16.4. FORMAT")
    bodies = [*BODIES, *BODIES[:3]]
    pages = [TITLE] + [f"{h}\n{b}" for h, b in zip(headers, bodies, strict=True)]
    assert strip(pages) == [TITLE, *bodies]
    # one chapter alone is no family: a lone header like it stays
    assert strip(pages[:4] + pages[-1:])[-1] == pages[-1]


def test_body_lines_that_open_pages_are_kept() -> None:
    # every page opens with text, two of them with the same first words: not enough to be furniture
    pages = ["The pier is long.\nx", "The pier is short.\ny", "Boats float here.\nz", "Labs.\nw"]
    assert strip(pages) == pages


def test_a_number_inside_the_text_or_on_too_few_pages_stays() -> None:
    pages = ["Count:\n42\nend of page", "Two pages end with a number\n7", "text\n8", "text\nmore"]
    assert strip(pages) == pages


def test_title_page_sharing_the_headers_opening_words_keeps_its_title() -> None:
    title = "National Hydro Network, Canada, Level 1\nGeoBase"
    header = "National Hydro Network, Data Model – Edition 1.0 2004-06"
    pages = [title] + [f"{header}\n{b}" for b in BODIES]
    assert strip(pages) == [title, *BODIES]


def test_short_documents_keep_every_line() -> None:
    pages = _pages(*BODIES[:2], header="Chapter 2: Boats and labs {n}", numbers=True)
    assert strip(pages) == pages


def test_real_manuals_lose_only_their_furniture(curated: Path) -> None:
    for name, header in [
        ("en_faq_debian-faq.en.pdf", "CHAPTER 3. CHOOSING A DEBIAN"),
        ("fr_faq_debian-faq.fr.pdf", "CHAPITRE 3. CHOISIR UNE DISTRIBUTION"),
        ("en_manual_R-intro.pdf", "Chapter 2: Simple manipulations; numbers and vectors"),
    ]:
        pdf = curated / name
        doc = parse(pdf, pdf.read_bytes(), Settings())
        text = "\n".join(s.text for s in doc.sections)
        assert header not in text, name
        # no piece is a header alone or a page number alone, and the body is all there
        assert len(doc.sections) > 2, name
        assert all(len(s.text.split()) >= 8 for s in doc.sections[2:]), name
    faq = curated / "en_faq_debian-faq.en.pdf"
    text = "\n".join(s.text for s in parse(faq, faq.read_bytes(), Settings()).sections)
    assert "3.1.6 You are talking about testing being broken. What do you mean by that?" in text
    assert "the mailing-list rather than on irc (https://www.debian.org/support)" in text
