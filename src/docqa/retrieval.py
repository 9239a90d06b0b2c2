"""Retrieval: a question → ranked :class:`~docqa.types.Hit` records, no LLM involved.

Dense (the embedder's cosine) and BM25 (the shared sparse encoder) are fused with RRF inside
Qdrant (prefetch + fusion query), in both store adapters. Each hit keeps its dense cosine
(``Hit.dense_score``), which the relevance floor is applied to: fused RRF scores only encode rank.

File filters are globs resolved against the manifest (every ingested path), then passed to the
store as a keyword filter on the payload's ``files``. With ``rerank_model`` set, a larger pool of
candidates is reordered by a local cross-encoder (:mod:`docqa.rerank`) and cut back to ``k``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docqa import floor as derived_floor
from docqa.config import Settings, find_store
from docqa.errors import NoMatchError
from docqa.language import detect_language, words_and_parts
from docqa.manifest import FileRow
from docqa.metrics import content_words
from docqa.sources import path_text
from docqa.sparse import Bm25Encoder
from docqa.stores import SearchMode
from docqa.types import Hit

MIN_COVERED_WORDS = 2
"""A question must have this many content words for a hit holding them all to pass the floor."""

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.stores import ScoredPoint, Store


def _hit(point: ScoredPoint) -> Hit:
    return stored_hit(
        point.payload,
        point.id,
        float(point.score),
        dense_score=point.dense_score,
        vector=point.dense,
    )


def stored_hit(p: Mapping[str, Any], chunk_id: str, score: float, **found: Any) -> Hit:
    """The hit a stored point's payload describes (its first file), scored ``score``;
    ``found``: the search's own fields (``dense_score``, ``vector``)."""
    files = tuple(str(f) for f in p.get("files") or ())
    return Hit(
        file=files[0] if files else "",
        text=str(p.get("text", "")),
        score=score,
        page=p.get("page"),
        heading=tuple(p.get("heading") or ()),
        first_line=p.get("first_line"),
        last_line=p.get("last_line"),
        chunk_id=chunk_id,
        files=files,
        **found,
    )


# --- file filters ------------------------------------------------------------------------------


def _variants(pattern: str) -> set[str]:
    """The pattern, plus forms where ``**/`` also matches no folder at all (as in gitignore)."""
    out = {pattern}
    while True:
        more = {p.replace("/**/", "/", 1) for p in out if "/**/" in p}
        more |= {p[3:] for p in out if p.startswith("**/")}
        if more <= out:
            return out
        out |= more


def _names(row: FileRow, cwd: Path) -> set[str]:
    """The names a user may write for a stored file: absolute, under its root, under the cwd."""
    names = {row.abspath, row.rel}
    here = path_text(cwd)
    if row.abspath.startswith(here.rstrip("/") + "/"):
        names.add(os.path.relpath(row.abspath, here))
    return names


def _matches(pattern: str, row: FileRow, cwd: Path) -> bool:
    if pattern in (row.abspath, row.rel):
        return True  # literal paths, even with [ ] or * in the name
    names = _names(row, cwd)
    if "/" not in pattern:
        names.add(Path(row.abspath).name)  # a bare name or glob matches in any folder
    return any(fnmatchcase(n, v) for v in _variants(pattern) for n in names)


def match_files(patterns: Iterable[str], rows: Sequence[FileRow], cwd: Path) -> list[str]:
    """Absolute paths of the ingested ``rows`` that the glob ``patterns`` name.

    A pattern matches a file's absolute path, its path relative to the ingested folder, its
    path relative to ``cwd``, or (without ``/``) its name; ``*`` crosses folders and ``**/``
    may match no folder.

    Raises:
        NoMatchError: a pattern matches no ingested file.
    """
    done = [r for r in rows if r.status == "done"]
    found: set[str] = set()
    for raw in patterns:
        pattern = path_text(os.path.expanduser(raw))  # as stored: a non-UTF-8 name as \xNN
        hits = {r.abspath for r in done if _matches(pattern, r, cwd)}
        if not hits:
            raise NoMatchError(f"no ingested file matches {raw!r} (see `docqa status`)")
        found |= hits
    return sorted(found)


