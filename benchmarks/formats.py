"""Format readers: pages/s per format, the table checks' cost, OCR speed and accuracy.

    python benchmarks/formats.py                 # curated files + tests/data/*.docx
    python benchmarks/formats.py --scale DIR     # also the scale corpus (shared/corpora/fetch.sh
                                                 # DIR, then DIR/scale): every HTML and Markdown
                                                 # file, a sample of --pdfs PDFs, and a check that
                                                 # no HTML page keeps its sidebar/nav/footer text

A "page" is a PDF page, or a whole file for HTML, DOCX and Markdown (they have no pages). Times are
parse only (``docqa.parsing.parse``: read bytes excluded, chunking and embedding excluded), best
of --repeat runs. Figures are printed; copy them into benchmarks/README.md ("Formats").
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pypdfium2 as pdfium

from docqa import parsing
from docqa.config import Settings
from docqa.formats import html, tables

ROOT = Path(__file__).resolve().parents[1]
CURATED = ROOT.parent / "shared" / "corpora" / "curated"
TEXT_PDFS = [
    "en_faq_debian-faq.en.pdf",
    "fr_faq_debian-faq.fr.pdf",
    "en_manual_R-intro.pdf",
    "table_census_12s0324.pdf",
    "table_multipage_GeoBase_NHNC1.pdf",
    "scanned_with_ocr_layer_vicksburg.pdf",
]
SCANS = ["scanned_linn.pdf", "scanned_c03-29_huckfinn.pdf"]
# Elements that are page chrome in the scale corpus's generators (Sphinx, Publican): an oracle
# independent of docqa's own rules.
CHROME_XPATHS = [
    "//div[contains(@class,'sphinxsidebar')]",
    "//div[@class='related']",
    "//div[@class='footer']",
    "//*[@id='banner']",
    "//ul[contains(@class,'docnav')]",
    "//div[contains(@class,'mobile-nav')]",
    "//nav",
]


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs, and the count ``run`` returns (pages)."""
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = run()
        times.append(time.perf_counter() - start)
    return min(times), count


def parse_all(paths: Sequence[Path], settings: Settings) -> Callable[[], int]:
    blobs = [(p, p.read_bytes()) for p in paths]

    def run() -> int:
        pages = 0
        for path, data in blobs:
            try:
                doc = parsing.parse(path, data, settings)
            except Exception as exc:  # a benchmark reports failures, it does not stop on them
                print(f"  failed: {path.name}: {exc}")
                continue
            pages += len(doc.sections) if path.suffix.lower() == ".pdf" else 1
        return pages

    return run


def pdfium_text_only(paths: Sequence[Path]) -> Callable[[], int]:
    """pdfium text extraction alone: the baseline the table checks add to."""
    blobs = [p.read_bytes() for p in paths]

    def run() -> int:
        pages = 0
        for data in blobs:
            document = pdfium.PdfDocument(data)
            for i in range(len(document)):
                page = document[i]
                page.get_textpage().get_text_range()
                pages += 1
            document.close()
        return pages

    return run


def table_checks(paths: Sequence[Path]) -> tuple[float, float, int, int, list[tuple[Path, int]]]:
    """Seconds spent in the numeric check and the ruled check; pages; flagged pages."""
    numeric_s = ruled_s = 0.0
    pages = numeric = 0
    flagged: list[tuple[Path, int]] = []
    for path in paths:
        document = pdfium.PdfDocument(path.read_bytes())
        for i in range(len(document)):
            page = document[i]
            text = page.get_textpage().get_text_range()
            start = time.perf_counter()
            is_numeric = tables.numeric_page(text)
            numeric_s += time.perf_counter() - start
            start = time.perf_counter()
            is_ruled = tables.ruled_page(page)
            ruled_s += time.perf_counter() - start
            pages += 1
            numeric += is_numeric
            if is_ruled and not is_numeric:
                flagged.append((path, i))
        document.close()
    return numeric_s, ruled_s, pages, numeric, flagged


def pdfplumber_cost(pages: Sequence[tuple[Path, int]]) -> tuple[float, int]:
    """Seconds pdfplumber takes on the given pages, and how many got a grid table."""
    start = time.perf_counter()
    found = 0
    for path, index in pages:
        found += len(tables.pdfplumber_texts(path, path.read_bytes(), [index], None))
    return time.perf_counter() - start, found


