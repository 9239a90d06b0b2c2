"""How an answer's sources travel to clients: three ways at once.

1. In the text: the model's ``[n]`` markers, then a "Sources" block (what plain-text clients
   keep), each line a Markdown link to the cited file at its page.
2. OpenAI ``annotations`` of type ``url_citation`` (url, title, where in the text).
3. Open WebUI ``source`` event frames carrying the chunk text, file and page, which Open WebUI
   turns into citation chips (its middleware forwards any chunk's ``event`` to the chat).

An answer that abstains carries no sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from docqa.answering.chat import SOURCES_HEADING
from docqa.prompts import source_label
from docqa.server.documents import DocumentIndex
from docqa.types import Answer, Hit


@dataclass(frozen=True)
class SourceRef:
    """One numbered source of an answer, with the URL that opens it on this server."""

    n: int
    title: str
    url: str
    hit: Hit

    def to_dict(self) -> dict[str, Any]:
        """The page's view of a source: number, title, URL, file, page, heading and text."""
        return {
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
    refs = []
    for n in numbers:
        hit = answer.hits[n - 1]
        url = document_url(hit, docs, base_url) if base_url else ""
        refs.append(SourceRef(n, source_label(hit), url, hit))
    return refs


def sources_block(refs: list[SourceRef]) -> str:
    """The text appended after an answer: a blank line, "Sources:", one line per source."""
    if not refs:
        return ""
    lines = [f"[{r.n}] [{r.title}]({r.url})" if r.url else f"[{r.n}] {r.title}" for r in refs]
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


def source_events(refs: list[SourceRef]) -> list[dict[str, Any]]:
    """Open WebUI ``{"event": {"type": "source", "data": ...}}`` frames, one per source."""
    return [
        {
            "event": {
                "type": "source",
                "data": {
                    "source": {"id": ref.url or ref.title, "name": ref.title, "url": ref.url},
                    "document": [ref.hit.text],
                    "metadata": [
                        {
                            "source": ref.url or ref.title,
                            "name": ref.title,
                            "file": ref.to_dict()["file"],
                            "page": ref.hit.page,
                        }
                    ],
                },
            }
        }
        for ref in refs
    ]
