"""Word documents (.docx) with python-docx: paragraphs, headings as the section path, tables.

Body paragraphs and tables are read in document order. A paragraph whose style is ``Title`` or
``Heading N`` (or a style based on one) starts a section, as a Markdown heading does; list
paragraphs read ``- item``; a table becomes Markdown rows, one line per row. Sections have no
line numbers (``first_line``/``last_line`` are ``None``): the locator is the heading path.
Page headers and footers, footnotes, comments and text boxes are left out.

A .docx is a zip file: before python-docx reads it (all of it, into memory), the sizes its parts
unpack to and the number of XML elements in them are checked against ``max_file_mb``, so a 1 MB
file that inflates to 1 GB, or 95 kB holding 7 million empty paragraphs, fails in a second with one
line instead of taking gigabytes and minutes.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from docqa.errors import SourceError
from docqa.formats.outline import Outline
from docqa.formats.tables import markdown_table
from docqa.types import Section

if TYPE_CHECKING:
    from docx.styles.style import BaseStyle
    from docx.table import Table
    from docx.text.paragraph import Paragraph

DOCX_VERSION = 1
"""Bump when the text extracted from DOCX changes, so ingest re-parses DOCX files."""

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: a password-protected .docx or a .doc
_HEADING = re.compile(r"^heading ([1-9])$", re.IGNORECASE)
MB = 1 << 20
ELEMENTS_PER_MB = 4000
"""An XML element costs python-docx and lxml about 250 bytes (7M empty paragraphs: 1.6 GB), so
``max_file_mb`` megabytes allow this many elements per MB."""
_BLOCK = 1 << 20


def docx_sections(path: Path, data: bytes, max_mb: int = 256) -> tuple[Section, ...]:
    """The text of a .docx file as sections named by their heading paths.

    Args:
        path: The file, for errors.
        data: Its bytes.
        max_mb: The most its parts may unpack to, in MB (``Settings.max_file_mb``); its XML may
            hold at most ``ELEMENTS_PER_MB`` elements per MB of it.

    Returns:
        Sections in document order (empty when the document has no text).

    Raises:
        SourceError: The file is encrypted, an old .doc, not a readable .docx, or bigger
            unpacked than ``max_mb`` allows.
    """
    import docx
    from docx.table import Table

    if data.startswith(_OLE):
        raise SourceError(
            path, "encrypted or old-format Word file: save it as .docx without a password"
        )
    _check_unpacked_size(path, data, max_mb)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # zipfile, python-docx and lxml each raise their own types
        raise SourceError(path, _unreadable(exc)) from exc
    outline = Outline()
    title = (document.core_properties.title or "").strip()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            outline.line(_table(block))
        else:
            _paragraph(outline, block)
    return outline.sections(title)


def _check_unpacked_size(path: Path, data: bytes, max_mb: int) -> None:
    """Raise SourceError when the parts unpack to more than ``max_mb`` MB or their XML holds more
    than ``ELEMENTS_PER_MB * max_mb`` elements (counted while streaming, never all in memory)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # python-docx says what is wrong with it
    fix = f"a zip bomb, or raise DOCQA_MAX_FILE_MB (now {max_mb}) to read it"
    total = sum(info.file_size for info in archive.infolist())
    if total > max_mb * MB:
        raise SourceError(path, f"unpacks to {total / MB:,.0f} MB: {fix}")
    elements, most = 0, ELEMENTS_PER_MB * max_mb
    for info in archive.infolist():
        if not info.filename.endswith((".xml", ".rels")):
            continue
        try:
            with archive.open(info) as part:
                while block := part.read(_BLOCK):
                    elements += block.count(b"<") - block.count(b"</")
        except Exception:  # zipfile, zlib and lzma raise their own types for a damaged part
            return  # python-docx says what is wrong with it
        if elements > most:
            raise SourceError(path, f"holds over {most:,} XML elements: {fix}")


def _unreadable(exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:120] or type(exc).__name__
    return f"not a readable DOCX ({detail}): re-save it from Word or LibreOffice"


def _paragraph(outline: Outline, paragraph: Paragraph) -> None:
    text = paragraph.text.strip()
    if not text:
        return
    level = _heading_level(paragraph.style)
    if level is not None:
        outline.heading(level, " ".join(text.split()))
        return
    ppr = paragraph._p.pPr
    listed = ppr is not None and ppr.numPr is not None
    outline.line(f"- {text}" if listed else text)


def _heading_level(style: BaseStyle | None) -> int | None:
    """0 for ``Title``, N for ``Heading N``, following ``based on`` a few steps; else None."""
    for _ in range(4):
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        match = _HEADING.match(name)
        if match:
            return int(match.group(1))
        style = getattr(style, "base_style", None)  # only paragraph styles have a base
    return None


def _table(table: Table) -> str:
    """Markdown rows; a merged cell (which python-docx repeats) is written once."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: list[object] = []
        for cell in row.cells:
            if not any(cell._tc is tc for tc in seen):
                seen.append(cell._tc)
                cells.append(cell.text)
        rows.append(cells)
    return markdown_table(rows)
