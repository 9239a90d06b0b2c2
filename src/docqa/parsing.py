"""Turn a file's bytes into located text: the dispatch to one parser per format.

Every failure is a :class:`~docqa.errors.SourceError` whose reason says what happened and what
to do; parser exceptions never leave this module.

Each format has its module in :mod:`docqa.formats`: PDFs page by page (:mod:`~docqa.formats.pdf`,
with tables and OCR), text (:mod:`~docqa.formats.text`) and Markdown
(:mod:`~docqa.formats.markdown`), which keep every character of the file except that ``\\r\\n``
and ``\\r`` become ``\\n`` so chunk offsets map back to true line numbers, HTML
(:mod:`~docqa.formats.html`) and DOCX (:mod:`~docqa.formats.docx`), located by heading path.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from docqa.config import Settings
from docqa.errors import SourceError
from docqa.formats import ocr
from docqa.formats.docx import DOCX_VERSION, docx_sections
from docqa.formats.html import HTML_VERSION, decode_html, html_sections
from docqa.formats.markdown import MARKDOWN_VERSION, markdown_sections
from docqa.formats.pdf import PDF_VERSIONS, parse_pdf, pdf_parser_id
from docqa.formats.text import TEXT_VERSION, date_line, decode_text, split_lines
from docqa.language import detect_language
from docqa.sources import os_error_reason
from docqa.types import ParsedDoc, Section

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

PARSER_VERSIONS: dict[str, int] = {
    **PDF_VERSIONS,
    "markdown": MARKDOWN_VERSION,
    "text": TEXT_VERSION,
    "html": HTML_VERSION,
    "docx": DOCX_VERSION,
}
"""Bump an entry when that parser's output changes, so ingest re-parses the files it read."""

KINDS: dict[str, str] = {
    ".pdf": "pdf",
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
}
"""Lowercased extension -> parser kind; the same set as :data:`docqa.sources.SUPPORTED`."""


def parser_id(path: Path, settings: Settings) -> str:
    """The parser that :func:`parse` uses for a file, with its version, for ingest fingerprints.

    Args:
        path: The file; only its extension matters.
        settings: Chooses the PDF parser; with ``ocr`` on, PDF ids name Tesseract and the OCR
            languages too.

    Returns:
        For example ``"pypdfium2-5/2+tables-1+pdfplumber-0.11"``, ``"pypdf-7/1"``,
        ``"pypdfium2-5/2+tables-1+pdfplumber-0.11+tesseract-5/1[eng+fra]"``, ``"html/1"``,
        ``"docx/1"``, ``"markdown/1"`` or ``"text/2"``.

    Raises:
        SourceError: The extension is not supported.
    """
    kind = _kind(path)
    if kind != "pdf":
        return f"{kind}/{PARSER_VERSIONS[kind]}"
    parser = pdf_parser_id(settings.pdf_parser)
    return parser if settings.ocr == "never" else f"{parser}+{ocr.ocr_id(settings.ocr_languages)}"


def read_bytes(path: Path) -> bytes:
    """Read a whole file, turning operating-system errors into :class:`SourceError`.

    Args:
        path: The file to read.

    Returns:
        Its bytes.

    Raises:
        SourceError: The file cannot be read (permissions, vanished, I/O error).
    """
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SourceError(path, os_error_reason(exc)) from exc


def parse(path: Path, data: bytes, settings: Settings) -> ParsedDoc:
    """Extract located text from a file's bytes.

    Args:
        path: The file's path; its extension picks the parser and it names the file in errors.
        data: The file's bytes (see :func:`read_bytes`).
        settings: Uses ``pdf_parser``, ``pdf_password``, ``ocr``, ``ocr_languages`` and
            ``languages``.

    Returns:
        Sections (PDF pages with their true page numbers, Markdown sections with heading paths
        and line ranges, HTML and DOCX sections with heading paths, or one section for a text
        file), the parser id, language and warnings.

    Raises:
        SourceError: Unsupported type, empty, binary, encrypted, unreadable or image-only file.
    """
    kind = _kind(path)
    if not data.strip():
        raise SourceError(path, "empty file: add content to it or remove it")
    if kind == "pdf":
        return parse_pdf(path, data, settings)
    if kind in ("html", "docx"):
        sections, warnings = _parse_markup(kind, path, data, settings.max_file_mb)
    else:
        text, warnings = decode_text(path, data)
        if not text.strip():
            raise SourceError(path, "empty file: add content to it or remove it")
        if kind == "markdown":
            sections = markdown_sections(text)
        else:
            dated = date_line(text)
            heading = (dated,) if dated else ()
            last = len(split_lines(text))
            sections = (Section(text=text, heading=heading, first_line=1, last_line=last),)
    return ParsedDoc(
        sections=sections,
        parser=parser_id(path, settings),
        language=detect_language("\n".join(s.text for s in sections), settings.languages),
        warnings=warnings,
    )


def _parse_markup(
    kind: str, path: Path, data: bytes, max_mb: int
) -> tuple[tuple[Section, ...], tuple[str, ...]]:
    """Sections and warnings of an HTML page or a DOCX file; no text at all is an error."""
    warnings: tuple[str, ...] = ()
    if kind == "docx":
        sections = docx_sections(path, data, max_mb)
        empty = "no text in the document body: add content to it or remove it"
    else:
        text, warnings = decode_html(path, data)
        sections = html_sections(path, text)
        empty = "no text in the page's main content (only navigation or scripts?): check it"
    if not sections:
        raise SourceError(path, empty)
    return sections, warnings


def _kind(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise SourceError(
            path, f"unsupported file type ({suffix or 'no extension'}): docqa reads {known}"
        )
    return KINDS[suffix]
