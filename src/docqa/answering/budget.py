"""The token budget: count (or estimate) prompt tokens, and keep the history that fits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docqa.config import Settings
from docqa.errors import ConfigError
from docqa.llm import Message

if TYPE_CHECKING:
    from docqa.llm import LLM


CHARS_PER_TOKEN = 3.2
"""Characters per token assumed when the backend cannot count tokens (dense, multilingual)."""
ESTIMATE_MARGIN = 1.1
"""Safety factor on character-based estimates, so that an underestimate rarely overflows."""
MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message (role markers, separators)."""


class TokenCounter:
    """Counts prompt tokens with the model's tokenizer, or estimates them from characters.

    The estimate, used when ``llm.count_tokens`` returns ``None`` (Ollama, most OpenAI-style
    servers), is ``len(text) / 3.2`` tokens times a 1.1 safety margin, plus
    :data:`MESSAGE_OVERHEAD` per message. 3.2 characters per token is on the dense side for
    English prose (about 4) so that French, code and PDF text (closer to 3) still fit.
    """

    def __init__(self, llm: LLM) -> None:
        """Count for ``llm``; exact until its ``count_tokens`` first returns ``None``."""
        self._llm = llm
        self.exact = True

    def __call__(self, text: str) -> int:
        """Tokens of ``text`` as one message's content (overhead included)."""
        counted = self._llm.count_tokens(text) if self.exact else None
        if counted is None:
            self.exact = False
            # rounded first so that float noise (320 / 3.2 = 100.00000000000001) adds no token
            counted = math.ceil(round(len(text) / CHARS_PER_TOKEN * ESTIMATE_MARGIN, 6))
        return counted + MESSAGE_OVERHEAD

    def expected(self, cost: int) -> int:
        """What the backend should report for a prompt of ``cost``: the margin taken out."""
        return cost if self.exact else round(cost / ESTIMATE_MARGIN)


def prompt_budget(llm: LLM, settings: Settings) -> int:
    """Prompt tokens available: the context window minus the tokens kept for the answer."""
    return llm.context_window - settings.max_tokens


def too_long(what: str, cost: int, budget: int) -> ConfigError:
    return ConfigError(
        f"{what} needs about {cost} tokens but only {budget} are free "
        "(context window minus DOCQA_MAX_TOKENS): raise DOCQA_NUM_CTX or lower DOCQA_MAX_TOKENS"
    )


def fit_history(history: Sequence[Message], count: TokenCounter, room: int) -> list[Message]:
    """The most recent whole turns of ``history`` that fit in ``room`` tokens.

    Oldest messages go first; an assistant message left at the front without its question is
    dropped too, so the history still starts with the user.
    """
    kept = list(history)
    costs = [count(m.content) for m in kept]
    while kept and (sum(costs) > room or kept[0].role != "user"):
        kept.pop(0)
        costs.pop(0)
    return kept
