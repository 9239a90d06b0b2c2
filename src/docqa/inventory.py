"""What the store holds (:func:`status`) and removing it (:func:`remove`): store-level operations
that :func:`docqa.status` and :func:`docqa.reset` run once their session has the store.

``remove`` deletes only what docqa made (:func:`docqa.storedir.remove`), never the folder while
anything else is in it."""

from __future__ import annotations

from pathlib import Path

from docqa import fingerprint, storedir
from docqa.config import Settings
from docqa.errors import ConfirmationRequired, DocqaError
from docqa.manifest import FileRow, Manifest
from docqa.stores import Store
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


def status(settings: Settings, folder: Path, manifest: Manifest, store: Store) -> StoreStatus:
    """Describe the store in ``folder``: files, chunks, embedder and the backend that runs it
    here, size and warnings."""
    rows = manifest.files()
    model = manifest.get_meta("embed_model") or "-"
    dim = int(manifest.get_meta("dim") or 0)
    chunks = manifest.total_chunks()
    unfinished = manifest.unfinished()
    points, size = store.count(), store.size_bytes()
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
        embed_backend=_backend(settings),
        size_bytes=size + _dir_size(folder, "manifest.sqlite*"),
        roots=tuple(sorted({r.root for r in rows})),
        warnings=tuple(warnings),
        failures=failures,
    )


def confirm_reset(folder: Path, yes: bool) -> None:
    """Refuse what is no docqa store (or ``/``, home, the current folder); then raise
    :class:`ConfirmationRequired`, naming the folder, unless ``yes``.

    Raises:
        NoStoreError: the folder is not a docqa store.
        ConfigError: the folder is ``/``, the home folder or the current folder.
        ConfirmationRequired: ``yes`` is false.
    """
    storedir.check_resettable(folder)
    if not yes:
        raise ConfirmationRequired(
            f"this deletes the docqa store at {folder} (its points and manifest; other files "
            "there stay): pass --yes (yes=True)"
        )


def remove(folder: Path, store: Store) -> Path:
    """Drop ``store``'s points, then delete docqa's files in ``folder`` (the folder itself only
    when nothing else is left). Call it holding the writer lock (:func:`storedir.writer_lock`).

    Raises:
        StoreLockedError: another process holds the store; nothing is deleted.
    """
    store.drop()
    store.close()
    storedir.remove(folder)
    return folder
