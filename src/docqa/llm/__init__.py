"""The language-model backends: Ollama, OpenAI-compatible servers and in-process GGUF.

One module per backend, each the same shape (a class with ``chat``, ``count_tokens``,
``list_models`` and ``close``, see :class:`~docqa.llm.base.LLM`): :mod:`~docqa.llm.ollama`,
:mod:`~docqa.llm.openai`, :mod:`~docqa.llm.gguf`; :mod:`~docqa.llm.choice` picks one.
Only ``httpx`` and ``ollama`` (both light) are imported with this package; ``xllamacpp`` is
imported by :class:`GgufLLM` alone.
"""

from docqa.llm.base import LLM, Completion, Message, Role, TokenCallback
from docqa.llm.choice import make_llm, resolve_backend
from docqa.llm.gguf import SMOLLM2_FILE, GgufLLM, auto_threads, default_gguf, gguf_file
from docqa.llm.ollama import OLLAMA_URL, OllamaLLM, probe_ollama
from docqa.llm.openai import OPENAI_URL, OpenAILLM
from docqa.llm.stopping import Cancelled, check_stop, stop_event, stop_on

__all__ = [
    "LLM",
    "Cancelled",
    "OLLAMA_URL",
    "OPENAI_URL",
    "SMOLLM2_FILE",
    "Completion",
    "GgufLLM",
    "Message",
    "OllamaLLM",
    "OpenAILLM",
    "Role",
    "TokenCallback",
    "auto_threads",
    "check_stop",
    "default_gguf",
    "gguf_file",
    "make_llm",
    "probe_ollama",
    "resolve_backend",
    "stop_event",
    "stop_on",
]
