"""The wire formats of docqa's two model faces, as pydantic models and nothing else.

Requests are parsed leniently, as real clients send them: unknown fields are ignored (clients
add their own), ``model`` may be empty (LangChain JS), ``max_tokens`` may be ``-1`` or absent
(LM Studio-style curls, LangChain's ``maxTokens: -1``) and message content may be a string or a
list of OpenAI content parts. Responses are built as plain dicts by :mod:`docqa.server.openai`
and :mod:`docqa.server.ollama`, following the shapes documented here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _text(content: Any) -> str:
    """The text of a message content: a string, or the text parts of an OpenAI parts list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") in {"text", "input_text"}
        ]
        return "\n".join(parts)
    raise ValueError("message content must be a string or a list of content parts")


class WireMessage(_Lenient):
    """One chat message as clients send it (OpenAI and Ollama alike)."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str = ""

    @field_validator("content", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> str:
        return _text(value)


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(_Lenient):
    """``POST /v1/chat/completions``."""

    model: str = ""
    messages: list[WireMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    user: str | None = None


class OllamaChatRequest(_Lenient):
    """``POST /api/chat``: Ollama streams unless ``stream`` is false."""

    model: str = ""
    messages: list[WireMessage] = Field(min_length=1)
    stream: bool = True
    options: dict[str, Any] | None = None
    keep_alive: str | int | float | None = None


class OllamaGenerateRequest(_Lenient):
    """``POST /api/generate``: one prompt, an optional system prompt."""

    model: str = ""
    prompt: str = ""
    system: str | None = None
    stream: bool = True
    options: dict[str, Any] | None = None
    keep_alive: str | int | float | None = None


class OllamaShowRequest(_Lenient):
    """``POST /api/show``: older clients send ``name``, newer ones ``model``."""

    model: str = ""
    name: str = ""

    @property
    def wanted(self) -> str:
        return self.model or self.name


class SearchRequest(_Lenient):
    """``POST /docqa/search`` (the page's search-only box)."""

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=8, ge=1, le=50)


class CompareRequest(_Lenient):
    """``POST /docqa/compare``: one question to one or more models, bare and with documents."""

    question: str = Field(min_length=1, max_length=8000)
    models: list[str] = Field(default_factory=list, max_length=4)
    system: str = Field(default="", max_length=8000)
    preset: str = ""


class IngestRequest(_Lenient):
    """``POST /docqa/ingest``: a file or folder on the server's machine."""

    path: str = Field(min_length=1, max_length=4096)
