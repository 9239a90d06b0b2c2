"""HTML pages: main content only, heading paths as locators, links as text, any charset."""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path

import pytest

from docqa import parsing
from docqa.api import ingest, search
from docqa.config import Settings
from docqa.errors import SourceError
from docqa.types import ParsedDoc

from .conftest import CURATED
from .fakes import HashEmbedder

FAQ = "html_python_faq_programming.html"
SIDEBAR = ("Table of Contents", "Previous topic", "Next topic", "This Page", "Quick search")


def parse_html(tmp_path: Path, data: bytes | str, name: str = "page.html") -> ParsedDoc:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return parsing.parse(path, path.read_bytes(), Settings())


def page(body: str, head: str = "<meta charset='utf-8'><title>T</title>") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


# --- the real Sphinx page --------------------------------------------------------------------


def test_python_faq_keeps_content_and_drops_the_sidebar() -> None:
    path = CURATED / FAQ
    doc = parsing.parse(path, path.read_bytes(), Settings())
    assert doc.parser == "html/1" and doc.language == "en" and doc.warnings == ()
    for section in doc.sections:
        for chrome in SIDEBAR:
            assert chrome not in section.text, (chrome, section.heading)
        assert "¶" not in section.text and section.first_line is None
    debugger = (
        "Programming FAQ",
        "General Questions",
        "Is there a source code level debugger with breakpoints, single-stepping, etc.?",
    )
    by_heading = {s.heading: s for s in doc.sections}
    assert by_heading[debugger].text.startswith(debugger[-1] + "\nYes.\n")
    assert "The pdb module is a simple but adequate console-mode debugger" in (
        by_heading[debugger].text
    )
    core = [s for s in doc.sections if s.heading[:2] == ("Programming FAQ", "Core Language")]
    code = "\n".join(s.text for s in core)
    assert ">>> x = 10\n>>> def bar():\n...     print(x)" in code  # <pre> keeps its lines


