"""The ``docqa`` command line: a thin shell that parses, calls one public function, renders.

Every :class:`~docqa.errors.DocqaError` becomes one line on stderr; ``DOCQA_DEBUG=1`` (or
``--debug``) re-raises it with its traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

import docqa
from docqa.config import Settings
from docqa.errors import ConfigError, ConfirmationRequired, DocqaError
from docqa.types import IngestEvent


def _debug() -> bool:
    return os.environ.get("DOCQA_DEBUG", "").lower() in {"1", "true", "yes", "on"}


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


class _Bar:
    """Draws ingest progress with tqdm: files while parsing, chunks (with ETA) while embedding."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""

    def __call__(self, event: IngestEvent) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if event.stage != self.stage:
            self.close()
            self.stage = event.stage
            if event.stage == "parse":
                self.bar = tqdm(
                    total=event.files_total, unit="file", desc="reading", file=sys.stderr
                )
            elif event.stage == "embed":
                self.bar = tqdm(
                    total=event.chunks_total, unit="chunk", desc="embedding", file=sys.stderr
                )
            elif event.stage == "optimize":
                click.echo(event.message, err=True)
        if self.bar is not None:
            done = event.files_done if event.stage == "parse" else event.chunks
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(
                f"file {event.files_done + 1}/{event.files_total}", refresh=False
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before removing many files from the store.")
@click.option("--password", help="Password for encrypted PDFs (DOCQA_PDF_PASSWORD).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def ingest(ctx: click.Context, path: Path, yes: bool, password: str | None, as_json: bool) -> None:
    """Add a file or folder to the store (only new and changed files are embedded)."""
    settings = _settings(ctx, pdf_password=password)
    bar = _Bar(enabled=not as_json and sys.stderr.isatty())
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
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def reset(ctx: click.Context, yes: bool) -> None:
    """Delete the store (points and manifest)."""
    settings = _settings(ctx)
    if not yes and sys.stdin.isatty():
        yes = click.confirm("Delete the docqa store and everything ingested?")
    removed = docqa.reset(settings, yes=yes)
    click.echo(f"removed {removed}")


def main() -> None:
    """Entry point for ``docqa`` and ``python -m docqa``."""
    # pypdf logs recoverable damage as warnings; docqa reports files in its own words
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    cli(prog_name="docqa")
