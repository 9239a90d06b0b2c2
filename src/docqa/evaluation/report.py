"""The evaluation report: per-question rows, aggregates per mode and language, JSON round-trip,
and its tables (Markdown for terminals and files, HTML for notebooks)."""

from __future__ import annotations

import html
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from docqa.errors import ConfigError
from docqa.evaluation.scoring import AnswerScore, EvalRow, Ranking
from docqa.render import Table, one_line


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
        return _tables(self)

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

    def to_markdown(self) -> str:
        """The report as Markdown: settings, the retrieval and answer tables, changes, warnings."""
        return _markdown(self)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return _html(self)


# --- tables ----------------------------------------------------------------------------------


def _fmt(now: float | None, before: float | None = None, digits: int = 3) -> str:
    if now is None:
        return "—"
    cell = f"{now:.{digits}f}"
    if before is not None and round(now - before, digits) != 0:
        cell += f" ({now - before:+.{digits}f})"
    return cell


def _retrieval_table(report: EvalReport) -> Table:
    k, previous = report.k, report.previous
    before = {(s.mode, s.lang): s for s in (previous.retrieval() if previous else [])}
    rows = []
    for s in report.retrieval():
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


def _answer_table(report: EvalReport) -> Table:
    previous = report.previous
    before = {(s.answer, s.lang): s for s in (previous.answers() if previous else [])}
    names: tuple[str, ...] = ("f1", "content_recall", "citation_precision")
    names += ("false_abstention", "correct_abstention")
    rows = []
    for s in report.answers():
        p = before.get((s.answer, s.lang))
        cells = [_fmt(getattr(s, n), getattr(p, n) if p else None) for n in names]
        latency = _fmt(s.latency_s, p.latency_s if p else None, digits=2)
        flags = [str(s.mixed), str(s.cited_abstention)]
        rows.append([s.answer, s.lang, str(s.questions), *cells, *flags, latency])
    header = ["answer", "lang", "questions", "token F1", "content recall"]
    header += ["citation precision", "false abstention", "correct abstention"]
    header += ["mixed", "abstentions citing", "median s"]
    model = report.config.get("model", "")
    return f"Answers{f' ({model})' if model else ''}", header, rows


def _tables(report: EvalReport) -> list[Table]:
    """The report as tables (title, header, rows), changes since ``previous`` inline."""
    tables = [_retrieval_table(report)]
    if any(r.rag is not None for r in report.rows):
        tables.append(_answer_table(report))
    return [t for t in tables if t[2]]


def _notes(report: EvalReport) -> list[str]:
    notes = [f"{key}: {value}" for key, value in report.config.items()]
    if report.previous is not None:
        notes.append(f"compared with {report.previous.questions_file} (changes in parentheses)")
        if report.previous.k != report.k:
            notes.append(f"the earlier run used k={report.previous.k}, this one k={report.k}")
    return notes


def _markdown(report: EvalReport) -> str:
    """The report as Markdown: settings, the retrieval and answer tables, changes, warnings."""
    # Read in a terminal and saved as a .md file: raw HTML is made inert, but paths keep their
    # underscores unescaped (nothing in a report comes from the documents' text).
    title = html.escape(one_line(f"{report.questions_file} ({len(report.rows)} questions)"), False)
    parts = [f"## docqa eval: {title}"]
    parts.append("\n".join(f"- {html.escape(n, quote=False)}" for n in _notes(report)))
    for title, header, rows in _tables(report):
        # the first two columns name the row, the others are numbers (right-aligned)
        rule = "|---|---|" + "---:|" * (len(header) - 2)
        lines = [f"| {' | '.join(header)} |", rule]
        lines += [f"| {' | '.join(r)} |" for r in rows]
        parts.append(f"### {title}\n\n" + "\n".join(lines))
    if changes := report.changes():
        parts.append(
            "### Changes\n\n" + "\n".join(f"- {html.escape(c, quote=False)}" for c in changes)
        )
    if report.warnings:
        parts.append("\n".join(f"> ⚠ {html.escape(w, quote=False)}" for w in report.warnings))
    return "\n\n".join(p for p in parts if p) + "\n"


def _html(report: EvalReport) -> str:
    """The report as HTML, for notebooks."""
    title = f"docqa eval: {report.questions_file} ({len(report.rows)} questions)"
    out = [f"<h4>{html.escape(title)}</h4>"]
    out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in _notes(report)) + "</ul>")
    for name, header, rows in _tables(report):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
        )
        out.append(f"<p><b>{html.escape(name)}</b></p><table><tr>{head}</tr>{body}</table>")
    out += [f"<p>{html.escape(c)}</p>" for c in report.changes()]
    out += [f"<p><i>⚠ {html.escape(w)}</i></p>" for w in report.warnings]
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
