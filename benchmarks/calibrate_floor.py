"""Calibrate ``Settings.relevance_floor``: the dense cosine below which docqa abstains.

Store: the English and French Debian FAQ PDFs, ingested with the real default embedder into
``benchmarks/.cache/floor/store`` (reruns find the files unchanged and skip embedding).

Questions, each searched in hybrid mode (top ``Settings.top_k``) over the whole store:

- answerable: the Debian FAQ questions (``use`` rows) in English and in French;
- unanswerable: the Python FAQ questions (the store holds nothing about Python).

A question's score is the highest dense cosine among its hits; docqa abstains when that score is
below the floor. Decision rule: the highest floor whose false abstention on the ``tune`` split is
at most ``--max-false`` in each language; the same floor is then reported on ``test``.

Run: ``HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/calibrate_floor.py``
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docqa.api import ingest, search
from docqa.config import Settings
from docqa.embedding import Embedder, make_embedder
from docqa.stores import open_store

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "floor"
CORPORA = Path("/work/shared/corpora")
PDFS = (
    CORPORA / "curated" / "en_faq_debian-faq.en.pdf",
    CORPORA / "curated" / "fr_faq_debian-faq.fr.pdf",
)
SETS = {
    "EN": CORPORA / "eval" / "debian_faq_en.jsonl",
    "FR": CORPORA / "eval" / "debian_faq_fr.jsonl",
    "Python": CORPORA / "eval" / "python_faq.jsonl",
}
FLOORS = [round(0.10 + 0.025 * i, 3) for i in range(33)]  # 0.10 .. 0.90 (E5 scores run high)

# The eval questions are the FAQ's own headings, which the chunks contain word for word; these
# paraphrases (written for this benchmark) check the floor on questions worded as users would.
PARAPHRASED = {
    "EN": [
        "How do I upgrade my Debian system to the next release?",
        "Where can I download Debian installation images?",
        "How do I report a problem in a Debian package?",
        "Which program installs packages from the command line?",
        "Is Debian free of charge?",
        "What does the testing distribution mean?",
        "How often are new stable versions published?",
        "How can I find which package a file belongs to?",
        "Who decides things in the Debian project?",
        "How can I keep my system updated with security fixes?",
        "What is the difference between main, contrib and non-free?",
        "How do I make my own .deb package?",
        "What should I do if dpkg fails in the middle of an install?",
        "Can I run Debian on ARM computers?",
        "How much disk space do I need?",
    ],
    "FR": [
        "Comment mettre à jour Debian vers une nouvelle version ?",
        "Où télécharger les images d'installation de Debian ?",
        "Comment signaler un bogue dans un paquet ?",
        "Quel outil permet d'installer des paquets en ligne de commande ?",
        "Debian est-elle gratuite ?",
        "Que signifie la distribution testing ?",
        "À quelle fréquence sort une nouvelle version stable ?",
        "Comment savoir à quel paquet appartient un fichier ?",
        "Qui prend les décisions dans le projet Debian ?",
        "Comment recevoir les mises à jour de sécurité ?",
        "Quelle différence entre main, contrib et non-free ?",
        "Comment créer mon propre paquet .deb ?",
    ],
    "off-topic": [
        "What is the latest version of Ubuntu?",
        "How do I install Windows 11?",
        "What is the capital of France?",
        "How do I configure nginx as a reverse proxy?",
        "Comment faire une pizza ?",
        "How many boats does the field station own?",
        "What is the price of a Raspberry Pi?",
        "Quelle est la météo demain ?",
    ],
}


@dataclass(frozen=True)
class Scores:
    """Max dense cosine per question, by question set and split."""

    by_set: dict[str, dict[str, np.ndarray]]

    def rate_below(self, name: str, split: str, floor: float) -> float:
        """Share of the set's questions whose best cosine is below ``floor`` (abstained)."""
        values = self.by_set[name][split]
        return float(np.mean(values < floor)) if len(values) else float("nan")


def build_store(settings: Settings) -> None:
    """Ingest the two FAQ PDFs (copied into the cache so the store's paths stay stable)."""
    docs = CACHE / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for pdf in PDFS:
        target = docs / pdf.name
        if not target.is_file():
            shutil.copy2(pdf, target)
    report = ingest(docs, settings)
    print(f"store: {report.summary()}")


