"""docqa's public functions, and :class:`Chat`: each picks a :class:`~docqa.session.Session`
and calls it.

Without collaborators a call uses the process-wide session for its settings
(:func:`~docqa.session.get_session`): models load once and later calls reuse them. Given one
(``llm=``, ``embedder=``, ``store=``), it uses a throwaway session, closed when the call ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from docqa.config import Settings
from docqa.lasting import Chat as Chat
from docqa.lasting import query_engine as query_engine
from docqa.session import Session, session_for

if TYPE_CHECKING:
    from docqa.answering import AnswerStream
    from docqa.answering.whole_file import ProgressCallback
    from docqa.embedding import Embedder
    from docqa.evaluation import EvalReport, Progress
    from docqa.llm import LLM, Message
    from docqa.stores import SearchMode, Store
    from docqa.types import Answer, Comparison, Hit, IngestReport, StoreStatus
    from docqa.watching import Syncing, Watcher
    from docqa.writing import Progress as IngestProgress


@contextmanager
def _using(
    settings: Settings | None,
    embedder: Embedder | None = None,
    llm: LLM | None = None,
    store: Store | None = None,
) -> Iterator[Session]:
    """The shared session, or a throwaway one (closed at the end) when a collaborator is given."""
    session, owned = session_for(settings, embedder, llm, store)
    try:
        yield session
    finally:
        if owned:
            session.close()


def search(
    question: str,
    settings: Settings | None = None,
    *,
    k: int | None = None,
    mode: SearchMode | None = None,
    files: Sequence[str] | None = None,
    where: Mapping[str, str | Sequence[str]] | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
) -> list[Hit]:
    """Top-``k`` chunks for ``question``, best first.

    Args:
        question: The question or keywords.
        settings: Settings; defaults to ``Settings()``.
        k: How many hits; defaults to ``settings.top_k``.
        mode: ``hybrid`` (default from settings), ``dense`` or ``bm25`` (needs no embedder).
        files: Only search these files: globs such as ``"*.md"`` or ``"docs/**/guide*.pdf"``,
            matched against every ingested path (see :func:`docqa.retrieval.match_files`).
        where: Payload filters, e.g. ``{"lang": "fr"}`` (a value or a list of accepted values;
            every key must match). ``lang`` is indexed.
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).

    Returns:
        Hits best first; ``dense_score`` is each chunk's cosine (``None`` in ``bm25`` mode).

    Raises:
        NoStoreError: there is no store (run ``docqa ingest PATH`` first).
        NoMatchError: a ``files`` pattern matches no ingested file.
        EmbedderError: ``settings.rerank_model`` is set but cannot be loaded.
    """
    with _using(settings, embedder, None, store) as session:
        return session.search(question, k=k, mode=mode, files=files, where=where)


@overload
def ask(
    question: str,
    settings: Settings | None = None,
    *,
    stream: Literal[False] = False,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    history: Sequence[Message] | None = None,
    files: Sequence[str] | None = None,
    file: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> Answer: ...


@overload
def ask(
    question: str,
    settings: Settings | None = None,
    *,
    stream: Literal[True],
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    history: Sequence[Message] | None = None,
    files: Sequence[str] | None = None,
    file: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> AnswerStream: ...


def ask(
    question: str,
    settings: Settings | None = None,
    *,
    stream: bool = False,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    history: Sequence[Message] | None = None,
    files: Sequence[str] | None = None,
    file: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> Answer | AnswerStream:
    """Answer ``question`` from the ingested documents, citing them as ``[n]``.

    Args:
        question: The question, in any language the model speaks.
        settings: Settings; defaults to ``Settings()`` (env vars and ``docqa.toml``).
        stream: Return an :class:`AnswerStream` to iterate over as the model writes.
        llm: Language model to use instead of the one the settings name.
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).
        history: Earlier messages of a conversation (user and assistant, oldest first);
            the oldest are left out when they do not fit.
        files: Only use these files (globs, as :func:`search` takes them).
        file: Read this one file whole (a glob naming it) instead of retrieving: for
            "summarize it", "list every deadline". Without it, a question that names a stored
            file with a whole-file intent ("summarize the field station handbook") is read
            whole too (:mod:`docqa.answering.whole_file`).
        on_progress: Called with a :class:`~docqa.answering.whole_file.Progress` before a
            whole-file read (its time estimate on a slow backend) and after each part.

    Returns:
        An :class:`Answer`, or an :class:`AnswerStream` whose ``answer`` holds it at the end.

    Raises:
        NoStoreError: There is no store (run ``docqa ingest PATH`` first).
        LLMError: The model failed; subclasses say whether it is missing or too slow.
        ConfigError: The question alone does not fit the context window, or a bad preset.
    """
    from docqa.answering import answer

    session, owned = session_for(settings, embedder, llm, store)
    return answer(
        session.answerer(files, file=file, on_progress=on_progress),
        question,
        stream=stream,
        history=history or (),
        on_close=session.close if owned else None,
    )


def baseline(question: str, settings: Settings | None = None, *, llm: LLM | None = None) -> Answer:
    """The model's answer to ``question`` without any document (what RAG is compared with).

    Args:
        question: The question.
        settings: Settings; defaults to ``Settings()``.
        llm: Language model to use instead of the one the settings name.

    Raises:
        LLMError: The model failed.
        ConfigError: The question does not fit the context window, or a bad preset.
    """
    with _using(settings, llm=llm) as session:
        return session.baseline(question)


@overload
def compare(
    question: str,
    settings: Settings | None = None,
    *,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    files: Sequence[str] | None = None,
    models: None = None,
) -> Comparison: ...


@overload
def compare(
    question: str,
    settings: Settings | None = None,
    *,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    files: Sequence[str] | None = None,
    models: Sequence[str],
) -> list[Comparison]: ...


def compare(
    question: str,
    settings: Settings | None = None,
    *,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    files: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
) -> Comparison | list[Comparison]:
    """The model alone versus the model with the documents, each sentence marked for support.

    Both answers come from the same model and settings. They are requested at once when the
    model is served by another process (Ollama, OpenAI-style), one after the other in-process.
    Support is marked with the embedder (see :mod:`docqa.support`), without another LLM call;
    the sources' vectors are read from the store, not embedded again.

    Args:
        question: The question.
        settings: Settings; defaults to ``Settings()``.
        llm: Language model to use instead of the one the settings name.
        embedder: Embedder for retrieval and support marking.
        store: Store to use instead of the one the settings name (left open).
        files: Only use these files (globs).
        models: Several models of the backend: one comparison each, in this order (the same
            sources for all: retrieval does not depend on the model).

    Returns:
        A :class:`Comparison`, or a list of them when ``models`` is given.

    Raises:
        NoStoreError: There is no store.
        LLMError: The model failed.
    """
    with _using(settings, embedder, llm, store) as session:
        if models is not None:
            return [session.compare(question, files=files, model=m) for m in models]
        return session.compare(question, files=files)


def ingest(
    path: str | Path,
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    store: Store | None = None,
    on_progress: IngestProgress | None = None,
    yes: bool = False,
    confirm: Callable[[str], bool] | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest a file or folder into the store; see :mod:`docqa.ingestion` for the guarantees.

    Args:
        path: File or folder to ingest.
        settings: Settings; defaults to ``Settings()`` (env vars and ``docqa.toml``).
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name.
        on_progress: Called with an :class:`IngestEvent` as work advances.
        yes: Go ahead even when the run would remove more than half of the store's files.
        confirm: When ``yes`` is false, asked that question (one line, e.g. "this run would
            remove 3 of 4 files from the store (...)"); returning ``True`` goes ahead.
        progress: Draw a progress bar (tqdm.auto: a widget in Jupyter) when no
            ``on_progress`` is given.

    Returns:
        An :class:`IngestReport`; failed files are listed with their reason, not raised.

    Raises:
        IngestPathError: ``path`` does not exist.
        IndexMismatchError: the store was built with another embedding model or dimension.
        ConfirmationRequired: the run would remove more than half the store, ``yes`` is false
            and ``confirm`` did not say go ahead.
    """
    with _using(settings, embedder, None, store) as session:
        return session.ingest(
            path, on_progress=on_progress, yes=yes, confirm=confirm, progress=progress
        )


