"""Text files: decoded (UTF-8, UTF-16 with a BOM, else cp1252 or Latin-1 with a warning), binary
files refused, newlines normalised so chunk offsets map back to true line numbers. A file that opens
with a date line (``Time: 20260405_15:00``, ``Date: Tue, 8 Dec 2026``, ``2026-04-05 standup``) has
that line carried as the heading of its every chunk (:func:`date_line`)."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from docqa.errors import SourceError

TEXT_VERSION = 2
"""Bump when the text reader's output changes, so ingest re-reads text files.
2: a file's date line is the heading of its section."""

_SNIFF = 8192
_CONTROL_BYTES = frozenset(set(range(32)) - {9, 10, 12, 13}) | {127}


def decode_text(path: Path, data: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode text bytes; non-UTF-8 files are read as cp1252 or latin-1, with a warning."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # UTF-16 is full of NUL bytes, so it must be recognised before the binary check.
        return normalise_newlines(data.decode("utf-16", errors="replace")), ()
    if _looks_binary(data):
        raise SourceError(path, "binary data, not text: rename it or remove it")
    try:
        return normalise_newlines(data.decode("utf-8-sig")), ()
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        note = f"not UTF-8, decoded as {encoding}: re-save it as UTF-8 if accents look wrong"
        return normalise_newlines(text), (note,)
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _looks_binary(data: bytes) -> bool:
    """NUL bytes anywhere, or more than 10% control bytes in the first 8 KiB."""
    if b"\x00" in data:
        return True
    head = data[:_SNIFF]
    controls = sum(1 for byte in head if byte in _CONTROL_BYTES)
    return controls > 0.10 * len(head)


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[str]:
    """Lines with their ``\\n``; unlike ``str.splitlines`` only ``\\n`` ends a line."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return lines + [parts[-1]] if parts[-1] else lines


_MONTHS = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|janv|févr|fevr|mars|avr|mai|juin"
    r"|juil|août|aout|déc)[a-zéû]*\.?"
)
_DATE = re.compile(
    r"(?<!\d)(?:(?:19|20)\d\d[-/.]?(?:0[1-9]|1[0-2])[-/.]?(?:0[1-9]|[12]\d|3[01])(?!\d)"
    r"|\d{1,2}[/.]\d{1,2}[/.](?:19|20)?\d\d(?!\d)"
    rf"|\d{{1,2}}(?:st|nd|rd|th|er)? {_MONTHS},? (?:19|20)\d\d"
    rf"|{_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?,? (?:19|20)\d\d)",
    re.IGNORECASE,
)
_KEY = re.compile(r"[^\W\d][\w .-]{0,29}:\s")
DATE_LINE_CHARS = 80
"""Longest line read as a file's date line."""
DATE_LINE_WITHIN = 5
"""A date line is among a file's first this many non-empty lines."""


def date_line(text: str) -> str | None:
    """The line of ``text``'s head that dates the whole file, or None.

    Chat exports (``Time: 20260405_15:00``), mail (``Date: Tue, 8 Dec 2026 10:00``) and notes
    (``2026-04-05 standup``) date a file once, in its first lines; every chunk of the file needs
    that context (a question names the day), so ingest makes it the heading of the file's
    section, which the embedded text, the BM25 text and the prompt's source label carry. The
    line is one of the first :data:`DATE_LINE_WITHIN` non-empty lines, at most
    :data:`DATE_LINE_CHARS` characters, and either a ``Key: value`` line holding a date or a
    line that starts with one; a file of that one line has none (nothing to carry it to).
    """
    lines = [line.strip() for line in text.split("\n", 64)[:64] if line.strip()]
    if len(lines) < 2:
        return None
    for line in lines[:DATE_LINE_WITHIN]:
        if len(line) > DATE_LINE_CHARS:
            continue
        found = _DATE.search(line)
        if found and (found.start() == 0 or _KEY.match(line)):
            return line
    return None
