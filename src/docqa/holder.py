"""The collaborators a :class:`~docqa.session.Session` builds on first use and holds: the
store folder, the embedder, the LLM (and others of the same backend by model name), the store
and the manifest. :class:`Holder` is the session's base; the session sets up what it holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from docqa import factories as seam
from docqa.config import Settings, store_path

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.factories import Factories
    from docqa.lease import StoreLease
    from docqa.llm import LLM
    from docqa.manifest import Manifest
    from docqa.stores import Store


class Holder:
    """What a session holds, built lazily once and reused (the state is set by
    :class:`docqa.session.Session`, which also closes it)."""

    settings: Settings
    backend_warning: str | None
    _factories: Factories | None
    _lock: threading.RLock
    _embedder: Embedder | None
    _llm: LLM | None
    _backend: str | None
    _named: dict[str, LLM]
    _given_store: Store | None
    _lease: StoreLease
    _store_dir: Path | None

    @property
    def factories(self) -> Factories:
        """How this session builds what it was not given."""
        return self._factories if self._factories is not None else seam.active

    @property
    def store_dir(self) -> Path:
        """The store folder, found once.

        Raises:
            NoStoreError: there is no store here or in a parent folder.
        """
        with self._lock:
            if self._store_dir is None:
                self._store_dir = store_path(self.settings, create=False)
            return self._store_dir

    def make_store_dir(self) -> Path:
        """The store folder, made (and marked) when there is none."""
        with self._lock:
            if self._store_dir is None:
                self._store_dir = store_path(self.settings, create=True)
            return self._store_dir

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self.factories.make_embedder(self.settings)
            return self._embedder

    def embedder_identity(self) -> tuple[str, int, str]:
        """``(model name, dim, id)`` of the embedder, without loading it when not loaded."""
        with self._lock:
            if self._embedder is not None:
                info = self._embedder.info
                return info.name, info.dim, self._embedder.id
        return self.factories.embedder_identity(self.settings)

    @property
    def backend(self) -> str:
        """The LLM backend the settings resolve to (probed once); sets :attr:`backend_warning`."""
        with self._lock:
            if self._backend is None:
                self._backend, self.backend_warning = self.factories.resolve_backend(self.settings)
            return self._backend

    @property
    def llm(self) -> LLM:
        """The language model, built on first use (``auto`` probes for Ollama once)."""
        with self._lock:
            if self._llm is None:
                self._llm = self.factories.make_llm(self.settings, self.backend)
            return self._llm

    def llm_for(self, model: str | None) -> LLM:
        """The same backend with another model (a model picker); ``None``, the configured model
        or the name the built :attr:`llm` gives itself (a GGUF file's): :attr:`llm`."""
        built = self._llm.model if self._llm is not None else None
        if model is None or model in (self.settings.model, built):
            return self.llm
        with self._lock:
            if model not in self._named:
                backend = self.backend
                self._named[model] = self.factories.make_llm(
                    self.settings.with_(model=model), backend
                )
            return self._named[model]

    def _open_store(self) -> Store:
        return self.factories.open_store(self.settings, self.store_dir)

    @contextmanager
    def open_store(self) -> Iterator[Store]:
        """The store, open for the ``with`` block and kept open while calls keep coming (see
        :mod:`docqa.lease`); a store given to the session is yielded as it is."""
        if self._given_store is not None:
            yield self._given_store
            return
        with self._lease.use() as store:
            yield store

    @contextmanager
    def open_manifest(self, *, create: bool = False) -> Iterator[Manifest]:
        """The store's manifest, open for the ``with`` block (``create``: make the store)."""
        from docqa.manifest import Manifest

        manifest = Manifest(self.make_store_dir() if create else self.store_dir)
        try:
            yield manifest
        finally:
            manifest.close()
