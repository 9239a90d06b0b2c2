"""HTML pages: the main content only, in sections named by their heading path.

What is kept: the page's main element (``<main>``, ``[role=main]``, a single ``<article>``,
Sphinx's ``div.body`` or ``div.document``, else ``<body>``) without its page chrome: navigation,
asides, page headers and footers (a ``<header>``/``<footer>`` counts as chrome unless it sits
inside an article, section or main), scripts and styles, hidden elements, and block elements whose
class, id or ARIA role names a sidebar, navigation, menu, breadcrumb, table of contents or footer.

Headings ``<h1>``..``<h6>`` split the text into sections as Markdown headings do; a section's
locator is its heading path (``first_line``/``last_line`` are ``None``: an HTML page has no useful
source lines, a minified one has a single line). Paragraphs, list items and table rows are one
line each (tables as Markdown rows), ``<pre>`` keeps its lines, links read as their text.

Encoding: a byte-order mark, else the ``<meta charset>`` (or ``http-equiv``) declaration, else
UTF-8 when the bytes decode as UTF-8, else charset-normalizer's guess (with a warning).
"""

from __future__ import annotations

import codecs
import html.parser
import re
from pathlib import Path
from typing import Any

from docqa.errors import SourceError
from docqa.formats.outline import Outline
from docqa.formats.tables import markdown_table
from docqa.types import Section

HTML_VERSION = 1
"""Bump when the text extracted from HTML changes, so ingest re-parses HTML files."""

_SNIFF = 4096  # browsers look for <meta charset> in the first 1024 bytes; allow long heads
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([-\w.:]+)""", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
# WHATWG: these labels mean windows-1252, whose extra characters pages do use.
_AS_CP1252 = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"})

_MAIN_XPATHS = (
    "//main",
    "//*[@role='main']",
    "//article",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' body ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' document ')]",
)
_DROP = (
    *("script", "style", "noscript", "template", "svg", "iframe", "object", "embed", "canvas"),
    *("button", "select", "textarea", "input", "option"),
)
_CHROME_TAGS = frozenset({"nav", "aside"})
_CHROME_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"}
)
_CHROME_NAME = re.compile(
    r"sidebar|breadcrumb|docnav"
    r"|(?:^|[\s_-])(?:nav|navbar|navigation|menu|footer|masthead|banner|toc|skip-?link)(?:$|[\s_-])",
    re.IGNORECASE,
)
_BOXES = frozenset({"div", "section", "ul", "ol", "dl", "table", "form", "p", "span"})
_CONTENT_ANCESTORS = frozenset({"article", "section", "main"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset(
    {"address", "article", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt"}
    | {"fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "ol"}
    | {"p", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
    | {"br", "center", "html", "legend", "menu", "nav", "aside"}
)
_NEAR_TIE = 0.05  # charset-normalizer "chaos" (share of odd characters) counted as a tie
_LAYOUT_CELL = 500  # characters: a cell this long makes a layout table, read as text


def decode_html(path: Path, data: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode an HTML page's bytes (see the module docstring for the order of evidence).

    Args:
        path: The file, for errors.
        data: Its bytes.

    Returns:
        The text and warnings (a guessed encoding).

    Raises:
        SourceError: The bytes are binary, not HTML.
    """
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16")):
        if data.startswith(bom) or (encoding == "utf-16" and data.startswith(codecs.BOM_UTF16_BE)):
            return data.decode(encoding, errors="replace"), ()
    if b"\x00" in data[:_SNIFF]:
        raise SourceError(path, "binary data, not HTML: rename it or remove it")
    declared = _declared_charset(data[:_SNIFF])
    if declared is not None:
        return data.decode(declared, errors="replace"), ()
    try:
        return data.decode("utf-8"), ()
    except UnicodeDecodeError:
        pass
    encoding = _guess_encoding(data)
    note = f"no charset declared, decoded as {encoding}: add <meta charset> if accents look wrong"
    return data.decode(encoding, errors="replace"), (note,)


def _guess_encoding(data: bytes) -> str:
    """charset-normalizer's guess, except that windows-1252 wins a near tie.

    Its guesses among the Latin code pages are unreliable (a French page came out as Baltic
    cp1257, chaos 0.0 against 0.017 for cp1252); windows-1252 is what browsers assume for an
    undeclared Western page, so it is kept whenever it reads nearly as cleanly.
    """
    import charset_normalizer

    results = list(charset_normalizer.from_bytes(data))
    if not results:
        return "cp1252"
    best = min(r.chaos for r in results)
    if any(r.encoding == "cp1252" and r.chaos <= best + _NEAR_TIE for r in results):
        return "cp1252"
    return str(results[0].encoding)


def _declared_charset(head: bytes) -> str | None:
    match = _META_CHARSET.search(head)
    if match is None:
        return None
    label = match.group(1).decode("ascii", errors="ignore").lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None  # an unknown label: decode as if nothing were declared


