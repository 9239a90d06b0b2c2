"""Calibrate the support-marking thresholds of ``docqa.support`` (SUPPORTED_MIN, SIMILAR_MIN).

Data: the Debian FAQ gold answers (EN and FR, ``use`` rows). Each gold answer, cut into ~200-token
chunks with docqa's chunker, is the "source"; sentences are scored against it as
:func:`docqa.support.mark_support` does (query-side sentence embedding, best chunk by cosine, then
the exact-term rule):

- positives: the sentences of the answer itself (a faithful answer quoting its source);
- negatives: the sentences of 3 other answers of the same language (same topic, Debian, but
  another question);
- altered: answer sentences with one number or one name changed (must never be supported).

Thresholds are chosen on ``split == "tune"``, then reported on ``split == "test"``:

- SUPPORTED_MIN: the lowest cosine at which at most 2 % of the negatives would be supported
  (green must be trusted), rounded down to 0.05;
- SIMILAR_MIN: the cosine maximising Youden's J (positives >= t minus negatives >= t).

Run: ``HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/calibrate_support.py``
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from docqa.chunking import Chunker, ChunkSpec
from docqa.config import Settings
from docqa.embedding import Embedder, load_tokenizer, make_embedder
from docqa.support import CITATION, classify, missing_terms, split_sentences, strip_citations
from docqa.types import Section

EVAL = Path("/work/shared/corpora/eval")
LANGS = ("en", "fr")
NEGATIVE_ANSWERS = 3
MAX_NEGATIVE_FP = 0.02
THRESHOLDS = [round(0.20 + 0.05 * i, 2) for i in range(15)]  # 0.20 .. 0.90


@dataclass(frozen=True)
class Item:
    """One scored sentence: its label, best cosine against the source and missing key terms."""

    label: str  # "positive", "negative", "altered"
    cosine: float
    missing: tuple[str, ...]


@dataclass
class Source:
    """One gold answer as a source: its text, chunk texts and their vectors."""

    text: str
    chunks: list[str]
    vectors: NDArray[np.float32]
    sentences: list[str]


def load(lang: str, split: str) -> list[str]:
    """The gold answers of the ``use`` rows of one language and split."""
    rows = [json.loads(line) for line in (EVAL / f"debian_faq_{lang}.jsonl").open()]
    return [r["answer"] for r in rows if r["use"] and r["split"] == split]


def sources(answers: list[str], embedder: Embedder, chunker: Chunker) -> list[Source]:
    """Each answer chunked and embedded, with its sentences."""
    out = []
    for text in answers:
        chunks = [c.text for c in chunker.chunk([Section(text=text)])]
        out.append(Source(text, chunks, embedder.embed_documents(chunks), split_sentences(text)))
    return out


_NUMBER = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]{2,}\b")
_FIRST_WORD = re.compile(r"[^\W\d_]")


def _changed_number(sentence: str, m: re.Match[str], bump: int) -> str:
    digits = m.group()
    new = digits[:-1] + str((int(digits[-1]) + bump) % 10)
    return sentence[: m.start()] + new + sentence[m.end() :]


def alter(sentence: str, source: str, names: list[str], rng: random.Random) -> str | None:
    """``sentence`` with one number or one name changed to one the source never mentions.

    Citation markers are not numbers, and the first word is not a name (as in ``key_terms``).
    """
    first = _FIRST_WORD.search(sentence)
    cited = [m.span() for m in CITATION.finditer(sentence)]
    numbers = [
        m for m in _NUMBER.finditer(sentence) if not any(a <= m.start() < b for a, b in cited)
    ]
    found = [m for m in _NAME.finditer(sentence) if first is None or m.start() > first.start()]
    candidates: list[str] = []
    if numbers and (not found or rng.random() < 0.5):
        m = rng.choice(numbers)
        candidates = [_changed_number(sentence, m, bump) for bump in (1, 2, 3, 7)]
    elif found:
        m = rng.choice(found)
        pool = rng.sample(names, min(8, len(names)))
        candidates = [sentence[: m.start()] + n + sentence[m.end() :] for n in pool]
    # a change the source happens to mention elsewhere would not be an alteration
    return next((c for c in candidates if missing_terms(c, source)), None)


def score(sentence: str, vector: NDArray[np.float32], source: Source, label: str) -> Item:
    """Best cosine of ``sentence`` over the source's chunks and the key terms that chunk lacks."""
    sims = source.vectors @ vector
    i = int(np.argmax(sims))
    return Item(label, float(sims[i]), tuple(missing_terms(sentence, source.chunks[i])))


