"""The logic behind every face of ``docqa serve``, over one long-lived session.

The routes (:mod:`~docqa.server.openai`, :mod:`~docqa.server.ollama`,
:mod:`~docqa.server.page`) parse a request, call one method here and format what comes back.
Everything a face shares lives here: which model a name means, how a client's messages become a
docqa conversation, the queue in front of the in-process model, citations.

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
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from docqa import prompts
from docqa.answering import Answerer, AnswerStream, TokenCounter, fit_history
from docqa.answering.chat import Conversation as Chat
from docqa.answering.jobs import baseline_job
from docqa.config import Settings
from docqa.errors import StoreLockedError
from docqa.llm import Message
from docqa.server.citations import SourceRef, references, strip_sources
from docqa.server.errors import BadRequest, UnknownModel
from docqa.server.protocol import WireMessage
from docqa.server.streams import Gate, in_thread, pieces
from docqa.support import strip_citations
from docqa.types import Answer

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from docqa.embedding import Embedder
    from docqa.llm import LLM
    from docqa.server.documents import DocumentIndex
    from docqa.session import Session
    from docqa.stores import Store
    from docqa.types import Hit

T = TypeVar("T")

RAG = "docqa"
BASELINE = "docqa-baseline"
CLIENT_PRESET = "client"
"""The preset name under which a client's system message is added to docqa's instructions."""
LOCK_WAIT_S = 15.0
"""How long a request waits for the embedded store while another process (``docqa ingest``,
a notebook) holds it, before it answers 503 with ``Retry-After``."""
CATALOG_TTL_S = 30.0
LIST_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Route:
    """What a model name means: with the documents or not, and the backend's model."""

    name: str
    rag: bool
    model: str


@dataclass(frozen=True)
class Conversation:
    """A client's messages as docqa takes them: extra instructions, earlier turns, question."""

    system: str
    history: list[Message]
    question: str


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


def conversation(messages: Sequence[WireMessage]) -> Conversation:
    """Split a client's messages into system text, earlier turns and the question.

    Assistant turns lose the "Sources" block and ``[n]`` markers docqa added (they pointed at
    that turn's sources), as in :class:`docqa.Chat`.

    Raises:
        BadRequest: The last user/assistant message is not a non-empty user message.
    """
    system = "\n\n".join(
        m.content.strip()
        for m in messages
        if m.role in ("system", "developer") and m.content.strip()
    )
    talk = [m for m in messages if m.role in ("user", "assistant")]
    if not talk or talk[-1].role != "user" or not talk[-1].content.strip():
        raise BadRequest("the last message must be the user's question (role 'user', not empty)")
    history = [
        Message("assistant", strip_citations(strip_sources(m.content)).strip())
        if m.role == "assistant"
        else Message("user", m.content)
        for m in talk[:-1]
    ]
    return Conversation(system, history, talk[-1].content.strip())


def patiently(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, retried while another process holds the embedded store.

    An ingest writing in another process holds the store only while it writes; the server's
    searches and answers wait for it (up to :data:`LOCK_WAIT_S`) instead of failing.
    """
    deadline = time.monotonic() + LOCK_WAIT_S
    pause = 0.05
    while True:
        try:
            return call(*args, **kwargs)
        except StoreLockedError:
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


class Scoped:
    """The session seen with other settings for one request (a client's system prompt):
    the same embedder, LLM and store, so nothing is loaded or opened again."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session, self.settings = session, settings
        self.backend_warning = session.backend_warning

    @property
    def embedder(self) -> Embedder:
        return self.session.embedder

    @property
    def backend(self) -> str:
        return self.session.backend

    @property
    def llm(self) -> LLM:
        return self.session.llm

    def search(self, question: str, **kwargs: Any) -> list[Hit]:
        return patiently(self.session.search, question, settings=self.settings, **kwargs)

    def open_store(self) -> AbstractContextManager[Store]:
        return self.session.open_store()


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
        names = [llm.model, *(n for n in _listed(llm) if n != llm.model)]
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

    def settings_for(self, system: str) -> Settings:
        """The session's settings with a client's system text added as a preset.

        docqa's answering rules (sources, ``[n]`` citations, abstention) stay first; the
        configured preset, then the client's text, follow them.
        """
        base = self.session.settings
        if not system.strip():
            return base
        configured = prompts.system_prompt("", base).strip()
        text = "\n\n".join(p for p in (configured, system.strip()) if p)
        return base.with_(presets={**base.presets, CLIENT_PRESET: text}, preset=CLIENT_PRESET)

    def llm_for(self, model: str) -> LLM:
        """The session's LLM, or another model of its backend."""
        llm = self.session.llm
        return llm if model == llm.model else self.session.llm_for(model)

    def answerer(self, route: Route, system: str) -> Answerer:
        """The answering pipeline for a route and a client's system text, over the session."""
        scoped = Scoped(self.session, self.settings_for(system))
        return Answerer(scoped, llm=self.llm_for(route.model))

    def _stream(self, route: Route, talk: Conversation) -> AnswerStream:
        """Prepare the answer (retrieval, the prompt; a follow-up is first made standalone)."""
        answerer = self.answerer(route, talk.system)
        if route.rag:
            chat = Chat(answerer)
            chat.history = list(talk.history)
            return chat.ask(talk.question, stream=True)
        return _baseline_stream(talk, answerer.llm, answerer.settings)

    async def answer(
        self, model: str, messages: Sequence[WireMessage], base_url: str
    ) -> AsyncIterator[Piece | Final]:
        """The answer to a client's conversation: its pieces, then the :class:`Final` record.

        Everything that can fail before generation (unknown model, full queue, no store, a
        backend that is down) raises at the first ``__anext__``, before a response starts.
        Closing the generator early stops the LLM and frees the queue place.
        """
        route = self.resolve(model)
        talk = conversation(messages)
        async with self.gate.place() as waited:
            stream = await in_thread(self._stream, route, talk)
            async for text in pieces(stream):
                yield Piece(text)
            answer = stream.answer
            yield Final(answer, references(answer, self.docs, base_url), route, waited)


def ollama_tag(model: str) -> str:
    """A backend model's name as an Ollama tag (letters, digits, ``_ . -``): ``qwen2.5:1.5b``
    becomes ``qwen2.5-1.5b``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-") or "latest"


def _baseline_stream(talk: Conversation, llm: LLM, settings: Settings) -> AnswerStream:
    """The bare model's answer, with the earlier turns that fit (at most half the free room)."""
    job = baseline_job(talk.question, llm, settings)
    if talk.history:
        count = TokenCounter(llm)
        room = (llm.context_window - settings.max_tokens - job.expected_tokens) // 2
        turns = fit_history(talk.history, count, room)
        job.messages[1:1] = turns
        job.history_kept = len(turns)
    return AnswerStream(job, llm)


def _listed(llm: LLM) -> list[str]:
    """The models an HTTP backend lists (Ollama ``/api/tags``, OpenAI ``/models``); [] else."""
    url = str(getattr(llm, "url", "") or "").rstrip("/")
    if llm.backend not in ("ollama", "openai") or not url:
        return []
    path = "/api/tags" if llm.backend == "ollama" else "/models"
    try:
        body: Any = httpx.get(url + path, timeout=LIST_TIMEOUT_S).json()
    except (httpx.HTTPError, ValueError):
        return []
    rows = (
        body.get("models" if llm.backend == "ollama" else "data", [])
        if isinstance(body, dict)
        else []
    )
    key = "name" if llm.backend == "ollama" else "id"
    return [str(r[key]) for r in rows if isinstance(r, dict) and r.get(key)]
