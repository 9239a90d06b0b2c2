"""Evaluate docqa on your own questions: retrieval metrics, and baseline versus RAG answers.

A question file is JSON Lines, one object per line::

    {"question": "What is Debian?", "answer": "Debian is ...", "sources": ["debian-faq.en.pdf"]}
    {"question": "...", "sources": [{"file": "debian-faq.en.pdf", "pages": [12, 13]}]}
    {"question": "How do I use Python's GIL?", "answerable": false}
    {"question": "...", "use": false}

``answer`` is the gold text, ``sources`` the files (optionally pages) that hold it, matched to a
hit's path by name or path suffix; ``answerable: false`` marks questions the documents cannot
answer (docqa should abstain); rows with ``use: false`` are skipped. Optional: ``id``, ``lang``
(else detected among ``Settings.languages``) and ``split``.

Retrieval is judged by file/page when ``sources`` are given, else by answer containment
(:mod:`docqa.metrics`), in which case every chunk of the store holding the answer counts as
relevant. Answers are judged without any remote judge: token F1 and content-word recall against
the gold answer, citation precision (cited chunks that are relevant by the same rule), abstention
and latency.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from docqa.config import Settings, store_path
from docqa.errors import ConfigError, LLMTimeoutError, QuestionFileError
from docqa.language import detect_language, words
from docqa.metrics import (
    answer_terms,
    contains_answer,
    content_recall,
    first_relevant,
    hit_rate,
    ndcg,
    recall,
    reciprocal_rank,
    token_f1,
)
from docqa.types import Answer, Hit

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.llm import LLM
    from docqa.stores import Store

SEARCH_MODES = ("dense", "bm25", "hybrid", "rerank")
"""Retrieval modes ``evaluate`` compares; ``rerank`` is the configured mode plus the reranker."""
DEFAULT_K = 10
Progress = Callable[[int, int], None]


# --- question files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A file that holds the answer, and optionally its 1-based pages (empty: the whole file)."""

    file: str
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class Question:
    """One row of a question file (see the module docstring for the format)."""

    id: str
    question: str
    answer: str | None = None
    sources: tuple[Source, ...] = ()
    answerable: bool = True
    lang: str = "en"
    split: str | None = None


_SOURCES_HELP = 'a list of file names or {"file": NAME, "pages": [N, ...]} objects'


def _source(value: object, where: str) -> Source:
    if isinstance(value, str) and value:
        return Source(value)
    if isinstance(value, dict) and isinstance(value.get("file"), str):
        pages = value.get("pages", [])
        pages = [pages] if isinstance(pages, int) else pages
        if isinstance(pages, list) and all(type(p) is int and p >= 1 for p in pages):
            return Source(value["file"], tuple(sorted(set(pages))))
    raise QuestionFileError(f'{where}: "sources" must be {_SOURCES_HELP}, not {value!r}')