# --- search ------------------------------------------------------------------------------------


# An embedder ranks questions in a language it was not trained on poorly (all-MiniLM-L6-v2 on the
# French Debian FAQ: dense MRR@10 0.64 on tune, 0.68 on test, against BM25's 0.95): hybrid then
# ranks by BM25 and the dense list only breaks ties. Its cosines still serve the relevance floor.
MUTED_DENSE = (1e-6, 1.0)
# An embedder does not read numbers either: asked "what did Elena propose in the hiking chat of
# 20260717?", MiniLM ranks every hiking chat alike and the fused list puts the day's own chat
# first for 18 of 46 tune questions of the chat logs (benchmarks/chatlogs.py), BM25 alone for
# 45. A question naming a number of 4 digits or more (a day, a year, an id) is ranked by BM25:
# chat logs tune hit@1 0.391 -> 0.957, MRR@10 0.595 -> 0.975; no Debian FAQ tune question
# names one (benchmarks/README.md, "Documents of another shape").
_NUMBER = re.compile(r"\d{4,}")


def fusion_weights(
    question: str, model_languages: Sequence[str], encoder: Bm25Encoder
) -> tuple[float, float] | None:
    """(dense, bm25) RRF weights for ``question``: :data:`MUTED_DENSE` when the question is
    clearly in a language the embedder does not read, or names a number of 4 digits or more;
    else None (the stores' default)."""
    if _NUMBER.search(question):
        return MUTED_DENSE
    if not model_languages:
        return None
    asked = encoder.query_languages(question)
    if len(asked) == 1 and asked[0] not in model_languages:
        return MUTED_DENSE
    return None


def _query_points(
    question: str,
    settings: Settings,
    store: Store,
    plan: tuple[int, SearchMode, Sequence[str] | None, Mapping[str, Sequence[str]] | None],
    embedder: Embedder | None,
) -> list[Hit]:
    k, mode, files, where = plan
    dense = None
    if mode != "bm25":
        if embedder is None:
            raise ValueError(f"{mode} search needs an embedder")
        dense = [float(x) for x in embedder.embed_query(question)]
    encoder = Bm25Encoder(settings.languages)
    sparse = encoder.encode_query(question) if mode != "dense" else None
    weights = None
    if mode == "hybrid" and embedder is not None:
        weights = fusion_weights(question, embedder.info.languages, encoder)
    points = store.search(dense, sparse, k, mode=mode, files=files, where=where, weights=weights)
    hits = [_hit(p) for p in points]
    # RRF gives equal scores to many hits and Edge orders ties arbitrarily: break them by the
    # dense cosine, then the id, so the same question always gets the same ranking.
    return sorted(hits, key=lambda h: (-h.score, -(h.dense_score or -1.0), h.chunk_id))


def search_store(
    question: str,
    settings: Settings,
    store: Store,
    embedder: Embedder | None,
    *,
    k: int | None = None,
    mode: SearchMode | None = None,
    paths: Sequence[str] | None = None,
    where: Mapping[str, str | Sequence[str]] | None = None,
) -> list[Hit]:
    """Top-``k`` chunks of ``store`` for ``question``, best first (what :func:`docqa.search`
    runs once its session has the store, the embedder and the file paths).

    Args:
        question: The question or keywords.
        settings: Uses ``top_k``, ``search_mode``, ``languages`` and ``rerank_model``.
        store: The open store.
        embedder: Embeds the question; ``None`` only in ``bm25`` mode.
        k: How many hits; defaults to ``settings.top_k``.
        mode: ``hybrid`` (default from settings), ``dense`` or ``bm25``.
        paths: Only these stored absolute paths (see :func:`match_files`).
        where: Payload filters, e.g. ``{"lang": "fr"}`` (a value or a list of accepted values;
            every key must match). ``lang`` is indexed.

    Raises:
        EmbedderError: ``settings.rerank_model`` is set but cannot be loaded.
    """
    k = k or settings.top_k
    pool = k
    if settings.rerank_model is not None:
        from docqa.rerank import pool_size

        pool = pool_size(k)
    conditions = {key: [v] if isinstance(v, str) else list(v) for key, v in (where or {}).items()}
    plan = (pool, mode or settings.search_mode, paths, conditions or None)
    hits = _query_points(question, settings, store, plan, embedder)
    if settings.rerank_model is not None:
        from docqa.rerank import rerank

        hits = rerank(question, hits, settings)
    return hits[:k]


