"""Ingest: complete, idempotent, incremental, deduplicated, safe — on a real Qdrant Edge store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pypdfium2
import pytest

from docqa import floor, ingestion
from docqa.api import ingest
from docqa.config import Settings
from docqa.errors import ConfirmationRequired, IndexMismatchError, IngestPathError
from docqa.manifest import Manifest
from docqa.stores import open_store

from .fakes import HashEmbedder

TEXT = "The cold room is kept at four degrees. Samples are labelled with the date.\n"
MD = "# Guide\n\nIntro text here.\n\n## Boats\n\nThe launch has a 90 hp engine.\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text(TEXT)
    (data / "guide.md").write_text(MD)
    (data / "sub" / "c.txt").write_text(
        "Boats leave the harbour when the wind is below 20 knots.\n"
    )
    (data / "notes.xyz").write_text("unknown format")
    return data


def points(settings: Settings) -> dict[str, dict[str, object]]:
    store = open_store(settings, settings.store)  # type: ignore[arg-type]
    try:
        return {p.id: dict(p.payload) for p in store.points()}
    finally:
        store.close()


def test_first_run_adds_everything_and_skips_unknown(folder: Path, settings: Settings) -> None:
    emb = HashEmbedder()
    report = ingest(folder, settings, embedder=emb)
    assert (report.added, report.updated, report.unchanged, report.skipped) == (3, 0, 0, 1)
    assert report.failed == () and report.exit_code == 0
    stored = points(settings)
    # every chunk embedded once, and each question that derives the floor (docqa.floor)
    assert len(stored) == report.chunks == emb.embedded - len(floor.PROBES)
    files = {f for p in stored.values() for f in p["files"]}  # type: ignore[attr-defined]
    assert files == {str(folder / "a.txt"), str(folder / "guide.md"), str(folder / "sub/c.txt")}


def test_pages_count_pdf_pages_not_sections(
    folder: Path, settings: Settings, curated: Path
) -> None:
    """A page cut at its headings holds several sections; it is still one page read."""
    assert ingest(folder, settings, embedder=HashEmbedder()).pages == 3  # three files, no pages
    shutil.copy(curated / "en_manual_R-intro.pdf", folder / "r.pdf")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.pages <= len(pypdfium2.PdfDocument(folder / "r.pdf")) == 113
    assert report.pages >= 100  # ~100 pages of text; over 200 sections
    assert report.chunks > 200


def test_second_run_changes_nothing_and_never_embeds(folder: Path, settings: Settings) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    before = points(settings)
    emb = HashEmbedder()
    report = ingest(folder, settings, embedder=emb)
    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, 3, 0)
    assert emb.calls == 0
    assert points(settings) == before


def test_changed_file_replaces_its_points(folder: Path, settings: Settings) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    (folder / "a.txt").write_text("Completely different words about harbour pilots.\n")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    texts = [p["text"] for p in points(settings).values()]
    assert not any("cold room" in str(t) for t in texts)
    assert any("harbour pilots" in str(t) for t in texts)


def test_deleted_file_is_removed_only_under_the_given_path(
    folder: Path, settings: Settings
) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    (folder / "sub" / "c.txt").unlink()
    (folder / "sub" / "d.txt").write_text("A new note in the sub folder.\n")
    (folder / "a.txt").unlink()
    # ingesting only sub/ must not touch a.txt, which lies outside it
    report = ingest(folder / "sub", settings, embedder=HashEmbedder(), yes=True)
    assert (report.removed, report.added) == (1, 1)
    files = {f for p in points(settings).values() for f in p["files"]}  # type: ignore[attr-defined]
    assert str(folder / "a.txt") in files and str(folder / "sub/c.txt") not in files


def test_empty_or_missing_path_removes_nothing(folder: Path, settings: Settings) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    n = len(points(settings))
    with pytest.raises(IngestPathError, match="no such file or folder"):
        ingest(folder / "nope", settings, embedder=HashEmbedder())
    for f in folder.rglob("*"):
        if f.is_file():
            f.unlink()
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.removed == 0 and report.warnings
    assert len(points(settings)) == n


def test_removing_more_than_half_asks_first(folder: Path, settings: Settings) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    (folder / "a.txt").unlink()
    (folder / "guide.md").unlink()
    with pytest.raises(ConfirmationRequired, match="--yes"):
        ingest(folder, settings, embedder=HashEmbedder())
    assert len({f for p in points(settings).values() for f in p["files"]}) == 3  # type: ignore[attr-defined]
    report = ingest(folder, settings, embedder=HashEmbedder(), yes=True)
    assert report.removed == 2


def test_a_confirm_callback_is_asked_once_and_decides(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "a:b"  # a colon in the path must not cut the question short
    folder.mkdir()
    for name in ("one.txt", "two.txt", "three.txt"):
        (folder / name).write_text(f"The {name} file talks about boats.\n")
    ingest(folder, settings, embedder=HashEmbedder())
    (folder / "one.txt").unlink()
    (folder / "two.txt").unlink()
    asked: list[str] = []
    with pytest.raises(ConfirmationRequired, match="--yes"):
        ingest(
            folder, settings, embedder=HashEmbedder(), confirm=lambda q: asked.append(q) or False
        )
    report = ingest(
        folder, settings, embedder=HashEmbedder(), confirm=lambda q: asked.append(q) or True
    )
    assert report.removed == 2
    assert (
        asked
        == [
            f"this run would remove 2 of 3 files from the store (they are no longer under {folder})"
        ]
        * 2
    )


def test_identical_bytes_are_embedded_once(folder: Path, settings: Settings) -> None:
    shutil.copy(folder / "a.txt", folder / "copy.txt")
    emb = HashEmbedder()
    report = ingest(folder, settings, embedder=emb)
    assert report.added == 4
    stored = points(settings)
    shared = [p for p in stored.values() if "cold room" in str(p["text"])]
    assert len(shared) == 1
    assert shared[0]["files"] == sorted([str(folder / "a.txt"), str(folder / "copy.txt")])
    (folder / "copy.txt").unlink()
    ingest(folder, settings, embedder=HashEmbedder())
    shared = [p for p in points(settings).values() if "cold room" in str(p["text"])]
    assert shared[0]["files"] == [str(folder / "a.txt")]


def test_fingerprint_change_reingests(folder: Path, settings: Settings) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    ids = set(points(settings))
    report = ingest(folder, settings.with_(chunk_tokens=64), embedder=HashEmbedder())
    assert report.updated == 3
    assert set(points(settings)).isdisjoint(ids)


def test_other_model_dimension_is_refused(folder: Path, settings: Settings) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    with pytest.raises(IndexMismatchError, match="docqa reset"):
        ingest(folder, settings, embedder=HashEmbedder(dim=32, name="other"))


def test_failed_files_are_retried(folder: Path, settings: Settings) -> None:
    (folder / "empty.txt").write_bytes(b"")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert [Path(p).name for p, _ in report.failed] == ["empty.txt"]
    assert report.exit_code == 2
    (folder / "empty.txt").write_text("Now it has words in it.\n")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.failed == () and report.updated == 1


def test_nothing_ingested_exit_code(tmp_path: Path, settings: Settings) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02" * 100)
    report = ingest(bad, settings, embedder=HashEmbedder())
    assert report.exit_code == 1 and "binary" in report.failed[0][1]


def test_two_clean_runs_give_the_same_points(folder: Path, tmp_path: Path) -> None:
    one, two = Settings(store=tmp_path / "s1"), Settings(store=tmp_path / "s2")
    ingest(folder, one, embedder=HashEmbedder())
    ingest(folder, two, embedder=HashEmbedder())
    assert points(one) == points(two)


def test_manifest_records_every_path(folder: Path, settings: Settings) -> None:
    ingest(folder, settings, embedder=HashEmbedder())
    manifest = Manifest(settings.store)  # type: ignore[arg-type]
    rows = manifest.files()
    manifest.close()
    assert sorted(r.rel for r in rows) == ["a.txt", "guide.md", "sub/c.txt"]
    assert all(r.root == str(folder) and len(r.sha256) == 64 and r.status == "done" for r in rows)


# --- symlinks ---------------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path]:
    """A root holding one file of its own and ten links to nine files outside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "own.txt").write_text("Our own file about the harbour pilots.\n")
    for i in range(9):
        (outside / f"o{i}.txt").write_text(f"Outside note {i}: the zebra crossing number {i}.\n")
        (root / f"link{i}.txt").symlink_to(outside / f"o{i}.txt")
    (root / "again.txt").symlink_to(outside / "o0.txt")  # a second link to one target
    return root, outside


