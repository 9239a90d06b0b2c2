"""The real MiniLM on both backends: unit vectors, the same directions, sensible ranking."""

from __future__ import annotations

import numpy as np
import pytest

from docqa.config import Settings
from docqa.embedding import Embedder, embedder_id, make_embedder

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


@pytest.fixture(scope="module", params=["onnx", "torch"])
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return make_embedder(Settings(embed_backend=request.param, embed_batch_size=2))


@pytest.fixture(scope="module")
def both() -> tuple[Embedder, Embedder]:
    return make_embedder(Settings(embed_backend="onnx")), make_embedder(
        Settings(embed_backend="torch")
    )


def test_vectors_are_unit_float32(embedder: Embedder) -> None:
    vectors = embedder.embed_documents(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.embed_query("x").shape == (384,)
    assert embedder.id == f"all-MiniLM-L6-v2:{embedder.backend}:384"
    backend = "onnx" if embedder.backend == "onnx-int8" else "torch"
    assert embedder.id == embedder_id(Settings(embed_backend=backend))


def test_query_ranks_the_relevant_sentence_first(embedder: Embedder) -> None:
    vectors = embedder.embed_documents(SENTENCES)
    scores = vectors @ embedder.embed_query("When does the boat to the island depart?")
    assert int(np.argmax(scores)) == 0


def test_batch_order_is_kept_with_mixed_lengths(embedder: Embedder) -> None:
    together = embedder.embed_documents(SENTENCES)
    alone = np.stack([embedder.embed_documents([text])[0] for text in SENTENCES])
    assert np.allclose((together * alone).sum(axis=1), 1.0, atol=1e-4)


def test_onnx_agrees_with_torch(both: tuple[Embedder, Embedder]) -> None:
    onnx, torch = both
    assert (onnx.backend, torch.backend) == ("onnx-int8", "torch-fp32")
    cosines = (onnx.embed_documents(SENTENCES) * torch.embed_documents(SENTENCES)).sum(axis=1)
    assert cosines.min() >= 0.99, cosines


def test_auto_picks_onnx_for_the_default_model() -> None:
    assert make_embedder(Settings()).backend == "onnx-int8"


def test_empty_input_gives_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.embed_documents([]).shape == (0, 384)
