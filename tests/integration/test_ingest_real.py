"""Integration: the real default embedder on the repo's data/ sample, through the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from docqa import embedding
from docqa.chunking import embed_text
from docqa.config import Settings
from docqa.stores import open_store

from ..conftest import REPO

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("real")
    shutil.copytree(REPO / "data", work / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCQA_")}
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "docqa", "ingest", "data"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("4 added, 0 updated, 0 unchanged")
    again = subprocess.run(
        [sys.executable, "-m", "docqa", "ingest", "data"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "0 added, 0 updated, 4 unchanged" in again.stdout
    return work / ".docqa"


def test_every_stored_chunk_fits_the_real_model(ingested: Path) -> None:
    settings = Settings(store=ingested)
    info = embedding.resolve_model(settings)
    tok = Tokenizer.from_file(str(info.tokenizer_file))
    tok.no_truncation()
    store = open_store(settings, ingested)
    try:
        payloads = [p.payload for p in store.points()]
    finally:
        store.close()
    assert len(payloads) > 300
    from docqa.types import Chunk

    for p in payloads:
        chunk = Chunk(str(p["text"]), 0, 0, 0, 0, heading=tuple(p["heading"]))
        assert len(tok.encode(embed_text(chunk, info.document_prefix)).ids) <= info.max_tokens


def test_real_vectors_rank_the_right_page(ingested: Path) -> None:
    settings = Settings(store=ingested)
    emb = embedding.make_embedder(settings)
    store = open_store(settings, ingested)
    try:
        query = emb.embed_query("How many boats does the field station own?")
        hits = store.search([float(x) for x in query], None, k=3, mode="dense")
    finally:
        store.close()
    assert "Goéland" in str(hits[0].payload["text"])
    assert hits[0].payload["heading"][-1] == "Boats"
