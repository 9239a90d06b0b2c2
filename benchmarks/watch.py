"""A watched folder of small files: time from the last write to searchable (issue #22, part 4).

    python benchmarks/watch.py [--files 1000] [--change 10] [--rounds 20] [--poll] [--hash]

N small text files (``--words`` words each from the English Debian FAQ, each with its number, so
no two share bytes) in a temp folder, ingested by the watcher's initial sync; the watcher then
runs on a thread of the session that searches, as under ``docqa serve --watch``. Each round
rewrites ``--change`` files one after the other, each with a word of its own for the round, and
measures from the end of the last write until ``docqa.search`` (BM25: the query alone, no model
call) finds all of them, polling every 20 ms; between rounds it waits for the watcher to be idle.
Printed: p50 and p95 over the rounds, the parts (last write -> sync begins, the sync itself),
the syncs per round (1 when the batch is caught whole), the machine's AVX-512/AMX flags and load.
``--probe sync`` instead times the end of the sync the watcher reports (then checks with one
search): the search polling of the default probe competes with the sync for the embedded store.

``--hash`` swaps the real embedder for the tests' HashEmbedder (the watcher's own cost);
``--poll`` watches by polling (the fallback) instead of OS events.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from docqa import parsing  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.session import Session  # noqa: E402
from docqa.watching import Sync, Watcher  # noqa: E402

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "curated"
SOURCE_PDF = SOURCE / "en_faq_debian-faq.en.pdf"


def vocabulary(settings: Settings) -> list[str]:
    if not SOURCE_PDF.exists():
        return [f"word{i}" for i in range(5000)]
    parsed = parsing.parse(SOURCE_PDF, SOURCE_PDF.read_bytes(), settings)
    return " ".join(s.text for s in parsed.sections).split()


def text(vocab: list[str], i: int, words: int, tag: str = "") -> str:
    start = (i * words) % max(1, len(vocab) - words)
    return f"Note {i}. {tag}\n" + " ".join(vocab[start : start + words]) + "\n"


def machine() -> str:
    flags = subprocess.run(
        "grep -o -E 'avx512[a-z_0-9]*|amx[a-z_]*' /proc/cpuinfo | sort -u",
        shell=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"cpus {os.cpu_count()}, load {load}, flags: {' '.join(flags) or 'no avx512/amx'}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Recorder:
    """The watcher's syncs, read from the benchmark's thread."""

    def __init__(self) -> None:
        self.syncs: list[Sync] = []
        self.ended: list[float] = []  # perf_counter when each sync was reported
        self.lock = threading.Lock()

    def __call__(self, sync: Sync) -> None:
        with self.lock:
            self.syncs.append(sync)
            self.ended.append(time.perf_counter())

    def since(self, n: int) -> list[Sync]:
        with self.lock:
            return self.syncs[n:]


@dataclass
class Figures:
    latency: list[float] = field(default_factory=list)  # last write -> searchable
    detect: list[float] = field(default_factory=list)  # last write -> the sync begins
    sync_s: list[float] = field(default_factory=list)  # the syncs themselves
    syncs: list[int] = field(default_factory=list)  # syncs that changed something, per round


def one_round(
    r: int, args: argparse.Namespace, ctx: tuple[Path, list[str], Session, Watcher, Recorder]
) -> tuple[float, float | None, float, int]:
    """Rewrite ``--change`` files, then poll search until all are found; the round's figures."""
    folder, vocab, session, watcher, recorder = ctx
    picked = [(r * 97 + j * 101) % args.files for j in range(args.change)]
    tags = {i: f"zq{r}x{i}" for i in picked}
    before = len(recorder.since(0))
    for i in picked:
        (folder / f"note{i:05d}.txt").write_text(
            text(vocab, i, args.words, tags[i]), encoding="utf-8"
        )
    last_write, wall_write = time.perf_counter(), time.time()
    wanted = {f"note{i:05d}.txt" for i in picked}
    query = " ".join(tags.values())

    def searchable() -> bool:
        hits = session.search(query, k=args.change, mode="bm25")
        return wanted <= {Path(h.file).name for h in hits}

    while args.probe == "search":  # search every 20 ms until all are found
        if searchable():
            break
        if time.perf_counter() > last_write + 120:
            raise SystemExit(f"round {r}: not searchable after 120 s")
        time.sleep(0.02)
    latency = time.perf_counter() - last_write
    while not recorder.since(before) or watcher.state().syncing or watcher.state().pending:
        time.sleep(0.005)
    if args.probe == "sync":  # when the watcher reported the sync; then one search to check
        latency = recorder.ended[-1] - last_write
        if not searchable():
            raise SystemExit(f"round {r}: synced but not searchable")
    mine = [s for s in recorder.since(before) if s.report is not None and s.changed]
    detect = mine[0].started - wall_write if mine else None
    return latency, detect, sum(s.seconds for s in mine), len(mine)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--change", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--words", type=int, default=60)
    ap.add_argument("--poll", action="store_true", help="poll instead of OS file events")
    ap.add_argument("--hash", action="store_true", help="the tests' HashEmbedder (no model)")
    ap.add_argument(
        "--probe",
        choices=["search", "sync"],
        default="search",
        help="search: poll docqa search every 20 ms; sync: until the sync is reported, then "
        "one search checks it (no reader competing with the watcher for the store)",
    )
    args = ap.parse_args()
    print(machine())
    work = Path(tempfile.mkdtemp(prefix="docqa-watch-"))
    folder = work / "files"
    folder.mkdir()
    settings = Settings(store=work / "store")
    vocab = vocabulary(settings)
    for i in range(args.files):
        (folder / f"note{i:05d}.txt").write_text(text(vocab, i, args.words), encoding="utf-8")
    embedder = None
    if args.hash:
        from tests.fakes import HashEmbedder

        embedder = HashEmbedder()
    recorder = Recorder()
    start = time.perf_counter()
    session = Session(settings, embedder=embedder)  # one session, as `docqa serve --watch` has
    watcher = session.watch([folder], on_sync=recorder, polling=args.poll or None).start()
    print(
        f"{args.files} files of ~{args.words} words watched ({'polling' if args.poll else 'events'}"
        f", {'HashEmbedder' if args.hash else 'default embedder'}, probe {args.probe}); initial "
        "sync "
        f"{time.perf_counter() - start:.1f} s ({recorder.since(0)[0].summary()})"
    )
    got = Figures()
    try:
        for r in range(args.rounds):
            latency, detect, sync_s, syncs = one_round(
                r, args, (folder, vocab, session, watcher, recorder)
            )
            got.latency.append(latency)
            got.sync_s.append(sync_s)
            got.syncs.append(syncs)
            if detect is not None:
                got.detect.append(detect)
            print(
                f"round {r + 1}: searchable {latency * 1000:.0f} ms after the last write "
                f"({syncs} sync(s))",
                flush=True,
            )
    finally:
        watcher.stop()
        session.close()
        shutil.rmtree(work, ignore_errors=True)
    ms = [x * 1000 for x in got.latency]
    print(
        f"last write -> searchable over {len(ms)} rounds of {args.change} files: "
        f"p50 {pct(ms, 0.5):.0f} ms, p95 {pct(ms, 0.95):.0f} ms, max {max(ms):.0f} ms"
    )
    print(
        f"  last write -> sync begins p50 {statistics.median(got.detect) * 1000:.0f} ms; "
        f"the sync itself p50 {statistics.median(got.sync_s) * 1000:.0f} ms; "
        f"syncs per round {statistics.mean(got.syncs):.2f}"
    )
    print(machine())


if __name__ == "__main__":
    main()
