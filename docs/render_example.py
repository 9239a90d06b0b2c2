"""Renders docs/example_compare.html and docs/example_compare.png: notebook 02's first cell.

Run from the repository root after ``make install`` (the PNG needs Chromium:
``apt-get install chromium``)::

    .venv/bin/python docs/render_example.py

It asks the question of notebooks/02_baseline_vs_specialized.ipynb with the same settings
(SmolLM2-135M in-process, 64 answer tokens) against a store of ``data/`` in a temporary folder,
and writes the :class:`docqa.Comparison` as a standalone page, plus a table of why each sentence
got its mark (the notebook shows that on hover).
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import docqa  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
QUESTION = "What does it cost to replace a lost badge at the Kerlouan field station?"
NOTE = (
    "Produced by SmolLM2-135M-Instruct (Q4_1 GGUF, in-process) — a 135M model only shows the "
    "pipeline; use <code>ollama pull mistral</code> for real answers."
)
STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px;
       margin: 24px auto; padding: 0 16px; line-height: 1.45; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
.note { color: #555; font-size: .92em; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { border: 1px solid #d8d8d8; padding: 6px 10px; vertical-align: top; text-align: left; }
th { background: #f5f5f5; }
ol { padding-left: 0; }
code { background: #f2f2f2; padding: 1px 4px; border-radius: 3px; }
"""


def why_table(comparison: docqa.Comparison) -> str:
    rows = [("model only", m) for m in comparison.baseline_support]
    rows += [("with documents", m) for m in comparison.rag_support]
    body = "".join(
        f"<tr><td>{who}</td><td>{html.escape(m.sentence)}</td><td>{m.status}</td>"
        f"<td>{html.escape(m.reason)}</td></tr>"
        for who, m in rows
    )
    return (
        "<p><b>Why each sentence got its mark</b> (embedder cosine against the sources)</p>"
        "<table><tr><th style='width:9em'>answer</th><th>sentence</th><th>mark</th>"
        "<th style='width:32%'>why</th></tr>"
        f"{body}</table>"
    )


def page(comparison: docqa.Comparison) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>docqa compare: {html.escape(comparison.question)}</title>"
        f"<style>{STYLE}</style></head><body>\n"
        "<h1>docqa: the model alone vs. the model reading your documents</h1>\n"
        f"<p class='note'>{NOTE}</p>\n"
        "<p class='note'>From <code>notebooks/02_baseline_vs_specialized.ipynb</code>: "
        "<code>docqa.compare(question, settings)</code> on the sample in <code>data/</code>; "
        "the handbook is made up, so only the answer with documents can know the price.</p>\n"
        f"{comparison._repr_html_()}\n{why_table(comparison)}\n</body></html>\n"
    )


def screenshot(target: Path, png: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("no chromium on PATH: apt-get install chromium (the HTML is written)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--screenshot={png}", "--window-size=1200,960", target.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


def main() -> None:
    os.chdir(REPO)  # sources are shown relative to here: data/...
    with tempfile.TemporaryDirectory() as work:
        settings = docqa.Settings(
            store=Path(work) / "store", llm="gguf", max_tokens=64, num_ctx=2048
        )
        docqa.ingest("data", settings)
        comparison = docqa.compare(QUESTION, settings)
    target = DOCS / "example_compare.html"
    target.write_text(page(comparison), encoding="utf-8")
    screenshot(target, DOCS / "example_compare.png")
    print(f"wrote {target} and {target.with_suffix('.png')}")


if __name__ == "__main__":
    main()
