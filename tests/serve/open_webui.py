"""What Open WebUI makes of a docqa stream: its sources, chips, pills and pop-up, modelled in
Python from Open WebUI v0.12.4 (the ``open-webui`` wheel on PyPI: its backend, and its Svelte
sources as the wheel's source maps hold them) and from the newer Svelte code of its repository
(``head=True``), which changed how a chip is named. Each function names the code it follows; none
calls Open WebUI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse


def stored_sources(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The message's ``sources``, in arrival order.

    ``backend/open_webui/utils/middleware.py``: a chunk with an ``event`` is handed to the event
    emitter (``if 'event' in data``), and every ``url_citation`` annotation of a delta becomes a
    ``source`` event whose document and name are the title and whose ``metadata.source`` is the URL
    ("Handle delta annotations"). ``backend/open_webui/socket/main.py``: each ``source`` or
    ``citation`` event without a ``data.type`` is appended to the message's ``sources``.
    """
    sources: list[dict[str, Any]] = []
    for chunk in chunks:
        event = chunk.get("event")
        kind = (event or {}).get("type")
        if event and kind in ("source", "citation") and event.get("data", {}).get("type") is None:
            sources.append(event["data"])
        choices = chunk.get("choices") or []
        if not choices:
            continue
        for note in choices[0].get("delta", {}).get("annotations") or []:
            if note.get("type") == "url_citation" and "url_citation" in note:
                url = note["url_citation"].get("url", "")
                title = note["url_citation"].get("title", url)
                sources.append(
                    {
                        "source": {"name": title, "url": url},
                        "document": [title],
                        "metadata": [{"source": url, "name": title}],
                    }
                )
    return sources


def _http(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    parsed = urlparse(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.hostname else None


@dataclass
class Chip:
    """One entry of the message's source list (a chip) and what its pop-up shows."""

    id: str
    name: str
    url: str | None
    documents: list[str] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)

    def pages_shown(self) -> list[int | None]:
        """The "(page N)" of each document in the pop-up: ``metadata.page + 1`` when an integer
        (``Citations/CitationModal.svelte``, ``Number.isInteger(document?.metadata?.page)``,
        v0.12.4 lines 208-211)."""
        pages = [m.get("page") for m in self.metadata]
        return [p + 1 if isinstance(p, int) and not isinstance(p, bool) else None for p in pages]


def chips(sources: list[dict[str, Any]], *, head: bool = False) -> list[Chip]:
    """The chips, numbered from 1 in this order.

    ``src/lib/components/chat/Messages/Citations.svelte`` (the ``citations = sources.reduce``
    block): one entry per document; its id is ``metadata.source``, else ``source.id``; documents
    of one id are grouped under the first. The name is ``metadata.name`` (else ``source.name``).
    v0.12.4 (lines 119-128): an id that is an http URL becomes the link, and the name too unless
    ``metadata.external``. Newer (``head``): an http ``metadata.source_url`` is the link and the
    name stays; else an http id becomes the link and the name.
    """
    out: list[Chip] = []
    for source in sources:
        if not source:
            continue
        for i, document in enumerate(source.get("document") or []):
            meta = (source.get("metadata") or [None] * (i + 1))[i]
            distances = source.get("distances") or []
            distance = distances[i] if i < len(distances) else None
            ident = (meta or {}).get("source") or source.get("source", {}).get("id") or "N/A"
            name = (meta or {}).get("name") or source.get("source", {}).get("name")
            url = source.get("source", {}).get("url")
            if head and _http((meta or {}).get("source_url")):
                url = (meta or {})["source_url"]
            elif _http(ident):
                external = not head and (meta or {}).get("external")
                name, url = (name if external else ident), ident
            found = next((c for c in out if c.id == ident), None)
            if found is None:
                found = Chip(ident, str(name), url)
                out.append(found)
            found.documents.append(document)
            if meta:
                found.metadata.append(meta)
            if distance is not None:
                found.distances.append(distance)
    return out


def pill_titles(sources: list[dict[str, Any]], *, head: bool = False) -> list[str]:
    """What the text's ``[n]`` pill n shows (``sourceIds[n - 1]``).

    ``src/lib/components/chat/Messages/ContentRenderer.svelte`` (``getSourceIds``): per
    document, ``metadata.name``, else an http ``metadata.source``, else ``source.name``; one
    title per distinct id (v0.12.4, lines 107-131), per distinct title (``head``). A pill whose
    number has no title shows nothing.
    """
    titles: list[str] = []
    seen: set[str] = set()
    for source in sources:
        for i, _ in enumerate(source.get("document") or []):
            meta = (source.get("metadata") or [None] * (i + 1))[i] or {}
            ident = meta.get("source") or source.get("source", {}).get("id") or "N/A"
            if not head:
                if ident in seen:
                    continue
                seen.add(ident)
            if meta.get("name"):
                title = meta["name"]
            elif _http(ident):
                title = ident
            else:
                title = source.get("source", {}).get("name", ident)
            if not head or title not in titles:
                titles.append(title)
    return titles


def shows_relevance(entries: list[Chip]) -> bool:
    """Whether the pop-up shows relevance as a percentage: every distance in [-1, 1]
    (``Citations.svelte``, ``calculateShowRelevance`` and ``shouldShowPercentage``, v0.12.4
    lines 79-106; a lone distance is not shown)."""
    distances = [d for c in entries for d in c.distances]
    n, inside = len(distances), sum(-1 <= d <= 1 for d in distances)
    outside = n - inside
    if not n or (inside == n - 1 and outside == 1) or (outside == n - 1 and inside == 1):
        return False
    return inside == n