def questions(path: Path) -> dict[str, list[str]]:
    """The ``use`` questions of one eval file, by split."""
    out: dict[str, list[str]] = {"tune": [], "test": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("use"):
            out[row["split"]].append(row["question"])
    return out


def score_all(settings: Settings, embedder: Embedder) -> Scores:
    """Best dense cosine of every question's hybrid top-k (paraphrases under split "para")."""
    store = open_store(settings, settings.store or CACHE / "store")
    by_set: dict[str, dict[str, np.ndarray]] = {}

    def best(question: str) -> float:
        hits = search(question, settings, embedder=embedder, store=store, mode="hybrid")
        return max((h.dense_score or 0.0 for h in hits), default=0.0)

    try:
        for name, path in SETS.items():
            by_set[name] = {s: np.array([best(q) for q in qs]) for s, qs in questions(path).items()}
        for name, qs in PARAPHRASED.items():
            by_set.setdefault(name, {})["para"] = np.array([best(q) for q in qs])
    finally:
        store.close()
    return Scores(by_set)


def table(scores: Scores, split: str, floors: list[float]) -> str:
    """Markdown table: floor → false abstention EN, FR; correct abstention on Python FAQ."""
    n = {k: len(scores.by_set[k][split]) for k in SETS}
    lines = [
        f"| floor | false abstention EN (n={n['EN']}) | false abstention FR (n={n['FR']}) "
        f"| correct abstention Python FAQ (n={n['Python']}) |",
        "|---|---|---|---|",
    ]
    for floor in floors:
        en, fr, py = (scores.rate_below(s, split, floor) for s in ("EN", "FR", "Python"))
        lines.append(f"| {floor:.3f} | {en:.1%} | {fr:.1%} | {py:.1%} |")
    return "\n".join(lines)


def choose(scores: Scores, max_false: float) -> float:
    """The highest floor whose tune false abstention is at most ``max_false`` in EN and FR."""
    ok = [
        f
        for f in FLOORS
        if all(scores.rate_below(lang, "tune", f) <= max_false for lang in ("EN", "FR"))
    ]
    return max(ok) if ok else min(FLOORS)


def percentiles(scores: Scores) -> str:
    """Quantiles of the best cosine per set (tune + test), to see how far apart they are."""
    rows = ["| set | p5 | p25 | median | p75 | p95 |", "|---|---|---|---|---|---|"]
    for name, splits in scores.by_set.items():
        values = np.concatenate([v for s, v in splits.items() if s != "para"] or [np.zeros(0)])
        if not len(values):
            continue
        q = np.percentile(values, [5, 25, 50, 75, 95])
        rows.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in q) + " |")
    return "\n".join(rows)


def paraphrase_table(scores: Scores, floors: list[float]) -> str:
    """Abstentions among the hand-written paraphrases (answerable EN/FR) and off-topic ones."""
    n = {k: len(scores.by_set[k]["para"]) for k in PARAPHRASED}
    lines = [
        f"| floor | paraphrased EN abstained (n={n['EN']}) | paraphrased FR abstained "
        f"(n={n['FR']}) | off-topic abstained (n={n['off-topic']}) |",
        "|---|---|---|---|",
    ]
    for floor in floors:
        counts = [int(np.sum(scores.by_set[k]["para"] < floor)) for k in PARAPHRASED]
        lines.append(f"| {floor:.3f} | " + " | ".join(str(c) for c in counts) + " |")
    return "\n".join(lines)


def main() -> None:
    """Build or reuse the store, score every question, print the sweep and the choice."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-false", type=float, default=0.05, help="per-language bar")
    parser.add_argument("--embed-model", help="another embedder (its own cached store)")
    args = parser.parse_args()
    settings = Settings(store=CACHE / "store")
    if args.embed_model:
        model = args.embed_model
        settings = Settings(store=CACHE / f"store-{model.replace('/', '_')}", embed_model=model)
    started = time.perf_counter()
    build_store(settings)
    embedder = make_embedder(settings)
    scores = score_all(settings, embedder)
    print(f"embedder {embedder.id}, top_k {settings.top_k}, hybrid; ", end="")
    print(f"{time.perf_counter() - started:.0f} s\n")
    print("best dense cosine per question (all splits):\n" + percentiles(scores) + "\n")
    print("tune split:\n" + table(scores, "tune", FLOORS) + "\n")
    floor = choose(scores, args.max_false)
    print(f"chosen floor (max false abstention {args.max_false:.0%} per language): {floor:.3f}\n")
    nearby = [f for f in FLOORS if abs(f - floor) <= 0.051]
    print("test split:\n" + table(scores, "test", nearby) + "\n")
    print(paraphrase_table(scores, nearby))


if __name__ == "__main__":
    main()
