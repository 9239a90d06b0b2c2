"""The one holder of docqa's collaborators: settings, store, embedder, LLM and manifest.

A :class:`Session` builds each collaborator from its settings the first time it is needed and
keeps it: the embedder (and its tokenizer) and the LLM load once, and a loop of questions pays
only for the questions. The embedded store is the exception: it locks its folder while open, so
the session opens it on demand, keeps it open while calls keep coming and releases it after
:data:`STORE_IDLE_S` seconds without one (and at :meth:`Session.close`): a notebook never locks
the terminal out for long.

The public functions (``docqa.search``, ``docqa.ask``...) use :func:`get_session`, one session
per settings per process; given a collaborator (``embedder=``, ``llm=``, ``store=``) they use a
throwaway session instead, closed when the call ends.

    >>> with docqa.Session() as session:
    ...     session.search("harbour")
    ...     session.ask("How many boats?")

Collaborators not given are built by :data:`factories`, the one seam through which tests (and
host applications) substitute their own: ``monkeypatch.setattr(docqa.session, "factories",
replace(docqa.session.factories, make_embedder=...))``.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from docqa.chat import Conversation
from docqa.config import Settings, store_path

if TYPE_CHECKING:
    from llama_index.core.query_engine import RetrieverQueryEngine

    from docqa.answering import Answerer, AnswerStream
    from docqa.embedding import Embedder
    from docqa.evaluation import EvalReport, Progress
    from docqa.ingestion import Progress as IngestProgress
    from docqa.llm import LLM, Message
    from docqa.manifest import Manifest
    from docqa.stores import SearchMode, Store
    from docqa.types import Answer, Comparison, Hit, IngestReport, StoreStatus

STORE_IDLE_S = 2.0
"""Seconds a cached session keeps the embedded store open after its last use."""


# --- how collaborators are built (the seam) ----------------------------------------------------


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


def _open_store(settings: Settings, folder: Path) -> Store:
    from docqa.stores import open_store

    return open_store(settings, folder)


@dataclass(frozen=True)
class Factories:
    """How a session builds what it was not given. Replace one with :func:`dataclasses.replace`.

    Attributes:
        make_embedder: Loads the embedder the settings name.
        embedder_identity: ``(model name, dim, embedder id)`` without loading the model (ingest
            checks the store and skips unchanged files before paying for the load).
        resolve_backend: ``(backend, fallback warning)`` for ``settings.llm``.
        make_llm: Builds the LLM on a resolved backend.
        open_store: The store adapter for the settings and store folder (unopened).
    """

    make_embedder: Callable[[Settings], Embedder] = _make_embedder
    embedder_identity: Callable[[Settings], tuple[str, int, str]] = _embedder_identity
    resolve_backend: Callable[[Settings], tuple[str, str | None]] = _resolve_backend
    make_llm: Callable[[Settings, str], LLM] = _make_llm
    open_store: Callable[[Settings, Path], Store] = _open_store


factories = Factories()
"""The factories every session uses (read when a collaborator is built)."""


# --- the session -------------------------------------------------------------------------------


class Session:
    """Settings + store + embedder + LLM + manifest, built lazily once, reused, closeable.

    Thread-safe: a lock guards every lazy build and the store's use count. Collaborators passed
    in are used as they are and never closed by the session; those it builds, it closes.

    Args:
        settings: Settings; defaults to ``Settings()`` (env vars and ``docqa.toml``).
        embedder: Embedder to use instead of the one the settings name.
        llm: Language model to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).
        store_idle_s: Seconds the embedded store stays open after its last use; ``0`` closes it
            after each use (``None``: :data:`STORE_IDLE_S`).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        store: Store | None = None,
        store_idle_s: float | None = None,
    ) -> None:
        """Keep the settings and what was given; nothing is loaded yet."""
        self.settings = settings or Settings()
        self.backend_warning: str | None = None
        self._lock = threading.RLock()
        self._embedder, self._given_embedder = embedder, embedder is not None
        self._llm, self._given_llm = llm, llm is not None
        self._backend: str | None = llm.backend if llm is not None else None
        self._named: dict[str, LLM] = {}
        self._given_store = store
        self._store: Store | None = None
        self._users = 0
        self._timer: threading.Timer | None = None
        self._idle_s = STORE_IDLE_S if store_idle_s is None else store_idle_s
        self._store_dir: Path | None = None
        self.closed = False

    # --- collaborators ---------------------------------------------------------------------

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

    def _create_store_dir(self) -> Path:
        with self._lock:
            if self._store_dir is None:
                self._store_dir = store_path(self.settings, create=True)
            return self._store_dir

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = factories.make_embedder(self.settings)
            return self._embedder

    def embedder_identity(self) -> tuple[str, int, str]:
        """``(model name, dim, id)`` of the embedder, without loading it when not loaded."""
        with self._lock:
            if self._embedder is not None:
                info = self._embedder.info
                return info.name, info.dim, self._embedder.id
        return factories.embedder_identity(self.settings)

    @property
    def backend(self) -> str:
        """The LLM backend the settings resolve to (probed once); sets :attr:`backend_warning`."""
        with self._lock:
            if self._backend is None:
                self._backend, self.backend_warning = factories.resolve_backend(self.settings)
            return self._backend

    @property
    def llm(self) -> LLM:
        """The language model, built on first use (``auto`` probes for Ollama once)."""
        with self._lock:
            if self._llm is None:
                self._llm = factories.make_llm(self.settings, self.backend)
            return self._llm

    def llm_for(self, model: str | None) -> LLM:
        """The same backend with another model (a model picker); ``None``: :attr:`llm`."""
        if model is None or model == self.settings.model:
            return self.llm
        with self._lock:
            if model not in self._named:
                backend = self.backend
                self._named[model] = factories.make_llm(self.settings.with_(model=model), backend)
            return self._named[model]

    @contextmanager
    def open_store(self) -> Iterator[Store]:
        """The store, open for the ``with`` block; kept open a little while after (see above)."""
        if self._given_store is not None:
            yield self._given_store
            return
        with self._lock:
            self._cancel_release()
            if self._store is None:
                self._store = factories.open_store(self.settings, self.store_dir)
            store = self._store
            self._users += 1
        try:
            yield store
        finally:
            with self._lock:
                self._users -= 1
                if not self._users:
                    self._schedule_release()

    def _schedule_release(self) -> None:
        store = self._store
        if store is None:
            return
        if self._idle_s <= 0 or self.closed:
            self._release()
        elif store.kind == "edge":  # a server connection holds no lock: kept until close
            timer = threading.Timer(self._idle_s, self._release_if_idle)
            timer.daemon = True
            self._timer = timer
            timer.start()

    def _release_if_idle(self) -> None:
        with self._lock:
            if not self._users and self._timer is threading.current_thread():
                self._timer = None
                self._release()

    def _cancel_release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _release(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    @contextmanager
    def open_manifest(self, *, create: bool = False) -> Iterator[Manifest]:
        """The store's manifest, open for the ``with`` block (``create``: make the store)."""
        from docqa.manifest import Manifest

        manifest = Manifest(self._create_store_dir() if create else self.store_dir)
        try:
            yield manifest
        finally:
            manifest.close()

    # --- what docqa does (each as the public function of the same name) --------------------

    def resolve_files(self, patterns: Sequence[str]) -> list[str]:
        """Stored absolute paths that the glob ``patterns`` name (as ``match_files``)."""
        from docqa.retrieval import match_files

        with self.open_manifest() as manifest:
            rows = manifest.files()
        return match_files(patterns, rows, Path.cwd())

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
        """As :func:`docqa.search`; ``settings`` overrides retrieval knobs for this call."""
        from docqa import retrieval

        settings = settings or self.settings
        mode = mode or settings.search_mode
        paths = self.resolve_files(files) if files else None
        embedder = None if mode == "bm25" else self.embedder
        with self.open_store() as store:
            return retrieval.search_store(
                question, settings, store, embedder, k=k, mode=mode, paths=paths, where=where
            )

    def answerer(self, files: Sequence[str] | None = None, model: str | None = None) -> Answerer:
        """The answering pipeline over this session (``model``: another model of the backend)."""
        from docqa.answering import Answerer

        return Answerer(self, files=files, llm=None if model is None else self.llm_for(model))

    @overload
    def ask(
        self,
        question: str,
        *,
        stream: Literal[False] = False,
        history: Sequence[Message] | None = None,
        files: Sequence[str] | None = None,
    ) -> Answer: ...

    @overload
    def ask(
        self,
        question: str,
        *,
        stream: Literal[True],
        history: Sequence[Message] | None = None,
        files: Sequence[str] | None = None,
    ) -> AnswerStream: ...

    def ask(
        self,
        question: str,
        *,
        stream: bool = False,
        history: Sequence[Message] | None = None,
        files: Sequence[str] | None = None,
    ) -> Answer | AnswerStream:
        """As :func:`docqa.ask`."""
        from docqa.answering import answer

        return answer(self.answerer(files), question, stream=stream, history=history or ())

    def baseline(self, question: str) -> Answer:
        """As :func:`docqa.baseline`."""
        return self.answerer().baseline(question)

    def compare(self, question: str, *, files: Sequence[str] | None = None) -> Comparison:
        """As :func:`docqa.compare`."""
        from docqa.answering import compare

        return compare(self.answerer(files), question)

    def chat(self, files: Sequence[str] | None = None) -> Chat:
        """A conversation over this session (closing it leaves the session open)."""
        return Chat(session=self, files=files)

    def ingest(
        self,
        path: str | Path,
        *,
        on_progress: IngestProgress | None = None,
        yes: bool = False,
        progress: bool = False,
    ) -> IngestReport:
        """As :func:`docqa.ingest` (the store is made when there is none)."""
        from docqa.ingestion import ingest_into, ingest_root

        ingest_root(path)  # a missing path makes no store
        with self.open_manifest(create=True) as manifest, self.open_store() as store:
            return ingest_into(
                path,
                self.settings,
                store=store,
                manifest=manifest,
                identity=self.embedder_identity,
                embedder=lambda: self.embedder,
                on_progress=on_progress,
                yes=yes,
                progress=progress,
            )

    def status(self) -> StoreStatus:
        """As :func:`docqa.status`."""
        from docqa.inventory import status

        with self.open_manifest() as manifest, self.open_store() as store:
            return status(self.settings, self.store_dir, manifest, store)

    def reset(self, *, yes: bool = False) -> Path:
        """As :func:`docqa.reset`: every session of this process lets go of the store first."""
        from docqa.inventory import confirm_reset, remove

        folder = self.store_dir
        confirm_reset(folder, yes)
        close_sessions(folder)
        self.close()
        self._store_dir = None
        if not self.settings.qdrant_url:
            return remove(folder, None)
        with self.open_store() as store:
            return remove(folder, store)

    def evaluate(
        self,
        questions: str | Path,
        *,
        k: int = 10,
        modes: Sequence[str] | None = None,
        retrieval_only: bool = False,
        split: str | None = None,
        compare_to: str | Path | None = None,
        on_progress: Progress | None = None,
    ) -> EvalReport:
        """As :func:`docqa.evaluate`."""
        from docqa.evaluation import run_evaluation

        with self.open_store():  # held for the whole run
            return run_evaluation(
                self,
                questions,
                k=k,
                modes=modes,
                retrieval_only=retrieval_only,
                split=split,
                compare_to=compare_to,
                on_progress=on_progress,
            )

    def query_engine(self, llm: Any = None) -> RetrieverQueryEngine:
        """As :func:`docqa.query_engine` (``llm``: a docqa or LlamaIndex LLM)."""
        from docqa.llamaindex import build_query_engine

        return build_query_engine(self, llm)

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the store and close what the session built (safe to call twice)."""
        with self._lock:
            self.closed = True
            self._cancel_release()
            if not self._users:
                self._release()
            built = [] if self._given_llm else [self._llm]
            built += list(self._named.values())
            self._llm, self._named = (self._llm if self._given_llm else None), {}
            if not self._given_embedder:
                self._embedder = None
        for llm in built:
            if llm is not None:
                llm.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- one session per settings per process ------------------------------------------------------

_sessions: dict[tuple[str, str], Session] = {}
_sessions_lock = threading.Lock()


def _key(settings: Settings) -> tuple[str, str]:
    # Without an explicit store the folder depends on the current directory.
    where = "" if settings.store is not None else str(Path.cwd())
    return settings.model_dump_json(), where


def get_session(settings: Settings | None = None) -> Session:
    """The process-wide session for ``settings`` (equal settings share one), made on first use."""
    settings = settings or Settings()
    key = _key(settings)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None or session.closed:
            session = _sessions[key] = Session(settings)
        return session


def close_sessions(store_dir: Path | None = None) -> None:
    """Close the process-wide sessions (only those on ``store_dir`` when given)."""
    with _sessions_lock:
        chosen = [
            (k, s)
            for k, s in _sessions.items()
            if store_dir is None or s._store_dir is None or s._store_dir == store_dir
        ]
        for key, _ in chosen:
            del _sessions[key]
    for _, session in chosen:
        session.close()


atexit.register(close_sessions)


def session_for(
    settings: Settings | None,
    embedder: Embedder | None = None,
    llm: LLM | None = None,
    store: Store | None = None,
) -> tuple[Session, bool]:
    """``(session, owned)``: the cached session, or a throwaway one (``owned``: close it) when
    a collaborator is given."""
    if embedder is None and llm is None and store is None:
        return get_session(settings), False
    return Session(settings, embedder=embedder, llm=llm, store=store, store_idle_s=0), True


# --- the public conversation -------------------------------------------------------------------


class Chat(Conversation):
    """A conversation with memory over the ingested documents.

        >>> with docqa.Chat() as chat:
        ...     chat.ask("How many boats does the station own?")
        ...     chat.ask("How long is the bigger one?")

    Attributes:
        history: The conversation so far (user questions and answers without their ``[n]``
            markers, which pointed at that turn's sources), oldest first.
        last_query: What the last question was searched as (the standalone rewrite).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | None = None,
        embedder: Embedder | None = None,
        store: Store | None = None,
        files: Sequence[str] | None = None,
        session: Session | None = None,
    ) -> None:
        """Start an empty conversation; the model and embedder load on the first question.

        Args:
            settings: Settings; defaults to ``Settings()``.
            llm: Language model to use instead of the one the settings name.
            embedder: Embedder to use instead of the one the settings name.
            store: Store to use instead of the one the settings name (left open).
            files: Only use these files (globs).
            session: The session to answer with (the others are then ignored).
        """
        owned = False
        if session is None:
            session, owned = session_for(settings, embedder, llm, store)
        super().__init__(session.answerer(files))
        self.session = session
        self._owned = owned

    def close(self) -> None:
        """Close the model if the chat built it (a session of its own)."""
        if self._owned:
            self.session.close()
