"""Chunks/s of 256-token chunks per CPU backend (issue #23's goal: >= 40 on 2 cores).

Real text: 256-token windows (254 + the two special tokens) of the three curated manuals
(R-intro, Debian FAQ EN and FR; pypdfium2 text), shuffled. Every backend embeds the whole set
in turn, the order rotating, for several rounds; best and median per backend and the median
ratio to torch-fp32 and to onnx-int8, round by round (the machine is shared: ratios hold
better than absolutes). Also the cosine of each backend's vectors to torch-fp32's.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/embed_256.py [--n 300] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np
import pypdfium2 as pdfium
from ingest import CURATED

from docqa.config import Settings
from docqa.embedding import Embedder, load_tokenizer, make_embedder, resolve_model

FILES = ["en_manual_R-intro.pdf", "en_faq_debian-faq.en.pdf", "fr_faq_debian-faq.fr.pdf"]
BACKENDS = {
    "torch-fp32": "torch",
    "onnx-int8": "onnx",
    "openvino-fp32": "openvino-fp32",
    "openvino-int8": "openvino",
}


def windows(n: int, size: int = 254) -> list[str]:
    tokenizer = load_tokenizer(resolve_model(Settings()))
    texts: list[str] = []
    for name in FILES:
        pdf = pdfium.PdfDocument(str(CURATED / name))
        text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        enc = tokenizer.encode(text, add_special_tokens=False)
        for start in range(0, len(enc.ids) - size, size):
            texts.append(text[enc.offsets[start][0] : enc.offsets[start + size - 1][1]])
    np.random.default_rng(0).shuffle(texts)  # type: ignore[arg-type]
    return texts[:n]


def ratio(slower: list[float], faster: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(slower, faster, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = windows(args.n)
    loaders: dict[str, Callable[[], Embedder]] = {
        name: (lambda s=setting: make_embedder(Settings(embed_backend=s)))
        for name, setting in BACKENDS.items()
    }
    embedders = {name: load() for name, load in loaders.items()}
    for embedder in embedders.values():
        embedder.embed_documents(texts[:16])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    vectors = {}
    names = list(embedders)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            started = time.perf_counter()
            vectors[name] = embedders[name].embed_documents(texts)
            seconds[name].append(time.perf_counter() - started)
    print(f"{len(texts)} chunks of 256 tokens, {args.rounds} rounds, {os.cpu_count()} cores")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    ref = vectors["torch-fp32"]
    for name in names:
        speeds = [len(texts) / s for s in seconds[name]]
        vs_torch = ratio(seconds["torch-fp32"], seconds[name])
        vs_onnx = ratio(seconds["onnx-int8"], seconds[name])
        cos = (vectors[name] * ref).sum(axis=1)
        print(
            f"{name:14} best {max(speeds):5.1f} median {statistics.median(speeds):5.1f} chunks/s"
            f"  x torch-fp32 {vs_torch:.2f}  x onnx-int8 {vs_onnx:.2f}"
            f"  cosine min {cos.min():.4f} mean {cos.mean():.5f}"
        )


if __name__ == "__main__":
    main()
