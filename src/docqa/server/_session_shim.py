"""TEMPORARY stand-in for docqa.session.Session until the restructuring lands (then removed)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from docqa import embedding
from docqa import llm as backends
from docqa.config import Settings, store_path
from docqa.types import Comparison, Hit, IngestReport, StoreStatus

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.llm import LLM
    from docqa.stores import Store


class Session:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._embedder, self._llm, self.store = embedder, llm, store
        self._others: dict[str, LLM] = {}
        self._lock = threading.Lock()
        self.backend_warning: str | None = None

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = embedding.make_embedder(self.settings)
            return self._embedder

    @property
    def llm(self) -> LLM:
        with self._lock:
            if self._llm is None:
                backend, self.backend_warning = backends.resolve_backend(self.settings)
                self._llm = backends.make_llm(self.settings, backend)
            return self._llm

    def llm_for(self, model: str) -> LLM:
        llm = self.llm
        if model in ("", llm.model):
            return llm
        with self._lock:
            if model not in self._others:
                self._others[model] = backends.make_llm(
                    self.settings.with_(model=model), llm.backend
                )
            return self._others[model]

    def search(self, query: str, **kw: Any) -> list[Hit]:
        from docqa.retrieval import search

        return search(query, self.settings, embedder=self.embedder, store=self.store, **kw)

    def compare(
        self,
        question: str,
        *,
        llm: LLM | None = None,
        settings: Settings | None = None,
        files: Sequence[str] | None = None,
    ) -> Comparison:
        from docqa.answering import compare

        return compare(
            question,
            settings or self.settings,
            llm=llm or self.llm,
            embedder=self.embedder,
            store=self.store,
            files=files,
        )

    def ingest(self, path: str, **kw: Any) -> IngestReport:
        from docqa.ingestion import ingest

        return ingest(path, self.settings, embedder=self.embedder, **kw)

    def status(self) -> StoreStatus:
        from docqa.api import status

        return status(self.settings)

    def store_dir(self) -> Any:
        return store_path(self.settings, create=True)

    def close(self) -> None:
        for llm in self._others.values():
            llm.close()
        if self._llm is not None:
            self._llm.close()
