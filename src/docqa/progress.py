"""Progress bars for long work, drawn with tqdm (``tqdm.auto``: a widget in Jupyter).

The library reports :class:`~docqa.types.IngestEvent` values; :class:`IngestBar` is their one
renderer, used by the CLI and by ``docqa.ingest(..., progress=True)`` in notebooks.
:class:`QuestionBar` counts the questions ``docqa.evaluate`` has done (its ``on_progress``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docqa.types import IngestEvent

if TYPE_CHECKING:
    from docqa.answering.whole_file import Progress as PartProgress


class IngestBar:
    """Files while reading, chunks (with rate and ETA) while embedding, a line while indexing.

    Use it as the ``on_progress`` callback; call :meth:`close` when the work ends.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""

    def __call__(self, event: IngestEvent) -> None:
        if not self.enabled:
            return
        if event.stage != self.stage:
            self._start(event)
        if self.bar is not None:
            done = event.files_done if event.stage == "parse" else event.chunks
            self.bar.update(done - self.bar.n)
            if event.stage == "embed":
                where = (
                    f"file {event.files_done + 1}/{event.files_total} {Path(event.path).name}, "
                    f"{event.pages} pages done"
                )
                self.bar.set_postfix_str(where, refresh=False)

    def _start(self, event: IngestEvent) -> None:
        from tqdm.auto import tqdm

        self.close()
        self.stage = event.stage
        if event.stage == "parse" and event.files_total:
            self.bar = tqdm(total=event.files_total, unit="file", desc="reading", file=sys.stderr)
        elif event.stage == "embed" and event.chunks_total:
            self.bar = tqdm(
                total=event.chunks_total, unit="chunk", desc="embedding", file=sys.stderr
            )
        elif event.stage == "optimize":
            tqdm.write(event.message, file=sys.stderr)  # static: optimize() holds the GIL

    def close(self) -> None:
        """Close the current bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class QuestionBar:
    """A bar of questions evaluated, for ``docqa.evaluate(..., on_progress=bar)``."""

    def __init__(self, enabled: bool = True) -> None:
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
        """Close the bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class PartBar:
    """A bar of the parts of a file read whole, for ``docqa.ask(..., on_progress=bar)``: first
    the estimate line (on a slow backend), then one step a part; a file of one part shows none."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def __call__(self, event: PartProgress) -> None:
        if not self.enabled or event.total < 2:
            return
        if self.bar is None:
            from tqdm import tqdm

            if event.estimate_s is not None:
                print(
                    f"reading {event.file} whole: ~{event.total} parts, "
                    f"about {event.estimate_s:.0f} s",
                    file=sys.stderr,
                )
            self.bar = tqdm(total=event.total, unit="part", desc="reading", file=sys.stderr)
        self.bar.update(event.done - self.bar.n)
        if event.done >= event.total:
            self.close()

    def close(self) -> None:
        """Close the bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
