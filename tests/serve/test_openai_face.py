"""docqa serve's OpenAI face with the real ``openai`` client, over a real uvicorn server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from docqa import prompts

from ..fakes import ScriptedLLM
from .conftest import BASE_REPLY, BOATS, RAG_REPLY, Serve, reply

ASK = [{"role": "user", "content": "How many boats does the station own?"}]


_clients: list[openai.OpenAI] = []


def client(url: str, key: str = "sk-anything") -> openai.OpenAI:
    made = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
    _clients.append(made)
    return made


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def sse(url: str, body: dict[str, object]) -> list[dict[str, object] | str]:
    """The raw events of a streamed completion: JSON objects, and "[DONE]"."""
    events: list[dict[str, object] | str] = []
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[6:]
                events.append(data if data == "[DONE]" else json.loads(data))
            else:
                assert line == "", f"unexpected SSE line {line!r}"
    return events


def test_models_lists_docqa_baseline_and_a_pair_per_backend_model(serve: Serve) -> None:
    server = serve()
    ids = [m.id for m in client(server.url).models.list()]
    assert ids == ["docqa", "docqa-baseline", "docqa/scripted-1", "docqa-baseline/scripted-1"]


def test_answer_cites_three_ways_and_the_link_opens_the_file(serve: Serve) -> None:
    server = serve()
    result = client(server.url).chat.completions.create(model="docqa", messages=ASK)  # type: ignore[arg-type]
    message = result.choices[0].message
    assert message.content is not None
    assert message.content.startswith(RAG_REPLY)
    assert "\n\nSources:\n[1] [boats.md, Boats](" in message.content
    notes = message.annotations or []
    assert [n.type for n in notes] == ["url_citation"]
    url = notes[0].url_citation.url
    assert url.startswith(f"{server.url}/documents/")
    start, end = notes[0].url_citation.start_index, notes[0].url_citation.end_index
    assert message.content[start:end] == "[1]"
    opened = httpx.get(url.split("#")[0])
    assert opened.status_code == 200 and BOATS in opened.text
    assert result.usage is not None and result.usage.completion_tokens == len(RAG_REPLY.split())


def test_stream_framing_role_first_finish_last_usage_then_done(serve: Serve) -> None:
    server = serve()
    body = {
        "model": "docqa",
        "messages": ASK,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = sse(server.url, body)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events[:-1] if isinstance(e, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    with_choices = [c for c in chunks if c["choices"]]
    first = with_choices[0]["choices"][0]  # type: ignore[index]
    assert first["delta"]["role"] == "assistant"
    assert with_choices[-1]["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert all(c["choices"][0]["finish_reason"] is None for c in with_choices[:-1])  # type: ignore[index]
    assert "usage" in chunks[-1] and chunks[-1]["choices"] == []
    sources = [c["event"] for c in chunks if "event" in c]
    assert len(sources) == 1
    source = sources[0]
    assert source["type"] == "source"  # type: ignore[index]
    assert BOATS in source["data"]["document"][0]  # type: ignore[index]
    assert source["data"]["metadata"][0]["file"] == "boats.md"  # type: ignore[index]
    text = "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in with_choices  # type: ignore[index]
    )
    assert text.startswith(RAG_REPLY) and "Sources:" in text


def test_no_usage_chunk_unless_asked(serve: Serve) -> None:
    server = serve()
    events = sse(server.url, {"model": "docqa", "messages": ASK, "stream": True})
    assert not any(isinstance(e, dict) and "usage" in e for e in events)


def test_openai_client_streams_pieces_and_the_whole_message_has_annotations(
    serve: Serve,
) -> None:
    """A stream carries no ``url_citation`` annotations: Open WebUI would keep each as a second
    copy of its source (see docqa.server.citations); the whole message has them."""
    server = serve()
    stream = client(server.url).chat.completions.create(
        model="docqa",
        messages=ASK,
        stream=True,  # type: ignore[arg-type]
    )
    pieces, notes = [], []
    for chunk in stream:
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            notes += getattr(choice.delta, "annotations", None) or []
    assert len([p for p in pieces if p]) > 3  # word by word, not one block
    assert "".join(pieces).startswith(RAG_REPLY)
    assert notes == []


def test_real_client_quirks_are_accepted(serve: Serve) -> None:
    """LangChain JS sends model "" without max_tokens; LM Studio curls send max_tokens -1."""
    server = serve()
    headers = {"Authorization": "Bearer lm-studio"}
    for extra in ({"model": ""}, {"model": "docqa", "max_tokens": -1}, {"model": "docqa:latest"}):
        response = httpx.post(
            f"{server.url}/v1/chat/completions", json={"messages": ASK, **extra}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"].startswith(RAG_REPLY)


def test_baseline_model_answers_without_documents(serve: Serve) -> None:
    llm = ScriptedLLM(default=reply)
    server = serve(llm)
    result = client(server.url).chat.completions.create(
        model="docqa-baseline/scripted-1",
        messages=ASK,  # type: ignore[arg-type]
    )
    assert result.choices[0].message.content == BASE_REPLY
    assert llm.calls[-1][0].content.startswith(prompts.BASELINE_SYSTEM)
    assert BOATS not in llm.calls[-1][-1].content


def test_client_system_message_is_added_to_the_citation_rules(serve: Serve) -> None:
    llm = ScriptedLLM(default=reply)
    server = serve(llm)
    messages = [{"role": "system", "content": "Answer like a pirate."}, *ASK]
    client(server.url).chat.completions.create(model="docqa", messages=messages)  # type: ignore[arg-type]
    system = llm.calls[-1][0].content
    assert system.startswith(prompts.RAG_SYSTEM)
    assert system.endswith("Answer like a pirate.")


def test_earlier_turns_are_a_conversation(serve: Serve) -> None:
    llm = ScriptedLLM(default=reply)
    server = serve(llm)
    first = client(server.url).chat.completions.create(model="docqa", messages=ASK)  # type: ignore[arg-type]
    said = first.choices[0].message.content or ""
    follow = [
        *ASK,
        {"role": "assistant", "content": said},
        {"role": "user", "content": "How long is it?"},
    ]
    client(server.url).chat.completions.create(model="docqa", messages=follow)  # type: ignore[arg-type]
    condense, answer = llm.calls[-2], llm.calls[-1]
    assert condense[0].content == prompts.CONDENSE_SYSTEM
    # the answer prompt holds the earlier turn without its Sources block and [n] markers
    assert [m.role for m in answer] == ["system", "user", "assistant", "user"]
    assert answer[2].content == "The station owns two boats."
    assert answer[-1].content.endswith("Question: How long is it?")


def test_abstention_has_no_sources(serve: Serve, corpus: tuple) -> None:
    settings, _ = corpus
    server = serve(settings_=settings.with_(relevance_floor=0.99))
    result = client(server.url).chat.completions.create(model="docqa", messages=ASK)  # type: ignore[arg-type]
    message = result.choices[0].message
    assert message.content == prompts.ABSTENTION["en"]
    assert not message.annotations


def test_errors_are_openai_errors_with_docqa_messages(serve: Serve) -> None:
    server = serve()
    with pytest.raises(openai.NotFoundError) as missing:
        client(server.url).chat.completions.create(model="gpt-4", messages=ASK)  # type: ignore[arg-type]
    assert missing.value.status_code == 404
    assert "model 'gpt-4' is not served here" in str(missing.value)
    with pytest.raises(openai.BadRequestError) as bad:
        client(server.url).chat.completions.create(
            model="docqa",
            messages=[{"role": "assistant", "content": "hi"}],  # type: ignore[list-item]
        )
    assert "the last message must be the user's question" in str(bad.value)


def test_a_failing_backend_is_a_502_with_its_message(serve: Serve) -> None:
    from docqa.errors import LLMError

    def broken(messages: object) -> str:
        raise LLMError("Ollama at http://x failed: out of memory")

    server = serve(ScriptedLLM(default=broken))
    with pytest.raises(openai.APIStatusError) as failed:
        client(server.url).chat.completions.create(model="docqa", messages=ASK)  # type: ignore[arg-type]
    assert failed.value.status_code == 502
    assert "out of memory" in str(failed.value)
