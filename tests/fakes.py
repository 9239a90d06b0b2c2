"""Behaving fakes for docqa's slow collaborators, shared by the fast tests."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

from docqa.embedding import ModelInfo, default_model_dir
from docqa.factories import Factories
from docqa.llm import Completion, Message, TokenCallback
from docqa.types import TokenUsage

# --- the boats corpus -------------------------------------------------------------------------

BOATS = "The station owns two boats: the Goéland, a launch with a 90 hp engine, and the Pétrel."
COLD = "The cold room is kept at 4 degrees. Unlabelled samples are discarded every Friday."


def write_corpus(folder: Path, more: Mapping[str, str] | None = None) -> Path:
    """The boats corpus written in ``folder`` (made): ``boats.md`` (:data:`BOATS`) and
    ``cold.md`` (:data:`COLD`), each under its heading, then ``more`` files (name: text)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "boats.md").write_text(f"# Boats\n\n{BOATS}\n", encoding="utf-8")
    (folder / "cold.md").write_text(f"# Cold room\n\n{COLD}\n", encoding="utf-8")
    for name, text in (more or {}).items():
        (folder / name).write_text(f"{text}\n", encoding="utf-8")
    return folder


# --- HashEmbedder -----------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _gt_tokenizer_file() -> Path:
    """The real MiniLM tokenizer.json, so chunking with the fake sizes chunks as in production."""
    folder = default_model_dir()
    return (folder if folder is not None else Path(".")) / "tokenizer.json"


class HashEmbedder:
    """A fake embedder: hashed bag of lowercased words, L2-normalised; texts sharing words score
    higher. Deterministic across processes (blake2b, not Python's salted ``hash``).

    Attributes:
        calls: How many embed_documents / embed_query calls were made.
        embedded: How many texts were embedded in all (documents and queries).
    """

    backend = "hash"

    def __init__(self, dim: int = 64, name: str = "hash-bow", max_tokens: int = 256) -> None:
        self.info = ModelInfo(
            name=name,
            path=Path("."),
            dim=dim,
            max_tokens=max_tokens,
            tokenizer_file=_gt_tokenizer_file(),
            query_prefix="",
            document_prefix="",
        )
        self.calls = 0
        self.embedded = 0

    @property
    def id(self) -> str:
        """``name:backend:dim``, as the real embedders."""
        return f"{self.info.name}:{self.backend}:{self.info.dim}"

    def _vector(self, text: str) -> NDArray[np.float32]:
        vector = np.zeros(self.info.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest, "little") % self.info.dim] += 1.0
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0  # a text without words still gets a unit vector
            return vector
        return vector / norm

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``len(texts) x dim`` unit vectors."""
        self.calls += 1
        self.embedded += len(texts)
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        return np.stack([self._vector(text) for text in texts])

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """One unit vector."""
        self.calls += 1
        self.embedded += 1
        return self._vector(text)


# --- ScriptedLLM ------------------------------------------------------------------------------

Reply = Union[str, Callable[[Sequence[Message]], str]]


class ScriptedLLM:
    """A fake :class:`docqa.llm.LLM`: answers with queued replies and records every prompt.

    Replies stream word by word to ``on_token``. A reply may be a function of the messages,
    for calls whose order is not fixed (``compare`` on a concurrent backend).

    Attributes:
        models: What :meth:`list_models` answers (default: ``[model]``).
        calls: Every message list received, in order.
        streamed: How many pieces were handed to ``on_token`` in all.
        closed: Whether :meth:`close` was called.
    """

    def __init__(
        self,
        *replies: Reply,
        context_window: int = 4096,
        exact_tokens: bool = True,
        backend: str = "scripted",
        model: str = "scripted-1",
        prompt_tokens: Callable[[Sequence[Message]], int | None] | None = None,
        default: Reply | None = None,
        models: Sequence[str] = (),
    ) -> None:
        self.backend = backend
        self.model = model
        self.models = list(models) or [model]
        self.context_window = context_window
        self.exact_tokens = exact_tokens
        self.calls: list[list[Message]] = []
        self.streamed = 0
        self.closed = False
        self._replies: deque[Reply] = deque(replies)
        self._default = default
        self._prompt_tokens = prompt_tokens
        self._lock = threading.Lock()

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies for the next calls."""
        self._replies.extend(replies)

    def list_models(self) -> list[str]:
        """The models it was told it serves (default: its own)."""
        return list(self.models)

    def count_tokens(self, text: str) -> int | None:
        """Words, when ``exact_tokens``; else ``None`` (the backend cannot count)."""
        return len(text.split()) if self.exact_tokens else None

    def _next(self, messages: list[Message]) -> str:
        with self._lock:
            self.calls.append(messages)
            if self._replies:
                reply = self._replies.popleft()
            elif self._default is not None:
                reply = self._default
            else:
                raise AssertionError(f"ScriptedLLM has no reply queued for call {len(self.calls)}")
        return reply(messages) if callable(reply) else reply

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        """Stream the next reply word by word; usage counts words (prompt: every content)."""
        start = time.perf_counter()
        text = self._next(list(messages))
        first: float | None = None
        for piece in re.findall(r"\s*\S+", text):
            first = first if first is not None else time.perf_counter() - start
            self.streamed += 1
            if on_token is not None:
                on_token(piece)
        prompt = (
            self._prompt_tokens(messages)
            if self._prompt_tokens is not None
            else sum(len(m.content.split()) for m in messages)
        )
        return Completion(
            text=text,
            model=self.model,
            backend=self.backend,
            usage=TokenUsage(prompt, len(text.split())),
            seconds=time.perf_counter() - start,
            first_token_s=first,
            done_reason="stop",
        )

    def close(self) -> None:
        """Remember that it was closed."""
        self.closed = True


