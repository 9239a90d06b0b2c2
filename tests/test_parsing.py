"""Tests for docqa.parsing on the real curated corpus and small made-up files."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from docqa.config import Settings
from docqa.errors import SourceError
from docqa.formats import pdf as pdf_format
from docqa.formats.markdown import markdown_sections
from docqa.parsing import parse, parser_id, read_bytes
from docqa.types import ParsedDoc

from .conftest import CURATED

FAQS = ["en_faq_debian-faq.en.pdf", "fr_faq_debian-faq.fr.pdf"]
ALPHA_RUN = re.compile(r"[^\W\d_]+")


def skip_unless_chmod_blocks_reads(tmp_path: Path) -> None:
    """Skip when mode bits do not stop this process (root or CAP_DAC_OVERRIDE)."""
    probe = tmp_path / ".chmod-probe"  # hidden, so scans of tmp_path ignore it
    probe.write_text("x")
    probe.chmod(0)
    try:
        probe.read_bytes()
    except PermissionError:
        return
    finally:
        probe.chmod(0o644)
    pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not block reads")


def parse_curated(name: str, **settings: object) -> ParsedDoc:
    path = CURATED / name
    return parse(path, read_bytes(path), Settings(**settings))  # type: ignore[arg-type]


def glue_rate(doc: ParsedDoc) -> float:
    """Share of alphabetic runs longer than 20 letters: words run together."""
    runs = [run for s in doc.sections for run in ALPHA_RUN.findall(s.text)]
    return sum(len(run) > 20 for run in runs) / len(runs)


def parse_bytes(tmp_path: Path, name: str, data: bytes, **settings: object) -> ParsedDoc:
    path = tmp_path / name
    path.write_bytes(data)
    return parse(path, read_bytes(path), Settings(**settings))  # type: ignore[arg-type]


# --- PDFs: text quality and page numbers -----------------------------------------------------


@pytest.mark.parametrize("name", FAQS)
def test_faq_words_are_not_glued(name: str) -> None:
    doc = parse_curated(name)
    assert doc.parser.startswith("pypdfium2-")
    assert doc.warnings == ()
    assert glue_rate(doc) < 0.005  # measured ~0.0075%


def test_pypdf_is_selectable_and_glues_more_words() -> None:
    # pypdf takes ~1.5 s per FAQ (pdfium ~0.15 s), so only the English one is read with it.
    name = FAQS[0]
    default = parse_curated(name)
    slow = parse_curated(name, pdf_parser="pypdf")
    assert slow.parser.startswith("pypdf-")
    assert sum(len(s.text) for s in slow.sections) > 100_000
    # Measured: pypdf ~21% glued runs against pdfium's ~0.01% on these files.
    assert glue_rate(slow) > glue_rate(default)


def test_english_faq_keeps_true_page_numbers() -> None:
    doc = parse_curated("en_faq_debian-faq.en.pdf")
    pages = [s.page for s in doc.sections]
    assert pages == sorted(pages)  # in page order; a page may hold several headed sections
    assert pages[0] == 1 and pages[-1] == 73
    assert 8 not in pages  # a blank page is dropped without renumbering the rest
    assert len(set(pages)) == 66
    found = [s.page for s in doc.sections if "Install the libpaper1 package" in s.text]
    assert found == [55]
    assert all(s.first_line is None for s in doc.sections)


@pytest.mark.parametrize(("name", "language"), [(FAQS[0], "en"), (FAQS[1], "fr")])
def test_pdf_language_is_detected(name: str, language: str) -> None:
    assert parse_curated(name).language == language


def test_pdf_text_is_normalised() -> None:
    doc = parse_curated("en_manual_R-intro.pdf")  # pdfium emits \r\n, U+FFFE and \x14 here
    assert len({s.page for s in doc.sections}) == 113
    text = "".join(s.text for s in doc.sections)
    assert not re.search(r"[\r\x00\x01-\x08\x0b-\x1f\ufffe]", text)
    faq = "".join(s.text for s in parse_curated(FAQS[0]).sections)
    assert "other documentation will" in faq  # pdfium's line-end hyphen marker is dropped


@pytest.mark.parametrize(
    ("name", "pages", "phrase"),
    [
        ("malformed_xref_issue-301.pdf", 1, "1111101"),  # broken xref, recovered by pdfium
        ("scanned_with_ocr_layer_vicksburg.pdf", 6, "THE SIEGE OF VICKSBURG"),
        ("table_census_12s0324.pdf", 1, "Table 324. Arrests by Sex and Age: 2009"),
        ("table_multipage_GeoBase_NHNC1.pdf", 19, "National Hydro Network, Canada"),
    ],
)
def test_other_real_pdfs_parse(name: str, pages: int, phrase: str) -> None:
    doc = parse_curated(name)
    assert doc.parser.startswith("pypdfium2-") and doc.warnings == ()
    assert [s.page for s in doc.sections] == list(range(1, pages + 1))
    assert phrase in doc.sections[0].text


# --- PDFs: bad input -------------------------------------------------------------------------

BAD_PDFS = [
    ("malformed_invalid.pdf", "not a readable PDF"),
    ("truncated_R-intro_first300KB.pdf", "not a readable PDF"),
    ("encrypted_aes256_user-foo_owner-bar.pdf", "encrypted PDF: set DOCQA_PDF_PASSWORD"),
    ("encrypted_rc4_pw-openpassword.pdf", "encrypted PDF: set DOCQA_PDF_PASSWORD"),
    ("scanned_linn.pdf", "no text layer"),
    ("scanned_c03-29_huckfinn.pdf", "no text layer"),
]


@pytest.mark.parametrize(("name", "keyword"), BAD_PDFS)
def test_bad_pdfs_raise_one_line_source_errors(name: str, keyword: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_curated(name)
    assert keyword in info.value.reason
    assert info.value.path.endswith(name)
    assert "\n" not in str(info.value) and ": " in info.value.reason  # says what to do


def test_unreadable_pdf_reason_names_both_parsers() -> None:
    with pytest.raises(SourceError) as info:
        parse_curated("truncated_R-intro_first300KB.pdf")
    assert "pypdfium2: Data format error" in info.value.reason
    assert "pypdf: PdfStreamError" in info.value.reason
    assert info.value.reason.endswith("re-export or repair it")


@pytest.mark.parametrize(
    ("name", "password", "parser", "expected"),
    [
        ("encrypted_aes256_user-foo_owner-bar.pdf", "foo", "pypdfium2", "pdf encryption test"),
        ("encrypted_rc4_pw-openpassword.pdf", "openpassword", "pypdfium2", "Lorem ipsum"),
        ("encrypted_rc4_pw-openpassword.pdf", "openpassword", "pypdf", "Lorem ipsum"),
    ],
)
def test_encrypted_pdf_opens_with_the_password(
    name: str, password: str, parser: str, expected: str
) -> None:
    doc = parse_curated(name, pdf_password=password, pdf_parser=parser)
    assert expected in doc.sections[0].text
    with pytest.raises(SourceError, match="password given does not open it"):
        parse_curated(name, pdf_password="wrong", pdf_parser=parser)


def test_pypdf_on_aes_needs_cryptography_or_opens() -> None:
    name = "encrypted_aes256_user-foo_owner-bar.pdf"
    if importlib.util.find_spec("cryptography") is not None:
        doc = parse_curated(name, pdf_parser="pypdf", pdf_password="foo")
        assert "pdf encryption test" in doc.sections[0].text
    else:
        with pytest.raises(SourceError, match="encrypted PDF pypdf cannot open"):
            parse_curated(name, pdf_parser="pypdf", pdf_password="foo")


def test_scan_without_text_names_the_ocr_flag() -> None:
    with pytest.raises(SourceError) as never:  # OCR itself is tested in test_ocr.py
        parse_curated("scanned_linn.pdf")
    assert "--ocr auto (DOCQA_OCR=auto)" in never.value.reason


def test_pdfium_refusal_falls_back_to_pypdf(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise pdfium.PdfiumError("Failed to load document (PDFium: Data format error).", 3)

    monkeypatch.setattr(pdf_format.pdfium, "PdfDocument", refuse)
    doc = parse_curated("scanned_with_ocr_layer_vicksburg.pdf")
    assert doc.parser.startswith("pypdf-")
    assert len(doc.warnings) == 1 and "pypdfium2 could not read it" in doc.warnings[0]
    assert "Data format error" in doc.warnings[0]
    assert [s.page for s in doc.sections] == [1, 2, 3, 4, 5, 6]


def test_garbage_pdf_is_not_readable(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a readable PDF"):
        parse_bytes(tmp_path, "fake.pdf", b"this is not a PDF at all\n" * 20)


# --- parser ids and dispatch -----------------------------------------------------------------


def test_parser_ids() -> None:
    settings = Settings()
    pdfium_id = parser_id(Path("a.pdf"), settings)
    assert re.fullmatch(r"pypdfium2-\d+/\d+\+tables-\d+\+pdfplumber-\d+\.\d+", pdfium_id)
    assert re.fullmatch(r"pypdf-\d+/\d+", parser_id(Path("a.PDF"), Settings(pdf_parser="pypdf")))
    assert parser_id(Path("a.md"), settings) == "markdown/1"
    assert parser_id(Path("a.markdown"), settings) == "markdown/1"
    assert parser_id(Path("a.txt"), settings) == "text/2"
    assert parser_id(Path("a.HTM"), settings) == parser_id(Path("a.html"), settings) == "html/1"
    assert parser_id(Path("a.docx"), settings) == "docx/1"
    with pytest.raises(SourceError, match="unsupported file type"):
        parser_id(Path("a.odt"), settings)


def test_unsupported_extension_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"unsupported file type \(\.odt\)"):
        parse_bytes(tmp_path, "page.odt", b"<p>hi</p>")


# --- plain text ------------------------------------------------------------------------------


def test_utf8_text_keeps_every_character(tmp_path: Path) -> None:
    text = "\ufeffline one  \r\nline\ttwo\x0cstill two\rline three"
    doc = parse_bytes(tmp_path, "a.txt", text.encode("utf-8"))
    assert doc.parser == "text/2" and doc.warnings == ()
    (section,) = doc.sections
    assert section.text == "line one  \nline\ttwo\x0cstill two\nline three"
    assert (section.first_line, section.last_line, section.page) == (1, 3, None)
    # a trailing newline ends the last line, it does not start another
    assert parse_bytes(tmp_path, "b.txt", b"one\ntwo\n").sections[0].last_line == 2


def test_latin1_french_decodes_with_a_warning(tmp_path: Path) -> None:
    text = "Les élèves à l'école"
    doc = parse_bytes(tmp_path, "fr.txt", text.encode("latin-1"))
    assert doc.sections[0].text == text
    assert len(doc.warnings) == 1 and "decoded as cp1252" in doc.warnings[0]
    assert doc.language == "fr"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    doc = parse_bytes(tmp_path, "odd.txt", b"caf\xe9 \x81 ok")
    assert doc.sections[0].text == "café \x81 ok"
    assert "decoded as latin-1" in doc.warnings[0]


def test_utf16_with_bom_is_text(tmp_path: Path) -> None:
    doc = parse_bytes(tmp_path, "w.txt", "Bonjour à tous\r\nsalut".encode("utf-16"))
    assert doc.sections[0].text == "Bonjour à tous\nsalut"


@pytest.mark.parametrize(
    "data",
    [b"text\x00with a NUL byte", bytes(range(1, 32)) * 10 + b"some text", os.urandom(4096)],
)
def test_binary_data_is_rejected(tmp_path: Path, data: bytes) -> None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = b"x" + data  # a random UTF-16 BOM would make it text
    with pytest.raises(SourceError, match="binary data, not text: rename it or remove it"):
        parse_bytes(tmp_path, "blob.txt", data)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("zero.txt", b""),
        ("ws.md", b"  \n\n\t"),
        ("bom.txt", b"\xef\xbb\xbf"),
        ("zero.pdf", b""),
        ("blank.pdf", b" \n\t "),
    ],
)
def test_empty_files(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(SourceError, match="empty file"):
        parse_bytes(tmp_path, name, data)


def test_real_text_file() -> None:
    doc = parse_curated("scanned_linn.groundtruth.txt")
    raw = (CURATED / "scanned_linn.groundtruth.txt").read_text(encoding="utf-8")
    assert doc.sections[0].text == raw.replace("\r\n", "\n")
    assert doc.sections[0].last_line == len(raw.splitlines())


# --- reading ---------------------------------------------------------------------------------


def test_read_bytes_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="disappeared"):
        read_bytes(tmp_path / "missing.txt")
    with pytest.raises(SourceError, match="is a folder"):
        read_bytes(tmp_path)


def test_unreadable_file_is_permission_denied(tmp_path: Path) -> None:
    skip_unless_chmod_blocks_reads(tmp_path)
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    try:
        with pytest.raises(SourceError, match="permission denied: check the file's permissions"):
            read_bytes(locked)
    finally:
        locked.chmod(0o644)


# --- Markdown --------------------------------------------------------------------------------

CRAFTED = """\
Intro before any heading.

