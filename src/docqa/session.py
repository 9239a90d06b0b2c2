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

Collaborators not given are built by the session's :class:`~docqa.factories.Factories`: those
passed as ``Session(factories=...)`` (how tests and host applications substitute their own), else
:data:`docqa.factories.active` (the sessions the public functions and the CLI make).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from docqa.config import Settings, find_store
from docqa.holder import Holder
from docqa.lease import StoreLease

if TYPE_CHECKING:
    from llama_index.core.query_engine import RetrieverQueryEngine

    from docqa.answering import Answerer, AnswerStream
    from docqa.answering.chat import Conversation
    from docqa.answering.whole_file import ProgressCallback
    from docqa.embedding import Embedder
    from docqa.evaluation import EvalOptions, EvalReport
    from docqa.factories import Factories
    from docqa.llm import LLM, Message
    from docqa.stores import SearchMode, Store
    from docqa.types import Answer, Comparison, Hit, IngestReport, StoreStatus
    from docqa.watching import Syncing, Watcher
    from docqa.writing import Progress as IngestProgress

STORE_IDLE_S = 2.0
"""Seconds a cached session keeps the embedded store open after its last use."""


# --- the session -------------------------------------------------------------------------------


class Session(Holder):
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
        factories: How to build what was not given (``None``: :data:`docqa.factories.active`,
            read when each is built).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        store: Store | None = None,
        store_idle_s: float | None = None,
        factories: Factories | None = None,
    ) -> None:
        """Keep the settings and what was given; nothing is loaded yet."""
        self.settings = settings or Settings()
        self._factories = factories
        self.backend_warning: str | None = None
        self._lock = threading.RLock()
        self._embedder, self._given_embedder = embedder, embedder is not None
        self._llm, self._given_llm = llm, llm is not None
        self._backend: str | None = llm.backend if llm is not None else None
        self._named: dict[str, LLM] = {}
        self._given_store = store
        idle_s = STORE_IDLE_S if store_idle_s is None else store_idle_s
        self._lease = StoreLease(self._open_store, idle_s)
        self._store_dir: Path | None = None
        self.watcher: Watcher | None = None
        """The watcher keeping this session's store in sync, while one runs (:meth:`watch`)."""
        self.closed = False

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

    def answerer(
        self,
        files: Sequence[str] | None = None,
        model: str | None = None,
        *,
        settings: Settings | None = None,
        file: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Answerer:
        """The answering pipeline over this session (``model``: another model of the backend;
        ``settings``: one request's, for its prompts and retrieval, with the same collaborators;
        ``file``: a pattern naming the one stored file to read whole, see
        :mod:`docqa.answering.whole_file`; ``files`` that name one file make it the file a
        whole-file question is about)."""
        from docqa.answering import Answerer

        path = self.resolve_file(file) if file else None
        scope = self.resolve_files(files) if files else []
        llm = None if model is None else self.llm_for(model)
        return Answerer(
            self,
            files=files,
            llm=llm,
            settings=settings,
            file=path,
            only_file=scope[0] if len(scope) == 1 else None,
            on_progress=on_progress,
        )

    def resolve_file(self, pattern: str) -> str:
        """The one stored path ``pattern`` names.

        Raises:
            NoMatchError: it names no stored file, or several.
        """
        from docqa.errors import NoMatchError

        paths = self.resolve_files([pattern])
        if len(paths) > 1:
            raise NoMatchError(f"{pattern!r} names {len(paths)} ingested files: name one")
        return paths[0]

    @overload
    def ask(
        self,
        question: str,
        *,
        stream: Literal[False] = False,
        history: Sequence[Message] | None = None,
        files: Sequence[str] | None = None,
        file: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Answer: ...

    @overload
    def ask(
        self,
        question: str,
        *,
        stream: Literal[True],
        history: Sequence[Message] | None = None,
        files: Sequence[str] | None = None,
        file: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AnswerStream: ...

    def ask(
        self,
        question: str,
        *,
        stream: bool = False,
        history: Sequence[Message] | None = None,
        files: Sequence[str] | None = None,
        file: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Answer | AnswerStream:
        """As :func:`docqa.ask`."""
        from docqa.answering import answer

        answerer = self.answerer(files, file=file, on_progress=on_progress)
        return answer(answerer, question, stream=stream, history=history or ())

    def baseline(self, question: str) -> Answer:
        """As :func:`docqa.baseline`."""
        return self.answerer().baseline(question)

    def compare(
        self,
        question: str,
        *,
        files: Sequence[str] | None = None,
        model: str | None = None,
        instructions: str = "",
    ) -> Comparison:
        """As :func:`docqa.compare` (``model``: another model of the backend; ``instructions``:
        added to docqa's for this comparison, as a client's system message)."""
        from docqa.answering import compare

        return compare(self.answerer(files, model).with_instructions(instructions), question)

    def chat(
        self, files: Sequence[str] | None = None, *, on_progress: ProgressCallback | None = None
    ) -> Conversation:
        """A conversation over this session, as :class:`docqa.Chat` (closing it leaves the
        session open)."""

        return Conversation(self.answerer(files, on_progress=on_progress))

    @contextmanager
    def _writing_store(self) -> Iterator[Store]:
        """A store of its own for a writer (ingest, reset): it waits longer for the embedded
        shard and ahead of readers, and lets go of it between writes; this session's own
        readers meet it like any other process's."""
        if self._given_store is not None:
            yield self._given_store
            return
        self._lease.close()  # this session's reads must not hold the shard against its ingest
        store = self.factories.open_store(self.settings, self.store_dir, writer=True)
        try:
            yield store
        finally:
            store.close()

    def ingest(
        self,
        path: str | Path,
        *,
        on_progress: IngestProgress | None = None,
        yes: bool = False,
        confirm: Callable[[str], bool] | None = None,
        progress: bool = False,
        only: Collection[str] | None = None,
    ) -> IngestReport:
        """As :func:`docqa.ingest` (the store is made when there is none); ``only``: just the
        files at or under these absolute paths (see :func:`docqa.ingestion.ingest_into`)."""
        from docqa.ingestion import ingest_into, ingest_root

        ingest_root(path)  # a missing path makes no store
        with self.open_manifest(create=True) as manifest, self._writing_store() as store:
            return ingest_into(
                path,
                self.settings,
                store=store,
                manifest=manifest,
                identity=self.embedder_identity,
                embedder=lambda: self.embedder,
                on_progress=on_progress,
                yes=yes,
                confirm=confirm,
                progress=progress,
                only=only,
            )

    def watch(
        self,
        paths: Sequence[str | Path] | None = None,
        *,
        on_sync: Syncing | None = None,
        on_progress: IngestProgress | None = None,
        on_message: Callable[[str], None] | None = None,
        yes: bool = False,
        polling: bool | None = None,
        initial: bool = True,
        confirm: Callable[[str], bool] | None = None,
    ) -> Watcher:
        """A :class:`~docqa.watching.Watcher` keeping ``paths`` (default: the roots the store
        holds) in sync; call its ``run()`` (blocks) or ``start()`` (a thread), then ``stop()``.

        Raises:
            ConfigError: no path given and the store holds none.
        """
        from docqa.watching import Watcher, ingested_roots

        return Watcher(
            self,
            ingested_roots(self) if paths is None else paths,
            on_sync=on_sync,
            on_progress=on_progress,
            on_message=on_message,
            yes=yes,
            polling=polling,
            initial=initial,
            confirm=confirm,
        )

    def status(self) -> StoreStatus:
        """As :func:`docqa.status`."""
        from docqa.inventory import status

        with self.open_manifest() as manifest, self.open_store() as store:
            return status(self.settings, self.store_dir, manifest, store)

    def reset(self, *, yes: bool = False) -> Path:
        """As :func:`docqa.reset`: every session of this process lets go of the store first."""
        from docqa import storedir
        from docqa.errors import NoStoreError
        from docqa.inventory import confirm_reset, remove

        folder = find_store(self.settings)
        if folder is None:
            raise NoStoreError(Path.cwd())
        confirm_reset(folder, yes)
        self._store_dir = folder
        close_sessions(folder)
        self.close()
        try:
            with storedir.writer_lock(folder), self._writing_store() as store:
                return remove(folder, store)
        finally:
            self.close()
            self._store_dir = None

    def evaluate(self, questions: str | Path, **options: Unpack[EvalOptions]) -> EvalReport:
        """As :func:`docqa.evaluate` (the same keyword options)."""
        from docqa.evaluation import run_evaluation

        with self.open_store():  # held for the whole run
            return run_evaluation(self, questions, **options)

    def query_engine(self, llm: Any = None) -> RetrieverQueryEngine:
        """As :func:`docqa.query_engine` (``llm``: a docqa or LlamaIndex LLM)."""
        from docqa.llamaindex import build_query_engine

        return build_query_engine(self, llm)

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the store and close what the session built (safe to call twice)."""
        self._lease.close()
        with self._lock:
            self.closed = True
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
