"""The ``docqa`` command line: a thin shell that parses, calls one public function, renders.

Every :class:`~docqa.errors.DocqaError` becomes one line on stderr; ``DOCQA_DEBUG=1`` (or
``--debug``) re-raises it with its traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

import docqa
from docqa import render
from docqa.cli_output import columns as _columns
from docqa.cli_output import stream as _stream
from docqa.cli_output import warn as _warn
from docqa.cli_output import watch_ingest as _watch
from docqa.config import Settings, SettingWarning
from docqa.errors import ConfigError, ConfirmationRequired, DocqaError
from docqa.progress import IngestBar, PartBar, QuestionBar


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


def _one_line(exc: DocqaError) -> str:
    """The error's one line for the user; with ``DOCQA_DEBUG=1`` it is re-raised instead."""
    if _debug():
        raise exc
    return render.one_line(str(exc))


class _Group(click.Group):
    """Turns DocqaError into a one-line message (exit 1) unless debugging."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DocqaError as exc:
            raise click.ClickException(_one_line(exc)) from exc


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    """Settings from env + docqa.toml, overridden by the global and the command's flags."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SettingWarning)
            base = Settings(**{k: v for k, v in ctx.obj.items() if v is not None})
        _warn([str(w.message) for w in caught if issubclass(w.category, SettingWarning)])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"bad setting {where or '?'}: {err['msg']} (check DOCQA_* and docqa.toml)"
        ) from None
    return base.with_(**flags)


def _close_sessions() -> None:
    from docqa.session import close_sessions  # loaded with the first command that needs it

    close_sessions()


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
    ctx.call_on_close(_close_sessions)  # models and the store are released with the command


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
@click.option(
    "--watch",
    is_flag=True,
    help="Then keep the store in sync as files change, appear or go (one line a sync; Ctrl-C).",
)
@click.option("--poll", is_flag=True, help="With --watch: poll instead of OS file events.")
@click.pass_context
def ingest(
    ctx: click.Context,
    path: Path,
    yes: bool,
    password: str | None,
    as_json: bool,
    ocr: str | None,
    follow_links: bool,
    watch: bool,
    poll: bool,
) -> None:
    """Add a file or folder to the store (only new and changed files are embedded)."""
    links = follow_links or None  # unset: DOCQA_FOLLOW_LINKS decides
    settings = _settings(ctx, pdf_password=password, ocr=ocr, follow_links=links)
    bar = IngestBar(enabled=not as_json and sys.stderr.isatty())

    def confirm(question: str) -> bool:
        bar.close()
        return sys.stdin.isatty() and click.confirm(f"{question}. Go ahead?")

    if watch or poll:
        _watch(path, settings, yes=yes, poll=poll, as_json=as_json, bar=bar, confirm=confirm)
        return
    try:
        report = docqa.ingest(path, settings, on_progress=bar, yes=yes, confirm=confirm)
    finally:
        bar.close()
    if as_json:
        click.echo(report.to_json())
    else:
        for file, reason in report.failed:
            click.echo(f"failed: {render.one_line(f'{file}: {reason}')}", err=True)
        for warning in report.warnings:
            click.echo(f"warning: {render.one_line(warning)}", err=True)
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
        click.echo(render.hit_line(rank, hit))
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
    click.echo(f"removed the docqa store at {render.one_line(str(removed))}")


# --- ask and chat ---------------------------------------------------------------------------


def _answer_options(command: Any, many_models: bool = False) -> Any:
    """The flags ``ask`` and ``chat`` share (``ask --compare`` takes several ``--model``)."""
    model_help = "Model name (DOCQA_MODEL); repeat with --compare to compare several."
    for option in reversed(
        [
            click.option("--model", multiple=True, help=model_help)
            if many_models
            else click.option("--model", help="Model name (DOCQA_MODEL)."),
            click.option("--preset", help="System-prompt preset (DOCQA_PRESET)."),
            click.option(
                "-k", "--top-k", "k", type=click.IntRange(min=1), help="Sources (DOCQA_TOP_K)."
            ),
            click.option("--file", "files", multiple=True, help="Only files matching this glob."),
        ]
    ):
        command = option(command)
    return command


