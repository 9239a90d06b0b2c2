"""Turn a file's bytes into located text: PDF pages, Markdown, HTML and DOCX sections, text files.

Every failure is a :class:`~docqa.errors.SourceError` whose reason says what happened and what
to do; parser exceptions never leave this module.

PDFs are read page by page with pypdfium2 (fast, keeps words apart); ``pdf_parser="pypdf"``
selects pypdf, which is also the fallback for files pdfium refuses. Pages that look like tables
keep their rows whole as Markdown rows (:mod:`docqa.formats.tables`); with ``ocr`` on, pages
without a text layer (or all pages) are rendered and read by Tesseract (:mod:`docqa.formats.ocr`).
Text and Markdown keep every character of the file except that ``\\r\\n`` and ``\\r`` become
``\\n``, so chunk offsets map back to true line numbers. HTML (:mod:`docqa.formats.html`) and DOCX
(:mod:`docqa.formats.docx`) give sections located by heading path, without line numbers.
"""

from __future__ import annotations

import codecs
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
from docqa.formats import ocr, pdf_outline, tables
from docqa.formats.docx import DOCX_VERSION, docx_sections
from docqa.formats.html import HTML_VERSION, decode_html, html_sections
from docqa.language import detect_language
from docqa.sources import os_error_reason
from docqa.types import ParsedDoc, Section

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