def watch(
    paths: str | Path | Sequence[str | Path] | None = None,
    settings: Settings | None = None,
    *,
    on_sync: Syncing | None = None,
    on_progress: IngestProgress | None = None,
    on_message: Callable[[str], None] | None = None,
    yes: bool = False,
    polling: bool | None = None,
    initial: bool = True,
    confirm: Callable[[str], bool] | None = None,
    background: bool = False,
    embedder: Embedder | None = None,
    store: Store | None = None,
) -> Watcher:
    """Keep folders in sync with the store: ingest them, then re-ingest what changes, is added
    or disappears under them (debounced; see :mod:`docqa.watching` for the guarantees).

        >>> watcher = docqa.watch("./data", background=True)
        >>> ...                 # edit, add, delete files: searchable within a second or so
        >>> watcher.stop()

    Args:
        paths: Files or folders (as :func:`ingest` takes them); default: the roots the store
            already holds.
        settings: Settings; defaults to ``Settings()``.
        on_sync: Called with a :class:`~docqa.watching.Sync` after each sync.
        on_progress: Passed to each sync's ingest.
        on_message: Called with the one line said when OS file events are unavailable and the
            watcher polls instead (default: a logged warning).
        yes: Let a sync remove more than half of the store's files.
        polling: Poll instead of OS file events (``None``: ``WATCHFILES_FORCE_POLLING``).
        initial: First sync every root in full (what changed while nothing watched).
        confirm: Asked before the initial sync removes more than half of the store.
        background: Watch on a daemon thread and return once watching and the initial sync are
            done; otherwise block until Ctrl-C (raised) or ``stop()`` from another thread.
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).

    Returns:
        The :class:`~docqa.watching.Watcher` (its ``state()``; ``stop()`` ends it).

    Raises:
        ConfigError: no path given and the store holds none.
        IngestPathError: a path does not exist.
        DocqaError: a folder cannot be watched.
    """
    from docqa.watching import Watcher, ingested_roots

    session, owned = session_for(settings, embedder, None, store)
    roots = [paths] if isinstance(paths, str | Path) else paths
    try:
        if roots is None:
            roots = ingested_roots(session)
        watcher = Watcher(
            session,
            roots,
            on_sync=on_sync,
            on_progress=on_progress,
            on_message=on_message,
            yes=yes,
            polling=polling,
            initial=initial,
            confirm=confirm,
            owns_session=owned,
        )
    except BaseException:
        if owned:
            session.close()
        raise
    if background:
        return watcher.start()
    try:
        watcher.run()
    finally:
        watcher.stop()
    return watcher


