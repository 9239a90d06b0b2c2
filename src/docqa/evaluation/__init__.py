"""Evaluate docqa on your own questions: retrieval metrics, and baseline versus RAG answers.

A question file is JSON Lines, one object per line::

    {"question": "What is Debian?", "answer": "Debian is ...", "sources": ["debian-faq.en.pdf"]}
    {"question": "...", "sources": [{"file": "debian-faq.en.pdf", "pages": [12, 13]}]}
    {"question": "How do I use Python's GIL?", "answerable": false}
    {"question": "...", "use": false}

``answer`` is the gold text, ``sources`` the files (optionally pages) that hold it, matched to a
hit's path by name or path suffix; ``answerable: false`` marks questions the documents cannot
answer (docqa should abstain); rows with ``use: false`` are skipped. Optional: ``id``, ``lang``
(else detected among ``Settings.languages``) and ``split``.

Retrieval is judged by file/page when ``sources`` are given, else by answer containment
(:mod:`docqa.metrics`), in which case every chunk of the store holding the answer counts as
relevant. Answers are judged without any remote judge: token F1 and content-word recall against
the gold answer, citation precision (cited chunks that are relevant by the same rule), abstention
and latency.

Modules: :mod:`~docqa.evaluation.questions` (the file), :mod:`~docqa.evaluation.scoring`
(relevance and metrics), :mod:`~docqa.evaluation.report` (:class:`EvalReport`) and
:mod:`~docqa.evaluation.run`; ``docqa.evaluate`` runs it through a session.
"""

from docqa.evaluation.questions import Question, Source, load_questions, parse_question
from docqa.evaluation.report import EvalReport, load_report
from docqa.evaluation.run import DEFAULT_K, SEARCH_MODES, EvalOptions, Progress, run_evaluation
from docqa.evaluation.scoring import Judge, path_matches, rank_hits, score_answer

__all__ = [
    "DEFAULT_K",
    "SEARCH_MODES",
    "EvalOptions",
    "EvalReport",
    "Judge",
    "Progress",
    "Question",
    "Source",
    "load_questions",
    "load_report",
    "parse_question",
    "path_matches",
    "rank_hits",
    "run_evaluation",
    "score_answer",
]
