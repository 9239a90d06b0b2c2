"""Convert the shared question sets (``../shared/corpora/eval/``) to docqa's question format.

- Debian FAQ (``debian_faq_en.jsonl``, ``debian_faq_fr.jsonl``): ``question`` and gold
  ``answer``; retrieval is then judged by answer containment (their ``doc`` names an HTML
  chapter, not a PDF page, so it cannot serve as ``sources``).
- Python FAQ (``python_faq.jsonl``): ``sources`` are its ``linked_pages`` (paths inside the
  Python 3.11 HTML docs, matched as path suffixes) when it has any, plus the gold ``answer``.
  With ``--unanswerable`` the rows become unanswerable questions (``"answerable": false``),
  for asking them of a store that holds no Python documentation (e.g. the Debian FAQ).

Every row keeps ``id``, ``split`` and ``use``, and gets ``lang`` (``en``/``fr`` from the file
name, ``--lang`` to force one).

Run: ``.venv/bin/python benchmarks/convert_questions.py ../shared/corpora/eval/debian_faq_fr.jsonl
-o fr.jsonl``, then ``python -m docqa eval fr.jsonl --split test``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def file_language(path: Path) -> str:
    """``fr`` for ``*_fr.jsonl``, ``en`` otherwise (the Python FAQ is English)."""
    match = re.search(r"_([a-z]{2})\.jsonl$", path.name)
    return match.group(1) if match else "en"


def convert_row(row: dict[str, Any], *, lang: str, unanswerable: bool = False) -> dict[str, Any]:
    """One source row as a docqa question row.

    Args:
        row: A row of a shared question set.
        lang: The ISO code of its language.
        unanswerable: Mark it ``"answerable": false`` (no gold answer or sources kept).
    """
    out: dict[str, Any] = {"id": row["id"], "question": row["question"], "lang": lang}
    if unanswerable:
        out["answerable"] = False
    else:
        if row.get("linked_pages"):
            out["sources"] = list(row["linked_pages"])
        if row.get("answer"):
            out["answer"] = row["answer"]
    out["split"] = row.get("split")
    out["use"] = bool(row.get("use", True))
    return out


def convert(
    path: Path, *, lang: str | None = None, unanswerable: bool = False
) -> list[dict[str, Any]]:
    """Every row of a shared question file, converted (``use: false`` rows kept, as such)."""
    language = lang or file_language(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        convert_row(json.loads(line), lang=language, unanswerable=unanswerable)
        for line in lines
        if line.strip()
    ]


def write_jsonl(rows: Iterable[dict[str, Any]], out: Path | None) -> None:
    """Rows as JSON Lines to ``out``, or to stdout."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")


def main() -> None:
    """Command line: convert one file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="a file of ../shared/corpora/eval/")
    parser.add_argument("-o", "--out", type=Path, help="output file (default: stdout)")
    parser.add_argument("--lang", help="language of the questions (default: from the name)")
    parser.add_argument(
        "--unanswerable", action="store_true", help='mark every row "answerable": false'
    )
    args = parser.parse_args()
    write_jsonl(convert(args.source, lang=args.lang, unanswerable=args.unanswerable), args.out)


if __name__ == "__main__":
    main()
