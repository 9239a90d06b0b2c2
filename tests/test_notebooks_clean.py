"""The notebooks are stored clean: no outputs, no execution counts, no widget state.

Outputs belong to a run, not to the source: they bloat diffs and go stale. Clear them before
committing (Jupyter: *Edit > Clear Outputs of All Cells*, or
``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`` where nbconvert is installed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert "01_quickstart.ipynb" in names and "02_baseline_vs_specialized.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: code cells {dirty} hold outputs; clear them before committing"
    timed = [i for i, cell in enumerate(nb["cells"]) if "execution" in cell.get("metadata", {})]
    assert not timed, f"{path.name}: cells {timed} keep execution timings in their metadata"
    assert "widgets" not in nb["metadata"], f"{path.name}: widget state in the metadata"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_short(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert 0 < len(code) <= 12, f"{path.name}: {len(code)} code cells"
    assert nb["cells"][0]["cell_type"] == "markdown", "a notebook opens with what it shows"


def test_rendered_example_is_there_and_small() -> None:
    """docs/example_compare.* (linked from the README) say which model made them."""
    docs = NOTEBOOKS[0].parents[1] / "docs"
    page = (docs / "example_compare.html").read_text(encoding="utf-8")
    assert "Produced by SmolLM2-135M-Instruct" in page and "ollama pull mistral" in page
    assert "baseline (model only)" in page and "field-station-handbook.md" in page
    png = (docs / "example_compare.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) < 300_000
