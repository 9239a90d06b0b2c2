"""OCR is opt-in: scans fail with a hint until --ocr auto, then they are read and found.

Tests that run Tesseract skip (with the reason shown) when the ``tesseract`` program is missing,
except in CI (``CI`` set), where a missing Tesseract is a failure: CI installs it (.ci/run).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydantic
import pytest
from click.testing import CliRunner

import docqa
from docqa import parsing
from docqa.api import ingest, search
from docqa.cli import cli
from docqa.config import Settings
from docqa.errors import SourceError
from docqa.fingerprint import file_fingerprint
from docqa.formats import ocr
from docqa.types import ParsedDoc

from .conftest import CURATED
from .fakes import HashEmbedder

HUCK = "scanned_c03-29_huckfinn.pdf"
VICKSBURG = "scanned_with_ocr_layer_vicksburg.pdf"


def require_tesseract() -> None:
    """Skip without the tesseract program, unless in CI, where that is a failure."""
    if shutil.which("tesseract") is None:
        reason = "tesseract not installed: apt install tesseract-ocr tesseract-ocr-{eng,fra}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must install it: see .ci/run)")
        pytest.skip(reason)


@pytest.fixture
def tesseract() -> None:
    """See :func:`require_tesseract`."""
    require_tesseract()


@pytest.fixture
def fake_tesseract(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Tesseract replaced by a stub that records the size of each image it is given."""
    import pytesseract

    seen: list[tuple[int, int]] = []

    def read(image: object, lang: str, timeout: int) -> str:
        seen.append(image.size)  # type: ignore[attr-defined]
        return f"Recognised words in {lang}."

    monkeypatch.setattr(ocr, "check", lambda path, languages: None)
    monkeypatch.setattr(pytesseract, "image_to_string", read)
    return seen


def parse_curated(name: str, **settings: object) -> ParsedDoc:
    path = CURATED / name
    return parsing.parse(path, path.read_bytes(), Settings(**settings))  # type: ignore[arg-type]


# --- when OCR runs ---------------------------------------------------------------------------


def test_auto_leaves_pages_with_a_text_layer_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    def never(*args: object, **kwargs: object) -> str:
        raise AssertionError("pytesseract must not be called for a PDF with a text layer")

    monkeypatch.setattr(pytesseract, "image_to_string", never)
    monkeypatch.setattr(ocr, "check", never)
    doc = parse_curated(VICKSBURG, ocr="auto")  # a scan that carries an OCR layer
    assert len(doc.sections) == 6 and "THE SIEGE OF VICKSBURG" in doc.sections[0].text
    assert "tesseract" not in doc.parser


def test_always_ocrs_every_page_at_300_dpi(fake_tesseract: list[tuple[int, int]]) -> None:
    doc = parse_curated(VICKSBURG, ocr="always", ocr_languages="eng")
    assert [s.text for s in doc.sections] == ["Recognised words in eng."] * 6
    assert doc.parser.endswith("[eng]") and "+tesseract-" in doc.parser
    width, height = fake_tesseract[0]
    assert abs(width - 1800) <= 1 and abs(height - 2700) <= 1  # a 6 x 9 in page at 300 dpi


def test_auto_ocrs_only_image_pages(fake_tesseract: list[tuple[int, int]]) -> None:
    doc = parse_curated("scanned_linn.pdf", ocr="auto")
    assert [s.text for s in doc.sections] == ["Recognised words in eng+fra."]
    assert len(fake_tesseract) == 1


def test_ocr_that_finds_nothing_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    monkeypatch.setattr(ocr, "check", lambda path, languages: None)
    monkeypatch.setattr(pytesseract, "image_to_string", lambda *a, **k: "  \n\x0c")
    with pytest.raises(SourceError, match="OCR found no text: check the scan"):
        parse_curated("scanned_linn.pdf", ocr="auto")


def test_render_scale_is_300_dpi_but_capped_for_huge_pages() -> None:
    assert ocr.render_scale(612, 792) == pytest.approx(300 / 72)
    assert ocr.render_scale(14400, 14400) * 14400 == pytest.approx(ocr.MAX_SIDE)


# --- errors ----------------------------------------------------------------------------------


def test_without_ocr_a_scan_fails_with_the_flag_to_use() -> None:
    with pytest.raises(SourceError) as info:
        parse_curated("scanned_linn.pdf")
    assert "no text layer" in info.value.reason and "--ocr auto" in info.value.reason


def test_missing_tesseract_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "tesseract_version", lambda: "missing")
    with pytest.raises(SourceError) as info:
        parse_curated("scanned_linn.pdf", ocr="auto")
    assert "OCR needs Tesseract: install tesseract-ocr" in info.value.reason
    assert "\n" not in str(info.value)


def test_missing_language_data_names_the_package(tesseract: None) -> None:
    with pytest.raises(SourceError) as info:
        parse_curated("scanned_linn.pdf", ocr="auto", ocr_languages="eng+xyz")
    assert info.value.reason == (
        "Tesseract has no xyz language data: install tesseract-ocr-xyz or set DOCQA_OCR_LANGUAGES"
    )


def test_ocr_languages_are_validated() -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings(ocr_languages="eng; rm -rf /")
    assert Settings().ocr_languages == "eng+fra"


# --- fingerprints and the CLI ----------------------------------------------------------------


def test_ocr_languages_change_pdf_fingerprints_only_when_ocr_is_on() -> None:
    pdf, md = Path("a.pdf"), Path("a.md")
    never = Settings()
    assert parsing.parser_id(pdf, never) == parsing.parser_id(pdf, never.with_(ocr_languages="eng"))
    auto = Settings(ocr="auto")
    assert parsing.parser_id(pdf, auto).endswith("[eng+fra]")
    assert file_fingerprint(auto, "base", pdf) != file_fingerprint(
        auto.with_(ocr_languages="fra"), "base", pdf
    )
    assert parsing.parser_id(md, auto) == parsing.parser_id(md, never) == "markdown/1"


def test_cli_ingest_passes_ocr_through(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Settings] = []

    def fake_ingest(path: object, settings: Settings, **kwargs: object) -> docqa.IngestReport:
        seen.append(settings)
        return docqa.IngestReport()

    monkeypatch.setattr(docqa, "ingest", fake_ingest)
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path), "--ocr", "auto"])
    assert result.exit_code == 0, result.output
    assert seen[0].ocr == "auto"
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path), "--ocr", "sometimes"])
    assert result.exit_code == 2 and "sometimes" in result.output


# --- the whole path, with Tesseract ----------------------------------------------------------


def test_a_failed_scan_is_read_when_ocr_is_turned_on(tesseract: None, tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in (HUCK, VICKSBURG, "md_node_url.md"):
        shutil.copy(CURATED / name, folder)
    settings = Settings(store=tmp_path / "store")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert [Path(p).name for p, _ in report.failed] == [HUCK] and report.added == 2
    assert "--ocr auto" in report.failed[0][1]
    settings = settings.with_(ocr="auto")
    report = ingest(folder, settings, embedder=HashEmbedder())
    # the failed scan is retried (as updated: it was known); the others are re-embedded because
    # the OCR mode is part of every file's fingerprint
    assert report.failed == () and report.updated == 3
    question = "Why did praying for fish hooks not work for him?"
    hits = search(question, settings, k=3, embedder=HashEmbedder())
    assert any(h.file.endswith(HUCK) and h.page == 1 for h in hits)
    # the fake embedder's dense half is noise; the words themselves must find the page
    best = search(question, settings, k=1, mode="bm25")[0]
    assert best.file.endswith(HUCK) and "hooks" in best.text
