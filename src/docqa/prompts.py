"""The prompts docqa sends, as constants, and the presets that adjust their style.

A preset is extra instructions appended to the system prompt (RAG and baseline alike), so the
rules that make answers checkable (numbered sources, ``[n]`` citations, abstention) always stay.
Users add or override presets in ``docqa.toml``::

    [presets]
    legal = "Quote the exact wording of the clause you rely on."
"""

from __future__ import annotations

from collections.abc import Sequence

from docqa.config import Settings
from docqa.errors import ConfigError
from docqa.language import LANGUAGE_NAMES
from docqa.types import Hit

NOT_IN_DOCUMENTS = "The documents do not say."
"""The usual wording of a model's refusal (docqa reads any "the documents do not …" as one)."""

ABSTENTION = {
    "en": "The documents do not contain an answer to this question.",
    "fr": "Les documents ne contiennent pas de réponse à cette question.",
}
"""docqa's own answer, without calling the model, when no source passes the relevance floor."""

# Measured with Qwen2.5-Coder-1.5B on the tune questions (benchmarks/answers.py): an
# all-or-nothing rule ("if the sources do not contain the answer, reply exactly: ...") made
# refusal the safe choice whenever the sources held only part of an answer, the usual case for
# "how" and "why" questions; and an exact refusal sentence to copy, even under a narrower rule,
# was copied at the start of answers that then answered. So the model is told to start with
# what the sources say, to name what they leave out, and to say that the documents do not cover
# the question only when no source is about it, in its own words.
RAG_SYSTEM = """You answer the user's question from the numbered sources they give you.
- Start with the answer: what the sources say about the question, keeping their wording, \
numbers and names. Answer even when the sources cover only part of the question.
- After each sentence, write the number of the source it comes from in square brackets, like \
[2]. Cite only sources that say what the sentence says.
- If part of the question is not covered, finish with one sentence naming that part.
- Use only the sources, not your own knowledge.
- If no source is about the question at all, say in one sentence that the documents do not \
cover it.
- Answer in the language of the question, even when the sources are in another language."""

BASELINE_SYSTEM = """You answer questions from your own knowledge.
- Be concise and precise.
- If you do not know, say so rather than guess.
- Answer in the language of the question."""

CONDENSE_SYSTEM = """You rewrite the user's last message as one standalone question.
Use the conversation only to resolve what the message refers to (pronouns, "it", "that one").
Reply with the question alone, in the language of the message, without answering it."""

CONDENSE_USER = """Conversation:
{history}

Last message: {question}

Standalone question:"""

PRESETS: dict[str, str] = {
    "default": "",
    "concise": "Answer in at most three sentences. No preamble.",
    "detailed": "Give a complete answer: explain the steps or the reasons, in short paragraphs.",
    "programming": (
        "The reader is a programmer. Keep commands, code, file names and identifiers exactly "
        "as written, in Markdown code blocks; prefer a short example to a long explanation."
    ),
}
"""Built-in presets; ``settings.presets`` adds to and overrides them."""


def presets(settings: Settings) -> dict[str, str]:
    """The built-in presets merged with ``settings.presets`` (the settings win)."""
    return PRESETS | dict(settings.presets)


def system_prompt(base: str, settings: Settings) -> str:
    """``base`` followed by the instructions of ``settings.preset``.

    Args:
        base: :data:`RAG_SYSTEM` or :data:`BASELINE_SYSTEM`.
        settings: Uses ``preset`` and ``presets``.

    Raises:
        ConfigError: ``settings.preset`` names no preset.
    """
    if settings.preset is None:
        return base
    known = presets(settings)
    if settings.preset not in known:
        raise ConfigError(
            f"unknown preset {settings.preset!r}: use one of {', '.join(sorted(known))} "
            "or add it under [presets] in docqa.toml"
        )
    extra = known[settings.preset].strip()
    return f"{base}\n\n{extra}" if extra else base


CLIENT_PRESET = "client"
"""The preset name under which a conversation's own instructions (a client's system message)
are added to docqa's."""


def with_instructions(settings: Settings, instructions: str) -> Settings:
    """``settings`` with a conversation's own ``instructions`` added as a preset.

    docqa's answering rules (sources, ``[n]`` citations, abstention) stay first; the configured
    preset, then the instructions, follow them.
    """
    if not instructions.strip():
        return settings
    configured = system_prompt("", settings).strip()
    text = "\n\n".join(p for p in (configured, instructions.strip()) if p)
    return settings.with_(presets={**settings.presets, CLIENT_PRESET: text}, preset=CLIENT_PRESET)


def source_label(hit: Hit) -> str:
    """How a source is named to the model: file name, then page or heading path.

    Only the file name is sent, not the folder: the model needs no more to cite, and a remote
    LLM server learns nothing about the user's folders. A PDF's heading path is not sent: on
    the tune questions it cost ~90 prompt tokens and lowered F1 (0.463 -> 0.408) without
    better citations (benchmarks/answers.py).
    """
    name = hit.file.replace("\\", "/").rsplit("/", 1)[-1]
    if hit.page is not None:
        return f"{name}, page {hit.page}"
    return f"{name}, {' > '.join(hit.heading)}" if hit.heading else name


def format_source(n: int, hit: Hit) -> str:
    """One numbered source block: ``[n] label`` then the chunk text."""
    return f"[{n}] {source_label(hit)}\n{hit.text.strip()}"


def rag_user(sources: Sequence[str], question: str, language: str | None = None) -> str:
    """The user message of a RAG prompt: the question, the source blocks, the question again.

    Asked first, the question tells the model what to look for while it reads the sources;
    asked again last, it is what the model answers. ``language`` (an ISO code, see
    :func:`docqa.language.answer_language`) adds "Answer in French." just before it: the system
    prompt's rule alone, far above the sources, was not enough — Qwen2.5-1.5B answered 4 of 12
    French questions in English after English-leaning sources (benchmarks/answers.py).
    """
    blocks = "\n\n".join(sources)
    name = LANGUAGE_NAMES.get(language or "")
    ask = f"Answer in {name.capitalize()}.\n" if name else ""
    return f"Question: {question}\n\nSources:\n\n{blocks}\n\n{ask}Question: {question}"


def condense_user(turns: Sequence[tuple[str, str]], question: str) -> str:
    """The user message asking for a standalone question (``turns``: (question, answer))."""
    history = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in turns)
    return CONDENSE_USER.format(history=history, question=question)
