"""Saved answers of ``answers.py`` with their citations checked as docqa now checks them.

``docqa.answering.checking`` keeps a model's ``[n]`` only where a sentence citing it is on that
source's subject and gives a sentence left without a citation the source that backs it. It runs
after the model, so a saved run can be re-judged without the model: the hits each answer was
given are read from the run (saved since ``hits`` were recorded) or retrieved again from the same
store, the check is applied to the saved text, and the run is saved again as ``LABEL+checked``
(``answers.py --table LABEL,LABEL+checked`` prints both)::

    .venv/bin/python benchmarks/answers_recheck.py tune-v2 test-v2

``--ending`` also ends each saved answer where docqa now ends
generation (the saved text streamed again through :func:`docqa.answering.ending.generate`) and
scores it again, saved as ``LABEL+ended``: with a fixed seed, the text a model writes before
the point where docqa stops it is the text it wrote in the saved run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import answers  # this folder

from docqa.answering.abstention import mentions_not_in_documents, says_not_in_documents
from docqa.answering.citations import checked_citations
from docqa.answering.ending import generate
from docqa.config import Settings
from docqa.embedding import Embedder, make_embedder
from docqa.evaluation import Judge, Question
from docqa.llm import Completion, Message, TokenCallback
from docqa.metrics import content_recall, token_f1
from docqa.session import Session
from docqa.types import Hit, TokenUsage


def _question(row: answers.Row, split: str) -> Question:
    name = "en" if row.set == "chat" else row.set
    return next(q for q in answers.question_set(name, split) if q.id == row.id)


class _Replay:
    """An LLM that streams a saved answer again, one character at a time."""

    backend = model = "replay"
    context_window = 0

    def __init__(self, text: str) -> None:
        self.text = text

    def chat(
        self, messages: Sequence[Message], *, on_token: TokenCallback | None = None
    ) -> Completion:
        for character in self.text:
            if on_token is not None:
                on_token(character)
        return Completion(self.text, self.model, self.backend, TokenUsage(), 0.0, None, "stop")

    def count_tokens(self, text: str) -> int | None:
        return None

    def close(self) -> None:
        pass


def ended(text: str) -> str:
    """``text`` as docqa would have ended it: replayed through :func:`generate`."""
    return generate(_Replay(text), []).text


class Rechecker:
    def __init__(self, stores: Path, split: str, *, ending: bool = False) -> None:
        self.embedder: Embedder = make_embedder(Settings())
        self.stores = stores
        self.split = split
        self.ending = ending
        self._sessions: dict[str, Session] = {}

    def hits(self, row: answers.Row) -> list[tuple[Hit, bool]]:
        """The hits the answer was given, each with whether it holds the answer."""
        saved = row.rag.get("hits")
        if saved is not None:
            return [(Hit(file="", text=h["text"], score=0.0), h["relevant"]) for h in saved]
        store = "open" if row.set == "open" else "debian"
        if store not in self._sessions:
            # runs that saved no hits ran before the floor moved to 0.45 and the margin came
            self._sessions[store] = Session(
                Settings(
                    store=self.stores / f"store-{store}",
                    relevance_floor=0.525,
                    relevance_margin=1.0,
                )
            )
        judge = Judge.of(_question(row, self.split))
        hits, _ = self._sessions[store].answerer().retrieve(row.query or row.question)
        return [(h, bool(judge.by and judge.keys(h))) for h in hits]

    def rescore(self, row: answers.Row, rag: dict[str, Any]) -> None:
        """F1, recall and disclaimers of ``rag["text"]`` once ended."""
        text = ended(rag["text"])
        if text == rag["text"]:
            return
        rag["text_saved"], rag["text"] = rag["text"], text
        question = _question(row, self.split)
        if question.answerable and question.answer:
            rag["f1"] = token_f1(text, question.answer)
            rag["recall"] = content_recall(text, question.answer, question.lang)
        rag["says_not"] = says_not_in_documents(text)
        rag["mixed"] = not rag["abstained"] and mentions_not_in_documents(text)

    def recheck(self, row: answers.Row) -> answers.Row:
        rag: dict[str, Any] = dict(row.rag)
        if self.ending and not rag["abstained"]:
            self.rescore(row, rag)
        if rag["abstained"] or not row.answerable or not rag["sources"]:
            return answers.Row(**{**asdict(row), "rag": rag})
        pairs = self.hits(row)
        hits = [h for h, _ in pairs]
        given = list(range(1, min(rag["sources"], len(hits)) + 1))
        citations, _ = checked_citations(rag["text"], hits, given, self.embedder)
        rag.setdefault("citations_given", rag["citations"])
        rag.setdefault("citation_precision_given", rag["citation_precision"])
        rag["citations"] = [c.n for c in citations]
        rag["attributed"] = [c.n for c in citations if c.attributed]
        relevant = [pairs[c.n - 1][1] for c in citations]
        rag["citation_precision"] = sum(relevant) / len(relevant) if relevant else None
        return answers.Row(**{**asdict(row), "rag": rag})

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", nargs="+")
    parser.add_argument("--stores", type=Path, default=answers.CACHE, help="folder of store-*")
    parser.add_argument("--ending", action="store_true", help="end answers as docqa now does")
    args = parser.parse_args()
    for label in args.labels:
        data = json.loads((answers.CACHE / "runs" / f"{label}.json").read_text(encoding="utf-8"))
        split = (
            data["argv"][data["argv"].index("--split") + 1] if "--split" in data["argv"] else "tune"
        )
        checker = Rechecker(args.stores, split, ending=args.ending)
        try:
            rows = [checker.recheck(r) for r in answers.load(label)]
        finally:
            checker.close()
        suffix = "+ended" if args.ending else "+checked"
        out = answers.CACHE / "runs" / f"{label}{suffix}.json"
        data["rows"] = [asdict(r) for r in rows]
        out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        print(answers.per_set_table(f"{label}{suffix}", rows))


if __name__ == "__main__":
    main()