@cli.command()
@click.argument("question")
@click.option("--compare", "compare_", is_flag=True, help="Also answer without the documents.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option(
    "--whole",
    is_flag=True,
    help="Read the one file --file names whole, in parts if it is long (a summary, every "
    "deadline); a question such as 'summarize …' with one --file does it anyway.",
)
@functools.partial(_answer_options, many_models=True)
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    compare_: bool,
    as_json: bool,
    whole: bool,
    model: tuple[str, ...],
    preset: str | None,
    k: int | None,
    files: tuple[str, ...],
) -> None:
    """Answer QUESTION from the documents, citing them as [n]."""
    if len(model) > 1 and not compare_:
        raise click.UsageError("several --model work only with --compare")
    if whole and len(files) != 1:
        raise click.UsageError("--whole reads one file: name it with one --file")
    settings = _settings(ctx, model=model[0] if model else None, preset=preset, top_k=k)
    file = files[0] if whole else None
    try:
        if compare_ and len(model) > 1:
            results = docqa.compare(question, settings, files=files or None, models=model)
            if as_json:
                click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
            for name, result in zip(model, results, strict=True):
                if not as_json:
                    click.echo(f"== {name} ==\n{render.comparison_text(result, _columns())}\n")
                _warn(result.warnings)
        elif compare_:
            result = docqa.compare(question, settings, files=files or None)
            click.echo(result.to_json() if as_json else render.comparison_text(result, _columns()))
            _warn(result.warnings)
        elif as_json:
            answer = docqa.ask(question, settings, files=files or None, file=file)
            click.echo(answer.to_json())
            _warn(answer.warnings)
        else:
            bar = PartBar()
            try:
                stream = docqa.ask(
                    question,
                    settings,
                    stream=True,
                    files=files or None,
                    file=file,
                    on_progress=bar,
                )
            finally:
                bar.close()
            _stream(stream)
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        ctx.exit(130)


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
                except DocqaError as exc:  # stops this answer only
                    click.echo(f"error: {_one_line(exc)}", err=True)
        except KeyboardInterrupt:  # at the prompt: leave
            click.echo(err=True)
            ctx.exit(130)


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
    bar = QuestionBar(enabled=not as_json and sys.stderr.isatty())
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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", envvar="DOCQA_SERVE_API_KEY", help="Key clients must send (Bearer).")
@click.option(
    "--cors", multiple=True, help="Browser origin allowed to call (repeatable; null: file://)."
)
@click.option(
    "--queue",
    default=8,
    show_default=True,
    type=click.IntRange(min=0),
    help="Requests that may wait for the in-process model (then 503).",
)
@click.option("--model", help="Model name (DOCQA_MODEL).")
@click.option("--preset", help="System-prompt preset (DOCQA_PRESET).")
@click.option("-k", "--top-k", "k", type=click.IntRange(min=1), help="Sources (DOCQA_TOP_K).")
@click.option(
    "--watch",
    multiple=True,
    is_flag=False,
    flag_value="",
    metavar="[FOLDER]",
    help="Keep FOLDER (repeatable; alone: the folders ingested) in sync as files change.",
)
@click.option("--poll", is_flag=True, help="With --watch: poll instead of OS file events.")
@click.option("--log-questions", is_flag=True, help="Put each question's text in the request log.")
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    api_key: str | None,
    cors: tuple[str, ...],
    queue: int,
    model: str | None,
    preset: str | None,
    k: int | None,
    watch: tuple[str, ...],
    poll: bool,
    log_questions: bool,
) -> None:
    """Serve docqa: a chat page, an OpenAI API (/v1) and an Ollama API (/api); Ctrl-C stops."""
    settings = _settings(ctx, model=model, preset=preset, top_k=k)

    def ready(url: str) -> None:
        click.echo(f"docqa serving on {url}  (page: {url}/, OpenAI: {url}/v1, Ollama: {url})")

    def synced(line: str) -> None:
        click.echo(render.one_line(line), err=True)

    folders = [w for w in watch if w]
    watching = (folders or True) if watch or poll else None
    try:
        docqa.serve(
            settings,
            host=host,
            port=port,
            api_key=api_key,
            cors=cors,
            queue=queue,
            on_ready=ready,
            watch=watching,
            poll=poll,
            on_sync=synced,
            log_questions=log_questions,
        )
    except KeyboardInterrupt:  # uvicorn has stopped cleanly, then re-raised the Ctrl-C
        click.echo("stopped", err=True)


def main() -> None:
    """Entry point for ``docqa`` and ``python -m docqa``."""
    # the PDF readers log damage they recover from (pdfminer, under pdfplumber's table reader:
    # "Data-loss while decompressing corrupted data"); docqa reports files in its own words
    for name in ("pypdf", "pdfminer", "pdfplumber"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cli(prog_name="docqa")
