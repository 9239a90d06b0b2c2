"""PDF pages as located text, read with pypdfium2 (fast, keeps words apart) or pypdf (also the
fallback for files pdfium refuses). Pages that look like tables keep their rows whole as Markdown
rows (:mod:`docqa.formats.tables`); with ``ocr`` on, pages without a text layer (or all pages)
are rendered and read by Tesseract (:mod:`docqa.formats.ocr`)."""

from __future__ import annotations

import io
import logging
import re
import threading
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from docqa.config import Settings
from docqa.errors import SourceError
from docqa.formats import ocr, pdf_furniture, pdf_outline, tables
from docqa.formats.text import normalise_newlines
from docqa.language import detect_language
from docqa.types import ParsedDoc

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)


PDF_VERSIONS: dict[str, int] = {
    # pypdfium2 2: table pages as Markdown rows; 3: headings from the PDF outline; 4 (and pypdf 2):
    # running headers, footers and page numbers left out (docqa.formats.pdf_furniture)
    "pypdfium2": 4,
    "pypdf": 2,
}
"""Bump an entry when that parser's output changes, so ingest re-parses the files it read."""

MIN_PAGE_WORD_CHARS = 8
"""A page with fewer letters/digits than this counts as having no text layer."""

_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe; parsing may run in worker threads
# pdfium marks a hyphen it removed while joining a word broken across lines with U+FFFE.
_PDF_DROP = str.maketrans({"\x00": None, "\ufffe": None, "\x0c": "\n"})
_PDF_CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")
_WORD_CHAR = re.compile(r"\w")


class _Unreadable(Exception):
    """A PDF parser could not read the file; the message is the parser's short detail."""


@cache
def pdf_parser_id(name: str) -> str:
    major = version(name).split(".")[0]
    parser = f"{name}-{major}/{PDF_VERSIONS[name]}"
    return f"{parser}+{tables.tables_id()}" if name == "pypdfium2" else parser


def parse_pdf(path: Path, data: bytes, settings: Settings) -> ParsedDoc:
    warnings: list[str] = []
    try:
        if settings.pdf_parser == "pypdf":
            pages, parser = _pypdf_pages(path, data, settings), "pypdf"
        else:
            pages, parser = _pdfium_or_pypdf(path, data, settings, warnings)
    except _Unreadable as exc:
        raise SourceError(path, f"not a readable PDF ({exc}): re-export or repair it") from exc
    if not pages:
        raise SourceError(path, "PDF has no pages: re-export it or remove it")
    texts = pdf_furniture.strip([_clean_pdf_text(text) for text, _ in pages])
    read = _with_ocr(path, data, texts, settings, warnings)
    captions: dict[int, str] = {}
    if parser == "pypdfium2":  # the ruled-lines check needs pdfium's page objects
        ruled = [r for _, r in pages]
        captions = _with_tables(path, data, texts, ruled, read, settings)
    if not any(_has_text(text) for text in texts):
        raise SourceError(path, _no_text_reason(settings))
    marks = _pdfium_outline(path, data, settings) if parser == "pypdfium2" else []
    sections = pdf_outline.sections(texts, marks, captions)
    parser_name = pdf_parser_id(parser)
    return ParsedDoc(
        sections=sections,
        parser=f"{parser_name}+{ocr.ocr_id(settings.ocr_languages)}" if read else parser_name,
        language=detect_language("\n".join(texts), settings.languages),
        warnings=tuple(warnings),
    )


def _has_text(text: str) -> bool:
    return len(_WORD_CHAR.findall(text)) >= MIN_PAGE_WORD_CHARS


def _pdfium_or_pypdf(
    path: Path, data: bytes, settings: Settings, warnings: list[str]
) -> tuple[list[tuple[str, bool]], str]:
    """Pages read by pdfium, or by pypdf (with a warning) when pdfium refuses the file."""
    try:
        return _pdfium_pages(path, data, settings), "pypdfium2"
    except _Unreadable as exc:
        first = str(exc)
    log.info("%s: pypdfium2 failed (%s), trying pypdf", path, first)
    try:
        pages = _pypdf_pages(path, data, settings)
    except _Unreadable as exc:
        raise _Unreadable(f"pypdfium2: {first}; pypdf: {exc}") from exc
    warnings.append(
        f"pypdfium2 could not read it ({first}); read with pypdf, words may run together"
    )
    return pages, "pypdf"


def _with_tables(
    path: Path,
    data: bytes,
    texts: list[str],
    ruled: list[bool],
    skip: set[int],
    settings: Settings,
) -> dict[int, str]:
    """Rewrite table pages in ``texts`` as Markdown rows (pages in ``skip`` were OCRed).

    Numeric-row pages need only their pdfium text; ruled pages go to pdfplumber, which keeps
    the pdfium text when it finds no grid (see :mod:`docqa.formats.tables`).

    Returns:
        The table captions of each rewritten page (by 0-based index), used as its heading.
    """
    to_plumb, rewritten = [], []
    for i, text in enumerate(texts):
        if i in skip or not _has_text(text):
            continue
        if tables.numeric_page(text):
            texts[i] = tables.numeric_rows(text)
            rewritten.append(i)
        elif ruled[i]:
            to_plumb.append(i)
    if to_plumb:
        given = settings.pdf_password.get_secret_value() if settings.pdf_password else None
        for i, text in tables.pdfplumber_texts(path, data, to_plumb, given).items():
            texts[i] = _clean_pdf_text(text)
            rewritten.append(i)
    return {i: tables.captions(texts[i]) for i in rewritten}


