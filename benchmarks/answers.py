"""Answers with the documents versus the bare model, with a model that can answer.

Model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M in-process through docqa's GGUF backend, fetched from
PyPI's byte splits and verified by sha256 (``measurement_model.py``; cached outside the repo,
never a dependency of docqa). Everything goes through docqa's public path: ``docqa.search``
(hit@10), ``docqa.baseline``, ``docqa.ask`` and ``docqa.Chat``, with one model, embedder and
store kept open for the run; answers are scored with ``docqa.evaluation.score_answer``.

Question sets (``--sets NAME[:N],...``, N = the first N of the split):

- ``en``, ``fr``: the Debian FAQ questions (``../shared/corpora/eval/debian_faq_*.jsonl``) over
  one store holding both FAQ PDFs; relevance by answer containment.
- ``unanswerable``: Python FAQ questions asked of the same Debian store (docqa should abstain).
- ``open``: open "how / why" questions written for this benchmark (``open_questions.jsonl``,
  gold answers and sources read from the documents) over a second store: the R manual, the
  Node.js ``url`` docs, the Python programming FAQ page and ``data/field-station-handbook.md``.
  16 tune questions, and 8 test questions written after the tune choices were made (the
  held-out open set of the issue stays out of sight).
- ``paraphrased``: the 27 user-worded Debian questions of ``calibrate_floor.py`` (no gold
  answer: they count only for refusals), both splits alike.
- ``chat``: two-turn conversations through ``docqa.Chat``; the follow-up is scored.
- ``chatlog``: short factual questions over a store of 300 short dated chat logs, a corpus of
  another shape (``chatlogs.py``: synthetic, written by that script; relevance by source file),
  unanswerable ones included (``answerable`` false).

Per answer: hit@10, token F1, content recall, citation precision, abstention (docqa's own
reading of the answer), "mixed" (answers, then says the documents do not say), an abstention
that cites, first-token and total seconds, prompt tokens, and the precision of ``compare``'s
✓ marks (a ✓ sentence whose closest source is one it cites, and a relevant one).

Baseline answers do not depend on the RAG prompt: they are cached (keyed by model, prompt,
question and sampling) in ``benchmarks/.cache/answers/``. Each run is saved there as
``runs/LABEL.json``; ``--table LABEL,...`` prints saved runs side by side, ``--readme MARKER``
writes that table into ``benchmarks/README.md`` between ``<!-- MARKER -->`` markers. A run made
with ``--no-baseline`` gets its model-alone answers later with ``--fill-baselines LABEL`` (the
same ``--split`` and ``--set`` as the run).

Run (2 cores shared: about a minute per RAG answer at 1 thread)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/answers.py --split tune \\
        --sets en:12,fr:6,unanswerable:6,open,chat:3 --label tune-before
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import convert_questions  # this folder
from measurement_model import model_path
from quality import write_readme  # this folder: one writer of README tables

import docqa
from docqa import prompts
from docqa.answering import (
    cited_numbers,
    mentions_not_in_documents,
    parse_citations,
    says_not_in_documents,
)
from docqa.config import Settings
from docqa.embedding import Embedder, make_embedder
from docqa.evaluation import Judge, Question, load_questions, rank_hits, score_answer
from docqa.llm import LLM, Message, make_llm
from docqa.stores import Store, open_store
from docqa.support import mark_support
from docqa.types import Answer, Timings

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "answers"
CORPORA = HERE.parent.parent / "shared" / "corpora"
STORES = {
    "debian": (
        CORPORA / "curated" / "en_faq_debian-faq.en.pdf",
        CORPORA / "curated" / "fr_faq_debian-faq.fr.pdf",
    ),
    "open": (
        CORPORA / "curated" / "en_manual_R-intro.pdf",
        CORPORA / "curated" / "md_node_url.md",
        CORPORA / "curated" / "html_python_faq_programming.html",
        HERE.parent / "data" / "field-station-handbook.md",
    ),
}
K = 10
# Two-turn conversations over the Debian store: (first question, follow-up, gold id of the
# follow-up in debian_faq_en.jsonl, split of that id).
CHATS = (
    ("What is Debian GNU/Linux?", "How does one pronounce it, and what does the word mean?",
     "pronunciation", "tune"),
    ("What does the unstable distribution contain?", "And what does testing contain?",
     "testing", "tune"),
    ("What is a Debian package?", "How do I install the source of one?", "sourcepkgs", "tune"),
    ("How many Debian distributions are there?", "What are those names like etch and lenny?",
     "codenames", "tune"),
    ("What are all those names like etch, lenny, etc.?", "Where do they come from?",
     "sourceforcodenames", "tune"),
    ("What is a Debian control file?", "And what is a conffile?", "conffile", "tune"),
    ("How does a Debian system boot?", "Are there other ways to do it?", "altboot", "tune"),
    ("How do I display the files of an installed package?",
     "And how do I find which package a file came from?", "filesearch", "tune"),
    ("What does the stable directory contain?", "Are there package upgrades in it?",
     "updatestable", "tune"),
    ("How can I keep my Debian system current?", "Can that be done automatically?",
     "autoupdate", "test"),
    ("What is the format of a Debian binary package?", "Why are their file names so long?",
     "pkgname", "test"),
    ("What kernels does Debian GNU/Linux run?", "And on which hardware architectures?",
     "arches", "test"),
    ("What are all those names like etch, lenny, etc.?", "Which other ones were used in the past?",
     "oldcodenames", "test"),
    ("How do I install a source package?", "How do I build binary packages from it?",
     "sourcebuild", "test"),
    ("What is a Debian package?", "What is the format of a binary one?", "deb-format", "test"),
)  # fmt: skip


# --- stores and questions ----------------------------------------------------------------------


def store_settings(name: str, **overrides: Any) -> Settings:
    """Settings for the cached store ``name`` (built with docqa's defaults if missing)."""
    folder = CACHE / f"store-{name}"
    settings = Settings(store=folder, **overrides)
    if not (folder / "manifest.sqlite").is_file():
        docs = CACHE / f"docs-{name}"
        docs.mkdir(parents=True, exist_ok=True)
        if name == "chatlog":
            import chatlogs  # this folder

            for chat in chatlogs.make_chats():
                (docs / chat.name).write_text(chat.text(), encoding="utf-8")
        for path in STORES.get(name, ()):
            if not (docs / path.name).is_file():
                shutil.copy2(path, docs / path.name)
        started = time.perf_counter()
        report = docqa.ingest(docs, Settings(store=folder))
        print(f"built store {name}: {report.summary()} in {time.perf_counter() - started:.0f} s")
    return settings


def _converted(name: str, unanswerable: bool = False) -> Path:
    out = CACHE / "questions" / (f"unanswerable_{name}" if unanswerable else name)
    if not out.is_file():
        rows = convert_questions.convert(CORPORA / "eval" / name, unanswerable=unanswerable)
        convert_questions.write_jsonl(rows, out)
    return out


def question_set(name: str, split: str) -> list[Question]:
    """The questions of one set and split, in file order."""
    if name in ("en", "fr"):
        return load_questions(_converted(f"debian_faq_{name}.jsonl"), split=split)
    if name == "unanswerable":
        return load_questions(_converted("python_faq.jsonl", unanswerable=True), split=split)
    if name == "open":
        return load_questions(HERE / "open_questions.jsonl", split=split)
    if name == "chatlog":
        return load_questions(HERE / "chatlog_questions.jsonl", split=split)
    if name == "paraphrased":  # user-worded Debian questions, no gold: false refusals only
        import calibrate_floor  # this folder

        return [
            Question(id=f"para-{lang.lower()}-{i}", question=q, lang=lang.lower(), split=split)
            for lang in ("EN", "FR")
            for i, q in enumerate(calibrate_floor.PARAPHRASED[lang])
        ]
    raise SystemExit(
        f"unknown set {name!r}: use en, fr, unanswerable, open, paraphrased, chat, chatlog"
    )


# --- one answer, measured ----------------------------------------------------------------------


@dataclass
class Row:
    """One question (or chat follow-up) with its baseline and RAG answers measured."""

    set: str
    id: str
    question: str
    answerable: bool
    hit10: float | None
    rag: dict[str, Any]
    baseline: dict[str, Any] | None = None
    support: list[dict[str, Any]] = field(default_factory=list)
    query: str | None = None


def _scored(answer: Answer, question: Question, judge: Judge) -> dict[str, Any]:
    score = score_answer(answer, question, judge)
    given = [n for n in range(1, len(answer.hits) + 1) if n not in answer.dropped_sources]
    relevant_given = [n for n in given if judge.by and judge.keys(answer.hits[n - 1])]
    # the citations as the model wrote them, before docqa checked them against the sources
    as_given, _ = parse_citations(answer.text, answer.hits, given)
    given_relevant = [n in relevant_given for n in (c.n for c in as_given)]
    given_precision = (
        sum(given_relevant) / len(given_relevant)
        if given_relevant and judge.by and not score.abstained
        else None
    )
    return {
        "text": answer.text,
        "f1": score.f1,
        "recall": score.content_recall,
        "citation_precision": score.citation_precision,
        "citations": [c.n for c in answer.citations],
        "citations_given": [c.n for c in as_given],
        "citation_precision_given": given_precision,
        "abstained": answer.abstained,
        "says_not": says_not_in_documents(answer.text),
        "mixed": not answer.abstained and mentions_not_in_documents(answer.text),
        "cited_abstention": answer.abstained and bool(cited_numbers(answer.text)),
        "first_token_s": answer.timings.first_token_s,
        "total_s": answer.timings.total_s,
        "prompt_tokens": answer.usage.prompt_tokens,
        "sources": len(given),
        "relevant_sources": relevant_given,
        "warnings": list(answer.warnings),
        # what the answer was given, to re-judge its citations without running the model again
        "hits": [
            {"n": n, "text": h.text, "relevant": bool(judge.by and judge.keys(h))}
            for n, h in enumerate(answer.hits, 1)
        ],
    }


def _support(answer: Answer, judge: Judge, embedder: Embedder) -> list[dict[str, Any]]:
    """compare's ✓ marks on the RAG answer, with what is needed to judge each one.

    Marked twice: as ``docqa.compare`` does (``citations=True`` where the code has it: a
    sentence that cites is checked against what it cites) and with citations ignored (the
    closest source judges, as before), so both sets of ✓ can be read against their sources.
    """
    if answer.abstained or not answer.hits:
        return []
    texts = [h.text for h in answer.hits]
    vectors = embedder.embed_documents(texts)
    try:
        checked = mark_support(answer.text, texts, embedder, source_vectors=vectors, citations=True)
    except TypeError:  # a snapshot of docqa before support marks read citations
        checked = mark_support(answer.text, texts, embedder, source_vectors=vectors)
    closest = mark_support(answer.text, texts, embedder, source_vectors=vectors)
    out = []
    for mark, old in zip(checked, closest, strict=True):
        if "supported" not in (mark.status, old.status):
            continue
        source = mark.source if mark.status == "supported" else old.source
        assert source is not None
        cited = cited_numbers(mark.sentence)
        out.append(
            {
                "sentence": mark.sentence,
                "source": source,
                "cited": cited,
                "checked": mark.status == "supported",
                "closest": old.status == "supported",
                "source_cited": source in cited,
                "source_relevant": bool(judge.by and judge.keys(answer.hits[source - 1])),
                "source_text": answer.hits[source - 1].text,
            }
        )
    return out


class _Recording:
    """An LLM that keeps the last messages it was sent, and counts their tokens exactly."""

    def __init__(self, llm: LLM) -> None:
        self.inner = llm
        self.last: list[Message] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def chat(self, messages: Sequence[Message], *, on_token: Any = None) -> Any:
        self.last = list(messages)
        return self.inner.chat(messages, on_token=on_token)

    def prompt_tokens(self, messages: Sequence[Message]) -> int | None:
        """Tokens of ``messages`` with the model's chat template, as llama.cpp evaluates them."""
        http = getattr(self.inner, "_http", None)
        if http is None:
            return None
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        prompt = http.post("/apply-template", json=body).json()["prompt"]
        tokens = http.post(
            "/tokenize", json={"content": prompt, "add_special": True, "parse_special": True}
        )
        return len(tokens.json()["tokens"])


class Runner:
    """The model, embedder and stores of one run, and the baseline cache."""

    def __init__(self, settings: Settings, no_baseline: bool) -> None:
        self.settings = settings
        self.llm: LLM = _Recording(make_llm(settings, "gguf"))
        self.embedder = make_embedder(settings)
        self.no_baseline = no_baseline
        self._stores: dict[str, tuple[Settings, Store]] = {}
        self._cache_file = CACHE / "baseline.jsonl"
        self._cache: dict[str, dict[str, Any]] = {}
        if self._cache_file.is_file():
            for line in self._cache_file.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self._cache[row["key"]] = row

    def store(self, name: str) -> tuple[Settings, Store]:
        """The run's current settings on store ``name``, and the store (opened once)."""
        if name not in self._stores:
            base = store_settings(name)
            settings = self.settings.model_copy(update={"store": base.store})
            self._stores[name] = (settings, open_store(settings, base.store or CACHE))
        settings, store = self._stores[name]
        return self.settings.model_copy(update={"store": settings.store}), store

    def ask(self, question: str, settings: Settings, store: Store) -> Answer:
        """``docqa.ask(stream=True)`` read to the end, as a chat client reads it; the wait for
        the first piece as the client sees it (retrieval included) in ``timings.first_token_s``
        and the exact prompt size (the chat template applied, llama.cpp's tokenizer) in
        ``usage.prompt_tokens`` (an answer docqa ends early carries no usage of its own)."""
        started = time.perf_counter()
        first: float | None = None
        stream = docqa.ask(
            question, settings, stream=True, llm=self.llm, embedder=self.embedder, store=store
        )
        self.llm.last = None
        for piece in stream:
            if first is None and piece:
                first = time.perf_counter() - started
        answer = stream.answer
        total = time.perf_counter() - started
        if self.llm.last is None:  # no model call (docqa's own abstention)
            return answer
        timings = replace(answer.timings, first_token_s=first, total_s=total)
        usage = replace(answer.usage, prompt_tokens=self.llm.prompt_tokens(self.llm.last))
        return replace(answer, timings=timings, usage=usage)

    def close(self) -> None:
        for _, store in self._stores.values():
            store.close()
        self.llm.close()

    def baseline(self, question: str) -> Answer | None:
        if self.no_baseline:
            return None
        s = self.settings
        key_text = "\n".join(
            [self.llm.model, prompts.BASELINE_SYSTEM, question, f"{s.max_tokens} {s.temperature}"]
            + [f"{s.seed} {s.repeat_penalty}"]
        )
        key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
        if key not in self._cache:
            answer = docqa.baseline(question, s, llm=self.llm)
            row = {
                "key": key,
                "question": question,
                "text": answer.text,
                "first_token_s": answer.timings.first_token_s,
                "total_s": answer.timings.total_s,
                "prompt_tokens": answer.usage.prompt_tokens,
            }
            self._cache[key] = row
            self._cache_file.parent.mkdir(parents=True, exist_ok=True)
            with self._cache_file.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        row = self._cache[key]
        timings = Timings(first_token_s=row["first_token_s"], total_s=row["total_s"])
        return Answer(question=question, text=row["text"], timings=timings)

    def one(self, set_name: str, store: str, q: Question) -> Row:
        settings, st = self.store(store)
        judge = Judge.of(q)
        hit = None
        if judge.by is not None:
            hits = docqa.search(q.question, settings, k=K, embedder=self.embedder, store=st)
            hit = rank_hits(hits, judge, K, 1, 0.0).hit
        base = self.baseline(q.question) if q.answerable else None
        rag = self.ask(q.question, settings, st)
        return Row(
            set=set_name,
            id=q.id,
            question=q.question,
            answerable=q.answerable,
            hit10=hit,
            rag=_scored(rag, q, judge),
            baseline=_scored(base, q, judge) if base else None,
            support=_support(rag, judge, self.embedder),
        )

    def chat(self, first: str, follow_up: str, gold: Question) -> Row:
        settings, st = self.store("debian")
        judge = Judge.of(gold)
        with docqa.Chat(settings, llm=self.llm, embedder=self.embedder, store=st) as chat:
            chat.ask(first)
            started = time.perf_counter()
            self.llm.last = None
            answer = chat.ask(follow_up)
            seconds = time.perf_counter() - started
            query = chat.last_query
        if self.llm.last is not None:
            tokens = self.llm.prompt_tokens(self.llm.last)
            answer = replace(answer, usage=replace(answer.usage, prompt_tokens=tokens))
        hits = docqa.search(query or follow_up, settings, k=K, embedder=self.embedder, store=st)
        row = Row(
            set="chat",
            id=gold.id,
            question=f"{first} → {follow_up}",
            answerable=True,
            hit10=rank_hits(hits, judge, K, 1, 0.0).hit,
            rag=_scored(answer, gold, judge),
            support=_support(answer, judge, self.embedder),
            query=query,
        )
        row.rag["total_s"] = seconds  # the rewrite's LLM call included
        return row


# --- printing ----------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_row(row: Row) -> None:
    r, b = row.rag, row.baseline or {}
    flags = "".join(
        mark
        for key, mark in (("abstained", "A"), ("mixed", "M"), ("cited_abstention", "C"))
        if r[key]
    )
    print(
        f"{row.set:12} {row.id[:28]:28} hit {_f(row.hit10, 0)} | F1 {_f(b.get('f1'))}→"
        f"{_f(r['f1'])} rec {_f(b.get('recall'))}→{_f(r['recall'])} "
        f"cit {_f(r['citation_precision'])} {flags:3} | src {r['sources']} "
        f"tok {r['prompt_tokens'] or '—':>5} ttft {_f(r['first_token_s'], 1)} "
        f"total {_f(r['total_s'], 1)}",
        flush=True,
    )
    if row.query:
        print(f"{'':12} searched as: {row.query}")
    print(f"{'':12} {' '.join(r['text'].split())[:300]}", flush=True)


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def summary(rows: Sequence[Row]) -> dict[str, Any]:
    """Aggregates of one run: answer metrics per answer kind, abstention, latency, support."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    # hit@10 = 1, or no gold to judge retrieval by (paraphrased questions): all count
    found = [r for r in answerable if r.hit10 in (1, None)]
    rag = [r.rag for r in answerable]
    base = [r.baseline for r in answerable if r.baseline]
    llm_called = [r.rag for r in rows if r.rag["first_token_s"] is not None]
    marks = [m for r in rows for m in r.support if m.get("checked", True)]
    old_marks = [m for r in rows for m in r.support if m.get("closest", True)]
    cited_marks = [m for m in marks if m["cited"]]
    old_cited = [m for m in old_marks if m["cited"]]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "base_f1": _mean([b["f1"] for b in base]),
        "base_recall": _mean([b["recall"] for b in base]),
        "rag_f1": _mean([x["f1"] for x in rag]),
        "rag_recall": _mean([x["recall"] for x in rag]),
        "citation_precision": _mean([x["citation_precision"] for x in rag]),
        "citation_precision_given": _mean([x.get("citation_precision_given") for x in rag]),
        "false_abstention": sum(r.rag["abstained"] for r in answerable),
        "says_not_found": sum(r.rag["says_not"] or r.rag["mixed"] for r in found),
        "found": len(found),
        "mixed": sum(r.rag["mixed"] for r in answerable),
        "uncited": sum(not r.rag["abstained"] and not r.rag["citations"] for r in answerable),
        "correct_abstention": sum(r.rag["abstained"] for r in unanswerable),
        "cited_abstention": sum(r.rag["cited_abstention"] for r in rows),
        "ttft_median": statistics.median([x["first_token_s"] for x in llm_called])
        if llm_called
        else None,
        "total_median": statistics.median([x["total_s"] for x in llm_called])
        if llm_called
        else None,
        # an answer docqa ended early has no usage (the backend reports it at the end)
        "prompt_tokens_median": _median([x["prompt_tokens"] for x in llm_called]),
        "base_ttft_median": statistics.median([b["first_token_s"] or 0 for b in base])
        if base
        else None,
        "support_marks": len(marks),
        "support_cited": len(cited_marks),
        "support_source_cited": sum(m["source_cited"] for m in cited_marks),
        "support_source_relevant": sum(m["source_relevant"] for m in marks),
        "old_support_marks": len(old_marks),
        "old_support_cited": len(old_cited),
        "old_support_source_cited": sum(m["source_cited"] for m in old_cited),
    }


def _pct(n: int, d: int) -> str:
    return f"{n}/{d}" if d else "—"


TABLE_HEADER = (
    "| run | answerable | F1 model alone → RAG | content recall alone → RAG "
    "| citation precision (as the model gave them) "
    "| says not in docs (hit@10=1) | mixed | answers citing nothing | correct abstention "
    "| abstention citing | first token / total s (median) | prompt tokens "
    "| ✓ citing: backed by a cited source (closest-source rule) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table_line(label: str, s: dict[str, Any]) -> str:
    return (
        f"| {label} | {s['answerable']} | {_f(s['base_f1'], 3)} → {_f(s['rag_f1'], 3)} "
        f"| {_f(s['base_recall'], 3)} → {_f(s['rag_recall'], 3)} "
        f"| {_f(s['citation_precision'], 3)} ({_f(s['citation_precision_given'], 3)}) "
        f"| {_pct(s['says_not_found'], s['found'])} "
        f"| {s['mixed']} | {s['uncited']} | {_pct(s['correct_abstention'], s['unanswerable'])} "
        f"| {s['cited_abstention']} | {_f(s['ttft_median'], 1)} / {_f(s['total_median'], 1)} "
        f"| {_f(s['prompt_tokens_median'], 0)} "
        f"| {_pct(s['support_source_cited'], s['support_cited'])} "
        f"({_pct(s['old_support_source_cited'], s['old_support_cited'])}) |"
    )


def per_set_table(label: str, rows: Sequence[Row]) -> str:
    lines = [TABLE_HEADER, table_line(f"{label}: all", summary(rows))]
    for name in dict.fromkeys(r.set for r in rows):
        lines.append(table_line(f"{label}: {name}", summary([r for r in rows if r.set == name])))
    return "\n".join(lines)


def _quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile, linear between the closest ranks (statistics' "inclusive")."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q * 100) - 1]


def latency_table(label_a: str, a: Sequence[Row], label_b: str, b: Sequence[Row]) -> str:
    """Prompt tokens, first token and total of two runs of the same questions: p50, p95 and max
    over the answers the model wrote in both, then question by question."""
    pairs = [
        (x, y)
        for x, y in zip(a, b, strict=True)
        if x.rag["first_token_s"] is not None and y.rag["first_token_s"] is not None
    ]
    lines = [
        f"| {len(pairs)} answers | prompt tokens p50 / p95 / max | first token s p50 / p95 / max "
        "| total s p50 / p95 / max |",
        "|---|---:|---:|---:|",
    ]
    for label, i in ((label_a, 0), (label_b, 1)):
        cells = []
        for key, digits in (("prompt_tokens", 0), ("first_token_s", 1), ("total_s", 1)):
            values = [p[i].rag[key] for p in pairs if p[i].rag[key] is not None]
            if not values:
                cells.append("—")
                continue
            stats = (_quantile(values, 0.5), _quantile(values, 0.95), max(values))
            cells.append(" / ".join(f"{v:,.{digits}f}" for v in stats))
        lines.append(f"| {label} | {' | '.join(cells)} |")
    lines += [
        "",
        "| set | question | prompt tokens | first token s | total s | F1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for x, y in pairs:
        r, t = x.rag, y.rag
        lines.append(
            f"| {x.set} | {x.id} | {r['prompt_tokens'] or '—'} → {t['prompt_tokens'] or '—'} "
            f"| {_f(r['first_token_s'], 1)} → {_f(t['first_token_s'], 1)} "
            f"| {_f(r['total_s'], 1)} → {_f(t['total_s'], 1)} | {_f(r['f1'])} → {_f(t['f1'])} |"
        )
    return "\n".join(lines)


# --- the run -----------------------------------------------------------------------------------


def _parse_sets(text: str) -> list[tuple[str, int | None]]:
    out = []
    for part in text.split(","):
        name, _, n = part.partition(":")
        out.append((name.strip(), int(n) if n else None))
    return out


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
    return out


def run_settings(args: argparse.Namespace) -> Settings:
    """The measurement model in process, with the run's ``--threads`` and ``--set`` fields."""
    return Settings(llm="gguf", gguf=model_path(), threads=args.threads, **_overrides(args.set))


def _partial(label: str | None) -> Path | None:
    return CACHE / "runs" / f"{label}.partial.jsonl" if label else None


def _done(label: str | None) -> dict[tuple[str, str], Row]:
    partial = _partial(label)
    done: dict[tuple[str, str], Row] = {}
    if partial is not None and partial.is_file():
        for line in partial.read_text(encoding="utf-8").splitlines():
            row = Row(**json.loads(line))
            done[(row.set, row.id)] = row
        print(f"resuming {label}: {len(done)} rows already measured")
    return done


def _asks(
    args: argparse.Namespace, runner: Runner
) -> Iterator[tuple[tuple[str, str], Callable[[], Row]]]:
    """(set, id) and how to measure it, for each question and chat the arguments choose."""
    ids = args.ids.split(",") if args.ids else None
    for name, limit in _parse_sets(args.sets):
        if name == "chat":
            gold = {q.id: q for q in question_set("en", args.split)}
            for first, follow_up, gold_id, _ in [c for c in CHATS if c[3] == args.split][:limit]:
                if ids is None or gold_id in ids:
                    q = gold[gold_id]
                    yield ("chat", gold_id), lambda f=first, u=follow_up, q=q: runner.chat(f, u, q)
            continue
        store = name if name in ("open", "chatlog") else "debian"
        for q in question_set(name, args.split)[:limit]:
            if ids is None or q.id in ids:
                yield (name, q.id), lambda n=name, s=store, q=q: runner.one(n, s, q)


def run(args: argparse.Namespace) -> list[list[Row]]:
    """Ask every chosen question; with ``--label``, each row is appended to
    ``runs/LABEL.partial.jsonl`` as it comes, and a rerun with the same label resumes.

    With ``--versus KEY=VALUE`` each question is asked twice, under the run's settings and
    with those fields changed (saved as ``--versus-label``), one right after the other and the
    order swapped at every question, so that both see the same load on a shared machine.
    Returns the rows of each configuration."""
    settings = run_settings(args)
    arms = [(args.label, settings)]
    if args.versus:
        label = args.versus_label or (f"{args.label}-versus" if args.label else None)
        arms.append((label, settings.model_copy(update=_overrides(args.versus))))
    runner = Runner(settings, args.no_baseline)
    done = [_done(label) for label, _ in arms]
    rows: list[list[Row]] = [[] for _ in arms]
    turn = 0

    def measure(key: tuple[str, str], ask: Callable[[], Row]) -> None:
        nonlocal turn
        order = list(range(len(arms)))[:: -1 if turn % 2 else 1]
        turn += 1
        for i in order:
            label, arm_settings = arms[i]
            row = done[i].get(key)
            if row is None:
                runner.settings = arm_settings
                row = ask()
                partial = _partial(label)
                if partial is not None:
                    partial.parent.mkdir(parents=True, exist_ok=True)
                    with partial.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
            rows[i].append(row)
            if len(arms) > 1:
                print(f"[{label}]", end=" ")
            print_row(row)

    try:
        for key, ask in _asks(args, runner):
            measure(key, ask)
    finally:
        runner.close()
    return rows


def sweep(args: argparse.Namespace) -> str:
    """First-token time against prompt size: the same questions with ``top_k`` in ``--sweep``.

    Answers are cut at 16 tokens (only the first one is timed); the settings of the run (the
    code's passage selection included) apply. Returns a Markdown table and a least-squares
    line, seconds = a + b * prompt tokens.
    """
    sizes = [int(k) for k in args.sweep.split(",")]
    base = Settings(llm="gguf", gguf=model_path(), threads=args.threads, max_tokens=16)
    base = base.model_copy(update=_overrides(args.set))
    runner = Runner(base, no_baseline=True)
    points: list[tuple[int, int, float]] = []
    lines = [
        "| question | top_k | sources | prompt tokens | first token s |",
        "|---|---:|---:|---:|---:|",
    ]
    try:
        for name, limit in _parse_sets(args.sets):
            store = name if name in ("open", "chatlog") else "debian"
            for q in question_set(name, args.split)[:limit]:
                for k in sizes:
                    runner.settings = base.model_copy(update={"top_k": k})
                    runner._stores.pop(store, None)
                    settings, st = runner.store(store)
                    answer = docqa.ask(
                        q.question, settings, llm=runner.llm, embedder=runner.embedder, store=st
                    )
                    st.close()
                    runner._stores.pop(store, None)
                    if answer.timings.first_token_s is None:
                        continue
                    tokens = answer.usage.prompt_tokens or 0
                    given = len(answer.hits) - len(answer.dropped_sources)
                    points.append((k, tokens, answer.timings.first_token_s))
                    seconds = answer.timings.first_token_s
                    lines.append(f"| {q.id} | {k} | {given} | {tokens} | {seconds:.1f} |")
                    print(lines[-1], flush=True)
    finally:
        runner.close()
    if len(points) >= 2:
        xs = [float(t) for _, t, _ in points]
        ys = [s for _, _, s in points]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        lines.append(
            f"\nfirst token ≈ {my - b * mx:.1f} s + {b * 1000:.1f} s per 1,000 prompt tokens"
        )
    return "\n".join(lines)


def save(label: str, args: argparse.Namespace, rows: Sequence[Row]) -> None:
    out = CACHE / "runs" / f"{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"label": label, "argv": sys.argv[1:], "rows": [asdict(r) for r in rows]}
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"saved {out}")


