"""Jupyter renderings of search hits and store status: the facts are there, text is escaped."""

from __future__ import annotations

from pathlib import Path

from docqa.api import ingest, status
from docqa.config import Settings
from docqa.types import Hit

from .fakes import HashEmbedder


def test_hit_html_shows_place_scores_and_escaped_text() -> None:
    hit = Hit(
        "/docs/faq.pdf", "Use <b>apt</b> &   upgrade\n" + "x " * 400, 0.5, page=3, dense_score=0.61
    )
    html = hit._repr_html_()
    assert "/docs/faq.pdf p. 3" in html and "score 0.5000, cosine 0.610" in html
    assert "&lt;b&gt;apt&lt;/b&gt; &amp; upgrade" in html  # escaped, whitespace folded
    assert "…" in html and len(html) < 600  # long text is cut
    assert "cosine" not in Hit("a.md", "t", 0.1)._repr_html_()  # bm25 hits have no cosine


def test_store_status_html_lists_every_fact(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nBoats <and> oars.\n")
    (docs / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    settings = Settings(store=tmp_path / "store")
    ingest(docs, settings, embedder=HashEmbedder())
    got = status(settings)
    html = got._repr_html_()
    for fact in (str(tmp_path / "store"), "1 failed", "hash-bow", "fingerprint", "bad.pdf"):
        assert fact in html
    assert f"<th style='text-align:left'>embeds with</th><td>{got.embed_backend}" in html
    assert html.count("<tr>") == 7 + len(got.roots) + len(got.warnings) + len(got.failures)
