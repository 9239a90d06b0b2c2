"""Retrieval and the relevance floor on two corpora of different shapes, no LLM involved.

- ``chatlog``: 300 short dated chat logs and their questions (``chatlogs.py``, synthetic):
  relevance by source file (hit@1, hit@5, MRR@10 of the file that holds the answer), per kind of
  question and for the misspelled ones;
- ``debian``: both Debian FAQ PDFs, EN and FR questions (relevance by answer containment), and the
  Python FAQ questions asked of that store (unanswerable).

Each question's rank is read in its top 10; its refusal and the sources its prompt would hold
(``passages`` of the relevant hits, labelled as the prompt labels them) in the top
``Settings.top_k``, as ``ask`` retrieves. ``--json`` keeps them, so two runs (before and after a
change) tell which answers can differ at all.

Refusals: a question whose hits all fall under the relevance floor (``docqa.retrieval.relevant``
empty: ``ask`` answers "the documents do not contain an answer" without the model). Counted on
answerable questions (false refusals) and unanswerable ones (correct). Stores are those of
``answers.py`` (``benchmarks/.cache/answers/store-*``), so the two scripts read the same chunks.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/shape.py [--split test] [--sets chatlog,debian]
[--json OUT]``; against other code, ``PYTHONPATH=OTHER/src`` (the script uses only ``docqa.search``
and ``docqa.retrieval.relevant``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from answers import _converted, question_set, store_settings  # this folder

import docqa
from docqa import retrieval
from docqa.embedding import make_embedder
from docqa.evaluation import Judge, Question, load_questions
from docqa.passages import passages
from docqa.prompts import source_label
from docqa.stores import open_store

HERE = Path(__file__).resolve().parent
K = 10


def _relevant(hits: list[Any], settings: Any, question: str, store: Any) -> list[Any]:
    params = inspect.signature(retrieval.relevant).parameters
    if "store" in params:  # a floor derived from the store
        return retrieval.relevant(hits, settings, question, store=store)
    return retrieval.relevant(hits, settings, question)


def measure(name: str, questions: dict[str, list[Question]]) -> dict[str, Any]:
    """Per question set: retrieval ranks and refusals, over one store."""
    built = store_settings(name)
    # a copy: answers.py may hold the store (a run takes an hour) and a reader needs its lock
    copy = Path(tempfile.mkdtemp(prefix=f"shape-{name}-")) / "store"
    shutil.copytree(built.store or HERE, copy, ignore=shutil.ignore_patterns("*.lock", "*.queue"))
    settings = built.model_copy(update={"store": copy})
    embedder = make_embedder(settings)
    store = open_store(settings, copy)
    out: dict[str, Any] = {}
    try:
        for set_name, qs in questions.items():
            rows = []
            for q in qs:
                judge = Judge.of(q)
                hits = docqa.search(q.question, settings, k=K, embedder=embedder, store=store)
                rank = None
                if judge.by is not None:
                    flags = judge.flags(hits)
                    rank = next((i + 1 for i, f in enumerate(flags) if f), None)
                hits = docqa.search(q.question, settings, embedder=embedder, store=store)
                kept = _relevant(hits, settings, q.question, store)
                best = max((h.dense_score or 0.0 for h in hits), default=0.0)
                # what the prompt would hold: to tell whether an answer can change at all
                given = passages(kept)
                sources = [[source_label(h), h.text] for h in given]
                held = judge.by is not None and any(judge.keys(h) for h in given)
                rows.append(
                    {
                        "id": q.id,
                        "answerable": q.answerable,
                        "rank": rank,
                        "refused": not kept,
                        "held": held,
                        "best_cosine": round(best, 4),
                        "sources": sources,
                    }
                )
            out[set_name] = rows
    finally:
        store.close()
        shutil.rmtree(copy.parent, ignore_errors=True)
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    ranks = [r["rank"] for r in ans]
    n = len(ans)
    return {
        "n": n,
        "hit1": sum(1 for r in ranks if r == 1) / n if n else None,
        "hit5": sum(1 for r in ranks if r is not None and r <= 5) / n if n else None,
        "mrr10": sum(1 / r for r in ranks if r is not None) / n if n else None,
        "false_refusals": sum(r["refused"] for r in ans),
        "held": sum(r.get("held", False) for r in ans),
        "sources": sum(len(r.get("sources", ())) for r in ans) / n if n else None,
        "unanswerable": len(una),
        "refused_unanswerable": sum(r["refused"] for r in una),
    }


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def table(results: dict[str, list[dict[str, Any]]], kinds: dict[str, str]) -> str:
    lines = [
        "| set | answerable | hit@1 | hit@5 | MRR@10 | refused (answerable) "
        "| refused (unanswerable) | prompt holds the answer | sources per question |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for set_name, rows in results.items():
        groups[set_name] = rows
        if set_name == "chatlog":
            by: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in rows:
                by[f"{set_name}: {kinds.get(r['id'], '?')}"].append(r)
            groups.update(sorted(by.items()))
    for label, rows in groups.items():
        s = summary(rows)
        una = f"{s['refused_unanswerable']}/{s['unanswerable']}" if s["unanswerable"] else "—"
        lines.append(
            f"| {label} | {s['n']} | {_f(s['hit1'])} | {_f(s['hit5'])} | {_f(s['mrr10'])} "
            f"| {s['false_refusals']}/{s['n']} | {una} | {s['held']}/{s['n']} "
            f"| {_f(s['sources'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("tune", "test"))
    parser.add_argument("--sets", default="chatlog,debian")
    parser.add_argument("--json", type=Path, help="write every question's row here")
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {}
    kinds: dict[str, str] = {}
    wanted = args.sets.split(",")
    if "chatlog" in wanted:
        path = HERE / "chatlog_questions.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            kinds[row["id"]] = row["kind"] + (" (misspelled)" if row["typo"] else "")
        qs = load_questions(path, split=args.split)
        results.update(measure("chatlog", {"chatlog": qs}))
        typo_ids = {i for i, k in kinds.items() if "misspelled" in k}
        results["chatlog misspelled"] = [r for r in results["chatlog"] if r["id"] in typo_ids]
    if "debian" in wanted:
        sets = {
            "debian en": question_set("en", args.split),
            "debian fr": question_set("fr", args.split),
            "python faq (unanswerable)": load_questions(
                _converted("python_faq.jsonl", unanswerable=True), split=args.split
            ),
        }
        results.update(measure("debian", sets))
    print(f"split {args.split}, hybrid top {K}; {time.perf_counter() - started:.0f} s\n")
    print(table(results, kinds))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
