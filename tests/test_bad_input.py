"""The real curated corpus, bad files included: one clear line per bad file, the rest ingests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from docqa.api import ingest
from docqa.config import Settings

from .fakes import HashEmbedder

EXPECTED = {
    "encrypted_aes256_user-foo_owner-bar.pdf": "DOCQA_PDF_PASSWORD",
    "encrypted_rc4_pw-openpassword.pdf": "DOCQA_PDF_PASSWORD",
    "malformed_invalid.pdf": "not a readable PDF",
    "truncated_R-intro_first300KB.pdf": "not a readable PDF",
    "scanned_linn.pdf": "no text layer",
    "scanned_c03-29_huckfinn.pdf": "no text layer",
}


@pytest.fixture
def corpus(curated: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(curated, folder)
    (folder / "zero.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "latin1.txt").write_bytes("Les élèves vont à l'école à Noël.".encode("latin-1"))
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    return folder


def test_each_bad_file_is_one_line_and_the_rest_ingests(corpus: Path, tmp_path: Path) -> None:
    report = ingest(corpus, Settings(store=tmp_path / "store"), embedder=HashEmbedder())
    reasons = {Path(p).name: r for p, r in report.failed}
    for name, needle in EXPECTED.items():
        assert needle in reasons.pop(name), name
    assert "empty file" in reasons.pop("zero.txt")
    assert "binary" in reasons.pop("binary.txt")
    assert "symlink loop" in reasons.pop("loop")
    assert reasons == {}, f"unexpected failures: {reasons}"
    assert all("\n" not in r for _, r in report.failed)
    # good PDFs, the recoverable broken-xref one, the OCR-layer scan, md, html, latin-1
    assert report.added == 11 and report.exit_code == 2
    assert report.skipped == 0
    assert any("latin1.txt" in w and "cp1252" in w for w in report.warnings)


def test_passwords_open_encrypted_pdfs(curated: Path, tmp_path: Path) -> None:
    folder = tmp_path / "enc"
    folder.mkdir()
    shutil.copy(curated / "encrypted_rc4_pw-openpassword.pdf", folder)
    settings = Settings(store=tmp_path / "store", pdf_password="openpassword")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.failed == () and report.added == 1 and report.chunks > 0


def test_failed_pdf_is_retried_when_the_password_arrives(curated: Path, tmp_path: Path) -> None:
    folder = tmp_path / "enc"
    folder.mkdir()
    shutil.copy(curated / "encrypted_aes256_user-foo_owner-bar.pdf", folder)
    report = ingest(folder, Settings(store=tmp_path / "s"), embedder=HashEmbedder())
    assert report.exit_code == 1
    settings = Settings(store=tmp_path / "s", pdf_password="foo")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.failed == () and report.updated == 1