def items_for(lang_sources: list[Source], embedder: Embedder, seed: int) -> list[Item]:
    """Positive, negative and altered items for the sources of one language."""
    rng = random.Random(seed)
    vec: dict[str, NDArray[np.float32]] = {}

    def embed(s: str) -> NDArray[np.float32]:
        if s not in vec:
            vec[s] = embedder.embed_query(strip_citations(s))
        return vec[s]

    names = sorted({m.group() for s in lang_sources for m in _NAME.finditer(s.text)})
    items: list[Item] = []
    for i, src in enumerate(lang_sources):
        for sentence in src.sentences:
            items.append(score(sentence, embed(sentence), src, "positive"))
            altered = alter(sentence, src.text, names, rng)
            if altered is not None:
                items.append(score(altered, embed(altered), src, "altered"))
        others = rng.sample([j for j in range(len(lang_sources)) if j != i], NEGATIVE_ANSWERS)
        for j in others:
            for sentence in lang_sources[j].sentences:
                items.append(score(sentence, embed(sentence), src, "negative"))
    return items


@dataclass(frozen=True)
class Row:
    """Figures at one supported threshold (with ``similar`` at the same cosine for the rates)."""

    t: float
    precision: float
    recall: float
    neg_supported: float
    altered_supported: float
    altered_by_cosine: float
    pos_similar_or_better: float
    neg_similar_or_better: float


def row(items: list[Item], t: float, similar: float | None = None) -> Row:
    """Precision and recall of "supported" at ``t``; similar rates at ``similar`` (or ``t``)."""
    sim = t if similar is None else similar
    status = [(it.label, classify(it.cosine, it.missing, t, min(sim, t))) for it in items]

    def rate(label: str, ok: set[str]) -> float:
        got = [s for lab, s in status if lab == label]
        return sum(s in ok for s in got) / len(got) if got else 0.0

    sup = [lab for lab, s in status if s == "supported"]
    precision = sup.count("positive") / len(sup) if sup else 1.0
    pos_sim = sum(it.cosine >= sim for it in items if it.label == "positive")
    neg_sim = sum(it.cosine >= sim for it in items if it.label == "negative")
    n_pos = sum(it.label == "positive" for it in items) or 1
    n_neg = sum(it.label == "negative" for it in items) or 1
    altered = [it.cosine >= t for it in items if it.label == "altered"]
    return Row(
        t,
        precision,
        rate("positive", {"supported"}),
        rate("negative", {"supported"}),
        rate("altered", {"supported"}),
        sum(altered) / (len(altered) or 1),
        pos_sim / n_pos,
        neg_sim / n_neg,
    )


def choose(items: list[Item]) -> tuple[float, float]:
    """(SUPPORTED_MIN, SIMILAR_MIN) by the rules in the module docstring."""
    rows = [row(items, t) for t in THRESHOLDS]
    supported = next(r.t for r in rows if r.neg_supported <= MAX_NEGATIVE_FP)
    similar = max(rows, key=lambda r: r.pos_similar_or_better - r.neg_similar_or_better).t
    return supported, min(similar, supported)


def table(items: list[Item]) -> None:
    """Print the sweep."""
    print("   t  precision  recall  neg→sup  altered→sup  altered cos≥t  pos≥t  neg≥t")
    for t in THRESHOLDS:
        r = row(items, t)
        print(
            f"{t:4.2f}  {r.precision:9.3f}  {r.recall:6.3f}  {r.neg_supported:7.3f}  "
            f"{r.altered_supported:11.3f}  {r.altered_by_cosine:13.3f}  "
            f"{r.pos_similar_or_better:5.3f}  "
            f"{r.neg_similar_or_better:5.3f}"
        )


def counts(items: list[Item]) -> str:
    """``N positives, N negatives, N altered``."""
    return ", ".join(
        f"{sum(i.label == lab for i in items)} {lab}" for lab in ("positive", "negative", "altered")
    )


def run_split(split: str, embedder: Embedder, chunker: Chunker) -> dict[str, list[Item]]:
    """Items per language for one split."""
    return {
        lang: items_for(sources(load(lang, split), embedder, chunker), embedder, seed=7)
        for lang in LANGS
    }


def main() -> None:
    """Sweep on tune, choose, report on test."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    settings = Settings(threads=1)
    embedder = make_embedder(settings)
    info = embedder.info
    chunker = Chunker(load_tokenizer(info), ChunkSpec(max_tokens=info.max_tokens, target=200))
    print(f"embedder: {embedder.id}")
    tune = run_split("tune", embedder, chunker)
    pooled = tune["en"] + tune["fr"]
    print(f"\n## tune (EN+FR pooled: {counts(pooled)})")
    table(pooled)
    supported, similar = choose(pooled)
    print(f"\nchosen: SUPPORTED_MIN = {supported:.2f}, SIMILAR_MIN = {similar:.2f}")
    test = run_split("test", embedder, chunker)
    print("\n## test at the chosen thresholds")
    for name, items in (
        ("en", test["en"]),
        ("fr", test["fr"]),
        ("pooled", test["en"] + test["fr"]),
    ):
        r = row(items, supported, similar)
        print(
            f"{name:6}  ({counts(items)}) precision {r.precision:.3f}  recall {r.recall:.3f}  "
            f"neg→supported {r.neg_supported:.3f}  altered→supported {r.altered_supported:.3f}  "
            f"pos≥similar {r.pos_similar_or_better:.3f}  neg≥similar {r.neg_similar_or_better:.3f}"
        )


if __name__ == "__main__":
    main()
