"""Store-level operations: :func:`status` and :func:`reset`."""

from __future__ import annotations

import shutil
from pathlib import Path

from docqa import fingerprint
from docqa.config import Settings, store_path
from docqa.errors import ConfirmationRequired, DocqaError
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


def _backend(settings: Settings) -> str:
    """Which embedding backend runs here and why (nothing is loaded or measured)."""
    from docqa import embedding

    try:
        return embedding.describe_backend(settings)
    except DocqaError as exc:
        return f"unknown ({exc})"


def status(settings: Settings | None = None) -> StoreStatus:
    """Describe the store the settings point to: files, chunks, embedder and the backend that
    runs it here, size and warnings.

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
    backend = _backend(settings)
    if points != chunks:
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
        embed_backend=backend,
        size_bytes=size + _dir_size(folder, "manifest.sqlite*"),
        roots=tuple(sorted({r.root for r in rows})),
        warnings=tuple(warnings),
        failures=failures,
    )


def reset(settings: Settings | None = None, *, yes: bool = False) -> Path:
    """Delete the store (points and manifest). Returns the folder that was removed.

    Raises:
        NoStoreError: there is no store to reset.
        ConfirmationRequired: ``yes`` is false.
    """
    settings = settings or Settings()
    folder = store_path(settings, create=False)
    if not yes:
        raise ConfirmationRequired(
            f"this deletes the docqa store at {folder}: pass --yes (yes=True)"
        )
    if settings.qdrant_url:
        store = open_store(settings, folder)
        try:
            store.drop()
        finally:
            store.close()
    shutil.rmtree(folder)
    return folder
