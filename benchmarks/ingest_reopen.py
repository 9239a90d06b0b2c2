"""What ingest pays for letting readers in: the embedded shard is opened per write, not per run.

    python benchmarks/ingest_reopen.py                       # this tree, data/
    python benchmarks/ingest_reopen.py --before OLD/src      # and an older tree, alternating

1. ``docqa ingest FOLDER`` into a fresh temporary store, as a user runs it (process start and
   model load included), ``--rounds`` times per tree; with ``--before`` the trees alternate, so
   drift in a shared machine's load hits both alike.
2. In this process, with this tree: one ingest of FOLDER counting how often the shard was opened
   and the seconds spent opening and closing (flush included) it.
Figures are printed; copy them into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def cli_run(src: Path, folder: Path) -> float:
    """Seconds for ``docqa ingest folder`` with ``src`` on the path, into a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(src), "DOCQA_STORE": str(Path(tmp) / "store")}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "docqa", "ingest", str(folder)],
            env=env,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def count_opens(folder: Path) -> tuple[int, float, float]:
    """(opens, seconds opening and closing, seconds of the whole ingest) for this tree."""
    import docqa
    from docqa.config import Settings
    from docqa.stores import edge

    spent = {"opens": 0, "s": 0.0}

    def timed(name: str) -> None:
        original = getattr(edge.EdgeStore, name)

        def wrapper(self: Any, *args: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(self, *args)
            finally:
                spent["s"] += time.perf_counter() - start
                spent["opens"] += name == "_load"

        setattr(edge.EdgeStore, name, wrapper)

    timed("_load")
    timed("close")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        docqa.ingest(folder, Settings(store=Path(tmp) / "store"))
        total = time.perf_counter() - start
    return int(spent["opens"]), spent["s"], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=REPO / "data")
    parser.add_argument("--before", type=Path, help="src/ folder of the tree to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"this tree": REPO / "src"}
    if args.before:
        trees = {"before": args.before.resolve(), **trees}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, src in trees.items():
            times[name].append(cli_run(src, args.folder))
    for name, runs in times.items():
        shown = ", ".join(f"{t:.1f}" for t in runs)
        print(
            f"docqa ingest {args.folder.name}/ ({name}): median {statistics.median(runs):.1f} s "
            f"[{shown}]"
        )
    sys.path.insert(0, str(REPO / "src"))
    opens, spent, total = count_opens(args.folder)
    print(
        f"this tree, one ingest: {opens} shard opens, {spent:.2f} s opening and closing them "
        f"= {100 * spent / total:.1f} % of {total:.1f} s"
    )


if __name__ == "__main__":
    main()