def _with_ocr(
    path: Path, data: bytes, texts: list[str], settings: Settings, warnings: list[str]
) -> set[int]:
    """OCR the pages ``settings.ocr`` asks for, in place in ``texts``; the pages read.

    ``auto`` reads pages without a text layer, ``always`` every page. A PDF that pdfium cannot
    open (read by pypdf) cannot be rendered: its pages keep their text, with a warning.
    """
    if settings.ocr == "never":
        return set()
    todo = [i for i, t in enumerate(texts) if settings.ocr == "always" or not _has_text(t)]
    if not todo:
        return set()
    ocr.check(path, settings.ocr_languages)
    try:
        found = _ocr_texts(path, data, todo, settings)
    except _Unreadable as exc:
        warnings.append(f"pages not OCRed: pdfium cannot render this PDF ({exc})")
        return set()
    for i, text in found.items():
        texts[i] = text
    return set(found)


def _ocr_texts(path: Path, data: bytes, indices: list[int], settings: Settings) -> dict[int, str]:
    """Render each page with pdfium (under the lock), then OCR it (outside the lock)."""
    with _PDFIUM_LOCK:
        document = _pdfium_open(path, data, settings)
    found = {}
    try:
        for index in indices:
            with _PDFIUM_LOCK:
                image = _render(document, index)
            text = ocr.image_text(path, image, settings.ocr_languages)
            found[index] = _clean_pdf_text(text)
            log.debug("%s: page %d OCRed, %d characters", path, index + 1, len(text))
    finally:
        with _PDFIUM_LOCK:
            document.close()
    return found


def _render(document: pdfium.PdfDocument, index: int) -> Image:
    page = document[index]
    try:
        width, height = page.get_size()
        bitmap = page.render(scale=ocr.render_scale(width, height), grayscale=True)
        # to_pil() shares the bitmap's buffer, which pdfium frees with the bitmap: copy it.
        image: Image = bitmap.to_pil().copy()
        return image
    except pdfium.PdfiumError as exc:
        raise _Unreadable(_pdfium_detail(exc)) from exc
    finally:
        page.close()


def _passwords(settings: Settings) -> list[str | None]:
    """No password first (opens files with only an owner password), then the configured one."""
    given = settings.pdf_password.get_secret_value() if settings.pdf_password else None
    return [None] if given is None else [None, given]


def _locked_reason(settings: Settings) -> str:
    if settings.pdf_password is None:
        return "encrypted PDF: set DOCQA_PDF_PASSWORD (or --password) to open it"
    return "encrypted PDF, the password given does not open it: check DOCQA_PDF_PASSWORD"


def _no_text_reason(settings: Settings) -> str:
    if settings.ocr == "never":
        return "no text layer (scanned images?): run with --ocr auto (DOCQA_OCR=auto) to OCR it"
    return "no text layer and OCR found no text: check the scan (blank, or very poor quality?)"


def _clean_pdf_text(text: str) -> str:
    """``\\n`` newlines, no NULs or hyphen markers, other control characters as spaces."""
    text = normalise_newlines(text).translate(_PDF_DROP)
    return _PDF_CONTROL.sub(" ", text).strip()


def _pdfium_pages(path: Path, data: bytes, settings: Settings) -> list[tuple[str, bool]]:
    """``(text, ruled)`` per page; ``ruled`` is :func:`docqa.formats.tables.ruled_page`."""
    with _PDFIUM_LOCK:
        document = _pdfium_open(path, data, settings)
        try:
            return [_pdfium_page_text(document, i) for i in range(len(document))]
        except pdfium.PdfiumError as exc:
            raise _Unreadable(_pdfium_detail(exc)) from exc
        finally:
            document.close()


def _pdfium_outline(path: Path, data: bytes, settings: Settings) -> list[pdf_outline.Mark]:
    """The PDF's bookmarks (headings with their pages); none when it has no outline."""
    with _PDFIUM_LOCK:
        document = _pdfium_open(path, data, settings)
        try:
            return pdf_outline.read_outline(document)
        finally:
            document.close()


def _pdfium_open(path: Path, data: bytes, settings: Settings) -> pdfium.PdfDocument:
    for password in _passwords(settings):
        try:
            return pdfium.PdfDocument(data, password=password)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) != pdfium_c.FPDF_ERR_PASSWORD:
                raise _Unreadable(_pdfium_detail(exc)) from exc
    raise SourceError(path, _locked_reason(settings))


def _pdfium_page_text(document: pdfium.PdfDocument, index: int) -> tuple[str, bool]:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            text = str(textpage.get_text_range())
        finally:
            textpage.close()
        return text, tables.ruled_page(page)
    finally:
        page.close()


def _pdfium_detail(exc: Exception) -> str:
    """``"Data format error"`` out of ``"Failed to load document (PDFium: Data format error)."``."""
    match = re.search(r"PDFium: ([^)]*)", str(exc))
    return match.group(1) if match else str(exc)


def _pypdf_pages(path: Path, data: bytes, settings: Settings) -> list[tuple[str, bool]]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _pypdf_unlock(path, reader, settings)
        return [(page.extract_text() or "", False) for page in reader.pages]
    except SourceError:
        raise
    except pypdf.errors.DependencyError as exc:
        raise SourceError(
            path, f"encrypted PDF pypdf cannot open ({exc}): use DOCQA_PDF_PARSER=pypdfium2"
        ) from exc
    except Exception as exc:
        # pypdf raises many exception types (PdfReadError, KeyError, ValueError...) on damaged
        # files; all of them mean the same thing here.
        raise _Unreadable(f"{type(exc).__name__}: {exc}") from exc


def _pypdf_unlock(path: Path, reader: pypdf.PdfReader, settings: Settings) -> None:
    for password in _passwords(settings):
        if reader.decrypt(password or ""):
            return
    raise SourceError(path, _locked_reason(settings))
