"""Find the files an ingest path holds, without reading them.

:func:`scan` walks a file or a folder, following symlinks but never looping, and sorts what it
finds into files to ingest, names skipped (unsupported types, duplicate folder links, non-regular
files, links that lead out of the folder) and errors (unreadable folders, symlink loops, broken
links). Hidden entries (``.git``, ``.docqa``, ``.notes.md``), ``__pycache__`` and the files of a
docqa store inside the folder are left out silently.

Symlinks: a link whose target lies inside the ingested folder is followed; one that leads out of
it is skipped (and listed in :attr:`Scan.outside`) unless ``follow_links`` is set. Either way a
file is recorded under the path it has inside the folder (the link's path, not its target's), so
deleting the link removes it on the next run.

File names are bytes on Linux and need not be UTF-8 (``bad\\xffname.txt``); Python hands them over
with the odd bytes as lone surrogates, which SQLite, the store and a terminal all reject. Every
path docqa stores or prints goes through :func:`path_text`, which writes such bytes as ``\\xNN``.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from docqa import storedir
from docqa.errors import IngestPathError, SourceError

log = logging.getLogger(__name__)

SUPPORTED = frozenset({".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx"})
"""File extensions docqa ingests (compared lowercased)."""

IGNORED_DIRS = frozenset({"__pycache__"})
_BLOCK = 1 << 20  # 1 MiB: large enough to keep hashing I/O-bound, small enough for any memory


def path_text(path: str | os.PathLike[str]) -> str:
    """A path as text that can be stored and printed: the same string for a UTF-8 name, and
    ``\\xNN`` for each byte of a name that is not UTF-8 (``bad\\xffname.txt``)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True)
class SourceFile:
    """One file to ingest.

    Attributes:
        path: Absolute path of the file inside ``root`` (a link's own path, not its target).
        rel: POSIX path relative to ``root`` (for a single-file root, the file's name), as
            :func:`path_text`.
        root: The ingest path the file was found under (see :func:`ingest_root`).
    """

    path: Path
    rel: str
    root: Path

    @property
    def key(self) -> str:
        """``path`` as :func:`path_text`: how the manifest, the store and messages name it."""
        return path_text(self.path)


@dataclass(frozen=True)
class Scan:
    """What :func:`scan` found.

    Attributes:
        files: Supported files, sorted by ``rel``.
        skipped: Relative paths left out on purpose (unsupported type, a folder link to a
            folder already scanned, shown with a trailing ``/``, or a non-regular file).
        errors: ``(path, reason)`` pairs for unreadable folders, symlink loops and broken links.
        outside: The skipped links that lead out of the root (folders with a trailing ``/``);
            also counted in ``skipped``.
    """

    files: tuple[SourceFile, ...]
    skipped: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    outside: tuple[str, ...] = ()


@dataclass
class _Walk:
    """Mutable state of one folder walk."""

    root: Path
    follow_links: bool = False
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    visited: dict[str, str] = field(default_factory=dict)  # real dir -> rel of first visit
    # walked dir -> real dirs on the way to it from the root: a link back to one is a loop
    chains: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def rel(self, path: str) -> str:
        return path_text(Path(os.path.relpath(path, self.root)).as_posix())

    def leaves(self, full: str) -> bool:
        """True when ``full`` is a link that leads out of the root and links are not followed."""
        if self.follow_links or not os.path.islink(full):
            return False
        real, top = os.path.realpath(full), os.path.realpath(self.root)
        return real != top and not real.startswith(top.rstrip(os.sep) + os.sep)

    def skip_outside(self, rel: str) -> None:
        self.outside.append(rel)
        self.skipped.append(rel)

    def result(self) -> Scan:
        return Scan(
            files=tuple(sorted(self.files, key=lambda f: f.rel)),
            skipped=tuple(sorted(self.skipped)),
            errors=tuple(sorted(self.errors)),
            outside=tuple(sorted(self.outside)),
        )