def test_an_html_answer_is_found_and_cited_by_heading(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(CURATED / FAQ, folder)
    settings = Settings(store=tmp_path / "store")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.added == 1 and report.failed == () and report.skipped == 0
    hits = search("source code level debugger breakpoints", settings, embedder=HashEmbedder())
    assert hits[0].heading[-1].startswith("Is there a source code level debugger")
    assert hits[0].page is None and hits[0].first_line is None
    where = "§ Programming FAQ > General Questions > " + hits[0].heading[-1]
    assert hits[0].locator.endswith(where)


# --- main content ----------------------------------------------------------------------------


CHROME_PAGE = page(
    """
    <header class="site"><a href="/">Site name</a> <nav><a href="/a">Home</a></nav></header>
    <div class="breadcrumbs">Home / Docs</div>
    <div id="left-sidebar"><h3>Related pages</h3><ul><li>Other page</li></ul></div>
    <div class="menu-wrapper"><a>Menu item</a></div>
    <h1>Boats</h1>
    <p>The launch has a <a href="/engine">90 hp engine</a>.<script>var x = "code";</script></p>
    <style>p { color: red }</style>
    <h2>Hull</h2><p>Made of <b>oak</b> and <i>pine</i>.</p>
    <aside>Advert</aside>
    <div hidden>Hidden text</div>
    <footer>Copyright 2024</footer>
    """
)


def test_body_without_main_drops_chrome(tmp_path: Path) -> None:
    doc = parse_html(tmp_path, CHROME_PAGE)
    assert [(s.heading, s.text) for s in doc.sections] == [
        (("Boats",), "Boats\nThe launch has a 90 hp engine."),
        (("Boats", "Hull"), "Hull\nMade of oak and pine."),
    ]


@pytest.mark.parametrize(
    "wrapper",
    ["<main>{}</main>", "<div role='main'>{}</div>", "<article>{}</article>"],
)
def test_main_element_wins_over_the_rest_of_the_page(tmp_path: Path, wrapper: str) -> None:
    content = "<header><h1>Guide</h1></header><p>Keep samples at four degrees.</p>"
    body = "<div>Outside text</div>" + wrapper.format(content) + "<div>Also outside</div>"
    doc = parse_html(tmp_path, page(body))
    assert [(s.heading, s.text) for s in doc.sections] == [
        (("Guide",), "Guide\nKeep samples at four degrees.")
    ]


def test_heading_paths_nest_like_markdown(tmp_path: Path) -> None:
    body = (
        "<p>Intro.</p><h1>A</h1><h2>B</h2><p>b text</p><h3>C</h3><p>c text</p>"
        "<h2>D</h2><p>d text</p><h1>E</h1><p>e text</p>"
    )
    doc = parse_html(tmp_path, page(body))
    assert [s.heading for s in doc.sections] == [
        (),
        ("A", "B"),  # "A" has no text of its own: no section, but it names its children
        ("A", "B", "C"),
        ("A", "D"),
        ("E",),
    ]
    assert doc.sections[0].text == "Intro."


def test_lists_tables_and_line_breaks(tmp_path: Path) -> None:
    body = (
        "<h1>Ports</h1><ul><li>ftp</li><li><p>http</p></li></ul>"
        "<table><thead><tr><th>protocol</th><th>port</th></tr></thead>"
        "<tbody><tr><td>http</td><td>80</td></tr><tr><td>wss</td><td>443</td></tr></tbody></table>"
        "<p>line one<br>line two</p>"
    )
    text = parse_html(tmp_path, page(body)).sections[0].text
    assert text.split("\n") == [
        "Ports",
        "- ftp",
        "- http",
        "| protocol | port |",
        "|---|---|",
        "| http | 80 |",
        "| wss | 443 |",
        "line one",
        "line two",
    ]


def test_a_page_without_headings_is_named_by_its_title(tmp_path: Path) -> None:
    doc = parse_html(tmp_path, page("<p>Just text.</p>", "<title>Release notes</title>"))
    assert [(s.heading, s.text) for s in doc.sections] == [(("Release notes",), "Just text.")]


def test_a_layout_table_is_read_as_text(tmp_path: Path) -> None:
    long = "A long paragraph of real content. " * 20
    body = f"<table><tr><td><h1>Old page</h1><p>{long}</p></td><td>x</td></tr></table>"
    doc = parse_html(tmp_path, page(body))
    assert doc.sections[0].heading == ("Old page",) and "|" not in doc.sections[0].text


# --- encodings -------------------------------------------------------------------------------


TEXT = "Les élèves vont à l'école à Noël — « déjà »."
PARAGRAPH = (
    "Debian est un système d'exploitation libre, développé par des milliers de bénévoles à "
    "travers le monde. Le système de paquets facilite l'installation des logiciels et leur "
    "mise à jour ; la sécurité est prise très au sérieux."
)  # a guess needs a paragraph: on one short sentence charset-normalizer picks cp1257


@pytest.mark.parametrize(
    ("data", "warned"),
    [
        (page(f"<p>{TEXT}</p>", "<meta charset='windows-1252'>").encode("cp1252"), False),
        (
            page(
                f"<p>{TEXT}</p>",
                '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
            ).encode("cp1252"),  # WHATWG: latin-1 labels mean windows-1252
            False,
        ),
        (page(f"<p>{TEXT}</p>", "").encode("utf-8"), False),
        (codecs.BOM_UTF8 + page(f"<p>{TEXT}</p>", "").encode("utf-8"), False),
        (codecs.BOM_UTF16_LE + page(f"<p>{TEXT}</p>", "").encode("utf-16-le"), False),
        (page(f"<p>{TEXT} {PARAGRAPH}</p>", "").encode("cp1252"), True),  # guessed
    ],
)
def test_charsets(tmp_path: Path, data: bytes, warned: bool) -> None:
    doc = parse_html(tmp_path, data)
    assert doc.sections[0].text.startswith(TEXT)
    assert bool(doc.warnings) == warned
    if warned:
        assert "no charset declared" in doc.warnings[0] and "<meta charset>" in doc.warnings[0]


def test_xhtml_with_an_xml_declaration(tmp_path: Path) -> None:
    data = '<?xml version="1.0" encoding="UTF-8"?>\n' + page("<h1>X</h1><p>Body é.</p>")
    assert parse_html(tmp_path, data, "page.htm").sections[0].text == "X\nBody é."


# --- bad pages -------------------------------------------------------------------------------


def test_a_page_of_only_navigation_says_so(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no text in the page's main content"):
        parse_html(tmp_path, page("<nav><a href='/'>Home</a></nav><script>x()</script>"))


def test_binary_named_html_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="binary data, not HTML"):
        parse_html(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)


# --- deep pages (issue 13, item 6) ---------------------------------------------------------

WORDS = ["zero", "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]


def word(i: int) -> str:
    """A distinct made-up word per paragraph (the hash embedder matches whole words)."""
    return "".join(WORDS[int(d)] for d in str(i))


DEEP = {
    "400 unclosed font tags": "".join(
        f"<font><p>Paragraph {word(i)} here.</p>" for i in range(400)
    ),
    "well-formed, 450 deep": "".join(f"<div><p>Paragraph {word(i)} here.</p>" for i in range(450))
    + "</div>" * 450,
    "deeper than lxml can go": "<h2>Deep</h2>"
    + "".join(f"<div><p>Paragraph {word(i)} here.</p>" for i in range(2500))
    + "</div>" * 2500,
}


@pytest.mark.parametrize("name", list(DEEP))
def test_every_paragraph_of_a_deep_page_is_kept(tmp_path: Path, name: str) -> None:
    doc = parse_html(tmp_path, page(DEEP[name] + "<script>var hidden = 1;</script>"))
    lines = [line for s in doc.sections for line in s.text.splitlines()]
    paragraphs = [line for line in lines if line.startswith("Paragraph ")]
    assert len(paragraphs) == DEEP[name].count("<p>")
    assert all(f"Paragraph {word(i)} here." in paragraphs for i in (0, 255, 399))
    assert not any("hidden" in line for line in lines)


def test_the_deepest_paragraphs_are_searchable(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "deep.html").write_text(page(DEEP["400 unclosed font tags"]), encoding="utf-8")
    settings = Settings(store=tmp_path / "store", search_mode="bm25")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.added == 1 and report.failed == ()
    for i in (254, 300, 399):
        hits = search(word(i), settings, embedder=HashEmbedder(), k=3)
        assert any(f"Paragraph {word(i)} here." in h.text for h in hits), i