def _sources(value: object, where: str) -> tuple[Source, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(_source(item, where) for item in items)


def _text(row: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise QuestionFileError(f'{where}: "{key}" must be non-empty text')
    return value


def parse_question(
    row: Mapping[str, Any], where: str, languages: Sequence[str] = ("en", "fr")
) -> Question | None:
    """One question-file row as a :class:`Question`; ``None`` for rows with ``"use": false``.

    Args:
        row: The decoded JSON object.
        where: ``file line N``, the start of every error message.
        languages: Candidates for language detection when the row has no ``lang``.

    Raises:
        QuestionFileError: a field has the wrong type.
    """
    if row.get("use", True) is False:
        return None
    question = _text(row, "question", where, required=True) or ""
    answer = _text(row, "answer", where)
    answerable = row.get("answerable", True)
    if not isinstance(answerable, bool):
        raise QuestionFileError(f'{where}: "answerable" must be true or false')
    lang = row.get("lang") or detect_language(f"{question} {answer or ''}", languages)
    split = row.get("split")
    return Question(
        id=str(row.get("id", where.rsplit(" ", 1)[-1])),
        question=question,
        answer=answer,
        sources=_sources(row.get("sources"), where),
        answerable=answerable,
        lang=str(lang),
        split=None if split is None else str(split),
    )


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` per non-empty line of a JSONL file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(
            f"cannot read question file {path} ({exc}): give a UTF-8 JSONL file, "
            'one {"question": ...} object per line'
        ) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionFileError(f"{where}: not JSON ({exc.msg}, column {exc.colno})") from None
        if not isinstance(row, dict):
            raise QuestionFileError(f'{where}: not a JSON object (write {{"question": ...}})')
        yield where, row


def load_questions(
    path: str | Path, languages: Sequence[str] = ("en", "fr"), split: str | None = None
) -> list[Question]:
    """Read a question file, skipping ``"use": false`` rows and rows of another ``split``.

    Args:
        path: The JSONL file.
        languages: Candidates for language detection.
        split: Keep only rows whose ``split`` is this (``None``: all rows).

    Raises:
        QuestionFileError: the file is missing, a line is malformed, or no question is left.
    """
    path = Path(path)
    questions = [q for where, row in _rows(path) if (q := parse_question(row, where, languages))]
    if split is not None:
        questions = [q for q in questions if q.split == split]
    if not questions:
        which = f' with "split": "{split}"' if split is not None else ""
        raise QuestionFileError(
            f'{path.name}: no question to evaluate{which} (or all "use": false)'
        )
    return questions


# --- relevance ---------------------------------------------------------------------------------


def path_matches(source: str, path: str) -> bool:
    """Whether the stored ``path`` is the file ``source`` names: same name, or same path suffix.

    ``"guide.pdf"`` matches ``/docs/a/guide.pdf``; ``"a/guide.pdf"`` matches it too, but
    ``"b/guide.pdf"`` does not.
    """
    wanted = PurePosixPath(source.replace("\\", "/")).parts
    parts = PurePosixPath(Path(path).as_posix()).parts
    return 0 < len(wanted) <= len(parts) and parts[-len(wanted) :] == wanted


JudgedBy = Literal["sources", "answer"]


@dataclass(frozen=True)
class Judge:
    """Decides which retrieved chunks are relevant to one question.

    By ``sources`` when the question has them (each source page, or file, counts once), else
    by containment of the gold ``answer`` (each chunk holding it counts). Unanswerable
    questions, and questions with neither, are not judged (``by`` is ``None``).
    """

    question: Question
    terms: tuple[str, ...] = ()

    @classmethod
    def of(cls, question: Question) -> Judge:
        """The judge of ``question``, with its answer's containment key computed once."""
        terms = answer_terms(question.answer, question.lang) if question.answer else []
        return cls(question, tuple(terms))

    @property
    def by(self) -> JudgedBy | None:
        """``sources``, ``answer`` or ``None`` (nothing to judge retrieval by)."""
        if not self.question.answerable:
            return None
        if self.question.sources:
            return "sources"
        return "answer" if self.terms else None

    def keys(self, hit: Hit) -> set[str]:
        """The relevant things ``hit`` brings: source pages/files, or its own chunk id."""
        if self.by == "answer":
            return {hit.chunk_id or hit.text} if contains_answer(self.terms, hit.text) else set()
        keys: set[str] = set()
        for i, source in enumerate(self.question.sources):
            if not any(path_matches(source.file, f) for f in hit.files or (hit.file,)):
                continue
            if not source.pages:
                keys.add(str(i))
            elif hit.page in source.pages:
                keys.add(f"{i}:{hit.page}")
        return keys

    def flags(self, hits: Sequence[Hit]) -> list[bool]:
        """One flag per hit: does it bring a relevant thing no higher hit brought?"""
        seen: set[str] = set()
        flags = []
        for hit in hits:
            new = self.keys(hit) - seen
            flags.append(bool(new))
            seen |= new
        return flags

    def source_targets(self) -> int:
        """How many relevant things the sources name (pages, or 1 per whole file)."""
        return sum(len(s.pages) or 1 for s in self.question.sources)


# --- per-question results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """How well one retrieval mode ranked one question's relevant chunks, at ``k``."""

    hit: float
    rr: float
    ndcg: float
    recall: float
    rank: int | None
    n_relevant: int
    seconds: float


@dataclass(frozen=True)
class AnswerScore:
    """One answer (baseline or RAG) scored against the question's gold answer."""

    text: str
    abstained: bool
    seconds: float
    f1: float | None = None
    content_recall: float | None = None
    citation_precision: float | None = None
    citations: int = 0
    mixed: bool = False
    cited_abstention: bool = False


@dataclass(frozen=True)
class EvalRow:
    """Everything measured for one question."""

    id: str
    question: str
    lang: str
    answerable: bool
    split: str | None = None
    judged_by: JudgedBy | None = None
    retrieval: dict[str, Ranking] = field(default_factory=dict)
    baseline: AnswerScore | None = None
    rag: AnswerScore | None = None


def rank_hits(
    hits: Sequence[Hit], judge: Judge, k: int, n_relevant: int, seconds: float
) -> Ranking:
    """Score a ranked list of hits for one question.

    Args:
        hits: The hits, best first.
        judge: The question's judge.
        k: Cut-off.
        n_relevant: How many relevant things exist (raised to those found when lower).
        seconds: Time the search took, kept in the result.
    """
    flags = judge.flags(hits)
    n = max(n_relevant, sum(flags[:k]))
    return Ranking(
        hit=hit_rate(flags, k),
        rr=reciprocal_rank(flags, k),
        ndcg=ndcg(flags, k, n),
        recall=recall(flags, k, n),
        rank=first_relevant(flags[:k]),
        n_relevant=n,
        seconds=seconds,
    )


def score_answer(answer: Answer, question: Question, judge: Judge) -> AnswerScore:
    """Score one answer: F1 and content recall against the gold, precision of its citations.

    Abstention is read from the text: an answer with sources that opens by saying the
    documents do not say is one whatever follows (its citations are flagged, not scored); one
    that answers and then says so is flagged as *mixed*.
    """
    from docqa.answering import mentions_not_in_documents, says_not_in_documents

    gold = question.answer if question.answerable else None
    abstained = answer.abstained or (bool(answer.hits) and says_not_in_documents(answer.text))
    cited = [answer.hits[c.n - 1] for c in answer.citations if 1 <= c.n <= len(answer.hits)]
    precision = None
    if cited and judge.by is not None and not abstained:
        precision = sum(1 for h in cited if judge.keys(h)) / len(cited)
    return AnswerScore(
        text=answer.text,
        abstained=abstained,
        seconds=answer.timings.total_s,
        f1=token_f1(answer.text, gold) if gold else None,
        content_recall=content_recall(answer.text, gold, question.lang) if gold else None,
        citation_precision=precision,
        citations=len(answer.citations),
        mixed=bool(answer.hits) and not abstained and mentions_not_in_documents(answer.text),
        cited_abstention=abstained and bool(answer.citations),
    )


# --- aggregates and the report -----------------------------------------------------------------


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


@dataclass(frozen=True)
class RetrievalSummary:
    """Mean retrieval metrics of one mode over the judged questions of one language (or all)."""

    mode: str
    lang: str
    questions: int
    hit_rate: float | None
    mrr: float | None
    ndcg: float | None
    recall: float | None


@dataclass(frozen=True)
class AnswerSummary:
    """Answer metrics of ``baseline`` or ``rag`` over one language (or all).

    ``false_abstention`` is over answerable questions, ``correct_abstention`` over unanswerable
    ones; ``latency_s`` is the median seconds per answer. ``mixed`` counts answers that
    answer and then say the documents do not say, ``cited_abstention`` abstentions that cite.
    """

    answer: str
    lang: str
    questions: int
    f1: float | None
    content_recall: float | None
    citation_precision: float | None
    false_abstention: float | None
    correct_abstention: float | None
    latency_s: float | None
    mixed: int = 0
    cited_abstention: int = 0


def _groups(rows: Sequence[EvalRow]) -> list[tuple[str, list[EvalRow]]]:
    """``[("all", rows), (lang, rows)...]`` with several languages, else ``[(lang, rows)]``."""
    langs = sorted({r.lang for r in rows})
    by_lang = [(lang, [r for r in rows if r.lang == lang]) for lang in langs]
    return [("all", list(rows)), *by_lang] if len(langs) > 1 else by_lang


def _retrieval_summary(mode: str, lang: str, rows: Sequence[EvalRow]) -> RetrievalSummary:
    ranked = [r.retrieval[mode] for r in rows if mode in r.retrieval]
    return RetrievalSummary(
        mode=mode,
        lang=lang,
        questions=len(ranked),
        hit_rate=_mean(x.hit for x in ranked),
        mrr=_mean(x.rr for x in ranked),
        ndcg=_mean(x.ndcg for x in ranked),
        recall=_mean(x.recall for x in ranked),
    )


def _abstention(rows: Sequence[EvalRow], which: str, answerable: bool) -> float | None:
    scores = [getattr(r, which) for r in rows if r.answerable is answerable]
    return _mean(float(s.abstained) for s in scores if s is not None)


def _answer_summary(which: str, lang: str, rows: Sequence[EvalRow]) -> AnswerSummary:
    scores: list[AnswerScore] = [s for r in rows if (s := getattr(r, which)) is not None]
    latencies = [s.seconds for s in scores]
    return AnswerSummary(
        answer=which,
        lang=lang,
        questions=len(scores),
        f1=_mean(s.f1 for s in scores),
        content_recall=_mean(s.content_recall for s in scores),
        citation_precision=_mean(s.citation_precision for s in scores),
        false_abstention=_abstention(rows, which, answerable=True),
        correct_abstention=_abstention(rows, which, answerable=False),
        latency_s=statistics.median(latencies) if latencies else None,
        mixed=sum(s.mixed for s in scores),
        cited_abstention=sum(s.cited_abstention for s in scores),
    )


Table = tuple[str, list[str], list[list[str]]]  # title, header, rows of cells


def _fmt(now: float | None, before: float | None = None, digits: int = 3) -> str:
    if now is None:
        return "—"
    cell = f"{now:.{digits}f}"
    if before is not None and round(now - before, digits) != 0:
        cell += f" ({now - before:+.{digits}f})"
    return cell


@dataclass(frozen=True)
class EvalReport:
    """What :func:`evaluate` measured: one row per question, and aggregates on demand.

    Attributes:
        questions_file: The question file evaluated.
        k: The retrieval cut-off (hit@k, MRR@k, nDCG@k, recall@k).
        modes: The retrieval modes compared.
        rows: One :class:`EvalRow` per question.
        config: The settings that shape results (embedder, chunking, model...), as text.
        seconds: Wall time of the run.
        warnings: One line each (e.g. questions whose answer no chunk contains).
        previous: The run given as ``compare_to``; tables then show the change.
    """

    questions_file: str
    k: int
    modes: tuple[str, ...]
    rows: tuple[EvalRow, ...]
    config: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    previous: EvalReport | None = None

    def retrieval(self) -> list[RetrievalSummary]:
        """Retrieval metrics per mode, for all questions and per language."""
        return [
            _retrieval_summary(mode, lang, rows)
            for mode in self.modes
            for lang, rows in _groups(self.rows)
        ]

    def answers(self) -> list[AnswerSummary]:
        """Answer metrics of the baseline and RAG answers, for all and per language."""
        if not any(r.rag is not None for r in self.rows):
            return []
        groups = _groups(self.rows)
        return [
            _answer_summary(w, lang, rows) for w in ("baseline", "rag") for lang, rows in groups
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: every row plus the aggregates (``previous`` left out)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "previous"}
        data["rows"] = [asdict(r) for r in self.rows]
        data["summary"] = {
            "retrieval": [asdict(s) for s in self.retrieval()],
            "answers": [asdict(s) for s in self.answers()],
        }
        return data

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict` (what ``docqa eval --json`` prints)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> EvalReport:
        """Rebuild a report from :meth:`to_json` output (aggregates are recomputed).

        Raises:
            ValueError: the text is not a docqa eval report.
        """
        try:
            data = json.loads(text)
            return cls(
                questions_file=str(data["questions_file"]),
                k=int(data["k"]),
                modes=tuple(data["modes"]),
                rows=tuple(_row_from_dict(r) for r in data["rows"]),
                config=dict(data.get("config", {})),
                seconds=float(data.get("seconds", 0.0)),
                warnings=tuple(data.get("warnings", ())),
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a docqa eval report ({type(exc).__name__}: {exc})") from None

    def tables(self) -> list[Table]:
        """The report as tables (title, header, rows), changes since ``previous`` inline."""
        tables = [self._retrieval_table()]
        if any(r.rag is not None for r in self.rows):
            tables.append(self._answer_table())
        return [t for t in tables if t[2]]

    def _retrieval_table(self) -> Table:
        k = self.k
        before = {(s.mode, s.lang): s for s in (self.previous.retrieval() if self.previous else [])}
        rows = []
        for s in self.retrieval():
            if not s.questions:
                continue
            p = before.get((s.mode, s.lang))
            rows.append(
                [s.mode, s.lang, str(s.questions)]
                + [
                    _fmt(getattr(s, name), getattr(p, name) if p else None)
                    for name in ("hit_rate", "mrr", "ndcg", "recall")
                ]
            )
        header = ["mode", "lang", "questions", f"hit@{k}", f"MRR@{k}", f"nDCG@{k}", f"recall@{k}"]
        return f"Retrieval (top {k})", header, rows

    def _answer_table(self) -> Table:
        before = {(s.answer, s.lang): s for s in (self.previous.answers() if self.previous else [])}
        names: tuple[str, ...] = ("f1", "content_recall", "citation_precision")
        names += ("false_abstention", "correct_abstention")
        rows = []
        for s in self.answers():
            p = before.get((s.answer, s.lang))
            cells = [_fmt(getattr(s, n), getattr(p, n) if p else None) for n in names]
            latency = _fmt(s.latency_s, p.latency_s if p else None, digits=2)
            flags = [str(s.mixed), str(s.cited_abstention)]
            rows.append([s.answer, s.lang, str(s.questions), *cells, *flags, latency])
        header = ["answer", "lang", "questions", "token F1", "content recall"]
        header += ["citation precision", "false abstention", "correct abstention"]
        header += ["mixed", "abstentions citing", "median s"]
        model = self.config.get("model", "")
        return f"Answers{f' ({model})' if model else ''}", header, rows

    def changes(self) -> list[str]:
        """Per mode, the questions whose hit@k flipped since ``previous`` (empty without one)."""
        if self.previous is None:
            return []
        old = {r.id: r for r in self.previous.rows}
        lines = []
        for mode in self.modes:
            flips: dict[bool, list[str]] = {True: [], False: []}
            for row in self.rows:
                now, was = row.retrieval.get(mode), old.get(row.id)
                then = was.retrieval.get(mode) if was else None
                if now and then and now.hit != then.hit:
                    flips[now.hit > then.hit].append(row.id)
            for found, ids in flips.items():
                if ids:
                    shown = ", ".join(ids[:10]) + (
                        f" (+{len(ids) - 10} more)" if len(ids) > 10 else ""
                    )
                    lines.append(
                        f"{mode}: now {'found' if found else 'missed'} in the top {self.k}: {shown}"
                    )
        return lines

    def _notes(self) -> list[str]:
        notes = [f"{key}: {value}" for key, value in self.config.items()]
        if self.previous is not None:
            notes.append(f"compared with {self.previous.questions_file} (changes in parentheses)")
            if self.previous.k != self.k:
                notes.append(f"the earlier run used k={self.previous.k}, this one k={self.k}")
        return notes

    def to_markdown(self) -> str:
        """The report as Markdown: settings, the retrieval and answer tables, changes, warnings."""
        parts = [f"## docqa eval: {self.questions_file} ({len(self.rows)} questions)"]
        parts.append("\n".join(f"- {n}" for n in self._notes()))
        for title, header, rows in self.tables():
            # the first two columns name the row, the others are numbers (right-aligned)
            rule = "|---|---|" + "---:|" * (len(header) - 2)
            lines = [f"| {' | '.join(header)} |", rule]
            lines += [f"| {' | '.join(r)} |" for r in rows]
            parts.append(f"### {title}\n\n" + "\n".join(lines))
        if changes := self.changes():
            parts.append("### Changes\n\n" + "\n".join(f"- {c}" for c in changes))
        if self.warnings:
            parts.append("\n".join(f"> ⚠ {w}" for w in self.warnings))
        return "\n\n".join(p for p in parts if p) + "\n"

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        import html

        out = [
            f"<h4>docqa eval: {html.escape(self.questions_file)} ({len(self.rows)} questions)</h4>"
        ]
        out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self._notes()) + "</ul>")
        for title, header, rows in self.tables():
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
            )
            out.append(f"<p><b>{html.escape(title)}</b></p><table><tr>{head}</tr>{body}</table>")
        out += [f"<p>{html.escape(c)}</p>" for c in self.changes()]
        out += [f"<p><i>⚠ {html.escape(w)}</i></p>" for w in self.warnings]
        return "".join(out)


