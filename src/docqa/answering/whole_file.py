"""Questions about a whole file: "summarize the field station handbook", "list every deadline in
the minutes". Top-k retrieval sees a few chunks; these questions need all of them.

:func:`recognise` finds a question that names a stored file (the words of its name) together
with a whole-file intent (summarize, main points, list every, outline, overview; résume, points
principaux…), or takes the file given (``file=``, ``--file``). :func:`read_whole` then reads
every chunk of the file in order (a "chapter 3" keeps the chunks under that heading), groups
them into parts that fit the context window, asks the model per part for the points with
``[n]`` citations (map), and combines the parts' notes into one answer (reduce), whose ``[n]``
still point at the chunks (pages) each note came from. A file that fits in one part is answered
in one call.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import TYPE_CHECKING

from docqa import prompts, retrieval
from docqa.answering.budget import MESSAGE_OVERHEAD, TokenCounter, prompt_budget, too_long
from docqa.answering.ending import generate
from docqa.answering.jobs import Job, rag_job
from docqa.llm import Completion, Message
from docqa.types import Hit

if TYPE_CHECKING:
    from docqa.collaborators import Collaborators
    from docqa.config import Settings
    from docqa.llm import LLM
    from docqa.stores import Store

_INTENT = re.compile(
    r"\b(summar\w*|r[ée]sum\w*|synth[eè]s\w*|outline|overview|aper[cç]u|"
    r"(main|key) (points|ideas|topics)|points? (principaux|cl[ée]s)|"
    r"list (every|all|each)|liste[rz]? (tous|toutes|chaque)|"
    r"what (is|are) .{0,40}\b(about|covered)|de quoi parle|"
    r"whole|entire|tout le|toute la|en entier)\b",
    re.IGNORECASE,
)
_SECTION = re.compile(r"\b(chapter|section|part|chapitre|partie)\s+(\d+|[ivx]+)\b", re.IGNORECASE)
_STOP = frozenset({"the", "and", "les", "des", "du", "de", "la", "le", "of", "a", "an"})

MAP_SYSTEM = """You read one part of a longer document, in numbered sources.
- Write the points of this part that answer the user's request, in the document's order, as \
short sentences keeping its wording, numbers and names.
- After each sentence, write the number of the source it comes from in square brackets, \
like [2].
- Use only the sources. Write in the language of the request."""

REDUCE_SYSTEM = """You combine notes taken on the parts of one document into one answer.
- Answer the user's request from the notes, in the document's order; keep their wording, \
numbers and names.
- Keep each sentence's source number in square brackets, like [2], as the notes give it.
- Use only the notes. Write in the language of the request."""

GGUF_PROMPT_TPS = 60.0
"""Prompt tokens per second assumed for the in-process GGUF backend (a 1.5B model on a few
CPU cores reads 50-100 tokens/s), for the estimate shown before a long read."""
GGUF_OUTPUT_TPS = 8.0
"""Generated tokens per second assumed for the in-process GGUF backend."""


@dataclass(frozen=True)
class Progress:
    """A whole-file read's progress: ``done`` of ``total`` parts; before the first part,
    ``estimate_s`` holds the time estimate (on a slow backend, else ``None``)."""

    file: str
    done: int
    total: int
    estimate_s: float | None = None


ProgressCallback = Callable[[Progress], None]


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.findall(r"[a-z0-9]+", plain)


def name_words(path: str) -> set[str]:
    """The words of a file's name that a question must hold to name it."""
    return {w for w in _words(PurePath(path).stem) if w not in _STOP and not w.isdigit()}


def has_intent(question: str) -> bool:
    """Whether ``question`` asks about a whole file or section (summarize, main points…)."""
    return bool(_INTENT.search(question))


def named_file(question: str, paths: Sequence[str]) -> str | None:
    """The stored path whose name the question holds (all its words, or the file name), the one
    with the most words when several do; ``None`` when none does."""
    asked = set(_words(question))
    lowered = question.lower()
    best: tuple[int, str] | None = None
    for path in paths:
        words = name_words(path)
        named = PurePath(path).name.lower() in lowered or (words and words <= asked)
        if named and (best is None or len(words) > best[0]):
            best = (len(words), path)
    return best[1] if best else None


def recognise(question: str, paths: Sequence[str]) -> str | None:
    """The stored file a whole-file question is about, or ``None`` for any other question
    ("how many boats does the station own?" is not one, even if it names a file)."""
    if not has_intent(question):
        return None
    return named_file(question, paths)


def stored_paths(store: Store) -> list[str]:
    """Every published file path in ``store``."""
    found: set[str] = set()
    for point in store.points():
        found.update(str(f) for f in point.payload.get("files") or ())
    return sorted(found)


def file_chunks(store: Store, path: str) -> list[Hit]:
    """Every chunk of the file at ``path``, in the file's order."""
    rows = []
    for point in store.points():
        payload = point.payload
        if path not in (str(f) for f in payload.get("files") or ()):
            continue
        hit = replace(retrieval.stored_hit(payload, point.id, 1.0), file=path)
        rows.append((int(payload.get("position") or 0), hit))
    return [hit for _, hit in sorted(rows, key=lambda r: r[0])]


def section_chunks(question: str, chunks: Sequence[Hit]) -> list[Hit]:
    """The chunks under the section the question names ("chapter 3": a heading starting with
    "Chapter 3" or "3"), or all of them when it names none or no heading matches."""
    match = _SECTION.search(question)
    if not match:
        return list(chunks)
    kind, number = match.group(1).lower(), match.group(2).lower()
    pattern = re.compile(rf"^\s*(({kind}|chapter|section|chapitre|partie)\s+)?{number}\b", re.I)
    kept = [c for c in chunks if any(pattern.match(h) for h in c.heading)]
    return kept or list(chunks)