def report_pdfs(paths: Sequence[Path], repeat: int, label: str) -> None:
    full_s, pages = best_of(repeat, parse_all(paths, Settings()))
    base_s, _ = best_of(repeat, pdfium_text_only(paths))
    numeric_s, ruled_s, total, numeric, flagged = table_checks(paths)
    plumb_s, grids = pdfplumber_cost(flagged)
    every = [(p, i) for p in paths for i in range(len(pdfium.PdfDocument(p.read_bytes())))]
    sample = random.Random(7).sample(every, min(40, len(every)))
    all_s, _ = pdfplumber_cost(sample)
    print(f"PDF text ({label}): {len(paths)} files, {pages} pages")
    print(f"  docqa parse (tables on)     {pages / full_s:8.1f} pages/s  ({full_s:.2f} s)")
    print(f"  pdfium text alone           {total / base_s:8.1f} pages/s  ({base_s:.2f} s)")
    print(f"  numeric-rows check          {1e3 * numeric_s / total:8.3f} ms/page ({numeric} pages)")
    print(f"  ruled-lines check           {1e3 * ruled_s / total:8.3f} ms/page")
    print(
        f"  pdfplumber, flagged pages   {len(flagged)} pages, {plumb_s:.2f} s, "
        f"{grids} with a grid table"
    )
    print(
        f"  pdfplumber on any page      {1e3 * all_s / len(sample):8.1f} ms/page "
        f"(random {len(sample)} pages: what running it everywhere would cost)"
    )


def report_files(paths: Sequence[Path], repeat: int, label: str) -> None:
    if not paths:
        return
    seconds, count = best_of(repeat, parse_all(paths, Settings()))
    size = sum(p.stat().st_size for p in paths) / 1e6
    print(
        f"{label}: {count} files, {size:.1f} MB: {count / seconds:.1f} files/s, "
        f"{size / seconds:.1f} MB/s ({seconds:.2f} s)"
    )


def report_ocr(paths: Sequence[Path], languages: str) -> None:
    settings = Settings(ocr="auto", ocr_languages=languages)
    seconds, pages = best_of(1, parse_all(paths, settings))
    print(f"OCR ({languages}, 300 dpi): {pages} pages, {seconds / pages:.1f} s/page")
    truth_file = CURATED / "scanned_linn.groundtruth.txt"
    linn = CURATED / "scanned_linn.pdf"
    if linn in paths and truth_file.exists():
        from rapidfuzz.distance import Levenshtein

        doc = parsing.parse(linn, linn.read_bytes(), settings)
        found = " ".join(" ".join(s.text for s in doc.sections).split())
        truth = " ".join(truth_file.read_text(encoding="utf-8").split())
        print(f"  linn CER {Levenshtein.distance(found, truth) / len(truth):.2%}")


def chrome_leaks(paths: Sequence[Path]) -> None:
    """Pages whose sections hold a line found only inside the page's chrome elements."""
    import lxml.html

    leaks = []
    for path in paths:
        text, _ = html.decode_html(path, path.read_bytes())
        sections = html.html_sections(path, text)
        kept = {line.strip() for s in sections for line in s.text.split("\n")}
        root = lxml.html.document_fromstring(html._XML_DECL.sub("", text))
        chrome: set[str] = set()
        for xpath in CHROME_XPATHS:
            for el in root.xpath(xpath):
                chrome |= {" ".join(line.split()) for line in el.text_content().split("\n")}
                if el.getparent() is not None:
                    el.drop_tree()
        # the rest of the page; Sphinx's headings end in a permalink "¶" there
        rest = {" ".join(line.split()).rstrip("¶ ") for line in root.text_content().split("\n")}
        leaked = {line for line in chrome - rest if len(line) >= 8} & kept
        if leaked:
            leaks.append((path.name, sorted(leaked)[:3]))
    print(f"HTML chrome check: {len(paths)} pages, {len(leaks)} with chrome-only lines kept")
    for name, lines in leaks[:10]:
        print(f"  {name}: {lines}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=Path, help="the scale corpus folder (DIR/scale)")
    parser.add_argument("--pdfs", type=int, default=20, help="scale PDFs sampled")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-ocr", action="store_true")
    args = parser.parse_args()
    report_pdfs([CURATED / n for n in TEXT_PDFS], args.repeat, "curated")
    report_files([CURATED / "html_python_faq_programming.html"], args.repeat, "HTML (curated)")
    report_files(sorted((ROOT / "tests" / "data").glob("*.docx")), args.repeat, "DOCX (pandoc)")
    report_files([CURATED / "md_node_url.md"], args.repeat, "Markdown (curated)")
    if not args.no_ocr:
        report_ocr([CURATED / n for n in SCANS], "eng+fra")
        report_ocr([CURATED / n for n in SCANS], "eng")
    if args.scale:
        files = sorted(p for p in args.scale.iterdir() if p.is_file())
        pdfs = [p for p in files if p.suffix == ".pdf"]
        sample = sorted(random.Random(7).sample(pdfs, min(args.pdfs, len(pdfs))))
        report_pdfs(sample, 1, f"scale sample of {len(sample)}")
        pages = [p for p in files if p.suffix == ".html"]
        report_files(pages, 1, "HTML (scale)")
        report_files([p for p in files if p.suffix == ".md"], 1, "Markdown (scale)")
        chrome_leaks(pages)


if __name__ == "__main__":
    main()
