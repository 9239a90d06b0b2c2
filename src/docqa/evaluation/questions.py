"""Question files: JSON Lines of questions with their gold answer and sources, read and checked
(the format is in :mod:`docqa.evaluation`)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docqa.errors import QuestionFileError
from docqa.language import detect_language


@dataclass(frozen=True)
class Source:
    """A file that holds the answer, and optionally its 1-based pages (empty: the whole file)."""

    file: str
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Question:
    """One row of a question file (see the module docstring for the format)."""

    id: str
    question: str
    answer: str | None = None
    sources: tuple[Source, ...] = ()
    answerable: bool = True
    lang: str = "en"
    split: str | None = None


_SOURCES_HELP = 'a list of file names or {"file": NAME, "pages": [N, ...]} objects'


def _source(value: object, where: str) -> Source:
    if isinstance(value, str) and value:
        return Source(value)
    if isinstance(value, dict) and isinstance(value.get("file"), str):
        pages = value.get("pages", [])
        pages = [pages] if isinstance(pages, int) else pages
        if isinstance(pages, list) and all(type(p) is int and p >= 1 for p in pages):
            return Source(value["file"], tuple(sorted(set(pages))))
    raise QuestionFileError(f'{where}: "sources" must be {_SOURCES_HELP}, not {value!r}')


def _sources(value: object, where: str) -> tuple[Source, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_source(item, where) for item in items)


def _text(row: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise QuestionFileError(f'{where}: "{key}" must be non-empty text')
    return value


def parse_question(
    row: Mapping[str, Any], where: str, languages: Sequence[str] = ("en", "fr")
) -> Question | None:
    """One question-file row as a :class:`Question`; ``None`` for rows with ``"use": false``.

    Args:
        row: The decoded JSON object.
        where: ``file line N``, the start of every error message.
        languages: Candidates for language detection when the row has no ``lang``.

    Raises:
        QuestionFileError: a field has the wrong type.
    """
    if row.get("use", True) is False:
        return None
    question = _text(row, "question", where, required=True) or ""
    answer = _text(row, "answer", where)
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):
        raise QuestionFileError(f'{where}: "answerable" must be true or false')
    lang = row.get("lang") or detect_language(f"{question} {answer or ''}", languages)
    split = row.get("split")
    return Question(
        id=str(row.get("id", where.rsplit(" ", 1)[-1])),
        question=question,
        answer=answer,
        sources=_sources(row.get("sources"), where),
        answerable=answerable,
        lang=str(lang),
        split=None if split is None else str(split),
    )


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` per non-empty line of a JSONL file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(
            f"cannot read question file {path} ({exc}): give a UTF-8 JSONL file, "
            'one {"question": ...} object per line'
        ) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{where}: not JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(row, dict):
            raise QuestionFileError(f'{where}: not a JSON object (write {{"question": ...}})')
        yield where, row


def load_questions(
    path: str | Path, languages: Sequence[str] = ("en", "fr"), split: str | None = None
) -> list[Question]:
    """Read a question file, skipping ``"use": false`` rows and rows of another ``split``.

    Args:
        path: The JSONL file.
        languages: Candidates for language detection.
        split: Keep only rows whose ``split`` is this (``None``: all rows).

    Raises:
        QuestionFileError: the file is missing, a line is malformed, or no question is left.
    """
    path = Path(path)
    questions = [q for where, row in _rows(path) if (q := parse_question(row, where, languages))]
    if split is not None:
        questions = [q for q in questions if q.split == split]
    if not questions:
        which = f' with "split": "{split}"' if split is not None else ""
        raise QuestionFileError(
            f'{path.name}: no question to evaluate{which} (or all "use": false)'
        )
    return questions