def status(settings: Settings | None = None) -> StoreStatus:
    """Describe the store the settings point to: files, chunks, embedder, size and warnings.

    Raises:
        NoStoreError: there is no store here or in a parent folder.
    """
    with _using(settings) as session:
        return session.status()


def reset(settings: Settings | None = None, *, yes: bool = False) -> Path:
    """Delete the store (points and manifest). Returns the folder that was removed.

    Raises:
        NoStoreError: there is no store to reset.
        ConfirmationRequired: ``yes`` is false.
    """
    with Session(settings, store_idle_s=0) as session:
        return session.reset(yes=yes)


def evaluate(
    questions: str | Path,
    settings: Settings | None = None,
    *,
    k: int = 10,
    modes: Sequence[str] | None = None,
    retrieval_only: bool = False,
    split: str | None = None,
    compare_to: str | Path | None = None,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
    on_progress: Progress | None = None,
) -> EvalReport:
    """Evaluate retrieval, and baseline versus RAG answers, on the questions of a JSONL file.

    Args:
        questions: The question file (format in :mod:`docqa.evaluation`).
        settings: Settings; defaults to ``Settings()``.
        k: Retrieval cut-off for hit rate, MRR, nDCG and recall.
        modes: Retrieval modes to compare (``dense``, ``bm25``, ``hybrid``, ``rerank``);
            default: the configured one.
        retrieval_only: Skip the answers (no LLM needed).
        split: Only rows with this ``split`` (e.g. ``"test"``).
        compare_to: A report saved with ``docqa eval --json``; the tables show the changes.
        llm: Language model to use instead of the one the settings name.
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).
        on_progress: Called with ``(done, total)`` after each question.

    Returns:
        An :class:`EvalReport`.

    Raises:
        QuestionFileError: the question file is missing or malformed.
        ConfigError: an unknown mode, or ``DOCQA_LLM=auto`` fell back to the small GGUF model.
        NoStoreError: there is no store.
    """
    with _using(settings, embedder, llm, store) as session:
        return session.evaluate(
            questions,
            k=k,
            modes=modes,
            retrieval_only=retrieval_only,
            split=split,
            compare_to=compare_to,
            on_progress=on_progress,
        )
