"""The model alone versus the model with the documents (what ``docqa.compare`` runs), each
sentence marked for support against the sources' stored vectors."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

from docqa.answering.ask import Answerer
from docqa.answering.checking import source_vectors
from docqa.answering.jobs import Job
from docqa.llm.stopping import Cancelled
from docqa.support import mark_support
from docqa.types import Answer, Comparison

CONCURRENT_BACKENDS = frozenset({"ollama", "openai"})
"""Backends served by another process, which can take the baseline and RAG calls at once."""


def compare(answerer: Answerer, question: str) -> Comparison:
    """The baseline and RAG answers to ``question``, each sentence marked for support (what
    :func:`docqa.compare` runs)."""
    prepared = answerer.prepare(question)
    base, rag = _both(answerer, question, prepared)
    return _marked(question, base, rag, answerer)


def _both(answerer: Answerer, question: str, prepared: Job | Answer) -> tuple[Answer, Answer]:
    """The baseline and RAG answers, concurrently where the backend allows it."""
    if isinstance(prepared, Answer):
        return answerer.baseline(question), prepared
    if answerer.llm.backend not in CONCURRENT_BACKENDS:
        return answerer.baseline(question), answerer.run(prepared)
    cancel = threading.Event()

    def check(piece: str) -> None:
        if cancel.is_set():
            raise Cancelled

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="docqa-compare") as pool:
        # each call sees its caller's stop event (docqa.llm.stop_on), as on the caller's thread
        base = pool.submit(contextvars.copy_context().run, answerer.baseline, question, check)
        rag = pool.submit(contextvars.copy_context().run, answerer.run, prepared, check)
        try:
            return base.result(), rag.result()
        except BaseException:
            # Ctrl-C or a failure: stop the other call at its next token, not at its end
            # (leaving the pool waits for both threads).
            cancel.set()
            raise


def _marked(question: str, base: Answer, rag: Answer, answerer: Answerer) -> Comparison:
    hits = rag.hits
    texts = [h.text for h in hits]
    embedder = answerer.embedder if texts else None
    vectors = source_vectors(hits, embedder) if embedder is not None else None
    return Comparison(
        question=question,
        baseline=base,
        rag=rag,
        hits=hits,
        baseline_support=mark_support(base.text, texts, embedder, source_vectors=vectors),
        rag_support=(
            ()
            if rag.abstained
            else mark_support(rag.text, texts, embedder, source_vectors=vectors, citations=True)
        ),
    )