def load(label: str) -> list[Row]:
    """A saved run, its abstention flags re-read with the current detector (so that runs
    saved before a detector change are counted by the same rule)."""
    data = json.loads((CACHE / "runs" / f"{label}.json").read_text(encoding="utf-8"))
    rows = [Row(**r) for r in data["rows"]]
    for row in rows:
        rag = row.rag
        rag["says_not"] = says_not_in_documents(rag["text"])
        rag["abstained"] = rag["abstained"] or rag["says_not"]
        rag["mixed"] = not rag["abstained"] and mentions_not_in_documents(rag["text"])
        rag["cited_abstention"] = rag["abstained"] and bool(rag["citations"])
        # runs saved before docqa checked citations: they are as the model gave them
        rag.setdefault("citation_precision_given", rag["citation_precision"])
    return rows


def fill_baselines(args: argparse.Namespace) -> str:
    """The model alone on the questions of a run saved with ``--no-baseline`` (same ``--split``
    and ``--set`` as that run: the baseline cache is keyed by the sampling settings)."""
    path = CACHE / "runs" / f"{args.fill_baselines}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    settings = run_settings(args)
    runner = Runner(settings, no_baseline=False)
    sets = {row["set"] for row in data["rows"]} - {"chat"}
    gold = {(name, q.id): q for name in sets for q in question_set(name, args.split)}
    try:
        for row in data["rows"]:
            if row["set"] == "chat" or not row["answerable"] or row.get("baseline"):
                continue
            q = gold[(row["set"], row["id"])]
            base = runner.baseline(q.question)
            assert base is not None
            row["baseline"] = _scored(base, q, Judge.of(q))
            print(f"{row['set']:12} {row['id'][:28]:28} alone F1 {_f(row['baseline']['f1'])}")
    finally:
        runner.close()
    data["argv"] = [*data["argv"], "# baselines:", *sys.argv[1:]]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return per_set_table(args.fill_baselines, load(args.fill_baselines))


