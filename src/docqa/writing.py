"""How an ingest run writes to the store and the manifest, in the order that makes it crash-safe.

**The store first, the manifest second**:

1. A file is parsed, chunked and embedded without holding the store (readers go on meanwhile).
2. A content about to be written is marked ``pending`` in the manifest; its points are upserted
   *unpublished* (empty ``files``, which search skips; ids are
   ``uuid5(sha256:position:fingerprint)``, so a re-run writes the very same ids).
3. All in, one ``set_files`` publishes them; then the points they replace (the path's old bytes,
   or the same bytes made with older settings) are deleted, and the store is flushed.
4. One manifest transaction marks the content and the file ``done``.

Steps 2 to 4 happen in one short hold of the store (:meth:`Run.hold`), which
is then released for readers. A kill at any point leaves either a ``pending`` content (whose
unpublished points no search serves) or a ``done`` content whose points are all there; the old
points of an updated file stay searchable until its new ones are published. Each run starts by
deleting the points of pending or unreferenced contents (:func:`clean_orphans`), then redoes
whatever is not ``done``; ``status`` says "interrupted" until then. Removing a path likewise
rewrites or deletes its points before forgetting the row (:func:`forget`).

Consecutive small files that share no bytes go through steps 2 to 4 together
(:func:`store_group`, up to ``GROUP_CHUNKS`` chunks): one embedding call, one hold, one flush and
one ``done`` transaction for all of them, each file's steps in the same order; a kill leaves
each of them pending or done, as above. Per file, the flush alone cost ~27 ms.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from docqa import embedding, fingerprint, sources, storedir
from docqa.chunking import Chunker, ChunkSpec, embed_text
from docqa.config import Settings
from docqa.errors import DocqaError
from docqa.manifest import WRITING, ContentRow, FileRow, Manifest
from docqa.sparse import Bm25Encoder
from docqa.stores import StorePoint
from docqa.types import Chunk, IngestEvent, ParsedDoc

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.stores import Store

POINT_NAMESPACE = uuid.UUID("6f1d2a3c-9b0e-5d47-8a61-3c2f0e9d7b15")
UPSERT_BATCH = 256  # points per store operation
GROUP_CHUNKS = 256  # chunks of consecutive small files embedded and written together


Progress = Callable[[IngestEvent], None]


@dataclass
class Run:
    """Everything one ingest run shares; the embedder loads only when first needed."""

    settings: Settings
    store: Store
    manifest: Manifest
    embedder_factory: Callable[[], Embedder]
    encoder: Bm25Encoder
    embedder_id: str
    on_progress: Progress
    yes: bool = False
    confirm: Callable[[str], bool] | None = None
    _embedder: Embedder | None = None
    _chunker: Chunker | None = None
    _base: str | None = None
    _changing: bool = False

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self.embedder_factory()
        return self._embedder

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            info = self.embedder.info
            spec = ChunkSpec(
                max_tokens=info.max_tokens,
                target=self.settings.chunk_tokens,
                overlap=self.settings.chunk_overlap,
                special_tokens=info.special_tokens,
                prefix=info.document_prefix,
            )
            self._chunker = Chunker(embedding.chunk_tokenizer(info), spec)
        return self._chunker

    def fingerprint(self, path: Path) -> str:
        """Everything that changes this file's points, hashed (see :mod:`docqa.fingerprint`)."""
        if self._base is None:
            self._base = fingerprint.current(self.settings, self.embedder_id)
        return fingerprint.file_fingerprint(self.settings, self._base, path)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Write to the store in the block, then release it so readers get in between writes."""
        try:
            yield
        except BaseException:
            with contextlib.suppress(DocqaError):
                self.store.release()
            raise
        self.store.release()

    def changing(self) -> None:
        """Record, before the first change of this run, that an ingest is changing the store."""
        if not self._changing:
            with self.manifest.transaction():
                self.manifest.set_meta(WRITING, storedir.process_label())
            self._changing = True


def point_id(sha256: str, position: int, fingerprint: str) -> str:
    """Deterministic point id: uuid5 of content sha256, chunk position and fingerprint."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{sha256}:{position}:{fingerprint}"))


@dataclass
class Work:
    """One file to write: where it is, its bytes' key and fingerprint, and its previous row."""

    src: sources.SourceFile
    sha256: str
    fingerprint: str
    previous: FileRow | None
    parsed: ParsedDoc | None = None
    chunks: list[Chunk] = field(default_factory=list)