def _row_from_dict(data: Mapping[str, Any]) -> EvalRow:
    def score(value: Any) -> AnswerScore | None:
        return AnswerScore(**value) if value is not None else None

    return EvalRow(
        id=str(data["id"]),
        question=str(data["question"]),
        lang=str(data["lang"]),
        answerable=bool(data["answerable"]),
        split=data.get("split"),
        judged_by=data.get("judged_by"),
        retrieval={m: Ranking(**r) for m, r in data.get("retrieval", {}).items()},
        baseline=score(data.get("baseline")),
        rag=score(data.get("rag")),
    )


def load_report(path: str | Path) -> EvalReport:
    """Read a report saved with ``docqa eval --json > run.json``.

    Raises:
        ConfigError: the file is missing or is not a docqa eval report.
    """
    path = Path(path)
    try:
        return EvalReport.from_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"cannot compare to {path}: {exc}; give a file saved with `docqa eval --json > FILE`"
        ) from None


# --- running an evaluation ---------------------------------------------------------------------


class _Session:
    """The collaborators one evaluation shares across questions: store, embedder, LLM."""

    def __init__(self, settings: Settings, stack: ExitStack, store: Store | None) -> None:
        self.settings = settings
        if store is None:
            from docqa.stores import open_store

            store = open_store(settings, store_path(settings, create=False))
            stack.callback(store.close)
        self.store = store
        self.embedder: Embedder | None = None
        self.llm: LLM | None = None
        self._chunk_words: list[frozenset[str]] | None = None

    def embedder_now(self) -> Embedder:
        """The embedder, loaded on first use."""
        if self.embedder is None:
            from docqa import embedding

            self.embedder = embedding.make_embedder(self.settings)
        return self.embedder

    def open_llm(self, stack: ExitStack) -> None:
        """Build the LLM the settings name, refusing ``auto``'s fallback to a small model."""
        from docqa import llm as backends

        backend, warning = backends.resolve_backend(self.settings)
        if warning:
            raise ConfigError(
                f"eval will not score a fallback model ({warning}): name the backend with "
                "DOCQA_LLM=gguf|ollama|openai, or run with --retrieval-only"
            )
        self.llm = backends.make_llm(self.settings, backend)
        stack.callback(self.llm.close)

    def count_containing(self, terms: Sequence[str]) -> int:
        """How many chunks of the whole store contain the answer keyed by ``terms``."""
        if self._chunk_words is None:
            points = self.store.points()
            self._chunk_words = [frozenset(words(str(p.payload.get("text", "")))) for p in points]
        return sum(1 for chunk in self._chunk_words if contains_answer(terms, chunk))

    def search(self, question: str, mode: str, k: int) -> list[Hit]:
        """Top ``k`` hits in ``mode``; the reranker only in ``rerank`` mode."""
        from docqa import retrieval

        settings = self.settings
        if mode != "rerank":
            settings = settings.model_copy(update={"rerank_model": None, "search_mode": mode})
        embedder = None if settings.search_mode == "bm25" else self.embedder_now()
        return retrieval.search(question, settings, k=k, embedder=embedder, store=self.store)


