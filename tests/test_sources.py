"""Tests for docqa.sources: walking ingest paths and hashing files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from docqa.errors import IngestPathError
from docqa.parsing import KINDS
from docqa.sources import SUPPORTED, Scan, os_error_reason, scan, sha256_file

from .conftest import CURATED


def skip_unless_chmod_blocks_reads(tmp_path: Path) -> None:
    """Skip when mode bits do not stop this process (root or CAP_DAC_OVERRIDE)."""
    probe = tmp_path / ".chmod-probe"  # hidden, so scans of tmp_path ignore it
    probe.write_text("x")
    probe.chmod(0)
    try:
        probe.read_bytes()
    except PermissionError:
        return
    finally:
        probe.chmod(0o644)
    pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not block reads")


def touch(path: Path, text: str = "hello") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rels(result: Scan) -> list[str]:
    return [f.rel for f in result.files]


# --- the real corpus -------------------------------------------------------------------------


def test_scan_curated_lists_every_supported_file_sorted() -> None:
    result = scan(CURATED)
    expected = sorted(
        p.name for p in CURATED.iterdir() if p.suffix.lower() in SUPPORTED and p.is_file()
    )
    assert rels(result) == expected
    assert len(expected) == 16  # 13 PDFs, one Markdown, one HTML, one ground-truth .txt
    assert result.skipped == ()
    assert result.errors == ()
    for f in result.files:
        assert f.path.is_absolute() and f.path.is_file()
        assert f.root == CURATED.resolve()
        assert f.path == (f.root / f.rel).resolve()


def test_scan_single_file_root_uses_the_file_name() -> None:
    pdf = CURATED / "en_faq_debian-faq.en.pdf"
    result = scan(pdf)
    assert rels(result) == ["en_faq_debian-faq.en.pdf"]
    assert result.files[0].path == pdf.resolve()
    assert result.files[0].root == pdf.resolve()


def test_scan_single_unsupported_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "notes.odt").write_bytes(b"PK")
    result = scan(tmp_path / "notes.odt")
    assert result.files == ()
    assert result.skipped == ("notes.odt",)


def test_sha256_file_matches_hashlib_on_a_real_pdf() -> None:
    pdf = CURATED / "en_faq_debian-faq.en.pdf"
    assert sha256_file(pdf) == hashlib.sha256(pdf.read_bytes()).hexdigest()


def test_supported_matches_the_parsers() -> None:
    assert set(KINDS) == set(SUPPORTED)


# --- made-up trees ---------------------------------------------------------------------------


def test_missing_root_raises_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(IngestPathError, match="no such file or folder") as info:
        scan(tmp_path / "nope")
    assert "\n" not in str(info.value)


def test_broken_link_root_raises(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    with pytest.raises(IngestPathError, match="no such file or folder"):
        scan(tmp_path / "dangling")


def test_empty_folder_gives_empty_scan(tmp_path: Path) -> None:
    assert scan(tmp_path) == Scan(files=())


def test_nested_files_get_posix_relative_paths(tmp_path: Path) -> None:
    touch(tmp_path / "b" / "c" / "deep.md")
    touch(tmp_path / "a.txt")
    touch(tmp_path / "Z.PDF")  # extensions are matched case-insensitively
    touch(tmp_path / "b" / "notes.markdown")
    assert rels(scan(tmp_path)) == ["Z.PDF", "a.txt", "b/c/deep.md", "b/notes.markdown"]


def test_unsupported_extensions_are_counted_in_skipped(tmp_path: Path) -> None:
    touch(tmp_path / "keep.md")
    touch(tmp_path / "image.png")
    touch(tmp_path / "sub" / "data.csv")
    touch(tmp_path / "noext")
    result = scan(tmp_path)
    assert rels(result) == ["keep.md"]
    assert result.skipped == ("image.png", "noext", "sub/data.csv")


def test_hidden_folders_files_and_pycache_are_ignored(tmp_path: Path) -> None:
    touch(tmp_path / "doc.md")
    touch(tmp_path / ".git" / "README.md")
    touch(tmp_path / ".docqa" / "notes.txt")
    touch(tmp_path / "sub" / ".hidden" / "x.md")
    touch(tmp_path / "__pycache__" / "y.txt")
    touch(tmp_path / ".secret.md")
    result = scan(tmp_path)
    assert rels(result) == ["doc.md"]
    assert result.skipped == () and result.errors == ()


def test_symlink_loop_is_reported_once_and_the_rest_listed(tmp_path: Path) -> None:
    touch(tmp_path / "a" / "one.md")
    touch(tmp_path / "b" / "two.txt")
    (tmp_path / "a" / "up").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "b" / "self").symlink_to(".", target_is_directory=True)
    result = scan(tmp_path)
    assert rels(result) == ["a/one.md", "b/two.txt"]
    assert result.errors == (("a/up", "symlink loop, skipped"), ("b/self", "symlink loop, skipped"))


def test_loop_through_a_link_outside_the_root_terminates(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    touch(root / "r.md")
    touch(outside / "o.md")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (outside / "back").symlink_to(root, target_is_directory=True)
    result = scan(root, follow_links=True)
    assert rels(result) == ["out/o.md", "r.md"]
    assert [e[0] for e in result.errors] == ["out/back"]


def test_two_links_to_one_folder_are_walked_once(tmp_path: Path) -> None:
    touch(tmp_path / "v2" / "guide.md")
    (tmp_path / "latest").symlink_to(tmp_path / "v2", target_is_directory=True)
    result = scan(tmp_path)
    # The real folder wins over the link, though "latest" sorts first.
    assert rels(result) == ["v2/guide.md"]
    assert result.skipped == ("latest/",)
    assert result.errors == ()


def test_links_out_of_the_root_are_skipped_and_listed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    target = touch(outside / "secret.txt")
    touch(outside / "deep" / "more.md")
    touch(root / "own.md")
    (root / "alias.txt").symlink_to(target)
    (root / "away").symlink_to(outside / "deep", target_is_directory=True)
    (root / "inside.md").symlink_to(root / "own.md")  # stays in the root: followed
    result = scan(root)
    assert rels(result) == ["inside.md", "own.md"]
    assert result.outside == ("alias.txt", "away/")
    assert set(result.outside) <= set(result.skipped) and result.errors == ()


def test_links_are_recorded_under_their_own_path(tmp_path: Path) -> None:
    target = touch(tmp_path / "store" / "real.txt")
    touch(tmp_path / "elsewhere" / "sub" / "x.md")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "alias.txt").symlink_to(target)
    (docs / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    result = scan(docs, follow_links=True)
    assert rels(result) == ["alias.txt", "linked/sub/x.md"]
    assert [f.path for f in result.files] == [docs / "alias.txt", docs / "linked/sub/x.md"]
    assert result.outside == ()
    # A single-file root keeps the name given, even when it is a link to another folder.
    single = scan(docs / "alias.txt")
    assert rels(single) == ["alias.txt"] and single.files[0].path == docs.resolve() / "alias.txt"


def test_a_store_inside_the_folder_is_not_scanned(tmp_path: Path) -> None:
    from docqa import storedir

    touch(tmp_path / "doc.md")
    storedir.create(tmp_path / "store")
    touch(tmp_path / "store" / "manifest.sqlite")
    touch(tmp_path / "store" / "qdrant" / "docqa" / "segments" / "notes.txt")
    touch(tmp_path / "store" / "mine.txt")  # the user's own file in the store folder
    result = scan(tmp_path)
    assert rels(result) == ["doc.md", "store/mine.txt"]
    assert result.skipped == () and result.errors == ()


def test_broken_file_links(tmp_path: Path) -> None:
    touch(tmp_path / "ok.md")
    (tmp_path / "gone.pdf").symlink_to(tmp_path / "missing.pdf")
    (tmp_path / "gone.bin").symlink_to(tmp_path / "missing.bin")
    result = scan(tmp_path)
    assert rels(result) == ["ok.md"]
    assert result.skipped == ("gone.bin",)
    assert len(result.errors) == 1
    assert result.errors[0][0] == "gone.pdf" and "broken symlink" in result.errors[0][1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_skipped_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    touch(tmp_path / "ok.txt")
    result = scan(tmp_path)
    assert rels(result) == ["ok.txt"]
    assert result.skipped == ("pipe.txt",)


def test_unreadable_folder_is_an_error_and_the_walk_goes_on(tmp_path: Path) -> None:
    skip_unless_chmod_blocks_reads(tmp_path)
    touch(tmp_path / "a" / "fine.md")
    locked = tmp_path / "b"
    touch(locked / "secret.md")
    touch(tmp_path / "c" / "after.md")
    locked.chmod(0)
    try:
        result = scan(tmp_path)
    finally:
        locked.chmod(0o755)
    assert rels(result) == ["a/fine.md", "c/after.md"]
    assert len(result.errors) == 1
    assert result.errors[0][0] == "b" and "permission denied" in result.errors[0][1]


def test_scan_is_deterministic(tmp_path: Path) -> None:
    for name in ("q.md", "b.txt", "k/z.md", "k/a.md", "c.pdf"):
        touch(tmp_path / name)
    first, second = scan(tmp_path), scan(tmp_path)
    assert first == second
    assert rels(first) == sorted(rels(first))


def test_relative_root_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path / "docs" / "a.md")
    monkeypatch.chdir(tmp_path)
    result = scan(Path("docs"))
    assert result.files[0].root == (tmp_path / "docs").resolve()
    assert result.files[0].path.is_absolute()


# --- hashing ---------------------------------------------------------------------------------


def test_sha256_file_spans_several_blocks(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 123)
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    assert sha256_file(big) == hashlib.sha256(data).hexdigest()


def test_sha256_file_of_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def test_sha256_missing_file_raises_os_error_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        sha256_file(tmp_path / "gone.txt")
    assert os_error_reason(info.value) == "file disappeared while reading: run ingest again"


def test_sha256_unreadable_file_raises_permission_error(tmp_path: Path) -> None:
    skip_unless_chmod_blocks_reads(tmp_path)
    locked = touch(tmp_path / "locked.txt")
    locked.chmod(0)
    try:
        with pytest.raises(PermissionError) as info:
            sha256_file(locked)
        assert "permission denied" in os_error_reason(info.value)
    finally:
        locked.chmod(0o644)
