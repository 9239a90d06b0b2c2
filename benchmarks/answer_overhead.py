"""What docqa adds around the LLM call, and time to first token with SmolLM2 in-process.

Store: the repo's data/ ingested with the default embedder (built once under
benchmarks/.cache/answer/). Run: ``python benchmarks/query.py --answer`` or this file directly.

- *docqa overhead*: ``docqa.ask`` with an LLM that answers instantly (so the model costs
  nothing): retrieval (query embedding, BM25, the hybrid query), prompt building and budgeting,
  citation parsing. Once as one-shot calls (the embedded store opened and released per call,
  docqa's default) and once with the store kept open (``store=``).
- *first token*: ``docqa.ask(..., stream=True)`` with SmolLM2-135M in-process (1 thread), from
  the call to the first streamed piece; the model is loaded before timing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import docqa
from docqa.config import Settings
from docqa.embedding import make_embedder
from docqa.llm import Completion, Message, make_llm
from docqa.stores import open_store
from docqa.types import TokenUsage

HERE = Path(__file__).resolve().parent
STORE = HERE / ".cache" / "answer" / "store"
QUESTIONS = [
    "How many boats does the field station own?",
    "What does it cost to replace a lost badge?",
    "When is the station closed for maintenance?",
    "Comment mettre à jour Debian vers une nouvelle version ?",
    "What is Debian GNU/Linux?",
    "Quelle est la température de la chambre froide ?",
]


# A four-sentence answer of the usual shape: what checking citations costs (each sentence is
# embedded and compared with the sources) is measured on it, with the check on and off.
LONG_ANSWER = (
    "The station owns two boats [1]. The Goéland is a launch with a 90 hp engine [1]. "
    "The cold room is kept at 4 degrees. Unlabelled samples are discarded every Friday [2]."
)


class InstantLLM:
    """An LLM that answers at once, citing source 1 (or with ``text``)."""

    backend, model, context_window = "instant", "instant", 8192

    def __init__(self, text: str = "The documents say so [1].") -> None:
        self.text = text

    def chat(
        self, messages: Sequence[Message], *, on_token: Callable[[str], None] | None = None
    ) -> Completion:
        text = self.text
        if on_token:
            on_token(text)
        return Completion(text, "instant", "instant", TokenUsage(None, None), 0.0, 0.0, "stop")

    def count_tokens(self, text: str) -> int | None:
        return None

    def close(self) -> None:
        pass


def _p50(fn: Callable[[], object], rounds: int = 3) -> float:
    fn()
    times = []
    for _ in range(rounds):
        for _q in QUESTIONS:
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run() -> None:
    """Print the overhead and time-to-first-token figures."""
    settings = Settings(store=STORE, llm="gguf", max_tokens=32, num_ctx=2048, threads=1)
    if not (STORE / "manifest.sqlite").is_file():
        docqa.ingest(HERE.parent / "data", settings)
    emb, llm = make_embedder(settings), InstantLLM()
    qs = iter(QUESTIONS * 100)
    one_shot = _p50(lambda: docqa.ask(next(qs), settings, llm=llm, embedder=emb))  # type: ignore[arg-type]
    store = open_store(settings, STORE)
    kept = _p50(lambda: docqa.ask(next(qs), settings, llm=llm, embedder=emb, store=store))  # type: ignore[arg-type]
    long = InstantLLM(LONG_ANSWER)
    off = settings.with_(check_citations=False)
    checked = _p50(lambda: docqa.ask(next(qs), settings, llm=long, embedder=emb, store=store))  # type: ignore[arg-type]
    unchecked = _p50(lambda: docqa.ask(next(qs), off, llm=long, embedder=emb, store=store))  # type: ignore[arg-type]
    store.close()
    print(
        f"docqa overhead around the LLM call, p50: {one_shot:.1f} ms one-shot "
        f"(store opened per call), {kept:.1f} ms with the store kept open"
    )
    print(
        f"a four-sentence answer, store kept open, p50: {checked:.1f} ms with citations checked, "
        f"{unchecked:.1f} ms without ({emb.id})"
    )
    gguf = make_llm(settings, backend="gguf")
    firsts = []
    for q in QUESTIONS:
        start = time.perf_counter()
        first = None
        for _piece in docqa.ask(q, settings, stream=True, llm=gguf, embedder=emb):
            first = first or time.perf_counter() - start
        firsts.append(first or float("nan"))
    gguf.close()
    print(
        f"time to first token, SmolLM2-135M in-process: p50 {statistics.median(firsts):.2f} s "
        f"(min {min(firsts):.2f}, max {max(firsts):.2f}) over {len(firsts)} questions"
    )


if __name__ == "__main__":
    run()