def iter_labels(text: str) -> Iterator[str]:
    yield from (x.strip() for x in text.split(",") if x.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="tune", choices=("tune", "test"))
    parser.add_argument("--sets", default="en:12,fr:6,unanswerable:6,open,chat:3")
    parser.add_argument("--label", help="save the run as runs/LABEL.json")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="a Settings field: key=value")
    parser.add_argument("--no-baseline", action="store_true", help="RAG answers only")
    parser.add_argument("--table", help="print saved runs LABEL,... instead of running")
    parser.add_argument("--readme", help="write the table between these README markers")
    parser.add_argument("--ids", help="only these question ids (of the sets chosen)")
    parser.add_argument(
        "--versus",
        action="append",
        default=[],
        help="also ask each question with this Settings field changed (key=value), interleaved",
    )
    parser.add_argument("--versus-label", help="save the --versus answers as runs/LABEL.json")
    parser.add_argument("--latency", help="print first token and total of saved runs A,B")
    parser.add_argument("--sweep", help="first-token time for these top_k values, e.g. 2,4,8")
    parser.add_argument("--fill-baselines", help="add the model alone to saved run LABEL")
    args = parser.parse_args()
    if args.fill_baselines:
        text = fill_baselines(args)
    elif args.sweep:
        text = sweep(args)
    elif args.latency:
        a, b = list(iter_labels(args.latency))
        text = latency_table(a, load(a), b, load(b))
    elif args.table:
        parts = [per_set_table(label, load(label)) for label in iter_labels(args.table)]
        text = "\n\n".join(parts)
    else:
        arms = run(args)
        labels = [args.label, args.versus_label or (f"{args.label}-versus" if args.label else None)]
        parts = []
        for label, rows in zip(labels, arms, strict=False):
            if label:
                save(label, args, rows)
            parts.append(per_set_table(label or "run", rows))
        if len(arms) > 1:
            parts.append(latency_table(labels[0] or "run", arms[0], labels[1] or "versus", arms[1]))
        text = "\n\n".join(parts)
    print(text)
    if args.readme:
        write_readme(args.readme, text)


if __name__ == "__main__":
    main()
