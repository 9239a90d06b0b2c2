"""Plain typed records passed between docqa's stages.

These frozen dataclasses are the only things that cross module boundaries: parsing yields
:class:`Section`, chunking yields :class:`Chunk`, the store yields :class:`Hit`, ingest returns
:class:`IngestReport`. No LlamaIndex or Qdrant object leaves the module that uses it.

Locations (decided once): a citation locator is the file path plus the 1-based ``page`` for PDFs,
or the Markdown ``heading`` path plus the 1-based line range (``first_line``..``last_line``) for
text and Markdown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Section:
    """A unit of extracted text with its location: one PDF page, or one Markdown section.

    Attributes:
        text: The extracted text.
        page: 1-based PDF page number; ``None`` for text and Markdown.
        heading: Markdown heading path, outermost first; empty elsewhere.
        first_line: 1-based first source line (text and Markdown); ``None`` for PDFs.
        last_line: 1-based last source line, inclusive.
    """

    text: str
    page: int | None = None
    heading: tuple[str, ...] = ()
    first_line: int | None = None
    last_line: int | None = None


@dataclass(frozen=True)
class ParsedDoc:
    """A parsed file: its sections, the parser that read it and non-fatal warnings."""

    sections: tuple[Section, ...]
    parser: str
    language: str = "en"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A piece of a section small enough for the embedder to read whole.

    ``start``/``end`` are character offsets into ``Section.text`` of the section it came from;
    ``text`` is ``section.text[start:end]`` (possibly prefixed with the heading path when
    embedded, see :mod:`docqa.chunking`).
    """

    text: str
    position: int
    start: int
    end: int
    n_tokens: int
    page: int | None = None
    heading: tuple[str, ...] = ()
    first_line: int | None = None
    last_line: int | None = None


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its location and score."""

    file: str
    text: str
    score: float
    page: int | None = None
    heading: tuple[str, ...] = ()
    first_line: int | None = None
    last_line: int | None = None
    chunk_id: str = ""
    files: tuple[str, ...] = ()
    dense_score: float | None = None

    @property
    def locator(self) -> str:
        """Human-readable place: ``file p. N`` or ``file § heading (lines a-b)``."""
        if self.page is not None:
            return f"{self.file} p. {self.page}"
        where = " > ".join(self.heading)
        lines = f"lines {self.first_line}-{self.last_line}" if self.first_line else ""
        parts = [p for p in (f"§ {where}" if where else "", lines) if p]
        return f"{self.file} {' '.join(parts)}".strip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


IngestStage = Literal["scan", "parse", "embed", "store", "optimize", "done"]


@dataclass(frozen=True)
class IngestEvent:
    """Progress of an ingest run, sent to ``on_progress`` callbacks."""

    stage: IngestStage
    files_done: int = 0
    files_total: int = 0
    pages: int = 0
    chunks: int = 0
    chunks_total: int = 0
    path: str = ""
    message: str = ""


@dataclass(frozen=True)
class IngestReport:
    """What an ingest run did. ``failed`` holds ``(path, reason)`` pairs, one per failed file."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    failed: tuple[tuple[str, str], ...] = ()
    chunks: int = 0
    pages: int = 0
    seconds: float = 0.0
    store: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 2 when some files failed, 1 when nothing could be ingested."""
        if not self.failed:
            return 0
        ok = self.added + self.updated + self.unchanged
        return 2 if ok else 1

    def summary(self) -> str:
        """One line: counts of what happened."""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {len(self.failed)} failed, {self.skipped} skipped "
            f"({self.chunks} chunks, {self.seconds:.1f} s)"
        )

    def to_json(self) -> str:
        """JSON text of every field."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| `{p}` | {r} |" for p, r in self.failed)
        failed = f"\n\n| failed file | reason |\n|---|---|\n{rows}" if rows else ""
        return f"**docqa ingest** into `{self.store}`: {self.summary()}{failed}"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td><code>{html.escape(p)}</code></td><td>{html.escape(r)}</td></tr>"
            for p, r in self.failed
        )
        table = f"<table><tr><th>failed file</th><th>reason</th></tr>{rows}</table>" if rows else ""
        return (
            f"<p><b>docqa ingest</b> into <code>{html.escape(self.store)}</code>: "
            f"{html.escape(self.summary())}</p>{table}"
        )


@dataclass(frozen=True)
class FileStatus:
    """One manifest row as shown by :func:`docqa.status`."""

    root: str
    path: str
    sha256: str
    status: str
    chunks: int
    reason: str = ""


@dataclass(frozen=True)
class StoreStatus:
    """What :func:`docqa.status` reports about a store."""

    store: str
    backend: str
    files: int
    failed: int
    chunks: int
    points: int
    embed_model: str
    dim: int
    fingerprint: str
    size_bytes: int
    roots: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    failures: tuple[FileStatus, ...] = field(default=())

    def to_json(self) -> str:
        """JSON text of every field."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"store:       {self.store} ({self.backend})",
            f"files:       {self.files} ({self.failed} failed)",
            f"chunks:      {self.chunks} ({self.points} points)",
            f"embedder:    {self.embed_model} ({self.dim}-d)",
            f"fingerprint: {self.fingerprint}",
            f"size:        {self.size_bytes / 1e6:.1f} MB",
        ]
        if self.roots:
            lines.append(f"roots:       {', '.join(self.roots)}")
        lines += [f"warning:     {w}" for w in self.warnings]
        lines += [f"failed:      {f.path}: {f.reason}" for f in self.failures]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return "```\n" + self.summary() + "\n```"