def stored_files(settings: Settings) -> set[str]:
    return {f for p in points(settings).values() for f in p["files"]}  # type: ignore[attr-defined]


def test_links_out_of_the_root_are_skipped_by_default(
    linked: tuple[Path, Path], settings: Settings
) -> None:
    root, _ = linked
    report = ingest(root, settings, embedder=HashEmbedder())
    assert (report.added, report.skipped) == (1, 10)
    assert any("10 symlink(s) lead out of" in w and "--follow-links" in w for w in report.warnings)
    assert stored_files(settings) == {str(root / "own.txt")}


def test_followed_links_are_recorded_under_their_own_path(
    linked: tuple[Path, Path], settings: Settings
) -> None:
    root, outside = linked
    follow = settings.with_(follow_links=True)
    report = ingest(root, follow, embedder=HashEmbedder())
    manifest = Manifest(settings.store)  # type: ignore[arg-type]
    rows = [r for r in manifest.files() if r.status == "done"]
    manifest.close()
    assert report.added == len(rows) == 11, "the report and the manifest count the same files"
    assert {r.abspath for r in rows} == {str(p) for p in root.iterdir()}
    assert not any(f.startswith(str(outside)) for f in stored_files(settings))
    # Deleting the links removes their content on the next run.
    for link in [*root.glob("link*"), root / "again.txt"]:
        link.unlink()
    report = ingest(root, follow, embedder=HashEmbedder(), yes=True)
    assert report.removed == 10
    assert stored_files(settings) == {str(root / "own.txt")}
    assert not any("zebra" in str(p["text"]) for p in points(settings).values())