PARSER_VERSIONS: dict[str, int] = {
    "pypdfium2": 3,  # 2: table pages as Markdown rows; 3: headings from the PDF outline
    "pypdf": 1,
    "markdown": 1,
    "text": 1,
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

MIN_PAGE_WORD_CHARS = 8
"""A page with fewer letters/digits than this counts as having no text layer."""

_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe; parsing may run in worker threads
_SNIFF = 8192
_CONTROL_BYTES = frozenset(set(range(32)) - {9, 10, 12, 13}) | {127}
# pdfium marks a hyphen it removed while joining a word broken across lines with U+FFFE.
_PDF_DROP = str.maketrans({"\x00": None, "\ufffe": None, "\x0c": "\n"})
_PDF_CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")
_WORD_CHAR = re.compile(r"\w")

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines that start some other block, so they cannot be a setext heading's text.
_NOT_PARAGRAPH = re.compile(
    r"^(?: {4}|\t| {0,3}(?:[-*+][ \t]|\d{1,9}[.)][ \t]|[>|<]|(?:[-*_][ \t]*){3,}$))"
)


class _Unreadable(Exception):
    """A PDF parser could not read the file; the message is the parser's short detail."""


def parser_id(path: Path, settings: Settings) -> str:
    """The parser that :func:`parse` uses for a file, with its version, for ingest fingerprints.

    Args:
        path: The file; only its extension matters.
        settings: Chooses the PDF parser; with ``ocr`` on, PDF ids name Tesseract and the OCR
            languages too.

    Returns:
        For example ``"pypdfium2-5/2+tables-1+pdfplumber-0.11"``, ``"pypdf-7/1"``,
        ``"pypdfium2-5/2+tables-1+pdfplumber-0.11+tesseract-5/1[eng+fra]"``, ``"html/1"``,
        ``"docx/1"``, ``"markdown/1"`` or ``"text/1"``.

    Raises:
        SourceError: The extension is not supported.
    """
    kind = _kind(path)
    if kind != "pdf":
        return f"{kind}/{PARSER_VERSIONS[kind]}"
    parser = _pdf_parser_id(settings.pdf_parser)
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
        return _parse_pdf(path, data, settings)
    if kind in ("html", "docx"):
        sections, warnings = _parse_markup(kind, path, data, settings.max_file_mb)
    else:
        text, warnings = _decode_text(path, data)
        if not text.strip():
            raise SourceError(path, "empty file: add content to it or remove it")
        if kind == "markdown":
            sections = markdown_sections(text)
        else:
            sections = (Section(text=text, first_line=1, last_line=len(_split_lines(text))),)
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


# --- text ------------------------------------------------------------------------------------


def _decode_text(path: Path, data: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode text bytes; non-UTF-8 files are read as cp1252 or latin-1, with a warning."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # UTF-16 is full of NUL bytes, so it must be recognised before the binary check.
        return _normalise_newlines(data.decode("utf-16", errors="replace")), ()
    if _looks_binary(data):
        raise SourceError(path, "binary data, not text: rename it or remove it")
    try:
        return _normalise_newlines(data.decode("utf-8-sig")), ()
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        note = f"not UTF-8, decoded as {encoding}: re-save it as UTF-8 if accents look wrong"
        return _normalise_newlines(text), (note,)
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _looks_binary(data: bytes) -> bool:
    """NUL bytes anywhere, or more than 10% control bytes in the first 8 KiB."""
    if b"\x00" in data:
        return True
    head = data[:_SNIFF]
    controls = sum(1 for byte in head if byte in _CONTROL_BYTES)
    return controls > 0.10 * len(head)


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n``; unlike ``str.splitlines`` only ``\\n`` ends a line."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


# --- Markdown --------------------------------------------------------------------------------


def markdown_sections(text: str) -> tuple[Section, ...]:
    """Split Markdown into sections at ATX (``#``) and setext (``===``/``---``) headings.

    Args:
        text: Markdown with ``\\n`` newlines.

    Returns:
        Sections in order whose texts concatenate back to ``text``. Each holds its heading line,
        its heading path (outermost first) and its 1-based inclusive line range; text before
        the first heading is a section with an empty heading path.
    """
    lines = _split_lines(text)
    headings = _headings(lines)
    sections: list[Section] = []
    first = headings[0][0] if headings else len(lines)
    if first > 0:
        sections.append(Section(text="".join(lines[:first]), first_line=1, last_line=first))
    stack: list[tuple[int, str]] = []
    for k, (start, level, title) in enumerate(headings):
        end = headings[k + 1][0] if k + 1 < len(headings) else len(lines)
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = tuple(t for _, t in stack if t)
        body = "".join(lines[start:end])
        sections.append(Section(text=body, heading=path, first_line=start + 1, last_line=end))
    return tuple(sections)


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """``(first line index, level, title)`` of each heading outside code blocks."""
    found: list[tuple[int, int, str]] = []
    fence: str | None = None
    paragraph = 0  # paragraph lines in a row just before this line
    for i in range(_front_matter_end(lines), len(lines)):
        line = lines[i].rstrip("\n")
        fence, in_code = _fence_state(line, fence)
        atx = None if in_code else _ATX.match(line)
        setext = None if in_code or paragraph != 1 else _SETEXT.match(line)
        if atx:
            found.append((i, len(atx.group(1)), (atx.group(2) or "").strip()))
        elif setext:
            found.append((i - 1, 1 if setext.group(1)[0] == "=" else 2, lines[i - 1].strip()))
        is_text = not (in_code or atx or setext) and line.strip() != ""
        paragraph = paragraph + 1 if is_text and not _NOT_PARAGRAPH.match(line) else 0
    return found


def _fence_state(line: str, fence: str | None) -> tuple[str | None, bool]:
    """The open fence after ``line`` and whether ``line`` belongs to a code block."""
    if fence is None:
        match = _FENCE.match(line)
        if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
            return None, False
        return match.group(1), True
    closing = _FENCE.match(line)
    if (
        closing
        and closing.group(1)[0] == fence[0]
        and len(closing.group(1)) >= len(fence)
        and not closing.group(2).strip()
    ):
        return None, True
    return fence, True


def _front_matter_end(lines: list[str]) -> int:
    """Index after a leading YAML front-matter block, so its keys are not read as headings."""
    if not lines or lines[0].rstrip() != "---":
        return 0
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return i + 1
    return 0


# --- PDF -------------------------------------------------------------------------------------


@cache
def _pdf_parser_id(name: str) -> str:
    major = version(name).split(".")[0]
    parser = f"{name}-{major}/{PARSER_VERSIONS[name]}"
    return f"{parser}+{tables.tables_id()}" if name == "pypdfium2" else parser


def _parse_pdf(path: Path, data: bytes, settings: Settings) -> ParsedDoc:
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
    texts = [_clean_pdf_text(text) for text, _ in pages]
    read = _with_ocr(path, data, texts, settings, warnings)
    captions: dict[int, str] = {}
    if parser == "pypdfium2":  # the ruled-lines check needs pdfium's page objects
        ruled = [r for _, r in pages]
        captions = _with_tables(path, data, texts, ruled, read, settings)
    if not any(_has_text(text) for text in texts):
        raise SourceError(path, _no_text_reason(settings))
    marks = _pdfium_outline(path, data, settings) if parser == "pypdfium2" else []
    sections = pdf_outline.sections(texts, marks, captions)
    parser_name = _pdf_parser_id(parser)
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
    text = _normalise_newlines(text).translate(_PDF_DROP)
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
