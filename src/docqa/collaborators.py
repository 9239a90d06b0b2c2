"""What the stages need from the holder of their collaborators (:class:`docqa.session.Session`).

Answering, evaluation and the LlamaIndex adapter are written against this protocol, so they
neither build models nor open stores themselves, and tests can hand them any holder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from docqa.config import Settings
    from docqa.embedding import Embedder
    from docqa.llm import LLM
    from docqa.stores import SearchMode, Store
    from docqa.types import Hit


class Collaborators(Protocol):
    """Settings, the embedder, the LLM and the store, each built once on first use."""

    settings: Settings
    backend_warning: str | None

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use."""

    @property
    def backend(self) -> str:
        """The resolved LLM backend (sets ``backend_warning`` on an ``auto`` fallback)."""

    @property
    def llm(self) -> LLM:
        """The language model, built on first use."""

    def search(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: SearchMode | None = None,
        files: Sequence[str] | None = None,
        where: Mapping[str, str | Sequence[str]] | None = None,
        settings: Settings | None = None,
    ) -> list[Hit]:
        """Top-``k`` hits for ``question`` (``settings``: other retrieval knobs for this call)."""

    def open_store(self) -> AbstractContextManager[Store]:
        """The store, open for a ``with`` block."""
