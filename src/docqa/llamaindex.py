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
from docqa.collaborators import Collaborators
from docqa.retrieval import relevant
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
    """A LlamaIndex retriever over docqa's search (a session's :meth:`search`).

    Only hits that reach ``settings.relevance_floor`` are returned, as docqa's own answers
    only use those: a question the documents do not cover retrieves nothing.

    Args:
        collaborators: The session whose store and embedder serve the searches.
        files: Glob filters, as in :func:`docqa.search`.
    """

    def __init__(self, collaborators: Collaborators, files: Sequence[str] | None = None) -> None:
        super().__init__(callback_manager=CallbackManager([]))
        self.collaborators = collaborators
        self.files = list(files) if files else None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.collaborators.search(query_bundle.query_str, files=self.files)
        settings = self.collaborators.settings
        return [hit_node(h) for h in relevant(hits, settings, query_bundle.query_str)]


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


def llama_llm(collaborators: Collaborators) -> LlamaLLM:
    """The LlamaIndex LLM for the session's backend.

    Ollama gets LlamaIndex's own ``Ollama`` client with docqa's context window, answer budget,
    timeout, temperature, seed and keep-alive; the other backends are docqa's, wrapped.

    Raises:
        LLMUnavailableError: no usable backend (see :func:`docqa.llm.resolve_backend`).
    """
    settings = collaborators.settings
    backend = collaborators.backend
    if collaborators.backend_warning:
        logger.warning(collaborators.backend_warning)
    if backend != "ollama":
        return DocqaLLM(collaborators.llm, settings.max_tokens)
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


def build_query_engine(
    collaborators: Collaborators, llm: docqa_llm.LLM | LlamaLLM | None = None
) -> RetrieverQueryEngine:
    """A LlamaIndex ``RetrieverQueryEngine`` over a session (what :func:`docqa.query_engine`
    returns); ``llm`` defaults to the session's backend."""
    settings = collaborators.settings
    if llm is None:
        model = llama_llm(collaborators)
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
    retriever = DocqaRetriever(collaborators)
    return RetrieverQueryEngine(
        retriever=retriever, response_synthesizer=synthesizer, callback_manager=callbacks
    )
