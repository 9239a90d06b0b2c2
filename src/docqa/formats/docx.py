"""Word documents (.docx) with python-docx: paragraphs, headings as the section path, tables.

Body paragraphs and tables are read in document order. A paragraph whose style is ``Title`` or
``Heading N`` (or a style based on one) starts a section, as a Markdown heading does; list
paragraphs read ``- item``; a table becomes Markdown rows, one line per row. Sections have no
line numbers (``first_line``/``last_line`` are ``None``): the locator is the heading path.
Page headers and footers, footnotes, comments and text boxes are left out.
"""

from __future__ import annotations

import io
import re
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


def docx_sections(path: Path, data: bytes) -> tuple[Section, ...]:
    """The text of a .docx file as sections named by their heading paths.

    Args:
        path: The file, for errors.
        data: Its bytes.

    Returns:
        Sections in document order (empty when the document has no text).

    Raises:
        SourceError: The file is encrypted, an old .doc, or not a readable .docx.
    """
    import docx
    from docx.table import Table

    if data.startswith(_OLE):
        raise SourceError(
            path, "encrypted or old-format Word file: save it as .docx without a password"
        )
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