def split_parts(
    question: str, chunks: Sequence[Hit], llm: LLM, settings: Settings
) -> list[list[int]]:
    """The chunks' numbers (from 1) grouped into parts that each fit the map prompt."""
    count, budget = TokenCounter(llm), prompt_budget(llm, settings)
    fixed = count(MAP_SYSTEM) + count(prompts.rag_user([], question))
    if fixed > budget:
        raise too_long("the question", fixed, budget)
    room = budget - fixed
    parts: list[list[int]] = [[]]
    used = 0
    for n, chunk in enumerate(chunks, 1):
        size = count(prompts.format_source(n, chunk)) - MESSAGE_OVERHEAD + 1
        if parts[-1] and used + size > room:
            parts.append([])
            used = 0
        parts[-1].append(n)
        used += size
    return parts


_speeds: dict[str, tuple[float, float]] = {}
"""(prompt, output) tokens per second measured per model on this process's earlier reads."""


def measure(completion: Completion, prompt: int = 0, written: int = 0) -> None:
    """Remember how fast the model read and wrote, for the next estimate: from the tokens the
    backend reported, else ``prompt`` and ``written`` (docqa's counts; llama.cpp reports no
    usage for some calls)."""
    usage, first = completion.usage, completion.first_token_s
    read, wrote = usage.prompt_tokens or prompt, usage.completion_tokens or written
    if not read or not wrote or not first:
        return
    writing = completion.seconds - first
    if writing > 0:
        _speeds[completion.model] = (read / first, wrote / writing)


def estimate_s(prompt_tokens: int, calls: int, llm: LLM, settings: Settings) -> float | None:
    """Seconds a read of ``prompt_tokens`` in ``calls`` calls should take on a slow backend
    (in-process GGUF), ``None`` on the others: at the speeds measured on this model's last
    read, else :data:`GGUF_PROMPT_TPS` and :data:`GGUF_OUTPUT_TPS`; half the answer room
    written per call."""
    if llm.backend != "gguf":
        return None
    read, write = _speeds.get(llm.model, (GGUF_PROMPT_TPS, GGUF_OUTPUT_TPS))
    return prompt_tokens / read + calls * settings.max_tokens / 2 / write


@dataclass
class WholeFile:
    """A whole-file read, ready to run: the question, the file and its chunks in order."""

    question: str
    file: str
    chunks: list[Hit]


def plan(
    collaborators: Collaborators,
    question: str,
    file: str | None,
    *,
    only_file: str | None = None,
) -> WholeFile | None:
    """The whole-file read ``question`` asks for (``file``: the stored path to read, whatever
    the question; ``only_file``: the one file the question is limited to, read whole when the
    question has a whole-file intent), or ``None`` when it is not a whole-file question."""
    if file is None and not has_intent(question):
        return None
    with collaborators.open_store() as store:
        path = file or only_file or recognise(question, stored_paths(store))
        if path is None:
            return None
        chunks = section_chunks(question, file_chunks(store, path))
    return WholeFile(question, path, chunks) if chunks else None


def map_messages(read: WholeFile, part: Sequence[int], settings: Settings) -> list[Message]:
    """The map prompt of one part: its chunks numbered as in the whole file."""
    blocks = [prompts.format_source(n, read.chunks[n - 1]) for n in part]
    system = prompts.system_prompt(MAP_SYSTEM, settings)
    return [Message("system", system), Message("user", prompts.rag_user(blocks, read.question))]


def reduce_messages(read: WholeFile, notes: Sequence[str], settings: Settings) -> list[Message]:
    """The reduce prompt: the parts' notes, in order, with their ``[n]`` markers."""
    name = PurePath(read.file).name
    body = "\n\n".join(
        f"Notes on part {i} of {name}:\n{text.strip()}" for i, text in enumerate(notes, 1)
    )
    user = f"Request: {read.question}\n\n{body}\n\nRequest: {read.question}"
    system = prompts.system_prompt(REDUCE_SYSTEM, settings)
    return [Message("system", system), Message("user", user)]


def read_whole(
    read: WholeFile,
    llm: LLM,
    settings: Settings,
    on_progress: ProgressCallback | None = None,
) -> Job:
    """Read the file part by part (the map calls) and return the job that writes the answer:
    the reduce prompt over the notes, or, for a file of one part, the RAG prompt over all its
    chunks. ``on_progress`` gets the estimate first, then one event per part read."""
    report = on_progress or (lambda progress: None)
    parts = split_parts(read.question, read.chunks, llm, settings)
    total = len(parts)
    count = TokenCounter(llm)
    tokens = sum(count(c.text) for c in read.chunks)
    report(Progress(read.file, 0, total, estimate_s(tokens, total + (total > 1), llm, settings)))
    if total == 1:
        # every chunk whole: cutting them to the question's sentences would defeat the read
        job = rag_job(read.question, read.chunks, llm, settings.with_(prompt_sources="chunks"))
        report(Progress(read.file, 1, 1))
        return job
    notes = []
    for i, part in enumerate(parts, 1):
        messages = map_messages(read, part, settings)
        completion = generate(llm, messages)
        prompt = sum(count(m.content) for m in messages)
        measure(completion, prompt, count(completion.text) - MESSAGE_OVERHEAD)
        notes.append(completion.text)
        report(Progress(read.file, i, total))
    messages = reduce_messages(read, notes, settings)
    return Job(
        question=read.question,
        messages=messages,
        hits=tuple(read.chunks),
        expected_tokens=count.expected(sum(count(m.content) for m in messages)),
        started=time.perf_counter(),
    )
