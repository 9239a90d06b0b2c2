"""Fast tests of the OpenVINO backends' place in ``auto``: the quality gate keeps a fast model
that moved from fp32 out, the built model is cached per machine and package versions, and its
one-off build is not charged as a load (no openvino needed: fakes through the loaders)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from docqa.config import Settings
from docqa.embedding import Embedder, auto_plan, choice, measurement, quantize, resolve_model
from docqa.embedding.auto import AutoEmbedder, Plan
from docqa.embedding.base import ModelInfo
from docqa.embedding.measurement import ROUNDS, Machine, measure
from docqa.embedding.trial import CHECK, TURN

from .fakes import HashEmbedder
from .test_embedding_choice import Loads, TimedEmbedder


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _auto(loads: Loads) -> AutoEmbedder:
    plan = Plan("model-a", "auto", loads.loaders(), "torch-fp32", "onnx-int8")
    return AutoEmbedder(HashEmbedder().info, plan)


def test_the_offline_gate_admits_both_openvino_models() -> None:
    for name in ("openvino-int8", "openvino-fp32"):
        overlap, cosine = measurement.GATE[name]
        assert overlap >= measurement.GATE_OVERLAP and cosine >= measurement.GATE_COSINE
        assert measurement.passes_gate(name)
        assert measurement.vectors_id(f"m:{name}:384") == "m:torch-fp32:384"


def test_a_fast_int8_model_that_moved_from_fp32_is_never_picked() -> None:
    # fastest by far, but its vectors drift: min cosine to fp32 < 0.99 on the sample
    loads = Loads({"openvino-int8": (0.0, 0.2), "onnx-int8": (0.004, 0), "torch-fp32": (0.008, 0)})
    auto = _auto(loads)
    auto.embed_documents(["a chunk", "another chunk"])
    assert auto.documents_embedder().backend == "onnx-int8"
    cached = measurement.cached("model-a", "auto")
    assert cached is not None and "cosine" in cached.rejected["openvino-int8"]
    assert cached.best_for(10) != "openvino-int8" and cached.best_for(10**6) != "openvino-int8"
    again = _auto(loads)  # a later process reads the cache and never loads it
    before = loads.count["openvino-int8"]
    again.expect_documents(10**6)
    assert again.documents_embedder().backend == "onnx-int8"
    assert loads.count["openvino-int8"] == before


def test_a_fast_int8_model_that_behaves_is_picked() -> None:
    loads = Loads({"openvino-int8": (0.0, 0.0), "onnx-int8": (0.004, 0), "torch-fp32": (0.008, 0)})
    auto = _auto(loads)
    auto.embed_documents(["a chunk"])
    assert auto.documents_embedder().backend == "openvino-int8"


def test_the_one_off_build_is_not_charged_as_a_load() -> None:
    def built_slowly() -> Embedder:
        time.sleep(0.3)  # the build, once per machine
        embedder = TimedEmbedder("openvino-int8")
        embedder.build_seconds = 0.3  # type: ignore[attr-defined]
        return embedder

    candidates = {"torch-fp32": lambda: TimedEmbedder("torch-fp32"), "openvino-int8": built_slowly}
    result, _ = measure(candidates, "torch-fp32", rounds=1)
    assert result.loads["openvino-int8"] < 0.1


def test_auto_times_openvino_first_when_it_can_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measurement, "this_machine", lambda: Machine("cpu", ("avx512_vnni",), ()))
    monkeypatch.setattr(choice, "_torch_ready", lambda: True)
    monkeypatch.setattr(choice, "_openvino_ready", lambda info: True)
    plan = auto_plan(Settings(), resolve_model(Settings()))
    names = list(plan.candidates)
    assert names == ["openvino-int8", "openvino-fp32", "onnx-int8", "torch-fp32"]
    assert (plan.reference, plan.quick) == ("torch-fp32", "onnx-int8")
    assert "openvino" in measurement.cache_key("m", "auto")


def test_the_built_model_is_cached_per_machine_and_versions(
    monkeypatch: pytest.MonkeyPatch, _own_cache: Path
) -> None:
    builds: list[Path] = []

    def fake_build(info: ModelInfo, precision: str, folder: Path) -> None:
        builds.append(folder)
        folder.mkdir(parents=True)
        (folder / "model.xml").write_text("<net/>")
        (folder / "model.bin").write_bytes(b"")

    monkeypatch.setattr(quantize, "_build", fake_build)
    info = HashEmbedder().info
    first = quantize.openvino_model(info, "int8")
    assert quantize.openvino_model(info, "int8") == first and len(builds) == 1
    assert first.is_relative_to(_own_cache / "docqa" / "models")
    assert quantize.openvino_model(info, "fp32") != first and len(builds) == 2
    monkeypatch.setattr(quantize, "_version", lambda package: "99.0")  # openvino upgraded
    assert quantize.openvino_model(info, "int8") != first and len(builds) == 3


def test_the_first_big_job_is_timed_on_its_own_chunks() -> None:
    seen: dict[str, list[str]] = {}

    class Recording(TimedEmbedder):
        def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
            seen.setdefault(self.backend, []).extend(texts)
            return super().embed_documents(texts)

    specs = {"openvino-int8": 0.0, "onnx-int8": 0.002, "torch-fp32": 0.004}
    plan = Plan(
        "model-a",
        "auto",
        {name: (lambda n=name: Recording(n, specs[n])) for name in specs},
        "torch-fp32",
        "onnx-int8",
    )
    auto = AutoEmbedder(HashEmbedder().info, plan)
    auto.expect_documents(1000)
    chunks = [f"chunk number {i} of the user's first file" for i in range(1000)]
    vectors = np.concatenate(
        [auto.embed_documents(chunks[i : i + 128]) for i in range(0, 1000, 128)]
    )
    assert np.allclose(vectors, HashEmbedder().embed_documents(chunks))  # every chunk, in order
    assert not set(measurement.SAMPLE) & {t for texts in seen.values() for t in texts}
    # the check is the only work done twice; each loser had its turns, the winner the rest
    assert sum(len(texts) for texts in seen.values()) == 1000 + 2 * CHECK
    for name in ("onnx-int8", "torch-fp32"):
        assert CHECK + 1 <= len(seen[name]) <= CHECK + ROUNDS * TURN
    assert len(seen["openvino-int8"]) > 1000 - 2 * ROUNDS * TURN - CHECK
    cached = measurement.cached("model-a", "auto")
    assert cached is not None and cached.backend == "openvino-int8"
    assert auto.documents_embedder().backend == "openvino-int8"
