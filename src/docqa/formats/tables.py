"""Tables as Markdown text, one row per line, so chunks keep rows whole.

The chunker cuts only between segments (sentences and lines), so a row written on one line, with
no sentence break inside it, is never split across chunks while it fits the chunk budget.

PDF pages go through two cheap checks before any table extraction (figures in
``benchmarks/README.md``, "Formats"):

- **numeric rows** (:func:`numeric_page`): at least 5 lines, and 30 % of the page's lines, end in
  three or more numeric cells. Typeset tables without rules (statistical abstracts) look like
  this; their rows are already whole lines in pdfium's text, so :func:`numeric_rows` only rewrites
  them as Markdown rows and drops the dot leaders, which otherwise cost a token per dot.
- **ruled** (:func:`ruled_page`): the page draws a grid, at least 3 horizontal thin lines of one
  extent crossed by 3 vertical ones (and not thousands of paths, as a chart does). Only these
  pages are opened with pdfplumber (:func:`pdfplumber_texts`), and only tables that look like
  grids replace their text.
"""

from __future__ import annotations

import ctypes
import io
import logging
import re
from collections import Counter
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pypdfium2.raw as pdfium_c

if TYPE_CHECKING:
    import pypdfium2 as pdfium

log = logging.getLogger(__name__)

TABLES_VERSION = 1
"""Bump when the table text of PDF pages changes, so ingest re-parses PDFs."""

MIN_ROWS = 5
"""A page needs this many numeric rows to count as a numeric table page."""
ROW_SHARE = 0.3
"""...and this share of its non-empty lines must be numeric rows."""
MIN_RULES = 3
"""Rules of one extent, and rules crossing it, that make a grid worth opening pdfplumber for."""
MAX_PATHS = 2000
"""More path objects than this is a chart or drawing: pdfplumber would take seconds on it."""

_Rule = tuple[float, float, float]
_THIN = 2.0  # points: thicker than this is a box, not a rule
_LONG = 10.0  # points: shorter than this is a glyph or a tick, not a rule
# Dot leaders (". . . ." or ".....") between a row label and its numbers.
_LEADER = re.compile(r"(?:\s?\.){3,}\s*")
_CELL = re.compile(
    r"^(?:[-+−]?[$€£]?\(?\d(?:[\d,.]*\d)?\)?%?|[–—-]|\((?:X|NA|D|Z|S|B)\)|n\.?a\.?)$", re.IGNORECASE
)  # a number ends in a digit: "137, 139," is an index entry's page list, not table cells
# Whitespace after sentence punctuation: the chunker may cut there, so it leaves table cells.
_SENTENCE_GAP = re.compile(r"(?<=[.!?…])([\"'»)\]]*)\s+")
_SENTENCE_END = re.compile(r"[.!?…][\"'»)\]]*$")
_SPACES = re.compile(r"\s+")
# A table's caption: "Table 324. Arrests by Sex and Age: 2009" (French, Spanish, German too).
_CAPTION = re.compile(r"^\s*(?:Table|Tableau|Tabla|Tabelle)\s+[\w.-]*\d[\w.-]*\b.*$", re.IGNORECASE)
_CAPTION_CHARS = 160


def markdown_row(cells: Sequence[str | None]) -> str:
    """One table row as a Markdown line: ``| a | b |``.

    Args:
        cells: Cell texts; ``None`` (a merged cell) is written empty.

    Returns:
        A single line. Newlines in cells become spaces, ``|`` is escaped, and no whitespace
        follows a sentence's end (``end.Next``, ``end.|``), so the chunker never cuts inside the
        row; the embedder's tokenizer splits punctuation anyway, so the tokens are the same.
    """
    line = "|"
    for cell in cells:
        text = _SPACES.sub(" ", cell or "").strip().replace("|", "\\|")
        text = _SENTENCE_GAP.sub(r"\1", text)
        line += f" {text}|" if _SENTENCE_END.search(text) else f" {text} |"
    return line


def markdown_table(rows: Sequence[Sequence[str | None]]) -> str:
    """A Markdown table: the first row is the header, then a ``|---|`` line, then the rows.

    Args:
        rows: Rows of cells; shorter rows are padded to the widest.

    Returns:
        The table, one row per line (no trailing newline); empty rows are left out.
    """
    width = max((len(r) for r in rows), default=0)
    kept = [list(r) + [None] * (width - len(r)) for r in rows if any((c or "").strip() for c in r)]
    if not kept:
        return ""
    lines = [markdown_row(kept[0]), "|" + "---|" * width]
    lines += [markdown_row(r) for r in kept[1:]]
    return "\n".join(lines)


