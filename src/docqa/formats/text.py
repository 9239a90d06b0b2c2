"""Text files: decoded (UTF-8, UTF-16 with a BOM, else cp1252 or Latin-1 with a warning), binary
files refused, newlines normalised so chunk offsets map back to true line numbers."""

from __future__ import annotations

import codecs
from pathlib import Path

from docqa.errors import SourceError

TEXT_VERSION = 1
"""Bump when the text reader's output changes, so ingest re-reads text files."""

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
