"""``DOCQA_EMBED_BACKEND=auto``: each job on the backend that finishes it soonest here.

- **Queries** go to the backend that starts quickest (the int8 ONNX model: no torch import; a
  one-off ``docqa search`` starts in ~1 s instead of ~10 s, benchmarks/README.md), or to a
  document backend already loaded in the process.
- **Documents**: a caller that knows the size of the job says so
  (:meth:`AutoEmbedder.expect_documents`; ingest does) and the backend that embeds that many
  chunks soonest, its load included, runs them (:meth:`Measurement.best_for`). Without a size,
  the measured-fastest runs them.
- **Measuring** (:class:`~docqa.embedding.trial.Trial`) happens once per machine and model, on
  the first job of :data:`MEASURE_MIN_CHUNKS` chunks or more (or of unknown size), on that job's
  own chunks: the candidates take turns embedding them, so the timing costs only the loads and
  a small quality check, not a separate run before any file is read. Smaller jobs run on the
  quick backend until then, so adding one file never waits for it.

Every backend a plan holds makes interchangeable vectors (``measurement.COMPATIBLE``), so one
store may hold documents from several of them and be queried from any.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from docqa.embedding.base import embed_queries
from docqa.embedding.measurement import Measurement, cached, remember
from docqa.embedding.trial import Trial
from docqa.errors import EmbedderError

if TYPE_CHECKING:
    from docqa.embedding import Embedder, ModelInfo

log = logging.getLogger(__name__)

MEASURE_MIN_CHUNKS = 200
"""Smallest job that triggers the first measurement on a machine (its chunks are the trial's)."""

Loader = Callable[[], "Embedder"]


@dataclass
class Plan:
    """What ``auto`` may run for one model here, before anything is loaded.

    Attributes:
        model: The model name (the cache key's first part).
        device: The device setting (``auto``, ``cpu``, ``cuda``, ``mps``).
        candidates: Backend name -> loader, for the backends that exist here.
        reference: The fp32 backend the others are checked against, when torch is installed.
        quick: The backend that starts quickest, for queries and small jobs.
    """

    model: str
    device: str
    candidates: dict[str, Loader]
    reference: str | None
    quick: str | None


class AutoEmbedder:
    """Documents on the backend that finishes the job soonest, queries on the quickest to start;
    nothing is loaded before its first use, and what is loaded stays loaded.

    Attributes:
        info: The resolved model.
        plan: The candidates.
        backend: ``"auto"``; :meth:`describe` says what runs.
        measurement: This machine's measurement, once read or made.
    """

    backend = "auto"

    def __init__(self, info: ModelInfo, plan: Plan) -> None:
        self.info = info
        self.plan = plan
        self.measurement: Measurement | None = None
        self._loaded: dict[str, Embedder] = {}
        self._expected: int | None = None
        self._trial: Trial | None = None
        self._lock = threading.RLock()

    @property
    def id(self) -> str:
        """``name:auto:dim``; the fingerprint records the vector space (``vectors_id``)."""
        return f"{self.info.name}:{self.backend}:{self.info.dim}"

    def expect_documents(self, chunks: int) -> None:
        """Say how many chunks the coming :meth:`embed_documents` calls embed in all."""
        with self._lock:
            self._expected = chunks

    def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed chunks on the backend chosen for the job (see the module docstring)."""
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        with self._lock:
            if self._trial is None and self._unmeasured():
                self._trial = self._start_trial()
            trial = self._trial
            if trial is not None:
                vectors = trial.embed(texts)
                if trial.done:
                    self._end_trial(trial)
                return vectors
            embedder = self.documents_embedder()
        return embedder.embed_documents(texts)

    def embed_query(self, text: str) -> NDArray[np.float32]:
        """Embed one question on a loaded backend, else on the quickest to start."""
        return self.query_embedder().embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed several questions in one batch, on the backend :meth:`embed_query` uses."""
        return embed_queries(self.query_embedder(), texts)

    def documents_embedder(self) -> Embedder:
        """The embedder for the job announced (measuring first when the job calls for it)."""
        with self._lock:
            name, from_cache = self._documents_backend()
            try:
                return self._get(name)
            except EmbedderError as error:
                if not from_cache:
                    raise
                log.warning("cached embedding backend %s fails (%s): measuring again", name, error)
                self._measure()
                return self._get(self._documents_backend()[0])

    def query_embedder(self) -> Embedder:
        """The embedder for queries: the fastest one loaded, else the quickest to start."""
        with self._lock:
            if self._trial is not None and not self._loaded:
                quick = self._trial.loaded.get(self.plan.quick or "")
                return quick if quick is not None else self._trial.winner()
            if self._loaded:
                speeds = self.measurement.speeds if self.measurement else {}
                return max(self._loaded.values(), key=lambda e: speeds.get(e.backend, 0.0))
            name = self.plan.quick or self._documents_backend()[0]
            return self._get(name)

    def describe(self) -> str:
        """Which backends run and why, in one line (``docqa status``)."""
        return describe_plan(self.plan, self.measurement)

    def _get(self, name: str) -> Embedder:
        if name not in self._loaded:
            self._loaded[name] = self.plan.candidates[name]()
        return self._loaded[name]

    def _documents_backend(self) -> tuple[str, bool]:
        """(backend for the announced job, whether it comes from the cache)."""
        plan, expected = self.plan, self._expected
        if len(plan.candidates) == 1:
            return next(iter(plan.candidates)), False
        known = self.measurement or cached(plan.model, plan.device)
        from_cache = known is not None and self.measurement is None
        if known is None or known.backend not in plan.candidates:
            small = expected is not None and expected < MEASURE_MIN_CHUNKS
            if small and plan.quick is not None:
                return plan.quick, False
            known, from_cache = self._measure(), False
        self.measurement = known
        if expected is None:
            return known.backend, from_cache
        best = known.best_for(expected, loaded=list(self._loaded))
        return (best if best in plan.candidates else known.backend), from_cache

    def _unmeasured(self) -> bool:
        """Whether this job is the one to measure on (as :meth:`_documents_backend` decides)."""
        plan, expected = self.plan, self._expected
        if len(plan.candidates) == 1:
            return False
        known = self.measurement or cached(plan.model, plan.device)
        if known is not None and known.backend in plan.candidates:
            return False
        return not (expected is not None and expected < MEASURE_MIN_CHUNKS and plan.quick)

    def _start_trial(self) -> Trial:
        plan = self.plan
        log.warning(
            "timing the embedding backends once on this machine (%s), on the first chunks",
            ", ".join(plan.candidates),
        )
        return Trial(plan.candidates, plan.reference or next(iter(plan.candidates)))

    def _end_trial(self, trial: Trial) -> Measurement:
        measurement = trial.measurement()
        remember(self.plan.model, self.plan.device, measurement)
        winner = trial.winner()
        self._loaded = {winner.backend: winner}  # the others' models are dropped
        self.measurement, self._trial = measurement, None
        return measurement

    def _measure(self) -> Measurement:
        """Measure now: end the trial in progress (or a new one) on the fixed batch."""
        trial = self._trial or self._start_trial()
        self._trial = trial
        trial.finish()
        return self._end_trial(trial)


def describe_plan(plan: Plan, measurement: Measurement | None = None) -> str:
    """One line for ``docqa status``: the document backend and why, and the query backend."""
    names = list(plan.candidates)
    if not names:
        return "none can run here"
    if len(names) == 1:
        return f"{names[0]} (the only backend installed here)"
    known = measurement or cached(plan.model, plan.device)
    if known is None:
        return (
            f"auto: not measured on this machine yet ({', '.join(names)} are timed on the first "
            f"ingest of {MEASURE_MIN_CHUNKS}+ chunks); queries and smaller jobs on {plan.quick}"
        )
    text = f"{known.backend} for documents"
    even = known.break_even(plan.quick) if plan.quick else None
    if even:
        text += f" from ~{even} chunks (fewer: {plan.quick}, loads included)"
    text += f": {known.reason()}"
    if plan.quick is not None and plan.quick != known.backend:
        text += f"; queries on {plan.quick} (starts quickest; vectors interchangeable)"
    return text