# --- the seam: what a docqa session builds -----------------------------------------------------


def factories_with(**changes: Any) -> Factories:
    """The default factories with these replaced, for ``Session(factories=...)``.

    Keywords are fields of :class:`docqa.factories.Factories`: ``make_embedder``,
    ``embedder_identity``, ``resolve_backend``, ``make_llm``, ``open_store``.
    """
    return replace(Factories(), **changes)


def hash_embedder(emb: HashEmbedder) -> dict[str, Any]:
    """The factory fields that build ``emb`` (and tell its identity without building it)."""
    return {
        "make_embedder": lambda settings: emb,
        "embedder_identity": lambda settings: (emb.info.name, emb.info.dim, emb.id),
    }


def scripted_llm(
    make: Callable[[Any, str], Any],
    resolve: Callable[[Any], tuple[str, str | None]] | None = None,
) -> dict[str, Any]:
    """The factory fields that build the LLM with ``make(settings, backend)``, the backend chosen
    by ``resolve(settings)`` (default: ``settings.llm`` as is, no warning)."""
    return {
        "make_llm": make,
        "resolve_backend": resolve or (lambda settings: (settings.llm, None)),
    }


def install_factories(monkeypatch: Any, **changes: Any) -> None:
    """Make the sessions docqa makes itself (the CLI's, the public functions') build with these
    factories: :data:`docqa.factories.active`, swapped for the test. A session the test makes
    is given :func:`factories_with` instead."""
    from docqa import factories as seam

    monkeypatch.setattr(seam, "active", replace(seam.active, **changes))


def install_hash_embedder(monkeypatch: Any, emb: HashEmbedder | None = None) -> HashEmbedder:
    """Make the sessions docqa makes itself build a :class:`HashEmbedder`."""
    fake = emb or HashEmbedder()
    install_factories(monkeypatch, **hash_embedder(fake))
    return fake


def install_llm(
    monkeypatch: Any,
    make: Callable[[Any, str], Any],
    resolve: Callable[[Any], tuple[str, str | None]] | None = None,
) -> None:
    """Make the sessions docqa makes itself build their LLM as :func:`scripted_llm` says."""
    install_factories(monkeypatch, **scripted_llm(make, resolve))
