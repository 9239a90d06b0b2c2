"""What outlives the call that makes it: a :class:`Chat` and a LlamaIndex query engine, each
keeping its session (the shared one, or its own) after the call returns. Re-exported by
:mod:`docqa.api` with docqa's other public functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from docqa.answering.chat import Conversation
from docqa.config import Settings
from docqa.session import Session, session_for

if TYPE_CHECKING:
    from llama_index.core.llms import LLM as LlamaLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    from docqa.answering.whole_file import ProgressCallback
    from docqa.embedding import Embedder
    from docqa.llm import LLM
    from docqa.stores import Store


def query_engine(
    settings: Settings | None = None,
    *,
    llm: LLM | LlamaLLM | None = None,
    embedder: Embedder | None = None,
    store: Store | None = None,
) -> RetrieverQueryEngine:
    """A LlamaIndex ``RetrieverQueryEngine`` over the docqa store.

    Retrieval is docqa's (hybrid search, file filters, relevance floor, optional rerank); each
    source node carries ``locator``, ``file``, ``page`` and ``heading`` metadata. LlamaIndex's
    global ``Settings`` are neither read for the LLM nor changed.

    Args:
        settings: docqa settings; defaults to ``Settings()``.
        llm: A docqa LLM or a LlamaIndex LLM; defaults to the backend the settings name.
        embedder: Embedder to use instead of the one the settings name.
        store: Store to use instead of the one the settings name (left open).

    Returns:
        The engine: ``engine.query("...")`` returns a LlamaIndex ``Response``.

    Raises:
        LLMUnavailableError: no ``llm`` was given and the settings name no usable backend.
    """
    # The engine lives on after this call: it keeps its session (throwaway or shared).
    session, _owned = session_for(settings, embedder, None, store)
    return session.query_engine(llm)


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
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Start an empty conversation; the model and embedder load on the first question.

        Args:
            settings: Settings; defaults to ``Settings()``.
            llm: Language model to use instead of the one the settings name.
            embedder: Embedder to use instead of the one the settings name.
            store: Store to use instead of the one the settings name (left open).
            files: Only use these files (globs).
            session: The session to answer with (the others are then ignored).
            on_progress: Follows a whole-file read part by part (see :func:`docqa.ask`).
        """
        owned = False
        if session is None:
            session, owned = session_for(settings, embedder, llm, store)
        super().__init__(session.answerer(files, on_progress=on_progress))
        self.session = session
        self._owned = owned

    def close(self) -> None:
        """Close the model if the chat built it (a session of its own)."""
        if self._owned:
            self.session.close()