# Guide
Welcome.
## Install
```sh
# not a heading
make install
```
### From source ###
~~~
## also not a heading
~~~
    # indented code, not a heading
#hashtag is not a heading either
## Usage
Setext Title
============
Body.

Sub part
--------
end
Two-line paragraph
is not a heading
---
"""


def test_crafted_markdown_sections() -> None:
    sections = markdown_sections(CRAFTED)
    got = [(s.heading, s.first_line, s.last_line) for s in sections]
    assert got == [
        ((), 1, 2),
        (("Guide",), 3, 4),
        (("Guide", "Install"), 5, 9),
        (("Guide", "Install", "From source"), 10, 15),
        (("Guide", "Usage"), 16, 16),
        (("Setext Title",), 17, 20),
        (("Setext Title", "Sub part"), 21, 26),
    ]
    assert "".join(s.text for s in sections) == CRAFTED
    assert "# not a heading" in sections[2].text
    assert sections[3].text.startswith("### From source ###\n")


def test_markdown_front_matter_is_not_a_heading() -> None:
    doc = "---\ntitle: x\n---\n# Real\ntext\n"
    sections = markdown_sections(doc)
    assert [(s.heading, s.first_line, s.last_line) for s in sections] == [
        ((), 1, 3),
        (("Real",), 4, 5),
    ]


@pytest.mark.parametrize(
    ("doc", "headings"),
    [
        ("# A\n```\n# inside an unclosed fence\n", [("A",)]),
        (
            "# A\n### deep\n## B\n# C\n## D\n",
            [("A",), ("A", "deep"), ("A", "B"), ("C",), ("C", "D")],
        ),
        ("# \n## Empty parent\n", [(), ("Empty parent",)]),
    ],
)
def test_markdown_heading_paths(doc: str, headings: list[tuple[str, ...]]) -> None:
    assert [s.heading for s in markdown_sections(doc)] == headings


def test_markdown_file_parse(tmp_path: Path) -> None:
    doc = parse_bytes(tmp_path, "g.markdown", CRAFTED.replace("\n", "\r\n").encode())
    assert doc.parser == "markdown/1"
    assert "".join(s.text for s in doc.sections) == CRAFTED


def test_real_markdown_keeps_all_text_and_headings() -> None:
    doc = parse_curated("md_node_url.md")
    raw = (CURATED / "md_node_url.md").read_text(encoding="utf-8").replace("\r\n", "\n")
    assert "".join(s.text for s in doc.sections) == raw
    heading_lines = [line for line in raw.split("\n") if line.startswith("#")]
    assert len(doc.sections) == len(heading_lines) == 69
    paths = {s.heading for s in doc.sections}
    assert ("URL", "The WHATWG URL API", "Class: `URL`", "`url.hash`") in paths
    assert ("URL", "URL strings and URL objects") in paths
    # line ranges tile the file and each section starts at its heading line
    assert doc.sections[0].first_line == 1
    for before, after in zip(doc.sections, doc.sections[1:], strict=False):
        assert after.first_line == (before.last_line or 0) + 1
    assert doc.sections[-1].last_line == len(raw.splitlines())
    for s in doc.sections:
        assert s.text.count("\n") == (s.last_line or 0) - (s.first_line or 0) + 1
        assert s.heading[-1] in s.text.split("\n", 1)[0]
