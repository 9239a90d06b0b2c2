"""What the command line prints: answers as they stream, their sources and warnings, and the
syncs of ``ingest --watch``. :mod:`docqa.cli` parses the commands and calls these to show what
came back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import docqa
from docqa import render

if TYPE_CHECKING:
    from docqa.answering import AnswerStream
    from docqa.config import Settings
    from docqa.progress import IngestBar
    from docqa.types import Answer


def watch_ingest(
    path: Path,
    settings: Settings,
    *,
    yes: bool,
    poll: bool,
    as_json: bool,
    bar: IngestBar,
    confirm: Any,
) -> None:
    """``ingest --watch``: the first sync reported as an ingest, then one line a sync."""
    from docqa.watching import Sync

    def synced(sync: Sync) -> None:
        bar.close()
        report = sync.report
        if as_json:
            data = {"root": sync.root, "paths": list(sync.paths), "error": sync.error}
            data["report"] = None if report is None else json.loads(report.to_json())
            click.echo(json.dumps(data))
            return
        if report is not None:
            for file, reason in report.failed:
                click.echo(f"failed: {render.one_line(f'{file}: {reason}')}", err=True)
            for warning in report.warnings:
                click.echo(f"warning: {render.one_line(warning)}", err=True)
        if sync.full and report is not None:
            click.echo(report.summary())
            click.echo(f"watching {sync.root} (Ctrl-C stops)", err=True)
        elif sync.changed or report is None:
            click.echo(render.one_line(sync.summary()))

    def said(line: str) -> None:
        click.echo(f"warning: {render.one_line(line)}", err=True)

    try:
        docqa.watch(
            path,
            settings,
            on_sync=synced,
            on_progress=bar,
            on_message=said,
            yes=yes,
            polling=poll or None,
            confirm=confirm,
        )
    except KeyboardInterrupt:  # the sync under way was left as a killed ingest leaves it
        click.echo("stopped", err=True)
    finally:
        bar.close()


def warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {render.one_line(warning)}", err=True)


def _tail(answer: Answer) -> None:
    """After the answer's text: its sources (the cited ones, else all given), then warnings."""
    for line in render.answer_sources(answer):
        click.echo(line)
    warn(answer.warnings)


def stream(result: AnswerStream) -> None:
    """Print the answer as it comes, then its sources and warnings."""
    for piece in result:
        click.echo(render.terminal(piece), nl=False)
    click.echo()
    _tail(result.answer)


def columns() -> int:
    return shutil.get_terminal_size().columns