def _modes(modes: Sequence[str] | None, settings: Settings) -> tuple[str, ...]:
    if not modes:
        return ("rerank",) if settings.rerank_model is not None else (settings.search_mode,)
    for mode in modes:
        if mode not in SEARCH_MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r}: use {', '.join(SEARCH_MODES)}")
    if "rerank" in modes and settings.rerank_model is None:
        raise ConfigError(
            "mode 'rerank' needs a cross-encoder: set DOCQA_RERANK_MODEL to its folder"
        )
    return tuple(dict.fromkeys(modes))


def _retrieve(
    q: Question, judge: Judge, session: _Session, modes: Sequence[str], k: int
) -> dict[str, Ranking]:
    if judge.by is None:
        return {}
    if judge.by == "sources":
        n_relevant = judge.source_targets()
    else:
        n_relevant = session.count_containing(judge.terms)
    results = {}
    for mode in modes:
        started = time.perf_counter()
        hits = session.search(q.question, mode, k)
        results[mode] = rank_hits(hits, judge, k, n_relevant, time.perf_counter() - started)
    return results


def _answer(q: Question, judge: Judge, session: _Session) -> tuple[AnswerScore, AnswerScore]:
    from docqa.answering import compare

    result = compare(
        q.question,
        session.settings,
        llm=session.llm,
        embedder=session.embedder_now(),
        store=session.store,
    )
    return score_answer(result.baseline, q, judge), score_answer(result.rag, q, judge)


