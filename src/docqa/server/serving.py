"""The logic behind every face of ``docqa serve``, over one long-lived session.

The routes (:mod:`~docqa.server.openai`, :mod:`~docqa.server.ollama`,
:mod:`~docqa.server.page`) parse a request, call one method here and format what comes back.
Everything a face shares lives here: which model a name means, the queue in front of the
in-process model, citations. The answering is the library's: a client's messages become a
:class:`docqa.answering.Conversation`, and the backend lists its own models.

Model names: ``docqa`` answers from the documents with the configured model, ``docqa-baseline``
is that model alone; ``docqa/<model>`` and ``docqa-baseline/<model>`` do the same with another
model of the same backend (one pair per model the backend lists). The Ollama face lists the same
models the way Ollama names them, with a tag: ``docqa:latest``, ``docqa-baseline:latest``,
``docqa:<model as a tag>``. The two lists share no id, so a client connected to both faces (Open
WebUI keeps one model per id) keeps both.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docqa.answering import AnswerStream, Conversation
from docqa.server import logs
from docqa.server.citations import SourceRef, references
from docqa.server.errors import BadRequest, UnknownModel
from docqa.server.protocol import WireMessage
from docqa.server.streams import Gate, pieces, stoppable
from docqa.types import Answer

if TYPE_CHECKING:
    from docqa.llm import LLM
    from docqa.server.documents import DocumentIndex
    from docqa.session import Session

RAG = "docqa"
BASELINE = "docqa-baseline"
CATALOG_TTL_S = 30.0


@dataclass(frozen=True)
class Route:
    """What a model name means: with the documents or not, and the backend's model."""

    name: str
    rag: bool
    model: str


@dataclass(frozen=True)
class Piece:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class Final:
    """The finished answer with its sources (none when it abstains)."""

    answer: Answer
    refs: list[SourceRef]
    route: Route
    queue_wait_s: float = 0.0


@dataclass
class _Catalog:
    models: list[str] = field(default_factory=list)
    at: float = 0.0


class Serving:
    """docqa's answers, searches, comparisons and ingests for the server, over one session."""

    def __init__(self, session: Session, docs: DocumentIndex, *, queue: int = 8) -> None:
        """Serve ``session``; the in-process model gets one request at a time, ``queue`` waiting."""
        self.session = session
        self.docs = docs
        self.gate = Gate(1 if session.llm.backend not in ("ollama", "openai") else None, queue)
        self._catalog = _Catalog()

    # --- models --------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The configured model's name, as the backend knows it."""
        return self.session.llm.model

    def backend_models(self) -> list[str]:
        """The backend's models (cached for 30 s): Ollama's tags, the OpenAI server's ids, the
        GGUF file; the configured model first. A backend that cannot list gives just that one."""
        if time.monotonic() - self._catalog.at < CATALOG_TTL_S and self._catalog.models:
            return self._catalog.models
        llm = self.session.llm
        names = [llm.model, *(n for n in llm.list_models() if n != llm.model)]
        self._catalog = _Catalog(names, time.monotonic())
        return names

    def model_names(self) -> list[str]:
        """Every name a client may ask for: the two docqa models, then a pair per backend model."""
        names = [RAG, BASELINE]
        for model in self.backend_models():
            names += [f"{RAG}/{model}", f"{BASELINE}/{model}"]
        return names

    def ollama_model_names(self) -> list[str]:
        """The same models as :meth:`model_names`, named as Ollama names them (with a tag)."""
        names = [f"{RAG}:latest", f"{BASELINE}:latest"]
        for model in self.backend_models():
            names += [f"{RAG}:{ollama_tag(model)}", f"{BASELINE}:{ollama_tag(model)}"]
        return names

    def resolve(self, name: str) -> Route:
        """The route for a model name (``""`` and ``docqa:latest`` mean ``docqa``).

        Raises:
            UnknownModel: The name is neither docqa's nor a pair of a backend model.
        """
        name = name.strip()
        bare = name.removesuffix(":latest")
        if bare in ("", RAG, BASELINE):
            return Route(bare or RAG, bare != BASELINE, self.model)
        prefix, sep, tag = name.partition(":")
        if sep and prefix in (RAG, BASELINE):
            for model in self.backend_models():
                if ollama_tag(model) == tag:
                    return Route(name, prefix == RAG, model)
        prefix, sep, model = name.partition("/")
        if sep and prefix in (RAG, BASELINE) and model:
            known = self.backend_models()
            if model in known or f"{model}:latest" in known:
                return Route(name, prefix == RAG, model)
        raise UnknownModel(
            f"model {name!r} is not served here: use {RAG}, {BASELINE} or a name from /v1/models"
        )

    # --- answers -------------------------------------------------------------------------------

    def llm_for(self, model: str) -> LLM:
        """The session's LLM, or another model of its backend."""
        return self.session.llm_for(model)

    def _stream(self, route: Route, chat: Conversation, question: str) -> AnswerStream:
        """Prepare the answer (retrieval, the prompt; a follow-up is first made standalone)."""
        if route.rag:
            return chat.ask(question, stream=True)
        return chat.baseline(question, stream=True)

    async def answer(
        self, model: str, messages: Sequence[WireMessage], base_url: str
    ) -> AsyncIterator[Piece | Final]:
        """The answer to a client's conversation: its pieces, then the :class:`Final` record.

        Everything that can fail before generation (unknown model, full queue, no store, a
        backend that is down) raises at the first ``__anext__``, before a response starts.
        Closing the generator early stops the LLM and frees the queue place.
        """
        route = self.resolve(model)
        answerer = self.session.answerer(model=route.model)
        try:
            chat, question = Conversation.from_messages(answerer, messages)
        except ValueError as error:
            raise BadRequest(str(error)) from None
        logs.note(model=route.name, question=question)
        async with self.gate.place() as waited:
            stream = await stoppable(self._stream, route, chat, question)
            async for text in pieces(stream):
                logs.note_first_token()
                yield Piece(text)
            answer = stream.answer
            logs.note(
                prompt_tokens=answer.usage.prompt_tokens,
                completion_tokens=answer.usage.completion_tokens or 0,
            )
            yield Final(answer, references(answer, self.docs, base_url), route, waited)


def ollama_tag(model: str) -> str:
    """A backend model's name as an Ollama tag (letters, digits, ``_ . -``): ``qwen2.5:1.5b``
    becomes ``qwen2.5-1.5b``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-") or "latest"