def file_row(
    work: Work, status: str, *, reason: str = "", chunks: int = 0, pages: int = 0
) -> FileRow:
    """The manifest row of a worked file."""
    return FileRow(
        abspath=work.src.key,
        root=sources.path_text(work.src.root),
        rel=work.src.rel,
        sha256=work.sha256,
        fingerprint=work.fingerprint,
        status=status,
        reason=reason,
        chunks=chunks,
        pages=pages,
    )


def clean_orphans(run: Run) -> None:
    """Delete the points of contents left pending by a crash or no longer referenced.

    A pending content that done files still hold (its settings changed meanwhile) keeps the
    points those files were made with, and is done again with them.
    """
    orphans = run.manifest.orphans()
    if not orphans:
        return
    with run.hold():
        for sha in orphans:
            paths = run.manifest.paths_of(sha)
            held = run.manifest.file(paths[0]) if paths else None
            keep = held.fingerprint if held else None
            run.store.delete_content(sha, keep_fingerprint=keep)
            run.store.flush()
            with run.manifest.transaction():
                if keep is None:
                    run.manifest.delete_content(sha)
                else:
                    run.manifest.put_content(ContentRow(sha, keep, "done", run.store.count(sha)))


def detach(run: Run, row: FileRow) -> bool:
    """Take ``row``'s path off its content's points; True when no other path keeps them."""
    others = [p for p in run.manifest.paths_of(row.sha256) if p != row.abspath]
    if others:
        run.store.set_files(row.sha256, others)
    else:
        run.store.delete_content(row.sha256)
    return not others


def forget(run: Run, row: FileRow) -> None:
    """Remove one path (inside :meth:`Run.hold`): its points first, then the row."""
    gone = detach(run, row)
    run.store.flush()
    with run.manifest.transaction():
        run.manifest.delete_file(row.abspath)
        if gone:
            run.manifest.delete_content(row.sha256)


def store_file(run: Run, work: Work, tick: Callable[[int], None]) -> None:
    """Embed one file, then in one hold of the store write, publish, retire and mark it done."""
    old = work.previous
    if not (old and old.status == "done" and old.sha256 != work.sha256):
        old = None  # same bytes at this path: nothing to retire but older settings' points
    content = run.manifest.content(work.sha256)
    if content and content.status == "done" and content.fingerprint == work.fingerprint:
        # identical bytes stored earlier (maybe in this run): reuse their points
        work.parsed, work.chunks = None, []
    points = embed(run, work, tick) if work.parsed is not None else []
    run.changing()
    paths = sorted({*run.manifest.paths_of(work.sha256), work.src.key})
    with run.hold():
        if work.parsed is not None:
            with run.manifest.transaction():
                run.manifest.put_content(ContentRow(work.sha256, work.fingerprint, "pending"))
            for start in range(0, len(points), UPSERT_BATCH):
                run.store.upsert(points[start : start + UPSERT_BATCH])
        run.store.set_files(work.sha256, paths)  # publish: all of them at once
        if work.parsed is not None:
            run.store.delete_content(work.sha256, keep_fingerprint=work.fingerprint)
        retired = old is not None and detach(run, old)
        run.store.flush()
        chunk_count = len(work.chunks) or (content.chunks if content else 0)
        pages = work.parsed.pages if work.parsed else 0
        with run.manifest.transaction():
            if work.parsed is not None:
                done = ContentRow(work.sha256, work.fingerprint, "done", chunk_count)
                run.manifest.put_content(done)
            run.manifest.put_file(file_row(work, "done", chunks=chunk_count, pages=pages))
            if old is not None and retired:
                run.manifest.delete_content(old.sha256)


