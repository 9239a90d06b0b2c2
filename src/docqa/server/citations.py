"""How an answer's sources travel to clients: three ways at once.

1. In the text: the answer's ``[n]`` markers (numbered 1..k in the order the answer uses them,
   see :mod:`docqa.answering.citations`), then a "Sources" block (what plain-text clients keep),
   each line a Markdown link to the cited file at its page.
2. OpenAI ``annotations`` of type ``url_citation`` (url, title, where in the text), on a whole
   (not streamed) message.
3. Open WebUI ``source`` event frames carrying the passage, which Open WebUI turns into citation
   chips (its middleware forwards any chunk's ``event`` to the chat).

Open WebUI (read in v0.12.4, the release on PyPI) also turns every ``url_citation`` annotation
of a streamed delta into a source whose only document is the title
(``backend/open_webui/utils/middleware.py``, "Handle delta annotations"), so a stream carries
the ``source`` events and no annotations: each source reaches it once, with its passage. What its
chip shows comes from ``src/lib/components/chat/Messages/Citations.svelte`` and
``Citations/CitationModal.svelte``:

- sources are grouped by ``metadata.source``; when that is an http URL the chip is named by the
  URL (unless ``metadata.external`` in v0.12.4, ``metadata.source_url`` in newer code), so
  ``metadata.source`` is the chip's name and the link rides in ``source.url`` (v0.12.4) and
  ``metadata.source_url`` (newer);
- the pills in the text are numbered by distinct ``metadata.source`` (v0.12.4) or name (newer)
  (``ContentRenderer.svelte``, ``getSourceIds``): every source of an answer gets its own name;
- the pop-up shows "page ``metadata.page + 1``" (0-based, as its PDF loader stores pages);
- a ``distances`` value in [-1, 1] is shown as a relevance percentage (docqa sends the
  passage's cosine to the question);
- the document is the passage; the support of each sentence citing it rides in
  ``metadata.support`` (stored with the message, not drawn) and, for every client, as marks
  after the source's line of the "Sources" block (✓ supported, ~ on the subject).

An answer that abstains carries no sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from docqa.prompts import source_label
from docqa.server.documents import DocumentIndex
from docqa.types import Answer, Citation, Hit

SOURCES_HEADING = "Sources:"


@dataclass(frozen=True)
class SourceRef:
    """One numbered source of an answer, with the URL that opens it on this server."""

    n: int
    title: str
    url: str
    hit: Hit
    citation: Citation | None = None

    @property
    def marks(self) -> str:
        """The support marks of the sentences citing it (``"✓"``, ``"✓~"``); ``""`` if none."""
        return self.citation.marks if self.citation else ""

    def to_dict(self) -> dict[str, Any]:
        """The page's view of a source: number, title, URL, file, page, heading, text, marks."""
        return {
            "marks": self.marks,
            "n": self.n,
            "title": self.title,
            "url": self.url,
            "file": self.hit.file.replace("\\", "/").rsplit("/", 1)[-1],
            "page": self.hit.page,
            "heading": list(self.hit.heading),
            "text": self.hit.text,
        }


def document_url(hit: Hit, docs: DocumentIndex, base_url: str) -> str:
    """``{base}/documents/<id>`` at the hit's page (``#page=N``) or heading (a text fragment)."""
    doc_id = docs.id_of(hit.file) or next(filter(None, map(docs.id_of, hit.files)), None)
    if doc_id is None:
        return ""
    url = f"{base_url}/documents/{doc_id}"
    if hit.page is not None:
        return f"{url}#page={hit.page}"
    if hit.heading:
        return f"{url}#:~:text={quote(hit.heading[-1], safe='')}"
    return url


def references(
    answer: Answer, docs: DocumentIndex, base_url: str, *, all_hits: bool = False
) -> list[SourceRef]:
    """The sources an answer shows: the cited ones (else those it was given); none if it abstains.

    ``all_hits`` lists every hit instead (the search box).
    """
    if answer.abstained:
        return []
    if all_hits:
        numbers = list(range(1, len(answer.hits) + 1))
    else:
        numbers = [c.n for c in answer.citations] or [
            n for n in range(1, len(answer.hits) + 1) if n not in answer.dropped_sources
        ]
    cited = {c.n: c for c in answer.citations}
    refs = []
    for n in numbers:
        hit = answer.hits[n - 1]
        url = document_url(hit, docs, base_url) if base_url else ""
        refs.append(SourceRef(n, source_label(hit), url, hit, cited.get(n)))
    return refs


def sources_block(refs: list[SourceRef]) -> str:
    """The text appended after an answer: a blank line, "Sources:", one line per source."""
    if not refs:
        return ""
    lines = [
        (f"[{r.n}] [{r.title}]({r.url})" if r.url else f"[{r.n}] {r.title}")
        + (f" {r.marks}" if r.marks else "")
        for r in refs
    ]
    return "\n\n" + SOURCES_HEADING + "\n" + "\n".join(lines)


def url_citations(text: str, refs: list[SourceRef]) -> list[dict[str, Any]]:
    """OpenAI ``url_citation`` annotations, each spanning the source's first ``[n]`` in ``text``."""
    out = []
    for ref in refs:
        if not ref.url:
            continue
        marker = f"[{ref.n}]"
        start = text.find(marker)
        start, end = (start, start + len(marker)) if start >= 0 else (0, 0)
        out.append(
            {
                "type": "url_citation",
                "url_citation": {
                    "url": ref.url,
                    "title": ref.title,
                    "start_index": start,
                    "end_index": end,
                },
            }
        )
    return out


def relevance(hit: Hit) -> float | None:
    """The hit's cosine to the question, in [-1, 1] (``None`` when no dense search ran)."""
    if hit.dense_score is None:
        return None
    return max(-1.0, min(1.0, round(float(hit.dense_score), 4)))


def chip_names(refs: list[SourceRef]) -> list[str]:
    """Each source's title, made distinct (``"…, page 4 (2)"``): Open WebUI numbers its pills
    by distinct names, so two sources of one name would shift every pill after them."""
    names: list[str] = []
    for ref in refs:
        name, k = ref.title, 1
        while name in names:
            k += 1
            name = f"{ref.title} ({k})"
        names.append(name)
    return names


def source_event(ref: SourceRef, name: str) -> dict[str, Any]:
    """One Open WebUI ``{"event": {"type": "source", "data": ...}}`` frame (see the module)."""
    metadata: dict[str, Any] = {"source": name, "name": name, "file": ref.to_dict()["file"]}
    if ref.url:
        metadata["source_url"] = ref.url
    if ref.hit.page is not None:
        metadata["page"] = ref.hit.page - 1  # Open WebUI shows page + 1
    support = ref.citation.support if ref.citation else ()
    if support:
        metadata["support"] = [{"sentence": s, "status": st} for s, st in support if st]
    data: dict[str, Any] = {
        "source": {"id": name, "name": name, **({"url": ref.url} if ref.url else {})},
        "document": [ref.hit.text],
        "metadata": [metadata],
    }
    score = relevance(ref.hit)
    if score is not None:
        data["distances"] = [score]
    return {"event": {"type": "source", "data": data}}


def source_events(refs: list[SourceRef]) -> list[dict[str, Any]]:
    """Open WebUI ``source`` event frames, one per source, in the answer's numbering."""
    return [source_event(ref, name) for ref, name in zip(refs, chip_names(refs), strict=True)]


def strip_sources(text: str) -> str:
    """An assistant message as docqa sent it, without its "Sources" block (for the history)."""
    cut = text.rfind("\n\n" + SOURCES_HEADING + "\n")
    return text[:cut] if cut >= 0 else text