# --- numeric rows ---------------------------------------------------------------------------


def _numeric_row(line: str) -> tuple[str, list[str]] | None:
    """``(label, values)`` when a line ends in 3+ numeric cells (2+ with digits), else None.

    A dot leader, when there is one, ends the label: a footnote number before it ("Stolen
    property 1. . . .") stays in the label instead of becoming a cell.
    """
    parts = _LEADER.split(line.strip())
    label_part, tokens = (parts[0], " ".join(parts[1:]).split()) if len(parts) > 1 else ("", [])
    if not tokens or not all(_CELL.match(t) for t in tokens):
        tokens = line.split()
        k = len(tokens)
        while k and _CELL.match(tokens[k - 1]):
            k -= 1
        label_part, tokens = " ".join(tokens[:k]), tokens[k:]
    if len(tokens) < 3 or sum(any(ch.isdigit() for ch in v) for v in tokens) < 2:
        return None
    return re.sub(r"(?:\s*\.)+$", "", label_part.strip()), tokens


def captions(text: str) -> str:
    """The table captions on a page, joined with ``; `` and cut to about 160 characters.

    A PDF table page carries them as its section heading, so every chunk of its rows is
    embedded with what the table is about (the rows alone are a label and numbers).

    Args:
        text: The page's text.

    Returns:
        ``"Table 324. Arrests by Sex and Age: 2009; Table 325. Arrests by Race: 2009"``, or
        ``""`` when no line starts like a caption.
    """
    found = [" ".join(line.split()) for line in text.split("\n") if _CAPTION.match(line)]
    joined = "; ".join(dict.fromkeys(found))
    return joined if len(joined) <= _CAPTION_CHARS else joined[: _CAPTION_CHARS - 1] + "…"


def numeric_page(text: str) -> bool:
    """Whether a page's text is mostly rows of numbers (see the module docstring).

    Args:
        text: The page's text, one line per text line.

    Returns:
        True for a numeric table page.
    """
    lines = [line for line in text.split("\n") if line.strip()]
    rows = sum(1 for line in lines if _numeric_row(line))
    return rows >= MIN_ROWS and rows >= ROW_SHARE * len(lines)


def numeric_rows(text: str) -> str:
    """Rewrite the numeric rows of a page as Markdown rows; other lines are kept as they are.

    A label broken over two lines (a line without numbers followed by a row whose label starts
    in lower case) is joined back, so the row carries its whole label.

    Args:
        text: The page's text.

    Returns:
        The text with ``| label | v1 | v2 |`` lines in place of the numeric rows.
    """
    out: list[str] = []
    pending: str | None = None  # the previous line, when it was not a row
    for line in text.split("\n"):
        row = _numeric_row(line)
        if row is None:
            if pending is not None:
                out.append(pending)
            pending = line
            continue
        label, values = row
        head = pending.strip() if pending is not None else ""
        if head and label[:1].islower() and not head.endswith((".", ":", ";")):
            label, pending = f"{head} {label}", None
        if pending is not None:
            out.append(pending)
            pending = None
        out.append(markdown_row([label, *values]))
    if pending is not None:
        out.append(pending)
    return "\n".join(out)


# --- ruled tables ---------------------------------------------------------------------------


def ruled_page(page: pdfium.PdfPage) -> bool:
    """Whether a pdfium page draws a grid of thin lines (caller holds the pdfium lock).

    A grid is at least :data:`MIN_RULES` horizontal rules of the same extent (a column's cell
    borders, or full-width row rules) crossed by as many vertical rules within that extent. Boxes
    around links, framed code and page frames have fewer rules of one extent.

    Args:
        page: An open pdfium page.

    Returns:
        True for a grid, on a page with at most :data:`MAX_PATHS` path objects.
    """
    rules = _rules(page)
    if rules is None:
        return False
    horizontal, vertical = rules
    extents = Counter((round(left), round(right)) for left, right, _ in horizontal)
    for (left, right), count in extents.items():
        if count < MIN_RULES:
            continue
        crossing = sum(1 for x, _, _ in vertical if left - _THIN <= x <= right + _THIN)
        if crossing >= MIN_RULES:
            return True
    return False


