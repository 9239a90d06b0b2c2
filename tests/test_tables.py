"""Table pages of real PDFs keep their rows whole, as Markdown rows, and a cell's row is found."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from docqa import embedding, parsing
from docqa.api import ingest, search
from docqa.chunking import Chunker, ChunkSpec
from docqa.config import Settings
from docqa.formats import tables
from docqa.types import ParsedDoc

from .conftest import CURATED
from .fakes import HashEmbedder

CENSUS = "table_census_12s0324.pdf"
GEOBASE = "table_multipage_GeoBase_NHNC1.pdf"


def parse_curated(name: str, **settings: object) -> ParsedDoc:
    path = CURATED / name
    return parsing.parse(path, path.read_bytes(), Settings(**settings))  # type: ignore[arg-type]


# --- Markdown rows ---------------------------------------------------------------------------


def test_markdown_row_is_one_line_without_sentence_breaks() -> None:
    row = tables.markdown_row(["a|b", None, "First line\nsecond. Third sentence! Done.", "x"])
    assert row == "| a\\|b |  | First line second.Third sentence!Done.| x |"
    assert "\n" not in row and not re.search(r"[.!?]\s", row)  # no place for the chunker to cut


def test_markdown_table_has_a_header_rule_and_pads_short_rows() -> None:
    text = tables.markdown_table([["Date", "Version"], ["2003", "Draft", "extra"], ["", None]])
    assert text.split("\n") == [
        "| Date | Version |  |",
        "|---|---|---|",
        "| 2003 | Draft | extra |",
    ]
    assert tables.markdown_table([]) == ""


def test_numeric_rows_drop_leaders_and_join_broken_labels() -> None:
    text = "\n".join(
        [
            "Table 1. Arrests",
            "Total . . . . . . . . 11,062.6 1,540.0 9,522.6",
            " Murder and nonnegligent",
            " manslaughter. . . . . 10.0 0.9 9.1",
            "Stolen property 1. . . . 84.3 – 69.2",
            "Source: FBI.",
        ]
    )
    assert tables.numeric_rows(text).split("\n") == [
        "Table 1. Arrests",
        "| Total | 11,062.6 | 1,540.0 | 9,522.6 |",
        "| Murder and nonnegligent manslaughter | 10.0 | 0.9 | 9.1 |",
        "| Stolen property 1 | 84.3 | – | 69.2 |",  # footnote mark stays in the label
        "Source: FBI.",
    ]


def test_captions_name_the_tables_of_a_page() -> None:
    text = "Table 324. Arrests: 2009\nrows\nTABLE 2-b Costs\nTable of contents\nThe table"
    assert tables.captions(text) == "Table 324. Arrests: 2009; TABLE 2-b Costs"
    assert len(tables.captions("\n".join(f"Table {i} {'x' * 50}" for i in range(9)))) == 160


def test_prose_and_code_with_numbers_are_not_numeric_pages() -> None:
    prose = "\n".join(f"Line {i} of a paragraph, with words and 1 number." for i in range(30))
    assert not tables.numeric_page(prose)
    code = "> x <- c(10.4, 5.6, 3.1, 6.4, 21.7)\n" + "text line\n" * 10
    assert not tables.numeric_page(code)


# --- real PDFs -------------------------------------------------------------------------------


def test_census_rows_become_markdown_rows() -> None:
    doc = parse_curated(CENSUS)
    lines = doc.sections[0].text.split("\n")
    assert "| Robbery | 102.1 | 25.5 | 76.6 | 90.0 | 22.9 | 67.1 | 12.1 | 2.5 | 9.5 |" in lines
    murder = "| Murder and nonnegligent manslaughter | 10.0 | 0.9 | 9.1 | 9.0 | 0.9 | 8.1 | 1.1 |"
    assert murder + " – | 1.0 |" in lines  # a label broken over two lines, joined
    assert "Table 324. Arrests by Sex and Age: 2009" in lines  # the caption stays text
    assert ". . ." not in doc.sections[0].text
    assert sum(line.startswith("| ") for line in lines) >= 60
    # every chunk of the rows is embedded with what the tables are about
    assert doc.sections[0].heading == (
        "Table 324. Arrests by Sex and Age: 2009; Table 325. Arrests by Race: 2009",
    )


def test_ruled_table_is_read_by_pdfplumber_with_multiline_cells_joined() -> None:
    doc = parse_curated(GEOBASE)
    page3 = doc.sections[2].text
    assert "| Date | Version | Description |" in page3
    assert (
        "| January 2003 | Draft | Second draft after discussion with Nova Scotia and major "
        "review of the hydro network model through:"
    ) in page3
    assert "REVISION HISTORY" in page3  # the text around the table is kept
    others = "".join(s.text for s in doc.sections if s.page != 3)
    assert "|---|" not in others  # UML diagrams and the contents page stay text


def test_cheap_checks_send_only_ruled_pages_to_pdfplumber(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[int]]] = []
    real = tables.pdfplumber_texts

    def spy(path: Path, data: bytes, indices: list[int], password: str | None) -> dict[int, str]:
        calls.append((Path(path).name, list(indices)))
        return real(path, data, indices, password)

    monkeypatch.setattr(tables, "pdfplumber_texts", spy)
    for name in (GEOBASE, CENSUS, "en_faq_debian-faq.en.pdf", "en_manual_R-intro.pdf"):
        parse_curated(name)
    # census is a numeric page (pdfium text suffices); R-intro's boxed examples are no grid
    assert calls == [(GEOBASE, [2])]


def test_a_chart_is_not_sent_to_pdfplumber() -> None:
    data = (CURATED / "malformed_xref_issue-301.pdf").read_bytes()
    document = pdfium.PdfDocument(data)
    try:
        assert not tables.ruled_page(document[0])  # 18,000 paths: a chart, not a table
    finally:
        document.close()


def _chunks(doc: ParsedDoc, target: int = 200) -> list[str]:
    info = HashEmbedder().info
    chunker = Chunker(embedding.load_tokenizer(info), ChunkSpec(max_tokens=256, target=target))
    return [c.text for c in chunker.chunk(doc.sections)]


@pytest.mark.parametrize("name", [CENSUS, GEOBASE])
@pytest.mark.parametrize("target", [120, 200])  # rows fit; longer rows are cut
def test_chunks_never_cut_a_row(name: str, target: int) -> None:
    rows = [
        line
        for s in parse_curated(name).sections
        for line in s.text.split("\n")
        if line.startswith("| ")
    ]
    texts = _chunks(parse_curated(name), target)
    for row in rows:
        assert any(row in text for text in texts), row


def test_a_question_about_a_cell_finds_its_row(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in (CENSUS, GEOBASE, "en_faq_debian-faq.en.pdf"):
        shutil.copy(CURATED / name, folder)
    settings = Settings(store=tmp_path / "store")
    report = ingest(folder, settings, embedder=HashEmbedder())
    assert report.failed == ()
    # the fake embedder's dense half is noise: the right row must come within the top 3
    hits = search("How many arrests for robbery?", settings, k=3, embedder=HashEmbedder())
    row = re.compile(r"^\| Robbery( \| [\d,.]+){5,} \|$", re.MULTILINE)
    assert any(h.file.endswith(CENSUS) and row.search(h.text) for h in hits)
    hits = search("Which version came out in July 2003?", settings, k=3, embedder=HashEmbedder())
    assert any(
        h.file.endswith(GEOBASE) and h.page == 3 and "| July 2003 | Draft 02 |" in h.text
        for h in hits
    )
