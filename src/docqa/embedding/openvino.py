"""The ``openvino-int8`` and ``openvino-fp32`` backends: all-MiniLM-L6-v2 built for OpenVINO
(:mod:`~docqa.embedding.quantize`, once per machine) and run with OpenVINO's CPU runtime and the
``tokenizers`` library (mean pooling, then L2 normalisation).

Documents run in OpenVINO's throughput mode: batches of similar lengths go to several infer
requests at once (two streams on 2 cores), which kept both cores busy where one request left
them waiting on each other (benchmarks/README.md). Queries run on one request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from docqa import privacy
from docqa.embedding.base import BaseEmbedder, ModelInfo, cpu_count, l2_normalise
from docqa.embedding.models import load_tokenizer

OPENVINO_INT8 = "openvino-int8"
OPENVINO_FP32 = "openvino-fp32"
# Activations quantized to int8 at run time per group of this many values (OpenVINO's dynamic
# quantization of int8-weight layers): on 98 real 256-token chunks, min cosine to fp32 0.9979
# with groups of 64, 0.9980 with 32, at 1.79x / 1.58x OpenVINO fp32 (benchmarks/README.md).
DYNAMIC_GROUP = 64
# Batches are padded to a multiple of this many tokens: OpenVINO keeps compiled kernels per input
# shape, and free widths made hundreds of shapes. Scale corpus, every 10th file: peak RSS
# 1,425 -> 1,166 MiB (benchmarks/README.md); at most 31 padded tokens per row, masked out.
PAD_TO = 32


class OpenVinoEmbedder(BaseEmbedder):
    """An OpenVINO model of all-MiniLM-L6-v2; mean pooling over the attention mask."""

    def __init__(
        self,
        info: ModelInfo,
        model_file: Path,
        backend: str = OPENVINO_INT8,
        batch_size: int = 16,
        threads: int = 0,
    ) -> None:
        """Compile the model for the CPU and open the tokenizer.

        Args:
            info: The resolved model (its tokenizer.json tokenizes for the graph).
            model_file: The ``model.xml`` built by :func:`~docqa.embedding.quantize.openvino_model`.
            backend: The backend name (``openvino-int8`` or ``openvino-fp32``).
            batch_size: Texts per infer request.
            threads: CPU threads; 0 means every core this process may use.
        """
        privacy.quiet_openvino()
        import openvino as ov

        self.backend = backend
        self.build_seconds = 0.0  # set by the loader when the model was built for this load
        core = ov.Core()
        config = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "INFERENCE_NUM_THREADS": threads or cpu_count(),
            # never bf16 on CPUs that have it: the quality gate was measured in fp32 / int8
            "INFERENCE_PRECISION_HINT": "f32",
            "DYNAMIC_QUANTIZATION_GROUP_SIZE": DYNAMIC_GROUP if backend == OPENVINO_INT8 else 0,
        }
        self._compiled = core.compile_model(str(model_file), "CPU", config)
        self._input_names = {port.get_any_name() for port in self._compiled.inputs}
        self._jobs = max(1, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._queue = ov.AsyncInferQueue(self._compiled, self._jobs)
        self._request = self._compiled.create_infer_request()
        self._tokenizer = load_tokenizer(info)
        self._tokenizer.enable_truncation(info.max_tokens)
        super().__init__(info, batch_size)

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        # Batches of similar lengths waste less compute on padding; `order` undoes the sort.
        order = np.argsort([len(encoding.ids) for encoding in encodings], kind="stable")
        out = np.empty((len(texts), self.info.dim), dtype=np.float32)
        # never fewer batches than infer requests: a call of one batch would leave a core idle
        size = max(1, min(self.batch_size, -(-len(texts) // self._jobs)))
        batches = [order[s : s + size] for s in range(0, len(order), size)]
        if len(batches) == 1:
            feeds, mask = self._feeds([encodings[row] for row in batches[0]])
            hidden = self._request.infer(feeds)[self._compiled.outputs[0]]
            out[batches[0]] = _pool(hidden, mask)
            return out

        def done(request: Any, userdata: tuple[NDArray[np.int64], NDArray[np.int64]]) -> None:
            rows, mask = userdata
            out[rows] = _pool(request.get_output_tensor(0).data, mask)

        self._queue.set_callback(done)
        for rows in batches:
            feeds, mask = self._feeds([encodings[row] for row in rows])
            self._queue.start_async(feeds, (rows, mask))
        self._queue.wait_all()
        return out

    def _feeds(self, encodings: list[Any]) -> tuple[dict[str, NDArray[np.int64]], Any]:
        width = max(len(encoding.ids) for encoding in encodings)
        width = -(-width // PAD_TO) * PAD_TO
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {name: value for name, value in feeds.items() if name in self._input_names}, mask


def _pool(hidden: Any, mask: NDArray[np.int64]) -> NDArray[np.float32]:
    weights = mask[:, :, None].astype(np.float32)
    summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
    return l2_normalise(summed / np.maximum(weights.sum(axis=1), 1e-9))
