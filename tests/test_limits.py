"""Resource bombs (issue 13, item 10): a file that would unpack or grow past ``max_file_mb``
fails with one line, quickly, and the rest of the folder goes on."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from docqa.api import ingest, search
from docqa.config import Settings
from docqa.errors import SourceError
from docqa.formats.docx import docx_sections

from .fakes import HashEmbedder

DATA = Path(__file__).with_name("data")
REAL = b"<w:p><w:r><w:t>The field station owns four boats.</w:t></w:r></w:p>"


def docx_with_body(path: Path, write_body: Callable[[IO[bytes]], None]) -> Path:
    """A copy of a real pandoc .docx whose document body is written by ``write_body``."""
    with zipfile.ZipFile(DATA / "node_url.docx") as source:
        parts = {name: source.read(name) for name in source.namelist()}
    head = parts["word/document.xml"].split(b"<w:body>")[0] + b"<w:body>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for name, data in parts.items():
            if name != "word/document.xml":
                out.writestr(name, data)
                continue
            with out.open(name, "w", force_zip64=True) as body:
                body.write(head + REAL)
                write_body(body)
                body.write(b"</w:body></w:document>")
    return path


def inflating(megabytes: int) -> Callable[[IO[bytes]], None]:
    """One paragraph of ``megabytes`` MB of one letter: compresses about 1000 to 1."""

    def write(body: IO[bytes]) -> None:
        body.write(b"<w:p><w:r><w:t>")
        for _ in range(megabytes):
            body.write(b"A" * (1 << 20))
        body.write(b"</w:t></w:r></w:p>")

    return write


def empty_paragraphs(count: int) -> Callable[[IO[bytes]], None]:
    def write(body: IO[bytes]) -> None:
        for _ in range(count // 10_000):
            body.write(b"<w:p/>" * 10_000)

    return write


def test_a_docx_that_unpacks_past_the_limit_fails_before_parsing(tmp_path: Path) -> None:
    bomb = docx_with_body(tmp_path / "bomb.docx", inflating(40))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(SourceError) as info:
        docx_sections(bomb, bomb.read_bytes(), max_mb=32)
    assert "unpacks to 40 MB" in info.value.reason and "DOCQA_MAX_FILE_MB" in info.value.reason


def test_a_docx_of_empty_paragraphs_fails_on_its_element_count(tmp_path: Path) -> None:
    bomb = docx_with_body(tmp_path / "many.docx", empty_paragraphs(200_000))
    assert bomb.stat().st_size < 100_000  # 1.2 MB of XML: far under the size limit
    with pytest.raises(SourceError) as info:
        docx_sections(bomb, bomb.read_bytes(), max_mb=16)  # 64,000 elements allowed
    assert "holds over 64,000 XML elements" in info.value.reason


def test_a_real_docx_is_well_inside_the_default_limit() -> None:
    path = DATA / "python_faq_programming.docx"
    assert docx_sections(path, path.read_bytes(), max_mb=Settings().max_file_mb)


@pytest.mark.parametrize("name", ["huge.txt", "huge.md", "huge.html"])
def test_a_text_file_over_the_limit_fails_and_the_rest_goes_on(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "boats.md").write_text("The field station owns four boats.\n", encoding="utf-8")
    (folder / name).write_bytes(b"word " * ((3 << 20) // 5))  # 3 MB
    settings = Settings(store=tmp_path / "store", max_file_mb=2)
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert [(Path(p).name, r) for p, r in report.failed] == [
        (name, "3 MB, over DOCQA_MAX_FILE_MB=2: raise it to read it")
    ]
    assert report.added == 1 and report.exit_code == 2
    assert "four boats" in search("boats", settings, embedder=HashEmbedder())[0].text


def test_docx_bombs_in_a_folder_fail_one_line_each_and_the_rest_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    docx_with_body(folder / "inflates.docx", inflating(40))
    docx_with_body(folder / "paragraphs.docx", empty_paragraphs(200_000))
    docx_with_body(folder / "fine.docx", empty_paragraphs(0))
    settings = Settings(store=tmp_path / "store", max_file_mb=16)
    report = ingest(folder, settings, embedder=HashEmbedder())
    reasons = {Path(p).name: r for p, r in report.failed}
    assert sorted(reasons) == ["inflates.docx", "paragraphs.docx"]
    assert all("DOCQA_MAX_FILE_MB" in r and "\n" not in r for r in reasons.values())
    assert report.added == 1
    hits = search("field station boats", settings, embedder=HashEmbedder())
    assert hits and hits[0].file.endswith("fine.docx")