def _evaluate_one(
    q: Question, session: _Session, modes: Sequence[str], k: int, warnings: list[str]
) -> EvalRow:
    judge = Judge.of(q)
    retrieval = _retrieve(q, judge, session, modes, k)
    if judge.by == "answer" and retrieval and not next(iter(retrieval.values())).n_relevant:
        warnings.append(f"question {q.id}: no chunk of the store contains its gold answer")
    base = rag = None
    if session.llm is not None:
        try:
            base, rag = _answer(q, judge, session)
        except LLMTimeoutError as exc:
            warnings.append(f"question {q.id}: left out of the answer metrics ({exc})")
        else:
            if rag.cited_abstention:
                warnings.append(
                    f"question {q.id}: the answer says the documents do not say, yet cites"
                )
            if rag.mixed:
                warnings.append(
                    f"question {q.id}: the answer answers, then says the documents do not say"
                )
    return EvalRow(q.id, q.question, q.lang, q.answerable, q.split, judge.by, retrieval, base, rag)


def _config(settings: Settings, session: _Session) -> dict[str, str]:
    config = {
        "embedder": session.embedder.id if session.embedder else settings.embed_model,
        "chunks": f"{settings.chunk_tokens} tokens, {settings.chunk_overlap} overlap",
    }
    if settings.rerank_model is not None:
        config["reranker"] = str(settings.rerank_model)
    if session.llm is not None:
        config["model"] = f"{session.llm.model} via {session.llm.backend}"
        config["answers"] = f"top {settings.top_k} {settings.search_mode}, floor {settings.floor}"
    return config