def _rules(page: pdfium.PdfPage) -> tuple[list[_Rule], list[_Rule]] | None:
    """Horizontal ``(left, right, y)`` and vertical ``(x, bottom, top)`` thin lines; None for a
    page with more than :data:`MAX_PATHS` paths (a chart)."""
    raw = page.raw
    coords = [ctypes.c_float() for _ in range(4)]
    horizontal: list[_Rule] = []
    vertical: list[_Rule] = []
    paths = 0
    for i in range(pdfium_c.FPDFPage_CountObjects(raw)):
        obj = pdfium_c.FPDFPage_GetObject(raw, i)
        if pdfium_c.FPDFPageObj_GetType(obj) != pdfium_c.FPDF_PAGEOBJ_PATH:
            continue
        paths += 1
        if paths > MAX_PATHS:
            return None
        if not pdfium_c.FPDFPageObj_GetBounds(obj, *coords):
            continue
        left, bottom, right, top = (c.value for c in coords)
        if top - bottom <= _THIN and right - left >= _LONG:
            horizontal.append((left, right, bottom))
        elif right - left <= _THIN and top - bottom >= _LONG:
            vertical.append((left, bottom, top))
    return horizontal, vertical


def tables_id() -> str:
    """``tables-1+pdfplumber-0.11``: the table reader and the pdfplumber it runs."""
    major_minor = ".".join(version("pdfplumber").split(".")[:2])
    return f"tables-{TABLES_VERSION}+pdfplumber-{major_minor}"


def pdfplumber_texts(
    path: Path, data: bytes, indices: Sequence[int], password: str | None
) -> dict[int, str]:
    """Page texts with their grid tables as Markdown, for the pages that have such tables.

    Args:
        path: The file, for error messages.
        data: The PDF's bytes.
        indices: 0-based pages to look at (those :func:`ruled_page` flagged).
        password: The password that opened the file, if any.

    Returns:
        0-based page index -> the page's text, with each grid table as Markdown rows in place of
        its cells' text. Pages without a grid table are absent (keep their pdfium text).
    """
    import pdfplumber

    found: dict[int, str] = {}
    try:
        with pdfplumber.open(io.BytesIO(data), password=password or "") as pdf:
            for index in indices:
                page = pdf.pages[index]
                grids = [t for t in page.find_tables() if _is_grid(t.extract())]
                if grids:
                    found[index] = _compose(page, grids)
    except Exception as exc:  # pdfminer raises many types on odd files; pdfium text remains
        log.info("%s: pdfplumber failed (%s: %s), tables kept as text", path, type(exc), exc)
        return {}
    return found


def _is_grid(rows: Sequence[Sequence[str | None]]) -> bool:
    """A real table: 2+ rows and columns, half its cells filled, short cells.

    pdfplumber also returns boxes of a diagram or a whole column of numbers as one cell; those
    have many empty (merged) cells or cells of many lines, and their text reads better as text.
    """
    cells = [c for row in rows for c in row]
    if len(rows) < 2 or max(len(r) for r in rows) < 2:
        return False
    filled = [c for c in cells if c and c.strip()]
    if len(filled) < 0.5 * len(cells):
        return False
    lines = sum(c.count("\n") + 1 for c in filled)
    return lines <= 4 * len(filled)


def _compose(page: Any, tables: Sequence[Any]) -> str:
    """The page's text band by band: the text down to each table's bottom, then the table.

    Characters are placed by their middle, so none is lost or read twice; text beside a table
    comes just before it.
    """
    boxes = [t.bbox for t in tables]
    top = page.bbox[1]
    parts = []
    for table in sorted(tables, key=lambda t: t.bbox[3]):
        parts.append(_band_text(page, top, table.bbox[3], boxes))
        parts.append(markdown_table(table.extract()))
        top = table.bbox[3]
    parts.append(_band_text(page, top, page.bbox[3] + 1, boxes))
    return "\n".join(p for p in parts if p.strip())


def _band_text(page: Any, top: float, bottom: float, boxes: Sequence[tuple[float, ...]]) -> str:
    def keep(obj: dict[str, Any]) -> bool:
        if obj.get("object_type") != "char":
            return True
        x, y = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
        inside = any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)
        return top <= y < bottom and not inside

    return str(page.filter(keep).extract_text())
