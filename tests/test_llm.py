"""Fast tests of the LLM backends against fake HTTP servers (pytest-httpx).

The fake responses follow the documented wire formats: Ollama's NDJSON stream of
``{"message": {...}, "done": false}`` lines closed by a ``done: true`` line with the counts,
and OpenAI's server-sent events ending with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from docqa.config import Settings
from docqa.errors import ConfigError, LLMError, LLMTimeoutError, LLMUnavailableError
from docqa.llm import (
    SMOLLM2_FILE,
    GgufLLM,
    Message,
    OllamaLLM,
    OpenAILLM,
    gguf_file,
    make_llm,
    resolve_backend,
)

OLLAMA = "http://localhost:11434"
OPENAI = "http://127.0.0.1:1234/v1"
MESSAGES = [Message("system", "Answer from the context."), Message("user", "What is 2+2?")]
PIECES = ["Two", " plus", " two", " is", " four."]
CREATED = "2024-07-22T20:33:28.123648Z"


# --- fake wire formats ---------------------------------------------------------------------


def ollama_lines(pieces: list[str], *, done: bool = True) -> list[bytes]:
    """Ollama's /api/chat stream: one JSON object per line."""
    lines = [
        {
            "model": "mistral",
            "created_at": CREATED,
            "message": {"role": "assistant", "content": piece},
            "done": False,
        }
        for piece in pieces
    ]
    if done:
        lines.append(
            {
                "model": "mistral",
                "created_at": CREATED,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "total_duration": 4_883_583_458,
                "load_duration": 1_334_875,
                "prompt_eval_count": 26,
                "prompt_eval_duration": 342_546_000,
                "eval_count": 5,
                "eval_duration": 4_535_599_000,
            }
        )
    return [json.dumps(line).encode() + b"\n" for line in lines]


def sse_events(pieces: list[str], *, done: bool = True) -> list[bytes]:
    """An OpenAI chat.completion.chunk stream with usage (stream_options.include_usage)."""

    def chunk(delta: dict[str, str], finish: str | None, **extra: Any) -> bytes:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}]
        body: dict[str, Any] = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "local-model",
        }
        body |= {"choices": choices, **extra}
        return f"data: {json.dumps(body)}\n\n".encode()

    events = [chunk({"role": "assistant", "content": ""}, None)]
    events += [chunk({"content": piece}, None) for piece in pieces]
    if done:
        events.append(chunk({}, "stop"))
        usage = {"prompt_tokens": 26, "completion_tokens": 5, "total_tokens": 31}
        events.append(
            f"data: {json.dumps({'id': 'c1', 'choices': [], 'usage': usage})}\n\n".encode()
        )
        events.append(b"data: [DONE]\n\n")
    return events


def cut_after(parts: list[bytes]) -> Iterator[bytes]:
    """A body that breaks off like a dropped connection after ``parts``."""
    yield from parts
    raise httpx.RemoteProtocolError("peer closed connection without sending complete message")