def floor_for(settings: Settings) -> float:
    """The relevance floor: ``DOCQA_RELEVANCE_FLOOR`` when set, else the floor derived from the
    store the settings point to (what unrelated questions score against it, :mod:`docqa.floor`),
    else (a store ingested before floors were derived) the embedder's calibrated constant."""
    if settings.relevance_floor is not None:
        return settings.relevance_floor
    folder = find_store(settings)
    found = derived_floor.read(folder) if folder is not None else None
    return found.floor if found is not None else settings.floor


def relevant(
    hits: Sequence[Hit], settings: Settings | None = None, question: str | None = None
) -> list[Hit]:
    """The hits whose dense cosine reaches the relevance floor (:func:`floor_for`) and is
    within ``settings.margin`` of the best hit's, or that hold every word of ``question``
    (:func:`covers`), or every number of 4 digits or more it names (the embedder reads none: the
    chat of the day "20260717" names, by its date line), in order.

    Answering abstains ("the documents do not say") when this is empty. Hits without a dense
    score (``bm25`` mode ran no embedder) are kept: neither rule can judge them.

    Args:
        hits: Hits from :func:`search`.
        settings: Settings; defaults to ``Settings()``.
        question: The question searched for; without it only the cosine rules apply.
    """
    settings = settings or Settings()
    floor, margin = floor_for(settings), settings.margin
    scores = [h.dense_score for h in hits if h.dense_score is not None]
    if margin is not None and scores:
        floor = max(floor, max(scores) - margin)
    words = question_words(question, settings.languages) if question else frozenset()
    numbers = frozenset(_NUMBER.findall(question)) if question else frozenset()
    return [
        h
        for h in hits
        if h.dense_score is None or h.dense_score >= floor or covers(words, h) or covers(numbers, h)
    ]


def question_words(question: str, languages: Sequence[str]) -> frozenset[str]:
    """The question's content words (its language's stopwords left out), or none when it has
    fewer than :data:`MIN_COVERED_WORDS`: a word or two is in too many texts to vouch for one."""
    found = frozenset(content_words(question, detect_language(question, languages)))
    return found if len(found) >= MIN_COVERED_WORDS else frozenset()


def covers(words: frozenset[str], hit: Hit) -> bool:
    """Whether the hit's text and heading path hold every one of ``words`` (none: False).

    The floor judges the dense cosine, and a small embedder can score the passage that answers
    a question in its own words below it ("You are talking about testing being broken. What do
    you mean by that?" and the Debian FAQ's 3.1.6, which it titles: 0.444 < 0.45). A hit that
    holds every content word of the question is about it whatever the cosine says. On the
    Debian FAQ store (EN and FR questions, tune and test), answerable questions left without a
    source holding the answer went from 12 of 242 to 3, while Python FAQ questions asked of it
    that reach the model went from 12 of 161 to 13 (``benchmarks/README.md``, "Relevance
    floor")."""
    if not words:
        return False
    text = set(words_and_parts(hit.text))
    text |= {w for title in hit.heading for w in words_and_parts(title)}
    return words <= text
