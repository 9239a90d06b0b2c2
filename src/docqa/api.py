"""Store-level operations: :func:`status` and :func:`reset`."""

from __future__ import annotations

from pathlib import Path

from docqa import fingerprint, storedir
from docqa.config import Settings, find_store, store_path
from docqa.errors import ConfirmationRequired, DocqaError, NoStoreError
from docqa.manifest import FileRow, Manifest
from docqa.stores import open_store
from docqa.types import FileStatus, StoreStatus


def _dir_size(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern) if p.is_file())


def _stale(settings: Settings, done: list[FileRow]) -> tuple[str, list[str]]:
    """The current settings fingerprint, and a warning when files were made with other ones."""
    try:
        base = fingerprint.current(settings)
    except DocqaError as exc:
        return "-", [f"cannot compute the current fingerprint: {exc}"]
    stale = [
        r
        for r in done
        if r.fingerprint != fingerprint.file_fingerprint(settings, base, Path(r.abspath))
    ]
    if not stale:
        return base, []
    return base, [
        f"{len(stale)} files were ingested with other settings: run `docqa ingest` "
        "on them again to update"
    ]


def status(settings: Settings | None = None) -> StoreStatus:
    """Describe the store the settings point to: files, chunks, embedder, size and warnings.

    Raises:
        NoStoreError: there is no store here or in a parent folder.
    """
    settings = settings or Settings()
    folder = store_path(settings, create=False)
    manifest = Manifest(folder)
    try:
        rows = manifest.files()
        model = manifest.get_meta("embed_model") or "-"
        dim = int(manifest.get_meta("dim") or 0)
        chunks = manifest.total_chunks()
        unfinished = manifest.unfinished()
    finally:
        manifest.close()
    store = open_store(settings, folder)
    try:
        points, size = store.count(), store.size_bytes()
    finally:
        store.close()
    done = [r for r in rows if r.status == "done"]
    failures = tuple(
        FileStatus(r.root, r.rel, r.sha256, r.status, r.chunks, r.reason)
        for r in rows
        if r.status != "done"
    )
    base, warnings = _stale(settings, done)
    writer = storedir.writer(folder)
    if writer is not None:
        warnings.append(f"an ingest is running ({writer}): these figures will change")
    elif unfinished:
        warnings.append("an ingest was interrupted: run `docqa ingest` again to finish")
    elif points != chunks:
        warnings.append(f"the store holds {points} points but the manifest lists {chunks} chunks")
    return StoreStatus(
        store=str(folder),
        backend="qdrant-server" if settings.qdrant_url else "qdrant-edge",
        files=len(done),
        failed=len(failures),
        chunks=chunks,
        points=points,
        embed_model=model,
        dim=dim,
        fingerprint=base,
        size_bytes=size + _dir_size(folder, "manifest.sqlite*"),
        roots=tuple(sorted({r.root for r in rows})),
        warnings=tuple(warnings),
        failures=failures,
    )


def reset(settings: Settings | None = None, *, yes: bool = False) -> Path:
    """Delete the store: its points, its manifest and docqa's other files in its folder.

    Only what docqa made goes; the folder itself goes when nothing else is left in it. A
    folder without docqa's marker (or an older docqa's files), ``/``, the home folder and the
    current folder are refused. Waits for no ingest: one running makes this fail, unchanged.

    Returns:
        The store folder that was emptied.

    Raises:
        NoStoreError: there is no store to reset, or the folder is not a docqa store.
        ConfigError: the folder is ``/``, the home folder or the current folder.
        ConfirmationRequired: ``yes`` is false (the message names the folder).
        StoreLockedError: an ingest (or another process) is using the store.
    """
    settings = settings or Settings()
    folder = find_store(settings)
    if folder is None:
        raise NoStoreError(Path.cwd())
    storedir.check_resettable(folder)
    if not yes:
        raise ConfirmationRequired(
            f"this deletes the docqa store at {folder} (its points and manifest; other files "
            "there stay): pass --yes (yes=True)"
        )
    with storedir.writer_lock(folder):
        store = open_store(settings, folder, writer=True)
        try:
            store.drop()
        finally:
            store.close()
        storedir.remove(folder)
    return folder
