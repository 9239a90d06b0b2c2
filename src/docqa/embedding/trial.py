"""Timing the backends on the user's own first chunks, which are embedded either way.

The first big job on a machine used to stop for 15-35 s while every candidate embedded a fixed
batch three times before any file was read (and 187 s on a busy machine). A :class:`Trial`
instead hands the job's own chunks to the candidates in turns of :data:`TURN`, each turn timed
and its vectors kept as the job's vectors (every candidate makes interchangeable vectors,
``measurement.COMPATIBLE``), until each candidate has had :data:`ROUNDS` turns (one, for a
candidate :data:`SLOWER` times slower than the best); the rest of the job goes to the fastest.
Repeated work is only the quality check: the first :data:`CHECK` chunks are embedded by every
candidate and compared with the fp32 reference (min cosine >= ``GATE_COSINE``), as
:func:`~docqa.embedding.measurement.measure` does on its fixed batch. Speeds are taken per
character (turns hold different texts) and reported per chunk of the mean size seen.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from docqa.embedding.measurement import GATE_COSINE, ROUNDS, SAMPLE, Measurement, load_candidates
from docqa.errors import EmbedderError

if TYPE_CHECKING:
    from docqa.embedding import Embedder

CHECK = 8  # chunks every candidate embeds for the cosine check
TURN = 32  # chunks per timed turn: two batches, so backends that run batches in parallel do
SLOWER = 2.0  # after its first turn, a candidate this many times slower than the best is done


class Trial:
    """One measurement in progress over the chunks of the first job(s).

    Attributes:
        loaded: The candidates still in the running.
        rejected: Those dropped and why.
        loads: Load seconds per backend (as in :class:`Measurement`).
    """

    def __init__(self, candidates: Mapping[str, Callable[[], Embedder]], reference: str) -> None:
        self.loaded, self.rejected, self.loads = load_candidates(candidates)
        if not self.loaded:
            raise _nothing(self.rejected)
        self.reference = reference
        self.checked = False
        self.turns = dict.fromkeys(self.loaded, 0)
        self.rate = dict.fromkeys(self.loaded, 0.0)  # best characters per second
        self.chars, self.texts = 0, 0

    @property
    def done(self) -> bool:
        """Whether every candidate has had its turns."""
        return self.checked and not self._waiting()

    def _waiting(self) -> list[str]:
        """Candidates owed a turn: fewer than ROUNDS, and after the first, only those within
        :data:`SLOWER` of the best rate (a backend at a third of the best never wins, and its
        turns are the trial's only real cost)."""
        best = max(self.rate.values(), default=0.0)
        return [
            name
            for name in self.loaded
            if self.turns[name] == 0
            or (self.turns[name] < ROUNDS and self.rate[name] * SLOWER >= best)
        ]

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (document prefix added by each embedder), timing turns on the way."""
        parts: list[NDArray[np.float32]] = []
        start = 0
        if not self.checked:
            start = min(CHECK, len(texts))
            parts.append(self._check(list(texts[:start])))
        while start < len(texts) and not self.done:
            turn = list(texts[start : start + TURN])
            parts.append(self._turn(turn))
            start += len(turn)
        if start < len(texts):
            parts.append(self.winner().embed_documents(list(texts[start:])))
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def finish(self, filler: Sequence[str] = SAMPLE * 2) -> None:
        """Complete the turns on the fixed batch (a job ended before the trial did)."""
        while not self.done:
            self.embed(filler)

    def winner(self) -> Embedder:
        """The fastest candidate left (the reference until something was timed)."""
        name = max(self.loaded, key=lambda n: (self.rate[n], n == self.reference))
        return self.loaded[name]

    def measurement(self) -> Measurement:
        """The finished measurement, speeds in chunks/s of the mean chunk seen."""
        size = self.chars / max(self.texts, 1)
        speeds = {name: round(rate / max(size, 1.0), 1) for name, rate in self.rate.items()}
        winner = self.winner().backend
        when = datetime.date.today().isoformat()
        return Measurement(winner, speeds, dict(self.rejected), when, dict(self.loads))

    def _check(self, texts: list[str]) -> NDArray[np.float32]:
        self.checked = True
        if not texts:
            texts = list(SAMPLE[:CHECK])
        vectors = {name: e.embed_documents(texts) for name, e in self.loaded.items()}
        reference = vectors.get(self.reference)
        if reference is not None:
            for name in list(self.loaded):
                cosine = float((vectors[name] * reference).sum(axis=1).min())
                if cosine < GATE_COSINE:
                    self.rejected[name] = f"cosine {cosine:.4f} to fp32 on the first chunks"
                    del self.loaded[name], self.turns[name], self.rate[name]
        if not self.loaded:
            raise _nothing(self.rejected)
        return vectors[self.reference] if reference is not None else next(iter(vectors.values()))

    def _turn(self, texts: list[str]) -> NDArray[np.float32]:
        name = min(self._waiting(), key=lambda n: self.turns[n])
        started = time.perf_counter()
        vectors = self.loaded[name].embed_documents(texts)
        seconds = max(time.perf_counter() - started, 1e-9)
        chars = sum(len(text) for text in texts)
        self.turns[name] += 1
        self.rate[name] = max(self.rate[name], chars / seconds)
        self.chars, self.texts = self.chars + chars, self.texts + len(texts)
        return vectors


def _nothing(rejected: dict[str, str]) -> EmbedderError:
    return EmbedderError(
        "no embedding backend could run here: "
        + "; ".join(f"{k}: {v}" for k, v in rejected.items())
    )