def store_group(run: Run, works: Sequence[Work], ticks: Sequence[Callable[[int], None]]) -> None:
    """Several small files as one: one embedding call, one hold of the store, one flush and one
    manifest transaction for them all, each file in :func:`store_file`'s crash-safe order.

    The files must not share bytes, old or new (:func:`groupable`): one file's retirement must
    not see another's half-written rows.
    """
    plans = [_plan(run, work) for work in works]
    fresh = [w for w in works if w.parsed is not None]
    points = embed_many(run, fresh)
    for work, tick in zip(works, ticks, strict=True):
        tick(len(work.chunks))
    run.changing()
    paths = [sorted({*run.manifest.paths_of(w.sha256), w.src.key}) for w in works]
    with run.hold():
        if fresh:
            with run.manifest.transaction():
                for work in fresh:
                    run.manifest.put_content(ContentRow(work.sha256, work.fingerprint, "pending"))
            for start in range(0, len(points), UPSERT_BATCH):
                run.store.upsert(points[start : start + UPSERT_BATCH])
        retired: list[bool] = []
        for (work, old, _content), where in zip(plans, paths, strict=True):
            run.store.set_files(work.sha256, where)  # publish: all of this file's at once
            if work.parsed is not None:
                run.store.delete_content(work.sha256, keep_fingerprint=work.fingerprint)
            retired.append(old is not None and detach(run, old))
        run.store.flush()
        with run.manifest.transaction():
            for plan, gone in zip(plans, retired, strict=True):
                _mark_done(run, *plan, gone)


Plan = tuple[Work, FileRow | None, ContentRow | None]


def _plan(run: Run, work: Work) -> Plan:
    """The file, the row it retires (its path's old bytes) and its content's current row."""
    old = work.previous
    if not (old and old.status == "done" and old.sha256 != work.sha256):
        old = None
    content = run.manifest.content(work.sha256)
    if content and content.status == "done" and content.fingerprint == work.fingerprint:
        work.parsed, work.chunks = None, []  # identical bytes stored earlier: reuse their points
    return work, old, content


def _mark_done(
    run: Run, work: Work, old: FileRow | None, content: ContentRow | None, retired: bool
) -> None:
    """Inside a manifest transaction: the content and the file are done."""
    chunk_count = len(work.chunks) or (content.chunks if content else 0)
    pages = work.parsed.pages if work.parsed else 0
    if work.parsed is not None:
        run.manifest.put_content(ContentRow(work.sha256, work.fingerprint, "done", chunk_count))
    run.manifest.put_file(file_row(work, "done", chunks=chunk_count, pages=pages))
    if old is not None and retired:
        run.manifest.delete_content(old.sha256)


def groupable(work: Work, shas: set[str]) -> bool:
    """Whether ``work`` can join a group whose files hold (or held) the bytes ``shas``."""
    old = work.previous.sha256 if work.previous else None
    return work.sha256 not in shas and (old is None or old not in shas)


def embed_many(run: Run, works: Sequence[Work]) -> list[StorePoint]:
    """The points of several files, unpublished, from one embedding call."""
    texts = [embed_text(c) for w in works for c in w.chunks]
    if not texts:
        return []
    vectors = run.embedder.embed_documents(texts)
    points: list[StorePoint] = []
    i = 0
    for work in works:
        lang = work.parsed.language if work.parsed else "en"
        for c in work.chunks:
            points.append(
                StorePoint(
                    id=point_id(work.sha256, c.position, work.fingerprint),
                    dense=cast("Sequence[float]", vectors[i]),
                    sparse=run.encoder.encode_document(texts[i], lang),
                    payload=payload(work, c, lang),
                )
            )
            i += 1
    return points


def embed(run: Run, work: Work, tick: Callable[[int], None]) -> list[StorePoint]:
    """The file's points, unpublished (no ``files``), embedded batch by batch."""
    points: list[StorePoint] = []
    batch = run.settings.embed_batch_size * 4
    lang = work.parsed.language if work.parsed else "en"
    for start in range(0, len(work.chunks), batch):
        part = work.chunks[start : start + batch]
        texts = [embed_text(c) for c in part]
        vectors = run.embedder.embed_documents(texts)
        points += [
            StorePoint(
                id=point_id(work.sha256, c.position, work.fingerprint),
                dense=cast("Sequence[float]", vec),  # numpy row: converted once, at upsert
                sparse=run.encoder.encode_document(text, lang),
                payload=payload(work, c, lang),
            )
            for c, vec, text in zip(part, vectors, texts, strict=True)
        ]
        tick(start + len(part))
    return points


def payload(work: Work, chunk: Chunk, lang: str) -> dict[str, object]:
    return {
        "sha256": work.sha256,
        "files": [],  # unpublished until set_files
        "position": chunk.position,
        "text": chunk.text,
        "page": chunk.page,
        "heading": list(chunk.heading),
        "first_line": chunk.first_line,
        "last_line": chunk.last_line,
        "fingerprint": work.fingerprint,
        "lang": lang,
    }
