"""OCR of rendered PDF pages with Tesseract (through pytesseract).

Opt-in with ``ocr = auto`` (pages without a text layer) or ``always`` (every page). Pages are
rendered by pdfium in :mod:`docqa.parsing` at :data:`DPI` in grayscale; this module checks that
Tesseract and the configured languages are installed and turns images into text.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from docqa.errors import SourceError

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

OCR_VERSION = 1
"""Bump when the OCR text of a page changes (rendering, Tesseract options)."""

DPI = 300
"""Render resolution: Tesseract reads body text best at about 300 dpi."""
MAX_SIDE = 8000
"""Longest rendered side in pixels, so a poster-sized page does not take gigabytes."""
TIMEOUT_S = 300
"""Seconds Tesseract may spend on one page before the file fails."""

_INSTALL = "install tesseract-ocr (apt install tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra)"


@cache
def tesseract_version() -> str:
    """Tesseract's major version (``"5"``), or ``"missing"`` when the program is not found."""
    import pytesseract

    try:
        return str(pytesseract.get_tesseract_version()).split(".")[0]
    except (pytesseract.TesseractNotFoundError, OSError):
        return "missing"


def ocr_id(languages: str) -> str:
    """The OCR part of a PDF parser id, e.g. ``tesseract-5/1[eng+fra]``."""
    return f"tesseract-{tesseract_version()}/{OCR_VERSION}[{languages}]"


@cache
def _installed_languages() -> frozenset[str]:
    import pytesseract

    return frozenset(pytesseract.get_languages(config=""))


def check(path: Path, languages: str) -> None:
    """Make sure Tesseract and every language in ``languages`` can be used.

    Args:
        path: The file about to be OCRed, named in the error.
        languages: Tesseract language codes joined with ``+``.

    Raises:
        SourceError: Tesseract is not installed, or a language's data is missing.
    """
    if tesseract_version() == "missing":
        raise SourceError(path, f"OCR needs Tesseract: {_INSTALL}, or run with --ocr never")
    missing = [lang for lang in languages.split("+") if lang not in _installed_languages()]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        raise SourceError(
            path,
            f"Tesseract has no {'+'.join(missing)} language data: install {packages} "
            "or set DOCQA_OCR_LANGUAGES",
        )


def render_scale(width: float, height: float) -> float:
    """pdfium render scale for a page of ``width`` x ``height`` points: DPI, capped in size."""
    return min(DPI / 72, MAX_SIDE / max(width, height, 1.0))


def image_text(path: Path, image: Image, languages: str) -> str:
    """The text Tesseract reads in one page image.

    Args:
        path: The file the page comes from, named in errors.
        image: The rendered page.
        languages: Tesseract language codes joined with ``+``.

    Returns:
        The recognised text (may be empty for a blank page).

    Raises:
        SourceError: Tesseract failed or ran past :data:`TIMEOUT_S`.
    """
    import pytesseract

    # Tesseract's OpenMP threads spin on busy or small machines (3x slower measured on 2 shared
    # cores); one thread per page is what OCRmyPDF runs too. A value the user set is kept.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        return str(pytesseract.image_to_string(image, lang=languages, timeout=TIMEOUT_S))
    except pytesseract.TesseractError as exc:
        detail = " ".join(str(exc.message).split())[:200]
        raise SourceError(path, f"Tesseract failed ({detail}): check the scan") from exc
    except RuntimeError as exc:  # pytesseract's timeout (TesseractError is caught above)
        raise SourceError(
            path, f"OCR took over {TIMEOUT_S} s on a page: check the scan, or --ocr never"
        ) from exc
