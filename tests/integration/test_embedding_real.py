"""The real MiniLM on every CPU backend: unit vectors, the same directions, sensible ranking."""

from __future__ import annotations

import numpy as np
import pytest

from docqa.config import Settings
from docqa.embedding import Embedder, embedder_id, make_embedder
from docqa.embedding.auto import AutoEmbedder
from docqa.embedding.base import embed_queries

pytestmark = pytest.mark.integration

SENTENCES = [
    "The ferry to the island leaves the harbour every morning at seven.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
    "Debian packages are installed with apt.",
    (
        "A long sentence about cooking: simmer the onions slowly in butter until they are soft "
        "and golden, add the stock a ladle at a time, stir often, and season at the end with "
        "salt, pepper and a little grated cheese before serving the risotto hot. "
    )
    * 3,
    "Short.",
]


SETTING = {
    "onnx-int8": "onnx",
    "openvino-int8": "openvino",
    "openvino-fp32": "openvino-fp32",
    "torch-fp32": "torch",
    "torch-bf16": "torch-bf16",
}
INT8 = ("onnx-int8", "openvino-int8")


@pytest.fixture(scope="module", params=list(SETTING.values()))
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return make_embedder(Settings(embed_backend=request.param, embed_batch_size=2))


def test_vectors_are_unit_float32(embedder: Embedder) -> None:
    vectors = embedder.embed_documents(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.embed_query("x").shape == (384,)
    assert embedder.id == f"all-MiniLM-L6-v2:{embedder.backend}:384"
    assert embedder.id == embedder_id(Settings(embed_backend=SETTING[embedder.backend]))


def test_query_ranks_the_relevant_sentence_first(embedder: Embedder) -> None:
    vectors = embedder.embed_documents(SENTENCES)
    scores = vectors @ embedder.embed_query("When does the boat to the island depart?")
    assert int(np.argmax(scores)) == 0


def test_queries_in_one_batch_equal_queries_one_by_one(embedder: Embedder) -> None:
    together = embed_queries(embedder, SENTENCES)
    alone = np.stack([embedder.embed_query(text) for text in SENTENCES])
    assert np.allclose((together * alone).sum(axis=1), 1.0, atol=1e-3)
    auto = make_embedder(Settings())
    assert np.allclose((embed_queries(auto, SENTENCES[:2]) * alone[:2]).sum(axis=1), 1.0, atol=2e-2)


def test_batch_order_is_kept_with_mixed_lengths(embedder: Embedder) -> None:
    together = embedder.embed_documents(SENTENCES)
    alone = np.stack([embedder.embed_documents([text])[0] for text in SENTENCES])
    assert np.allclose((together * alone).sum(axis=1), 1.0, atol=1e-4)


def test_every_backend_agrees_with_fp32(embedder: Embedder) -> None:
    fp32 = make_embedder(Settings(embed_backend="torch")).embed_documents(SENTENCES)
    cosines = (embedder.embed_documents(SENTENCES) * fp32).sum(axis=1)
    # the int8 weights move vectors more than bf16 arithmetic (benchmarks/README.md)
    assert cosines.min() >= (0.99 if embedder.backend in INT8 else 0.995), cosines


def test_auto_queries_on_onnx_and_documents_on_the_measured_backend() -> None:
    auto = make_embedder(Settings())
    assert isinstance(auto, AutoEmbedder) and auto.id == "all-MiniLM-L6-v2:auto:384"
    auto.embed_query("a question before any document")
    assert auto.query_embedder().backend == "onnx-int8"
    vectors = auto.embed_documents(SENTENCES)
    chosen = auto.documents_embedder().backend
    assert chosen in auto.plan.candidates and auto.measurement is not None
    assert auto.measurement.backend == chosen and chosen in auto.describe()
    assert auto.query_embedder() is auto.documents_embedder()
    fp32 = make_embedder(Settings(embed_backend="torch")).embed_documents(SENTENCES)
    assert (vectors * fp32).sum(axis=1).min() >= 0.99


def test_empty_input_gives_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.embed_documents([]).shape == (0, 384)
