"""Choosing a backend: :func:`resolve_backend` (``auto``: Ollama when it answers, else GGUF) and
:func:`make_llm`."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

from docqa.config import Settings
from docqa.errors import ConfigError, LLMUnavailableError
from docqa.llm.base import LLM
from docqa.llm.gguf import SMOLLM2_FILE, GgufLLM, default_gguf
from docqa.llm.ollama import OLLAMA_URL, OllamaLLM, probe_ollama
from docqa.llm.openai import OpenAILLM

logger = logging.getLogger(__name__)


def _fallback_warning(reason: str, fix: str, path: Path) -> str:
    warning = f"{reason}: answering with {path.name} in-process"
    if path.name == SMOLLM2_FILE:
        warning += " — a 135M model only shows the pipeline"
    return f"{warning}; {fix} for real answers"


def resolve_backend(settings: Settings) -> tuple[str, str | None]:
    """Pick the backend ``settings.llm`` means, and a one-line warning when ``auto`` falls back.

    ``auto`` is Ollama when it answers at the URL and has the model, else the installed GGUF
    model in-process. Nothing listening at the URL is noticed within a second; a server that
    accepts the connection gets ``request_timeout_s`` to answer, and one that does not is named
    in an error (not skipped for the in-process model).

    Args:
        settings: Uses ``llm``, ``llm_url``, ``model`` and ``gguf``.

    Returns:
        ``(backend, warning)``; ``warning`` is ``None`` unless ``auto`` fell back.

    Raises:
        LLMUnavailableError: ``auto`` found neither Ollama with the model nor a GGUF model.
        LLMTimeoutError: A server at the URL accepted the probe but never answered.
    """
    if settings.llm != "auto":
        return settings.llm, None
    problem = probe_ollama(
        settings.llm_url or OLLAMA_URL, settings.model, settings.request_timeout_s
    )
    if problem is None:
        return "ollama", None
    reason, fix = problem
    path = default_gguf(settings)
    if path is None or not path.is_file() or importlib.util.find_spec("xllamacpp") is None:
        raise LLMUnavailableError(
            f"{reason} and no GGUF model to fall back on: {fix}, or set DOCQA_GGUF to a .gguf file"
        )
    return "gguf", _fallback_warning(reason, fix, path)


_BACKENDS: dict[str, Callable[[Settings], LLM]] = {
    "ollama": OllamaLLM,
    "openai": OpenAILLM,
    "gguf": GgufLLM,
}


def make_llm(settings: Settings, backend: str | None = None) -> LLM:
    """Build the language model the settings ask for.

    Args:
        settings: All LLM settings.
        backend: A backend already chosen by :func:`resolve_backend` (the CLI shows its
            warning); ``None`` resolves here and logs the warning.

    Returns:
        A ready backend; close it when done.

    Raises:
        LLMUnavailableError: No usable backend (see :func:`resolve_backend`, :class:`GgufLLM`).
        ConfigError: An unknown backend name.
    """
    if backend is None:
        backend, warning = resolve_backend(settings)
        if warning:
            logger.warning(warning)
    try:
        factory = _BACKENDS[backend]
    except KeyError:
        raise ConfigError(
            f"unknown LLM backend {backend!r}: use one of {', '.join(_BACKENDS)}"
        ) from None
    return factory(settings)
