"""Word documents written by pandoc: heading paths, lists, tables as whole Markdown rows.

The .docx files in tests/data/ were made by pandoc from real documents (tests/data/make_docx.sh),
so the reader meets a real converter's output rather than python-docx's own.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from docqa import embedding, parsing
from docqa.api import ingest, search
from docqa.chunking import Chunker, ChunkSpec
from docqa.config import Settings
from docqa.errors import SourceError
from docqa.types import ParsedDoc

from .fakes import HashEmbedder

DATA = Path(__file__).parent / "data"
NODE = DATA / "node_url.docx"
FAQ = DATA / "python_faq_programming.docx"


def parse_file(path: Path) -> ParsedDoc:
    return parsing.parse(path, path.read_bytes(), Settings())


def test_node_docs_keep_heading_paths_code_and_lists() -> None:
    doc = parse_file(NODE)
    assert doc.parser == "docx/1" and doc.language == "en" and doc.warnings == ()
    assert doc.sections[0].heading == ("URL",)
    assert doc.sections[0].text.startswith("URL\nStability: 2 - Stable\nThe node:url module")
    headings = [s.heading for s in doc.sections]
    assert ("URL", "The WHATWG URL API", "Class: URL", "url.port") in headings
    assert all(s.first_line is None and s.page is None for s in doc.sections)
    text = "\n".join(s.text for s in doc.sections)
    assert "const myURL = new URL('https://example.org');\nmyURL.pathname = '/a/b/c';" in text
    assert "\n- " in text  # pandoc's list paragraphs


def test_a_table_becomes_markdown_rows_in_its_section() -> None:
    doc = parse_file(NODE)
    port = next(s for s in doc.sections if s.heading[-1:] == ("url.port",))
    lines = port.text.split("\n")
    start = lines.index("| protocol | port |")
    assert lines[start : start + 5] == [
        "| protocol | port |",
        "|---|---|",
        "| “ftp” | 21 |",
        "| “file” |  |",
        "| “http” | 80 |",
    ]


def test_table_rows_stay_whole_in_chunks() -> None:
    doc = parse_file(NODE)
    rows = [line for s in doc.sections for line in s.text.split("\n") if line.startswith("| ")]
    chunker = Chunker(embedding.load_tokenizer(HashEmbedder().info), ChunkSpec(256, 64))
    texts = [c.text for c in chunker.chunk(doc.sections)]
    assert rows and all(any(row in t for t in texts) for row in rows)


def test_title_and_heading_1_with_the_same_name_appear_once_in_the_path() -> None:
    doc = parse_file(FAQ)  # pandoc -M title="Programming FAQ", then Heading 1 "Programming FAQ"
    debugger = (
        "Programming FAQ",
        "General Questions",
        "Is there a source code level debugger with breakpoints, single-stepping, etc.?",
    )
    section = next(s for s in doc.sections if s.heading == debugger)
    assert section.text.startswith(debugger[-1] + "\nYes.\nSeveral debuggers for Python")


def test_docx_answers_are_found_and_cited_by_heading(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(NODE, folder)
    shutil.copy(FAQ, folder)
    settings = Settings(store=tmp_path / "store")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.added == 2 and report.failed == ()
    hits = search("default port of the wss protocol", settings, embedder=HashEmbedder())
    assert hits[0].file.endswith("node_url.docx") and "| “wss” | 443 |" in hits[0].text
    assert hits[0].locator.endswith("§ URL > The WHATWG URL API > Class: URL > url.port")


# --- bad files -------------------------------------------------------------------------------


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.docx"
    path.write_bytes(data)
    return path


def test_not_a_zip_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"not a readable DOCX \(.*\): re-save it"):
        parse_file(_write(tmp_path, b"this is plain text, not a document"))


def test_a_zip_without_a_document_is_a_clear_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(SourceError, match="not a readable DOCX"):
        parse_file(_write(tmp_path, buffer.getvalue()))


def test_encrypted_or_old_word_files_say_what_to_do(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    with pytest.raises(SourceError, match="save it as .docx without a password"):
        parse_file(_write(tmp_path, ole))


def test_a_document_without_text_says_so(tmp_path: Path) -> None:
    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)  # python-docx's blank template: only for this negative case
    with pytest.raises(SourceError, match="no text in the document body"):
        parse_file(_write(tmp_path, buffer.getvalue()))
