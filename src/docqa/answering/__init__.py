"""Answering: retrieve, fit the prompt to the context window, ask the LLM, parse its citations.

One concern per module: :mod:`~docqa.answering.budget` (tokens), :mod:`~docqa.answering.jobs`
(prompts), :mod:`~docqa.answering.citations` (replies), :mod:`~docqa.answering.streaming`,
:mod:`~docqa.answering.ask` (the pipeline), :mod:`~docqa.answering.compare` and
:mod:`~docqa.answering.chat` (:class:`Conversation`: the one conversation type, also built from
a client's messages). The public ``docqa.ask``, ``docqa.baseline``, ``docqa.compare`` and
``docqa.Chat`` run them through a :class:`docqa.session.Session`.
"""

from docqa.answering.abstention import mentions_not_in_documents, says_not_in_documents
from docqa.answering.ask import Answerer, answer
from docqa.answering.budget import MESSAGE_OVERHEAD, TokenCounter, fit_history
from docqa.answering.chat import Conversation
from docqa.answering.citations import parse_citations
from docqa.answering.compare import compare
from docqa.answering.jobs import Job
from docqa.answering.streaming import AnswerStream
from docqa.support import cited_numbers

__all__ = [
    "MESSAGE_OVERHEAD",
    "AnswerStream",
    "Answerer",
    "Conversation",
    "Job",
    "TokenCounter",
    "answer",
    "cited_numbers",
    "compare",
    "fit_history",
    "mentions_not_in_documents",
    "parse_citations",
    "says_not_in_documents",
]
