"""The relevance floor with and without its word rule: what reaches the model, and what is lost.

``docqa.retrieval.relevant`` keeps a hit whose dense cosine passes the floor (and the margin), or
that holds every content word of the question (``covers``). This script asks every Debian FAQ
question (EN and FR, ``use`` rows, tune and test) and every Python FAQ question of the store of
``calibrate_floor.py`` (both Debian FAQ PDFs), and counts, with the cosine rules alone and with
the word rule too, after ``docqa.passages.passages`` (as ``ask`` builds its sources):

- answerable questions left without a source that holds the answer (answer containment);
- Python FAQ questions (nothing about Python in the store) that still reach the model;
- sources per question (prompt size drives the first token).

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/floor_covers.py``
"""

from __future__ import annotations

import json

from calibrate_floor import CACHE, SETS, build_store  # this folder

from docqa.api import search
from docqa.config import Settings
from docqa.metrics import answer_terms, contains_answer
from docqa.passages import passages
from docqa.retrieval import relevant


def main() -> None:
    settings = Settings(store=CACHE / "store")
    if not (CACHE / "store" / "manifest.sqlite").is_file():
        build_store(settings)
    unfloored = settings.with_(relevance_floor=0.0)
    print(
        "| questions | split | n | rule | no source holding the answer | reach the model "
        "| sources per question |"
    )
    print("|---|---|---:|---|---:|---:|---:|")
    for name, path in SETS.items():
        lang = "fr" if name == "FR" else "en"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for split in ("tune", "test"):
            picked = [r for r in rows if r.get("use", True) and r.get("split") == split]
            counts = {False: [0, 0, 0], True: [0, 0, 0]}
            for row in picked:
                hits = search(row["question"], unfloored)
                terms = answer_terms(row["answer"], lang)
                for words in (False, True):
                    kept = passages(relevant(hits, settings, row["question"] if words else None))
                    held = any(contains_answer(terms, h.text) for h in kept)
                    counts[words][0] += not held
                    counts[words][1] += bool(kept)
                    counts[words][2] += len(kept)
            for words, (lost, reach, sources) in counts.items():
                rule = "cosine + every question word" if words else "cosine only"
                lost_cell = "—" if name == "Python" else str(lost)
                print(
                    f"| {name} | {split} | {len(picked)} | {rule} | {lost_cell} | {reach} "
                    f"| {sources / len(picked):.2f} |"
                )


if __name__ == "__main__":
    main()
