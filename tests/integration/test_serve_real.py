"""docqa serve end to end: the repo's data/, the real embedder, SmolLM2-135M in-process, real
clients (the openai client on the OpenAI face, llama-index's Ollama LLM on the Ollama face).

Answers are kept short; the assertions are about plumbing (tokens stream, sources travel, a
client that leaves stops the model), not about what a 135M model says.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from docqa import embedding
from docqa.api import ingest
from docqa.config import Settings
from docqa.server import Running, start
from docqa.session import Session

from ..conftest import REPO
from .test_llm_real import smollm2

pytestmark = pytest.mark.integration

QUESTION = "How many boats does the field station own?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    pytest.importorskip("xllamacpp")
    store = tmp_path_factory.mktemp("serve") / "store"
    settings = Settings(
        store=store, llm="gguf", gguf=smollm2(), num_ctx=2048, max_tokens=32, threads=1
    )
    emb = embedding.make_embedder(settings)
    assert not ingest(REPO / "data", settings, embedder=emb).failed
    session = Session(settings, embedder=emb)
    handle = start(settings, session=session)
    yield handle
    handle.stop()
    session.close()


def test_openai_client_streams_a_cited_answer_from_smollm2(server: Running) -> None:
    with openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0) as c:
        names = [m.id for m in c.models.list()]
        assert names[:2] == ["docqa", "docqa-baseline"]
        assert any(n.endswith(".gguf") for n in names)
        stream = c.chat.completions.create(
            model="docqa",
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage = [], None
        for chunk in stream:
            pieces += [ch.delta.content or "" for ch in chunk.choices]
            usage = chunk.usage or usage
        text = "".join(pieces)
        assert len([p for p in pieces if p]) > 3
        assert "Sources:" in text  # the boats chunk is retrieved: the answer lists it
        assert usage is not None and 0 < usage.completion_tokens <= 32 + 1
        with pytest.raises(openai.NotFoundError):
            c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])


def test_llama_index_ollama_on_the_ollama_face(server: Running) -> None:
    import ollama
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.ollama import Ollama

    with ollama.Client(host=server.url, timeout=120) as client:
        llm = Ollama(model="docqa", base_url=server.url, client=client)
        reply = llm.chat([ChatMessage(role="user", content=QUESTION)])
        assert "Sources:" in (reply.message.content or "")
        base = Ollama(model="docqa-baseline", base_url=server.url, client=client)
        bare = base.complete("Say hello.")
        assert bare.text.strip() and "Sources:" not in bare.text


def test_a_client_that_leaves_frees_the_model_for_the_next(server: Running) -> None:
    body = {"model": "docqa", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body, timeout=120) as r:
        lines = r.iter_lines()
        for _ in range(4):
            next(lines)
    # the model was stopped and the place freed: the next request is answered, not refused
    again = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={**body, "stream": False},
        timeout=120,
    )
    assert again.status_code == 200
    assert again.json()["choices"][0]["message"]["content"]
