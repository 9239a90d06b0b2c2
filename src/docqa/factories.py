"""How a :class:`~docqa.session.Session` builds the collaborators it was not given: the one seam
through which tests and host applications substitute their own, passed as
``Session(factories=...)``; :data:`active` is what the sessions docqa makes itself (the public
functions', the CLI's) use.

The defaults import their module on first use, so importing this one loads nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from docqa.config import Settings

if TYPE_CHECKING:
    from docqa.embedding import Embedder
    from docqa.llm import LLM
    from docqa.stores import Store


def _make_embedder(settings: Settings) -> Embedder:
    from docqa.embedding import make_embedder

    return make_embedder(settings)


def _embedder_identity(settings: Settings) -> tuple[str, int, str]:
    from docqa.embedding import embedder_id, resolve_model

    info = resolve_model(settings)
    return info.name, info.dim, embedder_id(settings, info)


def _resolve_backend(settings: Settings) -> tuple[str, str | None]:
    from docqa.llm import resolve_backend

    return resolve_backend(settings)


def _make_llm(settings: Settings, backend: str) -> LLM:
    from docqa.llm import make_llm

    return make_llm(settings, backend)


def _open_store(settings: Settings, folder: Path, *, writer: bool = False) -> Store:
    from docqa.stores import open_store

    return open_store(settings, folder, writer=writer)


class StoreOpener(Protocol):
    """``(settings, folder, writer=False) -> Store``: ``writer`` for ingest and reset."""

    def __call__(self, settings: Settings, folder: Path, *, writer: bool = False) -> Store: ...


@dataclass(frozen=True)
class Factories:
    """How a session builds what it was not given. Replace one with :func:`dataclasses.replace`.

    Attributes:
        make_embedder: Loads the embedder the settings name.
        embedder_identity: ``(model name, dim, embedder id)`` without loading the model (ingest
            checks the store and skips unchanged files before paying for the load).
        resolve_backend: ``(backend, fallback warning)`` for ``settings.llm``.
        make_llm: Builds the LLM on a resolved backend.
        open_store: The store adapter for the settings and store folder (unopened);
            ``writer=True`` for ingest and reset (see :func:`docqa.stores.open_store`).
    """

    make_embedder: Callable[[Settings], Embedder] = _make_embedder
    embedder_identity: Callable[[Settings], tuple[str, int, str]] = _embedder_identity
    resolve_backend: Callable[[Settings], tuple[str, str | None]] = _resolve_backend
    make_llm: Callable[[Settings, str], LLM] = _make_llm
    open_store: StoreOpener = _open_store


active = Factories()
"""The factories of every session made without ``factories=`` (those of ``docqa.ask`` & co. and
the CLI), read each time a collaborator is built. Tests of those paths swap it
(``tests.fakes.install_factories``); a session a test makes itself is given its own."""
