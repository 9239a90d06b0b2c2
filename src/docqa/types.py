"""Plain typed records passed between docqa's stages.

These frozen dataclasses are the only things that cross module boundaries: parsing yields
:class:`Section`, chunking yields :class:`Chunk`, the store yields :class:`Hit`, ingest returns
:class:`IngestReport`. No LlamaIndex or Qdrant object leaves the module that uses it.

Locations (decided once): a chunk is located by the 1-based ``page`` for PDFs, or by the heading
path plus the 1-based line range (``first_line``..``last_line``) for text and Markdown; they read
``file p. N`` or ``file § a > b (line N)`` (:func:`docqa.render.locate`). Their text, Markdown
and HTML come from :mod:`docqa.render`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from docqa import render


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

    @property
    def pages(self) -> int:
        """Pages read: a PDF's pages with text (a page cut at its headings holds several
        sections, and counts once); one for a file without pages (text, Markdown, HTML, DOCX)."""
        numbered = {s.page for s in self.sections if s.page is not None}
        return len(numbered) if numbered else 1


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
        """Human-readable place: ``file p. N`` or ``file § heading (line N)``."""
        return render.locate(self.file, self.page, self.heading, self.first_line)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (without the vector)."""
        return asdict(self, dict_factory=_without_vectors)

    def _repr_html_(self) -> str:
        return render.hit_html(self)


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
        return render.ingest_summary(self)

    def to_json(self) -> str:
        """JSON text of every field."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def _repr_markdown_(self) -> str:
        return render.ingest_markdown(self)

    def _repr_html_(self) -> str:
        return render.ingest_html(self)


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
        return render.status_summary(self)

    def _repr_markdown_(self) -> str:
        return render.status_markdown(self)

    def _repr_html_(self) -> str:
        return render.status_html(self)


# --- answers ---------------------------------------------------------------------------------


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
        attributed: docqa found the answer's sentence in this source; the model did not cite it
            (docqa placed the marker).
        support: Each sentence citing the source (without markers), with how well the source
            backs it: ``supported``, ``similar``, ``unsupported``, or ``""`` where the sentence
            was not judged (too short, or the check is off).
    """

    n: int
    file: str
    page: int | None
    quote: str
    heading: tuple[str, ...] = ()
    first_line: int | None = None
    last_line: int | None = None
    chunk_id: str = ""
    attributed: bool = False
    support: tuple[tuple[str, str], ...] = ()

    @property
    def marks(self) -> str:
        """The support marks of the sentences citing the source: ``✓`` supported, ``~``
        similar, ``✗`` unsupported, one per judged sentence (``"✓~"``)."""
        symbols = {"supported": "✓", "similar": "~", "unsupported": "✗"}
        return "".join(symbols[status] for _, status in self.support if status in symbols)

    @property
    def locator(self) -> str:
        """``[n] file p. N`` or ``[n] file § heading (line N)``, path relative when possible."""
        return render.citation_locator(self)

    def _repr_markdown_(self) -> str:
        return render.citation_markdown(self)

    def _repr_html_(self) -> str:
        return render.citation_html(self)


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


@dataclass(frozen=True)
class Answer(_Record):
    """An answer from the LLM, with what it was built from.

    Attributes:
        question: The question as asked.
        text: The answer text, with ``[n]`` at the end of each sentence a source backs, the
            sources numbered 1..k in the order the text uses them.
        citations: The sources the text cites, numbered 1..k in order of first citation.
        hits: The relevant retrieved chunks, numbered as in the text: the cited ones first (1..k),
            then the others in rank order; empty for a baseline answer.
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
        return render.source_lines(self.hits, self.dropped_sources)

    def _repr_markdown_(self) -> str:
        return render.answer_markdown(self)

    def _repr_html_(self) -> str:
        return render.answer_html(self)


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
        return render.support_markdown(self)


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
        return render.comparison_markdown(self)

    def _repr_html_(self) -> str:
        return render.comparison_html(self)