def os_error_reason(exc: OSError) -> str:
    """A one-line reason, with what to do, for an ``OSError`` met while reading a file.

    Args:
        exc: The error raised by the operating system.

    Returns:
        Text suitable for ``SourceError.reason``.
    """
    if isinstance(exc, PermissionError):
        return "permission denied: check the file's permissions"
    if isinstance(exc, FileNotFoundError):
        return "file disappeared while reading: run ingest again"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file: pass the folder itself to ingest"
    detail = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)
    return f"cannot read the file ({detail}): check the disk and the file"


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks.

    Args:
        path: File to hash.

    Returns:
        The lowercase hex digest.

    Raises:
        OSError: The file cannot be read; :func:`os_error_reason` words it for users.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def ingest_root(path: Path) -> Path:
    """The absolute path an ingest path's files are recorded under.

    A folder is resolved (links on the way to it followed); a file keeps its own name (a link
    stays the link) inside its resolved folder.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return path.resolve()
    return path.absolute().parent.resolve() / path.name


def check_size(path: Path, max_mb: int) -> None:
    """Refuse a text, Markdown, HTML or DOCX file over ``max_mb`` MB before it is read whole
    (``Settings.max_file_mb``); PDFs are read page by page and are not bounded here.

    Raises:
        SourceError: The file is larger, or cannot be looked at.
    """
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise SourceError(path, os_error_reason(exc)) from exc
    if Path(path).suffix.lower() != ".pdf" and size > max_mb << 20:
        mb = size / (1 << 20)
        raise SourceError(
            path, f"{mb:,.0f} MB, over DOCQA_MAX_FILE_MB={max_mb}: raise it to read it"
        )


def scan(root: Path, follow_links: bool = False) -> Scan:
    """List the files under an ingest path.

    Args:
        root: A file or a folder. Folders are walked recursively, following symlinks that stay
            inside them; hidden entries and ``__pycache__`` are ignored.
        follow_links: Also follow symlinks that lead out of the folder.

    Returns:
        The files found, sorted, with skipped names and per-path errors.

    Raises:
        IngestPathError: ``root`` does not exist (or is a broken link).
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise IngestPathError(f"{path_text(root)}: no such file or folder")
    root = ingest_root(root)
    if root.is_dir():
        return _scan_folder(root, follow_links)
    if root.suffix.lower() not in SUPPORTED:
        return Scan(files=(), skipped=(path_text(root.name),))
    return Scan(files=(SourceFile(path=root, rel=path_text(root.name), root=root),))


def _scan_folder(root: Path, follow_links: bool) -> Scan:
    walk = _Walk(root=root, follow_links=follow_links)
    walk.visited[os.path.realpath(root)] = "."

    def on_error(exc: OSError) -> None:
        # os.walk calls this for folders it cannot list; the rest of the walk goes on.
        where = walk.rel(exc.filename) if exc.filename else "."
        walk.errors.append((where, _dir_error_reason(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        if storedir.is_store(Path(dirpath)):  # a docqa store in the folder: not documents
            dirnames[:] = [n for n in dirnames if n != storedir.SHARDS]
            filenames = [n for n in filenames if not n.startswith(storedir.MANIFEST)]
        # Real folders before links, so a link to a sibling is the one reported as duplicate.
        order = sorted(dirnames, key=lambda n: (os.path.islink(os.path.join(dirpath, n)), n))
        dirnames[:] = _descend_into(walk, dirpath, order)
        for name in sorted(filenames):
            if not _hidden(name):
                _add_file(walk, os.path.join(dirpath, name))
    return walk.result()


def _dir_error_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied, folder skipped: check its permissions"
    return f"cannot list the folder ({exc.strerror or exc}), skipped"


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_DIRS


def _descend_into(walk: _Walk, dirpath: str, names: list[str]) -> list[str]:
    """The subfolders of ``dirpath`` to walk; records loops and duplicate links."""
    here = os.path.realpath(dirpath)
    chain = walk.chains.pop(dirpath, (here,))
    keep = []
    for name in names:
        if _hidden(name):
            continue
        full = os.path.join(dirpath, name)
        real = os.path.realpath(full)
        if walk.leaves(full):
            walk.skip_outside(walk.rel(full) + "/")
        elif real in chain or here.startswith(real.rstrip(os.sep) + os.sep):
            walk.errors.append((walk.rel(full), "symlink loop, skipped"))
        elif real in walk.visited:
            # A second link to a folder already walked: same files, so walk it once.
            log.debug("%s: same folder as %s, skipped", full, walk.visited[real])
            walk.skipped.append(walk.rel(full) + "/")
        else:
            walk.visited[real] = walk.rel(full)
            walk.chains[full] = (*chain, real)
            keep.append(name)
    return keep


def _add_file(walk: _Walk, full: str) -> None:
    rel = walk.rel(full)
    supported = Path(full).suffix.lower() in SUPPORTED
    if os.path.islink(full) and not os.path.exists(full):
        if supported:
            walk.errors.append((rel, "broken symlink, skipped: fix or remove the link"))
        else:
            walk.skipped.append(rel)
    elif not supported or not os.path.isfile(full):
        # Unsupported types, and FIFOs/sockets/devices, which reading could block on.
        walk.skipped.append(rel)
    elif walk.leaves(full):
        walk.skip_outside(rel)
    else:
        walk.files.append(SourceFile(path=Path(full), rel=rel, root=walk.root))