def test_rows_recorded_under_a_link_target_by_older_versions_are_removed(
    linked: tuple[Path, Path], settings: Settings
) -> None:
    """Older docqa stored a followed link under its target, outside the ingested root."""
    from dataclasses import replace

    root, outside = linked
    ingest(root, settings, embedder=HashEmbedder())
    manifest = Manifest(settings.store)  # type: ignore[arg-type]
    own = manifest.file(str(root / "own.txt"))
    assert own is not None
    with manifest.transaction():  # what the old rule left: the target's path, this root
        manifest.put_file(replace(own, abspath=str(outside / "o0.txt"), rel="link0.txt"))
    manifest.close()
    report = ingest(root, settings, embedder=HashEmbedder())
    assert report.removed == 1
    manifest = Manifest(settings.store)  # type: ignore[arg-type]
    assert [r.abspath for r in manifest.files()] == [str(root / "own.txt")]
    manifest.close()


def test_small_files_are_embedded_and_written_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "notes"
    data.mkdir()
    for i in range(40):
        (data / f"n{i:02d}.txt").write_text(f"Note {i}: the pelican {i} sleeps by gate {i}.\n")
    together, alone = Settings(store=tmp_path / "together"), Settings(store=tmp_path / "alone")
    emb = HashEmbedder()
    report = ingest(data, together, embedder=emb)
    assert (report.added, report.chunks) == (40, 40)
    # one embedding call for the 40 files, not 40; then the floor's probe questions
    assert emb.calls == 1 + len(floor.PROBES)
    monkeypatch.setattr(ingestion, "GROUP_CHUNKS", 0)  # every file on its own, as before
    one_by_one = HashEmbedder()
    ingest(data, alone, embedder=one_by_one)
    assert one_by_one.calls == 40 + len(floor.PROBES)
    assert points(together) == points(alone)  # same ids, payloads and published paths
    manifest = Manifest(together.store)  # type: ignore[arg-type]
    assert {r.status for r in manifest.files()} == {"done"} and len(manifest.files()) == 40
    manifest.close()