class TrackedStream(httpx.SyncByteStream):
    """A response body that records whether the client closed it."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts

    def close(self) -> None:
        self.closed = True


def interrupt_on(n: int) -> Any:
    """An on_token callback that presses Ctrl-C at the n-th piece."""
    seen: list[str] = []

    def on_token(piece: str) -> None:
        seen.append(piece)
        if len(seen) == n:
            raise KeyboardInterrupt

    return on_token


def body_of(request: httpx.Request) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(request.content)
    return result


# --- Ollama --------------------------------------------------------------------------------


def test_ollama_streams_pieces_in_order_with_options_on_the_request(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        method="POST", url=f"{OLLAMA}/api/chat", stream=IteratorStream(ollama_lines(PIECES))
    )
    settings = Settings(
        llm="ollama", num_ctx=4096, max_tokens=64, temperature=0.2, seed=7, repeat_penalty=1.3
    )
    got: list[str] = []
    with OllamaLLM(settings) as llm:
        completion = llm.chat(MESSAGES, on_token=got.append)

    body = body_of(httpx_mock.get_requests()[0])
    assert body["model"] == "mistral"
    assert body["stream"] is True
    assert body["options"] == {
        "num_ctx": 4096,
        "num_predict": 64,
        "temperature": 0.2,
        "seed": 7,
        "repeat_penalty": 1.3,
    }
    assert body["keep_alive"] == "5m"
    assert body["messages"] == [
        {"role": "system", "content": "Answer from the context."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert got == PIECES
    assert completion.text == "Two plus two is four."
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (26, 5)
    assert completion.done_reason == "stop"
    assert (completion.backend, completion.model) == ("ollama", "mistral")
    assert completion.first_token_s is not None
    assert completion.seconds >= completion.first_token_s


def test_ollama_bare_number_keep_alive_is_sent_as_a_number(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{OLLAMA}/api/chat", stream=IteratorStream(ollama_lines(["x"])))
    with OllamaLLM(Settings(llm="ollama", keep_alive="-1")) as llm:
        llm.chat(MESSAGES)
    assert body_of(httpx_mock.get_requests()[0])["keep_alive"] == -1


def test_ollama_refused_says_start_ollama(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"))
    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(LLMUnavailableError) as err:
        llm.chat(MESSAGES)
    assert "ollama serve" in str(err.value)
    assert OLLAMA in str(err.value)


def test_ollama_missing_model_says_pull_it(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        status_code=404, json={"error": 'model "mistral" not found, try pulling it first'}
    )
    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(LLMUnavailableError) as err:
        llm.chat(MESSAGES)
    assert "`ollama pull mistral`" in str(err.value)


def test_ollama_timeout_names_the_setting(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    settings = Settings(llm="ollama", request_timeout_s=12)
    with OllamaLLM(settings) as llm, pytest.raises(LLMTimeoutError) as err:
        llm.chat(MESSAGES)
    assert "DOCQA_REQUEST_TIMEOUT_S" in str(err.value)
    assert "12s" in str(err.value)


def test_ollama_stream_without_done_line_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(stream=IteratorStream(ollama_lines(PIECES, done=False)))
    got: list[str] = []
    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(LLMError, match="ended early"):
        llm.chat(MESSAGES, on_token=got.append)
    assert got == PIECES


def test_ollama_connection_dropped_mid_stream_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(stream=IteratorStream(cut_after(ollama_lines(PIECES[:2], done=False))))
    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(LLMError, match="ended early"):
        llm.chat(MESSAGES)


def test_ollama_half_a_json_line_is_an_error(httpx_mock: HTTPXMock) -> None:
    lines = ollama_lines(PIECES[:2], done=False) + [b'{"model": "mistral", "mess']
    httpx_mock.add_response(stream=IteratorStream(lines))
    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(LLMError, match="ended early"):
        llm.chat(MESSAGES)


def test_ollama_error_line_mid_stream_is_reported(httpx_mock: HTTPXMock) -> None:
    lines = ollama_lines(PIECES[:1], done=False) + [b'{"error": "out of memory"}\n']
    httpx_mock.add_response(stream=IteratorStream(lines))
    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(LLMError, match="out of memory"):
        llm.chat(MESSAGES)


def test_ollama_ctrl_c_closes_the_response(httpx_mock: HTTPXMock) -> None:
    stream = TrackedStream(ollama_lines(PIECES))
    httpx_mock.add_callback(lambda request: httpx.Response(200, stream=stream))
    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(KeyboardInterrupt):
        llm.chat(MESSAGES, on_token=interrupt_on(2))
    assert stream.closed


def test_an_error_in_on_token_is_not_blamed_on_the_server(httpx_mock: HTTPXMock) -> None:
    # BrokenPipeError is a ConnectionError: it must not read as "no Ollama at ...".
    httpx_mock.add_response(stream=IteratorStream(ollama_lines(PIECES)))

    def broken_stdout(piece: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with OllamaLLM(Settings(llm="ollama")) as llm, pytest.raises(BrokenPipeError):
        llm.chat(MESSAGES, on_token=broken_stdout)


def tags(*names: str) -> dict[str, Any]:
    return {
        "models": [
            {"name": n, "model": n, "modified_at": CREATED, "size": 1, "digest": "ab"}
            for n in names
        ]
    }


@pytest.mark.parametrize(
    ("model", "listed", "expected"),
    [
        ("mistral", ["mistral:latest"], True),
        ("mistral:7b", ["mistral:7b", "llama3:latest"], True),
        ("mistral", ["mistral:7b"], False),
        ("mistral", ["llama3:latest"], False),
    ],
)
def test_ollama_available_matches_the_latest_tag(
    httpx_mock: HTTPXMock, model: str, listed: list[str], expected: bool
) -> None:
    httpx_mock.add_response(method="GET", url=f"{OLLAMA}/api/tags", json=tags(*listed))
    with OllamaLLM(Settings(llm="ollama", model=model)) as llm:
        assert llm.available() is expected


def test_ollama_not_available_when_refused(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=f"{OLLAMA}/api/tags")
    with OllamaLLM(Settings(llm="ollama")) as llm:
        assert llm.available() is False
        assert llm.count_tokens("anything") is None


# --- OpenAI-compatible ---------------------------------------------------------------------


def test_openai_streams_sse_with_max_tokens_and_usage(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST", url=f"{OPENAI}/chat/completions", stream=IteratorStream(sse_events(PIECES))
    )
    settings = Settings(
        llm="openai", model="local-model", max_tokens=32, llm_api_key="sk-test", seed=3
    )
    got: list[str] = []
    with OpenAILLM(settings) as llm:
        completion = llm.chat(MESSAGES, on_token=got.append)

    request = httpx_mock.get_requests()[0]
    body = body_of(request)
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert request.headers["Connection"] == "close"  # llama.cpp drops streamed connections
    assert body["model"] == "local-model"
    assert body["max_tokens"] == 32
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["seed"]) == (0.1, 3)
    assert body["messages"][1] == {"role": "user", "content": "What is 2+2?"}
    assert got == PIECES
    assert completion.text == "Two plus two is four."
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (26, 5)
    assert (completion.done_reason, completion.backend) == ("stop", "openai")
    assert completion.model == "local-model"


def test_openai_without_key_sends_no_authorization(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(stream=IteratorStream(sse_events(["hi"])))
    with OpenAILLM(Settings(llm="openai")) as llm:
        llm.chat(MESSAGES)
    assert "Authorization" not in httpx_mock.get_requests()[0].headers


def test_openai_refused_names_the_url_and_servers(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"))
    with OpenAILLM(Settings(llm="openai")) as llm, pytest.raises(LLMUnavailableError) as err:
        llm.chat(MESSAGES)
    assert OPENAI in str(err.value)
    assert "LM Studio" in str(err.value)


def test_openai_unknown_model(httpx_mock: HTTPXMock) -> None:
    error = {"message": "The model `gpt-x` does not exist", "code": "model_not_found"}
    httpx_mock.add_response(status_code=404, json={"error": error})
    with (
        OpenAILLM(Settings(llm="openai", model="gpt-x")) as llm,
        pytest.raises(LLMUnavailableError, match="model 'gpt-x' is not available"),
    ):
        llm.chat(MESSAGES)


def test_openai_url_without_v1_is_explained(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404, text="File Not Found")
    settings = Settings(llm="openai", llm_url="http://127.0.0.1:1234")
    with OpenAILLM(settings) as llm, pytest.raises(LLMUnavailableError, match="/v1"):
        llm.chat(MESSAGES)


def test_openai_rejected_key(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=401, json={"error": {"message": "Invalid API Key"}})
    with (
        OpenAILLM(Settings(llm="openai")) as llm,
        pytest.raises(LLMUnavailableError, match="DOCQA_LLM_API_KEY"),
    ):
        llm.chat(MESSAGES)


def test_openai_prompt_too_long_says_what_to_change(httpx_mock: HTTPXMock) -> None:
    message = "request (9000 tokens) exceeds the available context size (8192 tokens)"
    httpx_mock.add_response(status_code=400, json={"error": {"code": 400, "message": message}})
    with OpenAILLM(Settings(llm="openai")) as llm, pytest.raises(LLMError) as err:
        llm.chat(MESSAGES)
    assert "DOCQA_NUM_CTX" in str(err.value)
    assert "9000 tokens" in str(err.value)


def test_openai_timeout_names_the_setting(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    with (
        OpenAILLM(Settings(llm="openai")) as llm,
        pytest.raises(LLMTimeoutError, match="DOCQA_REQUEST_TIMEOUT_S"),
    ):
        llm.chat(MESSAGES)


def test_openai_stream_without_end_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(stream=IteratorStream(sse_events(PIECES, done=False)))
    with OpenAILLM(Settings(llm="openai")) as llm, pytest.raises(LLMError, match="ended early"):
        llm.chat(MESSAGES)


def test_openai_connection_dropped_mid_stream_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(stream=IteratorStream(cut_after(sse_events(PIECES, done=False))))
    got: list[str] = []
    with OpenAILLM(Settings(llm="openai")) as llm, pytest.raises(LLMError, match="ended early"):
        llm.chat(MESSAGES, on_token=got.append)
    assert got == PIECES


def test_openai_error_event_mid_stream_is_reported(httpx_mock: HTTPXMock) -> None:
    events = sse_events(PIECES[:1], done=False)
    events.append(b'error: {"code": 500, "message": "slot crashed"}\n\n')
    httpx_mock.add_response(stream=IteratorStream(events))
    with OpenAILLM(Settings(llm="openai")) as llm, pytest.raises(LLMError, match="slot crashed"):
        llm.chat(MESSAGES)


def test_openai_ctrl_c_closes_the_response(httpx_mock: HTTPXMock) -> None:
    stream = TrackedStream(sse_events(PIECES))
    httpx_mock.add_callback(lambda request: httpx.Response(200, stream=stream))
    with OpenAILLM(Settings(llm="openai")) as llm, pytest.raises(KeyboardInterrupt):
        llm.chat(MESSAGES, on_token=interrupt_on(1))
    assert stream.closed


def test_openai_counts_tokens_with_llama_cpp_tokenize(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="http://127.0.0.1:1234/tokenize", json={"tokens": [1, 2, 3]})
    with OpenAILLM(Settings(llm="openai")) as llm:
        assert llm.count_tokens("one two three") == 3
    assert body_of(httpx_mock.get_requests()[0]) == {
        "content": "one two three",
        "add_special": False,
    }


def test_openai_without_tokenize_counts_none_and_asks_once(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url="http://127.0.0.1:1234/tokenize", status_code=404)
    with OpenAILLM(Settings(llm="openai")) as llm:
        assert llm.count_tokens("a") is None
        assert llm.count_tokens("b") is None
    assert len(httpx_mock.get_requests()) == 1


# --- GGUF files ----------------------------------------------------------------------------


def test_missing_gguf_names_the_path_and_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "nope.gguf"
    with pytest.raises(LLMUnavailableError) as err:
        GgufLLM(Settings(llm="gguf", gguf=path))
    assert str(path) in str(err.value)
    assert "set DOCQA_GGUF to a .gguf file" in str(err.value)


def test_a_file_that_is_not_gguf_is_refused_before_loading(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(LLMUnavailableError, match="is not a GGUF file: set DOCQA_GGUF"):
        gguf_file(Settings(llm="gguf", gguf=path))


# --- choosing a backend --------------------------------------------------------------------


@pytest.fixture
def dummy_gguf(tmp_path: Path) -> Path:
    """A file that passes for a GGUF model as far as resolving goes (it is never loaded)."""
    path = tmp_path / SMOLLM2_FILE
    path.write_bytes(b"GGUF\x03\x00\x00\x00")
    return path


def test_auto_falls_back_to_gguf_with_a_warning_when_ollama_is_down(
    httpx_mock: HTTPXMock, dummy_gguf: Path
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=f"{OLLAMA}/api/tags")
    backend, warning = resolve_backend(Settings(gguf=dummy_gguf))
    assert backend == "gguf"
    assert warning is not None
    assert f"Ollama not reachable at {OLLAMA}" in warning
    assert SMOLLM2_FILE in warning
    assert "135M" in warning
    assert "`ollama serve` and `ollama pull mistral`" in warning
    assert "\n" not in warning


def test_auto_falls_back_when_the_model_is_not_pulled(
    httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    own = tmp_path / "qwen.gguf"
    own.write_bytes(b"GGUF")
    httpx_mock.add_response(url=f"{OLLAMA}/api/tags", json=tags("llama3:latest"))
    backend, warning = resolve_backend(Settings(gguf=own))
    assert backend == "gguf"
    assert warning is not None
    assert "model 'mistral' is not pulled" in warning
    assert "run `ollama pull mistral`" in warning
    assert "135M" not in warning


def test_auto_picks_ollama_when_it_has_the_model(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url="http://gpu-box:11434/api/tags", json=tags("mistral:latest"), is_reusable=True
    )
    settings = Settings(llm_url="http://gpu-box:11434")
    assert resolve_backend(settings) == ("ollama", None)
    llm = make_llm(settings)
    assert isinstance(llm, OllamaLLM)
    assert llm.url == "http://gpu-box:11434"
    llm.close()


def test_auto_with_nothing_to_answer_says_how_to_fix(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=f"{OLLAMA}/api/tags")
    with pytest.raises(LLMUnavailableError) as err:
        resolve_backend(Settings(gguf=tmp_path / "missing.gguf"))
    assert "ollama serve" in str(err.value)
    assert "DOCQA_GGUF" in str(err.value)


def test_explicit_backends_are_not_probed(httpx_mock: HTTPXMock) -> None:
    # No response is registered: any request would fail the test.
    for name in ("ollama", "openai", "gguf"):
        assert resolve_backend(Settings(llm=name)) == (name, None)
    llm = make_llm(Settings(llm="openai"), backend="openai")
    assert isinstance(llm, OpenAILLM)
    llm.close()


def test_unknown_backend_name() -> None:
    with pytest.raises(ConfigError, match="unknown LLM backend"):
        make_llm(Settings(), backend="claude")


# --- model listing -----------------------------------------------------------------------------


def test_ollama_lists_its_pulled_models() -> None:
    from .ollama_server import OllamaTestServer

    with (
        OllamaTestServer(None, model="smollm2") as server,
        OllamaLLM(Settings(llm="ollama", llm_url=server.url, model="smollm2")) as llm,
    ):
        assert llm.list_models() == ["smollm2:latest"]
    assert server.received == []  # a GET: nothing to record, nothing generated


def test_ollama_lists_nothing_when_refused(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=f"{OLLAMA}/api/tags")
    with OllamaLLM(Settings(llm="ollama")) as llm:
        assert llm.list_models() == []


def test_openai_lists_the_server_ids_with_its_key(httpx_mock: HTTPXMock) -> None:
    body = {"object": "list", "data": [{"id": "qwen2.5-7b"}, {"id": "llama-3.2-3b"}, {"x": 1}]}
    httpx_mock.add_response(
        method="GET",
        url=f"{OPENAI}/models",
        json=body,
        match_headers={"Authorization": "Bearer sk-local"},
    )
    settings = Settings(llm="openai", llm_url=OPENAI, model="qwen2.5-7b", llm_api_key="sk-local")
    with OpenAILLM(settings) as llm:
        assert llm.list_models() == ["qwen2.5-7b", "llama-3.2-3b"]


@pytest.mark.parametrize("status", [404, 500])
def test_openai_lists_nothing_from_a_server_without_a_listing(
    httpx_mock: HTTPXMock, status: int
) -> None:
    httpx_mock.add_response(method="GET", url=f"{OPENAI}/models", status_code=status, text="no")
    with OpenAILLM(Settings(llm="openai", llm_url=OPENAI, model="m")) as llm:
        assert llm.list_models() == []
