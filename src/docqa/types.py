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


def _without_vectors(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """``asdict`` factory leaving out stored vectors (``Hit.vector``): records stay readable."""
    return {key: value for key, value in items if key != "vector"}


@dataclass(frozen=True)
class Section:
    """A unit of extracted text with its location: one PDF page, or one Markdown, HTML or DOCX
    section.

    Attributes:
        text: The extracted text.
        page: 1-based PDF page number; ``None`` for other formats.
        heading: Markdown, HTML or DOCX heading path, outermost first; for a PDF table page,
            its table captions (embedded with every chunk; the locator stays the page).
        first_line: 1-based first source line (text and Markdown); ``None`` for PDFs, HTML and
            DOCX, whose locator is the page or the heading path.
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
    vector: tuple[float, ...] | None = field(default=None, repr=False, compare=False)
    """The chunk's stored dense vector when the search read it (not in ``to_dict``)."""

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
        """JSON-ready dict (without the vector)."""
        return asdict(self, dict_factory=_without_vectors)

    def _repr_html_(self) -> str:
        import html

        cosine = "" if self.dense_score is None else f", cosine {self.dense_score:.3f}"
        snippet = " ".join(self.text.split())
        snippet = snippet[:300] + ("…" if len(snippet) > 300 else "")
        place = _where(self.file, self.page, self.heading, self.first_line)
        return (
            f"<div><b>{html.escape(place)}</b> "
            f"<small>(score {self.score:.4f}{cosine})</small>"
            f"<blockquote>{html.escape(snippet)}</blockquote></div>"
        )


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
    embed_backend: str = ""
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
        ]
        if self.embed_backend:
            lines.append(f"embeds with: {self.embed_backend}")
        lines += [
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

    def _repr_html_(self) -> str:
        import html

        rows = [
            ("store", f"{self.store} ({self.backend})"),
            ("files", f"{self.files} ({self.failed} failed)"),
            ("chunks", f"{self.chunks} ({self.points} points)"),
            ("embedder", f"{self.embed_model} ({self.dim}-d)"),
            *((("embeds with", self.embed_backend),) if self.embed_backend else ()),
            ("fingerprint", self.fingerprint),
            ("size", f"{self.size_bytes / 1e6:.1f} MB"),
            *(("roots", r) for r in self.roots),
            *(("warning", w) for w in self.warnings),
            *(("failed", f"{f.path}: {f.reason}") for f in self.failures),
        ]
        cells = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table>{cells}</table>"


# --- answers ---------------------------------------------------------------------------------


def shown_path(path: str) -> str:
    """``path`` relative to the current folder when it lies inside it, else unchanged."""
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def _where(file: str, page: int | None, heading: tuple[str, ...], first: int | None) -> str:
    """``file p. N`` for PDFs, ``file § a > b (line N)`` for text and Markdown."""
    shown = shown_path(file)
    if page is not None:
        return f"{shown} p. {page}"
    parts = [shown]
    if heading:
        parts.append("§ " + " > ".join(heading))
    if first is not None:
        parts.append(f"(line {first})")
    return " ".join(parts)


class _Record:
    """JSON helpers shared by the answer records (all frozen dataclasses)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (nested records included)."""
        fields: dict[str, Any] = asdict(self, dict_factory=_without_vectors)  # type: ignore[call-overload]  # subclasses are dataclasses
        return fields

    def to_json(self) -> str:
        """JSON text of every field."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


@dataclass(frozen=True)
class Citation(_Record):
    """A source the answer cites as ``[n]``.

    Attributes:
        n: The number the source had in the prompt (1-based, in rank order).
        file: Absolute path of the cited file.
        page: 1-based PDF page; ``None`` for text and Markdown.
        quote: The sentence of the chunk that best matches what the answer says with ``[n]``,
            or the chunk's first ~200 characters.
        heading: Markdown heading path of the chunk.
        first_line: First source line of the chunk (text and Markdown).
        last_line: Last source line of the chunk.
        chunk_id: The point id of the chunk in the store.
    """

    n: int
    file: str
    page: int | None
    quote: str
    heading: tuple[str, ...] = ()
    first_line: int | None = None
    last_line: int | None = None
    chunk_id: str = ""

    @property
    def locator(self) -> str:
        """``[n] file p. N`` or ``[n] file § heading (line N)``, path relative when possible."""
        return f"[{self.n}] {_where(self.file, self.page, self.heading, self.first_line)}"

    def _repr_markdown_(self) -> str:
        return f"**{self.locator}**: > {self.quote}"

    def _repr_html_(self) -> str:
        import html

        return (
            f"<p><b>{html.escape(self.locator)}</b></p>"
            f"<blockquote>{html.escape(self.quote)}</blockquote>"
        )


@dataclass(frozen=True)
class TokenUsage:
    """Token counts the LLM backend reported; ``None`` where it reported none."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Timings:
    """Where an answer's time went, in seconds.

    Attributes:
        retrieval_s: Searching the store (embedding the question included).
        llm_s: The LLM call, request to last token.
        first_token_s: Request to the first token; ``None`` when no LLM was called.
        total_s: The whole call, backend setup included.
    """

    retrieval_s: float = 0.0
    llm_s: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0


def source_lines(hits: tuple[Hit, ...], skip: tuple[int, ...] = ()) -> list[str]:
    """``[n] file p. N`` for each hit numbered from 1, leaving out the numbers in ``skip``."""
    return [
        f"[{n}] {_where(h.file, h.page, h.heading, h.first_line)}"
        for n, h in enumerate(hits, 1)
        if n not in skip
    ]


@dataclass(frozen=True)
class Answer(_Record):
    """An answer from the LLM, with what it was built from.

    Attributes:
        question: The question as asked.
        text: The answer text (citations appear in it as ``[n]``).
        citations: The sources the text cites, by number, in order of first citation.
        hits: The relevant retrieved chunks, numbered ``[1]..[n]`` in rank order; empty for a
            baseline answer.
        model: The model that answered (empty when no LLM was called).
        backend: ``ollama``, ``openai`` or ``gguf`` (empty when no LLM was called).
        usage: Token counts reported by the backend.
        timings: Where the time went.
        abstained: True when docqa or the model said the documents hold no answer.
        warnings: One line each: backend fallback, dropped sources, bad citations, estimates.
        dropped_sources: Numbers of hits left out of the prompt to fit the context window.
    """

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = ()
    model: str = ""
    backend: str = ""
    usage: TokenUsage = field(default_factory=TokenUsage)
    timings: Timings = field(default_factory=Timings)
    abstained: bool = False
    warnings: tuple[str, ...] = ()
    dropped_sources: tuple[int, ...] = ()

    def sources(self) -> list[str]:
        """``[n] file p. N`` for every source given to the model, numbered as in the text."""
        return source_lines(self.hits, self.dropped_sources)

    def _repr_markdown_(self) -> str:
        sources = "\n".join(f"- {s}" for s in self.sources())
        notes = "\n".join(f"> ⚠ {w}" for w in self.warnings)
        return "\n\n".join(p for p in (self.text, sources, notes) if p)

    def _repr_html_(self) -> str:
        import html

        items = "".join(f"<li>{html.escape(s)}</li>" for s in self.sources())
        notes = "".join(f"<p><i>⚠ {html.escape(w)}</i></p>" for w in self.warnings)
        body = html.escape(self.text).replace("\n", "<br>")
        sources = f"<ol style='list-style:none'>{items}</ol>" if items else ""
        return f"<p>{body}</p>{sources}{notes}"


SupportStatus = Literal["supported", "similar", "unsupported"]


@dataclass(frozen=True)
class SentenceSupport(_Record):
    """How well one sentence of an answer is backed by the retrieved sources.

    Attributes:
        sentence: The sentence, as it appears in the answer.
        status: ``supported`` (a source says it, numbers and names included), ``similar`` (a
            source is on the same subject but does not back every detail) or ``unsupported``.
        source: Number of the closest source (1-based, as in the hits); ``None`` without sources.
        score: Cosine similarity of the sentence and that source.
        reason: Why, in a few words.
    """

    sentence: str
    status: SupportStatus
    source: int | None
    score: float
    reason: str

    @property
    def mark(self) -> str:
        """``✓`` supported, ``~`` similar, a space otherwise."""
        return {"supported": "✓", "similar": "~"}.get(self.status, " ")

    def _repr_markdown_(self) -> str:
        return f"{self.mark} {self.sentence} ({self.reason})"


_BACKGROUND = {"supported": "#c8f0c8", "similar": "#fff1a8"}


def _support_html(marks: tuple[SentenceSupport, ...], fallback: str) -> str:
    import html

    if not marks:
        return html.escape(fallback).replace("\n", "<br>")
    spans = []
    for m in marks:
        color = _BACKGROUND.get(m.status)
        style = f" style='background:{color}'" if color else ""
        spans.append(
            f"<span{style} title='{html.escape(m.reason, quote=True)}'>"
            f"{html.escape(m.sentence)}</span>"
        )
    return " ".join(spans)


@dataclass(frozen=True)
class Comparison(_Record):
    """The model alone versus the model with the documents, sentence support marked.

    Attributes:
        question: The question.
        baseline: The answer without documents.
        rag: The answer with the retrieved sources.
        hits: The sources (numbered from 1) both answers were checked against.
        baseline_support: Support of each baseline sentence.
        rag_support: Support of each RAG sentence.
    """

    question: str
    baseline: Answer
    rag: Answer
    hits: tuple[Hit, ...] = ()
    baseline_support: tuple[SentenceSupport, ...] = ()
    rag_support: tuple[SentenceSupport, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        """Both answers' warnings, each once."""
        return tuple(dict.fromkeys(self.baseline.warnings + self.rag.warnings))

    def supported_share(self) -> tuple[float, float]:
        """Share of supported sentences: ``(baseline, rag)``."""

        def share(marks: tuple[SentenceSupport, ...]) -> float:
            return sum(m.status == "supported" for m in marks) / len(marks) if marks else 0.0

        return share(self.baseline_support), share(self.rag_support)

    def _repr_markdown_(self) -> str:
        def column(title: str, marks: tuple[SentenceSupport, ...], text: str) -> str:
            body = "\n".join(f"- {m.mark} {m.sentence}".replace("-   ", "- ") for m in marks)
            body = body or text
            return f"**{title}**\n\n{body}"

        sources = "\n".join(f"- {s}" for s in source_lines(self.hits))
        return "\n\n".join(
            [
                f"### {self.question}",
                column("Model only", self.baseline_support, self.baseline.text),
                column("With documents", self.rag_support, self.rag.text),
                f"**Sources** (✓ supported, ~ similar)\n\n{sources}" if sources else "",
            ]
        ).strip()

    def _repr_html_(self) -> str:
        import html

        sources = "".join(f"<li>{html.escape(s)}</li>" for s in source_lines(self.hits))
        cell = "style='vertical-align:top;text-align:left;width:50%'"
        legend = (
            f"<span style='background:{_BACKGROUND['supported']}'>supported</span> "
            f"<span style='background:{_BACKGROUND['similar']}'>similar</span> (hover for why)"
        )
        return (
            f"<p><b>{html.escape(self.question)}</b></p><table>"
            f"<tr><th {cell}>baseline (model only)</th><th {cell}>with documents</th></tr>"
            f"<tr><td {cell}>{_support_html(self.baseline_support, self.baseline.text)}</td>"
            f"<td {cell}>{_support_html(self.rag_support, self.rag.text)}</td></tr></table>"
            f"<p>{legend}</p><ol style='list-style:none'>{sources}</ol>"
        )
