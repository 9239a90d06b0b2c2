"""Turn a file's bytes into located text: PDF pages, Markdown sections, whole text files.

Every failure is a :class:`~docqa.errors.SourceError` whose reason says what happened and what
to do; pdf parser exceptions never leave this module.

PDFs are read page by page with pypdfium2 (fast, keeps words apart); ``pdf_parser="pypdf"``
selects pypdf, which is also the fallback for files pdfium refuses. Text and Markdown keep every
character of the file except that ``\\r\\n`` and ``\\r`` become ``\\n``, so chunk offsets map back
to true line numbers.
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

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from docqa.config import Settings
from docqa.errors import SourceError
from docqa.language import detect_language
from docqa.sources import os_error_reason
from docqa.types import ParsedDoc, Section

log = logging.getLogger(__name__)

PARSER_VERSIONS: dict[str, int] = {"pypdfium2": 1, "pypdf": 1, "markdown": 1, "text": 1}
"""Bump an entry when that parser's output changes, so ingest re-parses the files it read."""

KINDS: dict[str, str] = {".pdf": "pdf", ".txt": "text", ".md": "markdown", ".markdown": "markdown"}
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
        settings: Chooses the PDF parser.

    Returns:
        For example ``"pypdfium2-5/1"``, ``"pypdf-7/1"``, ``"markdown/1"`` or ``"text/1"``.

    Raises:
        SourceError: The extension is not supported.
    """
    kind = _kind(path)
    if kind == "pdf":
        return _pdf_parser_id(settings.pdf_parser)
    return f"{kind}/{PARSER_VERSIONS[kind]}"


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
        settings: Uses ``pdf_parser``, ``pdf_password``, ``ocr`` and ``languages``.

    Returns:
        Sections (PDF pages with their true page numbers, Markdown sections with heading paths
        and line ranges, or one section for a text file), the parser id, language and warnings.

    Raises:
        SourceError: Unsupported type, empty, binary, encrypted, unreadable or image-only file.
    """
    kind = _kind(path)
    if not data.strip():
        raise SourceError(path, "empty file: add content to it or remove it")
    if kind == "pdf":
        return _parse_pdf(path, data, settings)
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
        language=detect_language(text, settings.languages),
        warnings=warnings,
    )


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
    return f"{name}-{major}/{PARSER_VERSIONS[name]}"


def _parse_pdf(path: Path, data: bytes, settings: Settings) -> ParsedDoc:
    warnings: list[str] = []
    try:
        if settings.pdf_parser == "pypdf":
            pages, parser = _pypdf_pages(path, data, settings), _pdf_parser_id("pypdf")
        else:
            pages, parser = _pdfium_or_pypdf(path, data, settings, warnings)
    except _Unreadable as exc:
        raise SourceError(path, f"not a readable PDF ({exc}): re-export or repair it") from exc
    if not pages:
        raise SourceError(path, "PDF has no pages: re-export it or remove it")
    texts = [_clean_pdf_text(text) for text in pages]
    if all(len(_WORD_CHAR.findall(text)) < MIN_PAGE_WORD_CHARS for text in texts):
        raise SourceError(path, _no_text_reason(settings))
    sections = tuple(Section(text=t, page=n) for n, t in enumerate(texts, 1) if t.strip())
    return ParsedDoc(
        sections=sections,
        parser=parser,
        language=detect_language("\n".join(texts), settings.languages),
        warnings=tuple(warnings),
    )


def _pdfium_or_pypdf(
    path: Path, data: bytes, settings: Settings, warnings: list[str]
) -> tuple[list[str], str]:
    """Pages read by pdfium, or by pypdf (with a warning) when pdfium refuses the file."""
    try:
        return _pdfium_pages(path, data, settings), _pdf_parser_id("pypdfium2")
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
    return pages, _pdf_parser_id("pypdf")


def _passwords(settings: Settings) -> list[str | None]:
    """No password first (opens files with only an owner password), then the configured one."""
    given = settings.pdf_password.get_secret_value() if settings.pdf_password else None
    return [None] if given is None else [None, given]


def _locked_reason(settings: Settings) -> str:
    if settings.pdf_password is None:
        return "encrypted PDF: set DOCQA_PDF_PASSWORD (or --password) to open it"
    return "encrypted PDF, the password given does not open it: check DOCQA_PDF_PASSWORD"


def _no_text_reason(settings: Settings) -> str:
    reason = "no text layer (scanned images?): run with --ocr auto (DOCQA_OCR=auto) to OCR it"
    return reason if settings.ocr == "never" else f"{reason} (OCR is not available in this version)"


def _clean_pdf_text(text: str) -> str:
    """``\\n`` newlines, no NULs or hyphen markers, other control characters as spaces."""
    text = _normalise_newlines(text).translate(_PDF_DROP)
    return _PDF_CONTROL.sub(" ", text).strip()


def _pdfium_pages(path: Path, data: bytes, settings: Settings) -> list[str]:
    with _PDFIUM_LOCK:
        document = _pdfium_open(path, data, settings)
        try:
            return [_pdfium_page_text(document, i) for i in range(len(document))]
        except pdfium.PdfiumError as exc:
            raise _Unreadable(_pdfium_detail(exc)) from exc
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


def _pdfium_page_text(document: pdfium.PdfDocument, index: int) -> str:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def _pdfium_detail(exc: Exception) -> str:
    """``"Data format error"`` out of ``"Failed to load document (PDFium: Data format error)."``."""
    match = re.search(r"PDFium: ([^)]*)", str(exc))
    return match.group(1) if match else str(exc)


def _pypdf_pages(path: Path, data: bytes, settings: Settings) -> list[str]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _pypdf_unlock(path, reader, settings)
        return [page.extract_text() or "" for page in reader.pages]
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
