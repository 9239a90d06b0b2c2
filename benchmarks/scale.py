"""The scale corpus ingested end to end, as a user runs it: pages/s, peak memory, then search.

    ../shared/corpora/fetch.sh DEST                      # once: ~100 s, ~1 GB unpacked
    python benchmarks/scale.py DEST/scale [--every N]    # N > 1: every Nth file of the corpus

``python -m docqa ingest FOLDER --follow-links --json`` runs in a child process (the corpus's
files are symlinks into the unpacked packages, hence ``--follow-links``); its wall time and the
child's peak RSS are measured from outside. Pages: a PDF's page count (pdfium), one per other
file. Then ``docqa.search()`` is called as a script calls it on the store just built: the first
call (loads the embedder, opens the store) and the p50/p95 of the next ones, over questions
of the Python FAQ set (its documentation is in the corpus). Figures are printed; copy them into
benchmarks/README.md with the machine's CPU flags.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pypdfium2 as pdfium

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE.parents[1] / "shared" / "corpora" / "eval" / "python_faq.jsonl"


def sample(corpus: Path, every: int) -> list[Path]:
    """Every ``every``-th file of the corpus in name order (a spread over its packages)."""
    files = sorted(p for p in corpus.iterdir() if p.is_file())
    return files[::every]


def pages(files: list[Path]) -> int:
    total = 0
    for path in files:
        if path.suffix.lower() != ".pdf":
            total += 1
            continue
        try:
            document = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError:
            total += 1  # counted as one, as ingest reports it failed
            continue
        total += len(document)
        document.close()
    return total


def ingest(folder: Path, store: Path) -> tuple[float, float, dict[str, object]]:
    """Wall seconds, peak RSS (MiB) and the JSON report of ``python -m docqa ingest``."""
    env = dict(os.environ, DOCQA_STORE=str(store), HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "docqa", "ingest", str(folder), "--follow-links", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode not in (0, 2):  # 2: some files failed (image-only PDFs), the rest is in
        sys.exit(f"ingest failed ({done.returncode}): {done.stdout[-1000:]}{done.stderr[-1000:]}")
    report: dict[str, object] = json.loads(done.stdout)
    return seconds, peak, report


def search_times(store: Path, questions: list[str]) -> tuple[float, list[float]]:
    import docqa
    from docqa.config import Settings

    settings = Settings(store=store)
    start = time.perf_counter()
    docqa.search(questions[0], settings)
    first = time.perf_counter() - start
    later = []
    for question in questions[1:]:
        start = time.perf_counter()
        docqa.search(question, settings)
        later.append(time.perf_counter() - start)
    return first, later


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", type=Path, help="DEST/scale from fetch.sh")
    parser.add_argument("--every", type=int, default=1, help="ingest every Nth file only")
    parser.add_argument("--queries", type=int, default=41)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="docqa-scale-"))
    folder = work / "corpus"
    folder.mkdir()
    files = sample(args.corpus, args.every)
    for path in files:
        (folder / path.name).symlink_to(path)
    n_pages = pages(files)
    kinds = {s: sum(1 for p in files if p.suffix.lower() == s) for s in (".pdf", ".html", ".md")}
    print(f"files: {len(files)} of {len(list(args.corpus.iterdir()))} ({kinds}), pages: {n_pages}")

    seconds, peak, report = ingest(folder, work / "store")
    print(
        f"ingest: {seconds:.1f} s wall = {n_pages / seconds:.2f} pages/s, peak RSS {peak:.0f} MiB"
    )
    keep = ("added", "failed", "skipped", "chunks", "pages", "seconds")
    print("report:", {k: report.get(k) for k in keep})

    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    questions = [r["question"] for r in rows][: args.queries]
    first, later = search_times(work / "store", questions)
    ms = sorted(t * 1000 for t in later)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(
        f"search: first call {first * 1000:.0f} ms, then p50 {statistics.median(ms):.1f} ms, "
        f"p95 {p95:.1f} ms over {len(ms)} questions"
    )
    print(f"store and links left in {work} (delete it when done)")


if __name__ == "__main__":
    main()
