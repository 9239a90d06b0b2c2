"""The ``docqa`` command line: a thin shell that parses, calls one public function, renders.

Every :class:`~docqa.errors.DocqaError` becomes one line on stderr; ``DOCQA_DEBUG=1`` (or
``--debug``) re-raises it with its traceback.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

import docqa
from docqa.config import Settings
from docqa.errors import ConfigError, ConfirmationRequired, DocqaError
from docqa.progress import IngestBar
from docqa.types import Answer, Comparison, SentenceSupport, shown_path, source_lines

if TYPE_CHECKING:
    from docqa.answering import AnswerStream


def _debug() -> bool:
    return os.environ.get("DOCQA_DEBUG", "").lower() in {"1", "true", "yes", "on"}


def _pairs(values: tuple[str, ...]) -> dict[str, list[str]]:
    """``("lang=fr", "lang=en")`` -> ``{"lang": ["fr", "en"]}``."""
    out: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. lang=fr)")
        out.setdefault(key, []).append(value)
    return out


class _Group(click.Group):
    """Turns DocqaError into a one-line message (exit 1) unless debugging."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DocqaError as exc:
            if _debug():
                raise
            raise click.ClickException(str(exc)) from exc


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    """Settings from env + docqa.toml, overridden by the global and the command's flags."""
    try:
        base = Settings(**{k: v for k, v in ctx.obj.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"bad setting {where or '?'}: {err['msg']} (check DOCQA_* and docqa.toml)"
        ) from None
    return base.with_(**flags)


@click.group(cls=_Group)
@click.option("--store", type=click.Path(path_type=Path), help="Store folder (DOCQA_STORE).")
@click.option("--debug", is_flag=True, help="Show tracebacks (DOCQA_DEBUG=1).")
@click.version_option(docqa.__version__, prog_name="docqa")
@click.pass_context
def cli(ctx: click.Context, store: Path | None, debug: bool) -> None:
    """Private, local question-answering over your own documents."""
    if debug:
        os.environ["DOCQA_DEBUG"] = "1"
    ctx.obj = {"store": store}


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before removing many files from the store.")
@click.option("--password", help="Password for encrypted PDFs (DOCQA_PDF_PASSWORD).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--ocr",
    type=click.Choice(["never", "auto", "always"]),
    help="OCR scanned PDF pages with Tesseract: auto = pages without text (DOCQA_OCR).",
)
@click.option(
    "--follow-links",
    is_flag=True,
    help="Also ingest symlinks that lead out of the folder (DOCQA_FOLLOW_LINKS).",
)
@click.pass_context
def ingest(
    ctx: click.Context,
    path: Path,
    yes: bool,
    password: str | None,
    as_json: bool,
    ocr: str | None,
    follow_links: bool,
) -> None:
    """Add a file or folder to the store (only new and changed files are embedded)."""
    links = follow_links or None  # unset: DOCQA_FOLLOW_LINKS decides
    settings = _settings(ctx, pdf_password=password, ocr=ocr, follow_links=links)
    bar = IngestBar(enabled=not as_json and sys.stderr.isatty())
    try:
        report = docqa.ingest(path, settings, on_progress=bar, yes=yes)
    except ConfirmationRequired as exc:
        bar.close()
        if not sys.stdin.isatty() or not click.confirm(str(exc).split(":")[0] + ". Go ahead?"):
            raise
        report = docqa.ingest(path, settings, on_progress=bar, yes=True)
    finally:
        bar.close()
    if as_json:
        click.echo(report.to_json())
    else:
        for file, reason in report.failed:
            click.echo(f"failed: {file}: {reason}", err=True)
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        click.echo(report.summary())
    ctx.exit(report.exit_code)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the store: files, chunks, embedder, fingerprint, size, warnings."""
    result = docqa.status(_settings(ctx))
    click.echo(result.to_json() if as_json else result.summary())


@cli.command()
@click.argument("question")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), help="Hits (DOCQA_TOP_K).")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25"]), help="Retrieval mode.")
@click.option("--file", "files", multiple=True, help="Only files matching this glob (repeatable).")
@click.option(
    "--where",
    multiple=True,
    callback=lambda _c, _p, v: _pairs(v),
    help="Payload filter KEY=VALUE, e.g. lang=fr (repeatable; same key: any value).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@click.pass_context
def search(
    ctx: click.Context,
    question: str,
    k: int | None,
    mode: Any,
    files: tuple[str, ...],
    where: dict[str, list[str]],
    as_json: bool,
) -> None:
    """Show the chunks that best match QUESTION, best first (no LLM involved)."""
    settings = _settings(ctx)
    hits = docqa.search(question, settings, k=k, mode=mode, files=files or None, where=where)
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    for rank, hit in enumerate(hits, 1):
        cos = f" (cos {hit.dense_score:.2f})" if hit.dense_score is not None else ""
        place = replace(hit, file=shown_path(hit.file)).locator
        click.echo(f"{rank}. {hit.score:.4f}{cos} {place}  {' '.join(hit.text.split())[:100]}")
    if not hits:
        click.echo("no matching chunks", err=True)


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reset(ctx: click.Context, yes: bool) -> None:
    """Delete the store (points and manifest; other files in its folder stay)."""
    settings = _settings(ctx)
    try:
        removed = docqa.reset(settings, yes=yes)
    except ConfirmationRequired as exc:
        if not sys.stdin.isatty() or not click.confirm(str(exc).split(": pass")[0] + ". Go ahead?"):
            raise
        removed = docqa.reset(settings, yes=True)
    click.echo(f"removed the docqa store at {removed}")


# --- ask and chat ---------------------------------------------------------------------------

_SIDE_BY_SIDE_MIN = 120  # terminal columns from which --compare shows the answers side by side


def _answer_options(command: Any) -> Any:
    """The flags ``ask`` and ``chat`` share."""
    for option in reversed(
        [
            click.option("--model", help="Model name (DOCQA_MODEL)."),
            click.option("--preset", help="System-prompt preset (DOCQA_PRESET)."),
            click.option(
                "-k", "--top-k", "k", type=click.IntRange(min=1), help="Sources (DOCQA_TOP_K)."
            ),
            click.option("--file", "files", multiple=True, help="Only files matching this glob."),
        ]
    ):
        command = option(command)
    return command


def _warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def _tail(answer: Answer) -> None:
    """After the answer's text: its sources (the cited ones, else all given), then warnings."""
    cited = [c.locator for c in answer.citations]
    for line in cited or answer.sources():
        click.echo(line)
    _warn(answer.warnings)


def _stream(result: AnswerStream) -> None:
    """Print the answer as it comes, then its sources and warnings."""
    for piece in result:
        click.echo(piece, nl=False)
    click.echo()
    _tail(result.answer)


def _marked(marks: Sequence[SentenceSupport], fallback: str, width: int) -> list[str]:
    """Each sentence wrapped to ``width``, led by its mark (✓ supported, ~ similar)."""
    if not marks:
        return textwrap.wrap(fallback, width) or [""]
    lines: list[str] = []
    for m in marks:
        lead = f"{m.mark} "
        lines += textwrap.wrap(m.sentence, width, initial_indent=lead, subsequent_indent="  ")
    return lines


def _comparison_text(result: Comparison, columns: int) -> str:
    """Both answers, side by side on a wide terminal, else one after the other, then sources."""
    side = columns >= _SIDE_BY_SIDE_MIN
    width = (columns - 3) // 2 if side else max(40, columns)
    left = ["MODEL ONLY", *_marked(result.baseline_support, result.baseline.text, width)]
    right = ["WITH DOCUMENTS", *_marked(result.rag_support, result.rag.text, width)]
    if side:
        rows = zip_longest(left, right, fillvalue="")
        body = [f"{a:<{width}} | {b}".rstrip() for a, b in rows]
    else:
        body = [*left, "", *right]
    sources = source_lines(result.hits)
    legend = "✓ supported by a source, ~ similar to one"
    return "\n".join([*body, "", *(["Sources:", *sources, ""] if sources else []), legend])


@cli.command()
@click.argument("question")
@click.option("--compare", "compare_", is_flag=True, help="Also answer without the documents.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@_answer_options
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    compare_: bool,
    as_json: bool,
    model: str | None,
    preset: str | None,
    k: int | None,
    files: tuple[str, ...],
) -> None:
    """Answer QUESTION from the documents, citing them as [n]."""
    settings = _settings(ctx, model=model, preset=preset, top_k=k)
    try:
        if compare_:
            result = docqa.compare(question, settings, files=files or None)
            click.echo(result.to_json() if as_json else _comparison_text(result, _columns()))
            _warn(result.warnings)
        elif as_json:
            answer = docqa.ask(question, settings, files=files or None)
            click.echo(answer.to_json())
            _warn(answer.warnings)
        else:
            _stream(docqa.ask(question, settings, stream=True, files=files or None))
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        ctx.exit(130)


def _columns() -> int:
    return shutil.get_terminal_size().columns


def _read_question() -> str | None:
    """The next non-empty line from stdin; ``None`` at EOF or on "exit"/"quit"."""
    while True:
        if sys.stdin.isatty():
            click.echo("> ", nl=False, err=True)
        line = sys.stdin.readline()
        if not line:
            return None
        question = line.strip()
        if question.lower() in {"exit", "quit"}:
            return None
        if question:
            return question


@cli.command()
@_answer_options
@click.pass_context
def chat(
    ctx: click.Context,
    model: str | None,
    preset: str | None,
    k: int | None,
    files: tuple[str, ...],
) -> None:
    """Chat with the documents: one question per line, answers stream; "exit" or EOF ends."""
    settings = _settings(ctx, model=model, preset=preset, top_k=k)
    with docqa.Chat(settings, files=files or None) as session:
        try:
            while (question := _read_question()) is not None:
                try:
                    _stream(session.ask(question, stream=True))
                except KeyboardInterrupt:  # stops this answer only
                    click.echo("\ninterrupted", err=True)
                except DocqaError as exc:
                    if _debug():
                        raise
                    click.echo(f"error: {exc}", err=True)
        except KeyboardInterrupt:  # at the prompt: leave
            click.echo(err=True)
            ctx.exit(130)


class _Questions:
    """A tqdm bar of questions evaluated, drawn only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="question", desc="evaluating", file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@cli.command("eval")
@click.argument("questions", type=click.Path(path_type=Path))
@click.option("-k", type=click.IntRange(min=1), default=10, show_default=True, help="Cut-off.")
@click.option("--modes", help="Retrieval modes to compare, e.g. dense,bm25,hybrid,rerank.")
@click.option("--retrieval-only", is_flag=True, help="Only retrieval metrics (no LLM needed).")
@click.option("--split", help="Only questions whose split is this (e.g. test).")
@click.option("--compare-to", type=click.Path(path_type=Path), help="Earlier --json run.")
@click.option("--model", help="Model name (DOCQA_MODEL).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    questions: Path,
    k: int,
    modes: str | None,
    retrieval_only: bool,
    split: str | None,
    compare_to: Path | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Measure retrieval and answers (baseline vs RAG) on QUESTIONS, a JSONL file."""
    bar = _Questions(enabled=not as_json and sys.stderr.isatty())
    try:
        report = docqa.evaluate(
            questions,
            _settings(ctx, model=model),
            k=k,
            modes=[m.strip() for m in modes.split(",") if m.strip()] if modes else None,
            retrieval_only=retrieval_only,
            split=split,
            compare_to=compare_to,
            on_progress=bar,
        )
    finally:
        bar.close()
    click.echo(report.to_json() if as_json else report.to_markdown())
    _warn([] if as_json else report.warnings)


def main() -> None:
    """Entry point for ``docqa`` and ``python -m docqa``."""
    # pypdf logs recoverable damage as warnings; docqa reports files in its own words
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    cli(prog_name="docqa")
