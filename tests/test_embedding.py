"""Fast tests of model resolution, the light-import rule and the hashing fake."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from docqa.config import Settings
from docqa.embedding import (
    DEFAULT_MODEL,
    embedder_id,
    load_tokenizer,
    make_embedder,
    resolve_model,
)
from docqa.errors import EmbedderError

from .fakes import HashEmbedder


def test_default_model_resolves_from_the_package() -> None:
    info = resolve_model(Settings())
    assert (info.name, info.dim, info.max_tokens) == (DEFAULT_MODEL, 384, 256)
    assert info.tokenizer_file.is_file()
    assert (info.query_prefix, info.document_prefix) == ("", "")


def test_hub_alias_is_the_same_model() -> None:
    plain = resolve_model(Settings())
    alias = resolve_model(Settings(embed_model="sentence-transformers/all-MiniLM-L6-v2"))
    assert alias == plain


def test_packaged_folder_by_path_keeps_the_default_name() -> None:
    folder = resolve_model(Settings()).path
    assert resolve_model(Settings(embed_model=str(folder))).name == DEFAULT_MODEL


def test_embedder_id_needs_no_model_load() -> None:
    assert embedder_id(Settings()) == "all-MiniLM-L6-v2:auto:384"  # measured on first use
    assert embedder_id(Settings(embed_backend="torch")) == "all-MiniLM-L6-v2:torch-fp32:384"


def test_unknown_hub_name_without_downloads_names_the_setting() -> None:
    with pytest.raises(EmbedderError, match="DOCQA_EMBED_ALLOW_DOWNLOAD") as caught:
        resolve_model(Settings(embed_model="nobody/no-such-model"))
    assert "nobody/no-such-model" in str(caught.value)


def _fake_model(folder: Path, name: str = "model") -> Path:
    target = folder / name
    target.mkdir()
    (target / "config.json").write_text(json.dumps({"hidden_size": 768}))
    (target / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512}))
    return target


def test_local_folder_reads_its_configs(tmp_path: Path) -> None:
    folder = _fake_model(tmp_path)
    info = resolve_model(Settings(embed_model=str(folder)))
    assert (info.path, info.dim, info.max_tokens) == (folder, 768, 512)
    assert info.name == str(folder)  # full path: two models may both be called "model"


def test_e5_models_get_their_prefixes_unless_set(tmp_path: Path) -> None:
    folder = _fake_model(tmp_path, "multilingual-e5-small")
    info = resolve_model(Settings(embed_model=str(folder)))
    assert (info.query_prefix, info.document_prefix) == ("query: ", "passage: ")
    info = resolve_model(Settings(embed_model=str(folder), query_prefix=""))
    assert (info.query_prefix, info.document_prefix) == ("", "passage: ")


def test_onnx_backend_refuses_other_models(tmp_path: Path) -> None:
    folder = _fake_model(tmp_path)
    with pytest.raises(EmbedderError, match="DOCQA_EMBED_BACKEND=torch"):
        make_embedder(Settings(embed_model=str(folder), embed_backend="onnx"))


def test_broken_model_folder_is_an_embedder_error(tmp_path: Path) -> None:
    folder = _fake_model(tmp_path)
    with pytest.raises(EmbedderError, match=str(folder)):
        make_embedder(Settings(embed_model=str(folder), embed_backend="torch"))


def test_tokenizer_has_no_saved_truncation_or_padding() -> None:
    tokenizer = load_tokenizer(resolve_model(Settings()))
    ids = tokenizer.encode("word " * 300).ids
    assert len(ids) == 302  # tokenizer.json alone would cut at 128 and pad short texts
    assert len(tokenizer.encode("hi").ids) == 3


def test_embed_queries_batches_where_the_embedder_can_and_loops_where_not() -> None:
    from docqa.embedding.base import embed_queries

    class OneByOne:
        """An embedder with ``embed_query`` only (as the Protocol asks)."""

        info = HashEmbedder().info

        def __init__(self) -> None:
            self.inner = HashEmbedder()

        def embed_query(self, text: str) -> np.ndarray:
            return self.inner.embed_query(text)

    texts = ["two boats", "the cold room", "a 90 hp engine"]
    looped = embed_queries(OneByOne(), texts)  # type: ignore[arg-type]
    assert looped.shape == (3, HashEmbedder().info.dim)
    assert np.allclose(looped[1], HashEmbedder().embed_query("the cold room"))
    assert embed_queries(OneByOne(), []).shape == (0, HashEmbedder().info.dim)  # type: ignore[arg-type]


def test_passages_at_question_time_go_to_the_query_backend() -> None:
    from docqa.embedding.base import embed_passages

    class TwoBackends:
        """As ``auto``: documents on a slow-to-load backend, queries on a quick one."""

        info = HashEmbedder().info

        def __init__(self) -> None:
            self.quick, self.slow = HashEmbedder(), HashEmbedder()

        def embed_documents(self, texts: list[str]) -> np.ndarray:
            return self.slow.embed_documents(texts)

        def embed_query(self, text: str) -> np.ndarray:
            return self.quick.embed_query(text)

        def query_embedder(self) -> HashEmbedder:
            return self.quick

    two = TwoBackends()
    vectors = embed_passages(two, ["The station owns two boats."])  # type: ignore[arg-type]
    assert two.slow.calls == 0 and two.quick.calls == 1
    assert np.allclose(
        vectors[0], HashEmbedder().embed_documents(["The station owns two boats."])[0]
    )
    plain = HashEmbedder()
    embed_passages(plain, ["a", "b"])  # no query backend of its own: its documents path
    assert plain.calls == 1 and plain.embedded == 2
