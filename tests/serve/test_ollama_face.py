"""docqa serve's Ollama face with the real ``ollama`` client and llama-index's ``Ollama`` LLM."""

from __future__ import annotations

import json
from typing import Any

import httpx
import ollama

from .conftest import RAG_REPLY, Serve

ASK = [{"role": "user", "content": "How many boats does the station own?"}]


def test_tags_version_ps_show(serve: Serve) -> None:
    server = serve()
    with ollama.Client(host=server.url) as c:
        names = [m.model for m in c.list().models]
        assert names == [
            "docqa:latest",
            "docqa-baseline:latest",
            "docqa:scripted-1",
            "docqa-baseline:scripted-1",
        ]
        shown = c.show("docqa")
        assert shown.modelinfo is not None
        assert shown.modelinfo["docqa.context_length"] == 4096
        assert [m.model for m in c.ps().models] == ["docqa:latest"]
    assert httpx.get(f"{server.url}/api/version").json()["version"]


def test_the_two_faces_share_no_model_id(serve: Serve) -> None:
    """Open WebUI keeps one model per id across its connections (utils/models.py, the
    ``models_dict[model['id']]`` loop, Ollama's models after OpenAI's): a shared id would let
    the Ollama face's model hide the OpenAI face's, which alone carries citation chips."""
    server = serve()
    openai_ids = [m["id"] for m in httpx.get(f"{server.url}/v1/models").json()["data"]]
    ollama_ids = [m["name"] for m in httpx.get(f"{server.url}/api/tags").json()["models"]]
    assert len(openai_ids) == len(ollama_ids) == 4
    assert not set(openai_ids) & set(ollama_ids)
    assert all(":" in name for name in ollama_ids)  # Ollama names carry a tag
    # every name of either face answers, on either face, with the model it names
    for name in openai_ids + ollama_ids:
        response = httpx.post(
            f"{server.url}/api/chat", json={"model": name, "messages": ASK, "stream": False}
        )
        assert response.status_code == 200, (name, response.text)
        expected = "I do not know" if "baseline" in name else RAG_REPLY[:20]
        assert response.json()["message"]["content"].startswith(expected), name


def test_chat_streams_ndjson_and_ends_with_done(serve: Serve) -> None:
    server = serve()
    with httpx.stream(
        "POST", f"{server.url}/api/chat", json={"model": "docqa", "messages": ASK}
    ) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert all(not line["done"] for line in lines[:-1]) and lines[-1]["done"]
    assert lines[-1]["eval_count"] == len(RAG_REPLY.split())
    text = "".join(line["message"]["content"] for line in lines)
    assert text.startswith(RAG_REPLY) and "\n\nSources:\n[1] [boats.md" in text


def test_ollama_client_chat_and_generate(serve: Serve) -> None:
    server = serve()
    with ollama.Client(host=server.url) as c:
        whole = c.chat(model="docqa", messages=ASK, stream=False)
        assert whole.message.content is not None
        assert whole.message.content.startswith(RAG_REPLY)
        pieces = [p.message.content or "" for p in c.chat(model="docqa", messages=ASK, stream=True)]
        assert len(pieces) > 3 and "".join(pieces) == whole.message.content
        generated = c.generate(model="docqa", prompt=ASK[0]["content"], stream=False)
        assert generated.response.startswith(RAG_REPLY)


def test_unknown_model_is_an_ollama_error(serve: Serve) -> None:
    server = serve()
    response = httpx.post(f"{server.url}/api/chat", json={"model": "llama3", "messages": ASK})
    assert response.status_code == 404
    assert response.json() == {
        "error": "model 'llama3' is not served here: use docqa, docqa-baseline "
        "or a name from /v1/models"
    }


def test_llama_index_ollama_llm(serve: Serve) -> None:
    from llama_index.llms.ollama import Ollama

    server = serve()
    with ollama.Client(host=server.url, timeout=30) as c:
        llm = Ollama(model="docqa", base_url=server.url, client=c)
        _llama_index_round_trip(llm)


def _llama_index_round_trip(llm: Any) -> None:
    from llama_index.core.llms import ChatMessage

    said = llm.chat([ChatMessage(role="user", content=ASK[0]["content"])])
    assert (said.message.content or "").startswith(RAG_REPLY)
    streamed = "".join(
        r.delta or "" for r in llm.stream_complete("How many boats does the station own?")
    )
    assert streamed.startswith(RAG_REPLY)
    assert llm.metadata.context_window == 4096
