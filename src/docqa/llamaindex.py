"""docqa as a LlamaIndex query engine: docqa's retrieval and LLM, LlamaIndex's answer synthesis.

This is the only module that imports ``llama_index``; ``import docqa`` loads it on the first
``docqa.query_engine`` access. Nothing here touches ``llama_index.core.Settings``: the engine is
built from explicit parts (retriever, LLM, prompt helpers, callback manager), so it neither
depends on nor changes whatever the host application configured globally.

    >>> engine = docqa.query_engine()
    >>> response = engine.query("How do I upgrade Debian?")
    >>> [n.metadata["locator"] for n in response.source_nodes]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.callbacks import CallbackManager
from llama_index.core.indices.prompt_helper import ChatPromptHelper, PromptHelper
from llama_index.core.llms import LLM as LlamaLLM
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from docqa import llm as docqa_llm
from docqa.config import Settings
from docqa.embedding import Embedder
from docqa.retrieval import relevant, search
from docqa.stores import SearchMode, Store
from docqa.types import Hit

logger = logging.getLogger(__name__)

# Node metadata the LLM does not need to read (the locator already names file and place).
_HIDDEN_FROM_LLM = ["file", "page", "heading", "first_line", "last_line", "dense_score"]


def hit_node(hit: Hit) -> NodeWithScore:
    """A docqa hit as a LlamaIndex node; the metadata keeps its file, page and heading."""
    metadata: dict[str, Any] = {
        "locator": hit.locator,
        "file": hit.file,
        "page": hit.page,
        "heading": " > ".join(hit.heading),
        "first_line": hit.first_line,
        "last_line": hit.last_line,
        "dense_score": hit.dense_score,
    }
    node = TextNode(
        id_=hit.chunk_id or None,
        text=hit.text,
        metadata=metadata,
        excluded_llm_metadata_keys=list(_HIDDEN_FROM_LLM),
        excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=hit.score)


class DocqaRetriever(BaseRetriever):
    """A LlamaIndex retriever over docqa's :func:`~docqa.retrieval.search`.

    Only hits that reach ``settings.relevance_floor`` are returned, as docqa's own answers
    only use those: a question the documents do not cover retrieves nothing.

    Args:
        settings: docqa settings (store, top_k, search_mode, relevance_floor, rerank_model).
        embedder: Embedder to use; loaded from the settings on the first query otherwise.
        store: Store to use instead of the one the settings name (left open).
        files: Glob filters, as in :func:`~docqa.retrieval.search`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        store: Store | None = None,
        files: Sequence[str] | None = None,
    ) -> None:
        super().__init__(callback_manager=CallbackManager([]))
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.files = list(files) if files else None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        mode: SearchMode = self.settings.search_mode
        if self.embedder is None and mode != "bm25":
            from docqa import embedding  # loaded once, not per query

            self.embedder = embedding.make_embedder(self.settings)
        hits = search(
            query_bundle.query_str,
            self.settings,
            files=self.files,
            embedder=self.embedder,
            store=self.store,
        )
        return [hit_node(h) for h in relevant(hits, self.settings)]


def _role(role: MessageRole) -> docqa_llm.Role:
    if role in (MessageRole.SYSTEM, MessageRole.DEVELOPER):
        return "system"
    if role in (MessageRole.ASSISTANT, MessageRole.CHATBOT, MessageRole.MODEL):
        return "assistant"
    return "user"


class DocqaLLM(CustomLLM):
    """A LlamaIndex LLM that answers with a docqa backend (:class:`docqa.llm.LLM`).

    The backend streams internally; through this adapter a streamed answer arrives whole, in
    one piece.

    Args:
        llm: A docqa LLM (GGUF in-process, OpenAI-compatible server, or a test fake).
        num_output: The answer budget in tokens (``settings.max_tokens``).
    """

    _llm: Any = PrivateAttr()
    _num_output: int = PrivateAttr()

    def __init__(self, llm: docqa_llm.LLM, num_output: int) -> None:
        super().__init__(callback_manager=CallbackManager([]))
        self._llm = llm
        self._num_output = num_output

    @property
    def metadata(self) -> LLMMetadata:
        """Context window and answer budget, for LlamaIndex's prompt packing."""
        return LLMMetadata(
            context_window=int(self._llm.context_window),
            num_output=self._num_output,
            is_chat_model=True,
            model_name=str(self._llm.model),
        )

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Answer a conversation (roles kept) with the docqa backend."""
        ours = [docqa_llm.Message(_role(m.role), m.content or "") for m in messages]
        done = self._llm.chat(ours)
        reply = ChatMessage(role=MessageRole.ASSISTANT, content=done.text)
        return ChatResponse(message=reply, raw={"model": done.model, "backend": done.backend})

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """The answer as a one-piece stream."""
        response = self.chat(messages, **kwargs)

        def whole() -> ChatResponseGen:
            yield ChatResponse(message=response.message, delta=response.message.content)

        return whole()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer a bare prompt, sent as one user message."""
        done = self._llm.chat([docqa_llm.Message("user", prompt)])
        return CompletionResponse(text=done.text)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """The completion as a one-piece stream."""
        response = self.complete(prompt, formatted=formatted, **kwargs)

        def whole() -> CompletionResponseGen:
            yield CompletionResponse(text=response.text, delta=response.text)

        return whole()


def llama_llm(settings: Settings) -> LlamaLLM:
    """The LlamaIndex LLM for the configured backend.

    Ollama gets LlamaIndex's own ``Ollama`` client with docqa's context window, answer budget,
    timeout, temperature, seed and keep-alive; the other backends are docqa's, wrapped.

    Raises:
        LLMUnavailableError: no usable backend (see :func:`docqa.llm.resolve_backend`).
    """
    backend, warning = docqa_llm.resolve_backend(settings)
    if warning:
        logger.warning(warning)
    if backend != "ollama":
        return DocqaLLM(docqa_llm.make_llm(settings, backend), settings.max_tokens)
    from llama_index.llms.ollama import Ollama

    return Ollama(
        model=settings.model,
        base_url=settings.llm_url or docqa_llm.OLLAMA_URL,
        request_timeout=settings.request_timeout_s,
        context_window=settings.num_ctx,
        temperature=settings.temperature,
        keep_alive=settings.keep_alive,
        additional_kwargs={
            "num_ctx": settings.num_ctx,
            "num_predict": settings.max_tokens,
            "seed": settings.seed,
        },
        callback_manager=CallbackManager([]),
    )


def query_engine(
    settings: Settings | None = None,
    *,
    llm: docqa_llm.LLM | LlamaLLM | None = None,
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
    settings = settings or Settings()
    if llm is None:
        model = llama_llm(settings)
    elif isinstance(llm, LlamaLLM):
        model = llm
    else:
        model = DocqaLLM(llm, settings.max_tokens)
    callbacks = CallbackManager([])
    synthesizer = get_response_synthesizer(
        llm=model,
        prompt_helper=PromptHelper.from_llm_metadata(model.metadata),
        chat_prompt_helper=ChatPromptHelper.from_llm_metadata(model.metadata),
        callback_manager=callbacks,
    )
    retriever = DocqaRetriever(settings, embedder=embedder, store=store)
    return RetrieverQueryEngine(
        retriever=retriever, response_synthesizer=synthesizer, callback_manager=callbacks
    )