def html_sections(path: Path, text: str) -> tuple[Section, ...]:
    """The main content of an HTML page as sections (see the module docstring).

    Args:
        path: The file, for errors.
        text: The decoded page (see :func:`decode_html`).

    Returns:
        Sections in page order, each with its heading path; empty when the page has no text.

    Raises:
        SourceError: lxml cannot parse the page at all.
    """
    import lxml.etree
    import lxml.html

    # huge_tree: libxml2 otherwise stops building the tree 256 elements deep and drops the rest
    # without a word (400 unclosed <font> tags); the page's size is bounded before (max_file_mb).
    parser = lxml.html.HTMLParser(huge_tree=True)
    page = _XML_DECL.sub("", text)
    try:
        root = lxml.html.document_fromstring(page, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise SourceError(path, f"not a readable HTML page ({exc}): check the file") from exc
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        return _flat_sections(page)  # deeper than even huge_tree's 2048 levels
    title = " ".join(root.findtext(".//title", default="").split())
    lxml.etree.strip_elements(root, lxml.etree.Comment, *_DROP, with_tail=False)
    main = _main_element(root)
    _drop_chrome(main)
    collector = _Collector()
    collector.walk(main)
    collector.flush()
    return collector.outline.sections(title)


def _main_element(root: Any) -> Any:
    """The first main-content candidate found (the longest if several), else ``<body>``."""
    for xpath in _MAIN_XPATHS:
        found = root.xpath(xpath)
        if found:
            return max(found, key=lambda el: len(el.text_content()))
    body = root.find("body")
    return body if body is not None else root


def _drop_chrome(main: Any) -> None:
    """Remove navigation, asides, page headers/footers and hidden elements under ``main``."""
    # Inside a chosen main element, <header>/<footer> belong to the content (an article's title).
    whole_page = main.tag == "body"
    doomed = [
        el
        for el in main.iterdescendants()
        if isinstance(el.tag, str) and _is_chrome(el, whole_page)
    ]
    for el in doomed:
        if el.getparent() is not None and not any(a in doomed for a in el.iterancestors()):
            el.drop_tree()  # keeps the element's tail text


def _is_chrome(el: Any, whole_page: bool) -> bool:
    tag = el.tag
    if tag in _CHROME_TAGS or el.get("role") in _CHROME_ROLES or el.get("hidden") is not None:
        return True
    if "headerlink" in (el.get("class") or ""):  # Sphinx's ¶ permalink
        return True
    if tag in ("header", "footer"):
        return whole_page and not any(a.tag in _CONTENT_ANCESTORS for a in el.iterancestors())
    if tag in _BOXES:
        name = f"{el.get('class') or ''} {el.get('id') or ''}"
        return bool(_CHROME_NAME.search(name))
    return False


class _Collector:
    """Walks the main element, gathering lines and headings into an :class:`Outline`."""

    def __init__(self) -> None:
        self.outline = Outline()
        self.words: list[str] = []
        self.prefix = ""

    def walk(self, main: Any) -> None:
        import lxml.etree

        walker = lxml.etree.iterwalk(main, events=("start", "end"))
        for event, el in walker:
            tag = el.tag if isinstance(el.tag, str) else ""
            if event == "start":
                if self.start(el, tag):
                    walker.skip_subtree()
            else:
                if tag in _BLOCKS or tag in _HEADINGS or tag == "pre":
                    self.flush()
                if el is not main and el.tail:
                    self.words.append(el.tail)

    def start(self, el: Any, tag: str) -> bool:
        """Handle an element's start; True when its subtree was read whole."""
        if tag in _HEADINGS:
            self.flush()
            title = " ".join(el.text_content().split()).rstrip("¶ ")
            self.outline.heading(_HEADINGS[tag], title)
            return True
        if tag == "pre":
            self.flush()
            self.outline.line(el.text_content().strip("\n").rstrip())
            return True
        if tag == "table" and self.table(el):
            return True
        if tag in _BLOCKS:
            self.flush()
        if tag == "li":
            self.prefix = "- "
        if el.text:
            self.words.append(el.text)
        return False

    def flush(self) -> None:
        line = " ".join("".join(self.words).split())
        self.words = []
        if line:
            self.outline.line(self.prefix + line)
            self.prefix = ""

    def table(self, el: Any) -> bool:
        """Write a data table as Markdown rows; False for a layout table (read as text)."""
        rows = [
            [" ".join(cell.text_content().split()) for cell in tr if cell.tag in ("td", "th")]
            for tr in el.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
        ]
        cells = [c for row in rows for c in row]
        if not cells or max(len(r) for r in rows) < 2 or max(map(len, cells)) > _LAYOUT_CELL:
            return False
        self.flush()
        self.outline.line(markdown_table(rows))
        return True


_FLAT_SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})


def _flat_sections(page: str) -> tuple[Section, ...]:
    """All the text of a page nested too deep for lxml, read as a stream of tags: headings and
    block breaks are kept; page chrome is not told apart from content."""
    reader = _FlatReader()
    reader.feed(page)
    reader.close()
    reader.flush()
    return reader.outline.sections(reader.title)


class _FlatReader(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outline = Outline()
        self.words: list[str] = []
        self.skipping = 0
        self.level: int | None = None  # inside <hN>
        self.in_title = False
        self.title = ""
        self.prefix = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FLAT_SKIP:
            self.skipping += 1
        elif tag == "title":
            self.in_title = True
        elif tag in _HEADINGS or tag in _BLOCKS or tag == "pre":
            self.flush()
            self.level = _HEADINGS.get(tag, self.level)
            self.prefix = "- " if tag == "li" else self.prefix

    def handle_endtag(self, tag: str) -> None:
        if tag in _FLAT_SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "title":
            self.in_title = False
        elif tag in _HEADINGS and self.level is not None:
            self.outline.heading(self.level, " ".join("".join(self.words).split()))
            self.words, self.level = [], None
        elif tag in _BLOCKS or tag == "pre":
            self.flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title = " ".join(f"{self.title} {data}".split())
        elif not self.skipping:
            self.words.append(data)

    def flush(self) -> None:
        if self.level is not None:
            return  # a heading's text is written at its end tag
        line = " ".join("".join(self.words).split())
        self.words = []
        if line:
            self.outline.line(self.prefix + line)
            self.prefix = ""