def evaluate(
    questions: str | Path,
    settings: Settings | None = None,
    *,
    k: int = DEFAULT_K,
    modes: Sequence[str] | None = None,
    retrieval_only: bool = False,
    split: str | None = None,
    compare_to: str | Path | None = None,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    on_progress: Progress | None = None,
) -> EvalReport:
    """Evaluate retrieval, and baseline versus RAG answers, on the questions of a JSONL file.

    Args:
        questions: The question file (format in :mod:`docqa.evaluation`).
        settings: Settings; defaults to ``Settings()``.
        k: Retrieval cut-off for hit rate, MRR, nDCG and recall.
        modes: Retrieval modes to compare (``dense``, ``bm25``, ``hybrid``, ``rerank``);
            default: the configured one.
        retrieval_only: Skip the answers (no LLM needed).
        split: Only rows with this ``split`` (e.g. ``"test"``).
        compare_to: A report saved with ``docqa eval --json``; the tables show the changes.
        llm: Language model to use instead of the one the settings name.
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).
        on_progress: Called with ``(done, total)`` after each question.

    Returns:
        An :class:`EvalReport`.

    Raises:
        QuestionFileError: the question file is missing or malformed.
        ConfigError: an unknown mode, or ``DOCQA_LLM=auto`` fell back to the small GGUF model.
        NoStoreError: there is no store.
    """
    started = time.perf_counter()
    settings = settings or Settings()
    items = load_questions(questions, settings.languages, split)
    chosen = _modes(modes, settings)
    previous = load_report(compare_to) if compare_to is not None else None
    if retrieval_only and not any(Judge.of(q).by for q in items):
        raise QuestionFileError(
            f'{Path(questions).name}: no question has an "answer" or "sources" '
            "to judge retrieval by"
        )
    warnings: list[str] = []
    with ExitStack() as stack:
        session = _Session(settings, stack, store)
        session.embedder, session.llm = embedder, None if retrieval_only else llm
        if not retrieval_only and llm is None:
            session.open_llm(stack)
        rows = []
        for done, q in enumerate(items, 1):
            rows.append(_evaluate_one(q, session, chosen, k, warnings))
            if on_progress is not None:
                on_progress(done, len(items))
        config = _config(settings, session)
    return EvalReport(
        questions_file=str(questions),
        k=k,
        modes=chosen,
        rows=tuple(rows),
        config=config,
        seconds=time.perf_counter() - started,
        warnings=tuple(warnings),
        previous=previous,
    )
