"""Bad input, fuzzed (issue 13, item 15): ~200 hostile files made by a seeded generator from the
real files in tests/data (truncated, bit-flipped and random-byte copies of PDFs, DOCX and HTML;
odd names; empty files and huge lines) next to good ones. The ingest path is real (the CLI in a
child process, so a crash in a native parser fails the test instead of killing it); only the
embedder is the hash fake. The ingest must print no traceback, name every failed file on one line
with a reason, exit 0 or 2, and leave every good file searchable."""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
from pathlib import Path

from docqa.api import search
from docqa.config import Settings
from docqa.sources import path_text

from .conftest import CURATED, REPO
from .fakes import HashEmbedder

DATA = REPO / "tests" / "data"
SOURCES = [
    CURATED / "table_census_12s0324.pdf",
    CURATED / "malformed_xref_issue-301.pdf",
    CURATED / "encrypted_rc4_pw-openpassword.pdf",
    CURATED / "md_node_url.md",
    DATA / "node_url.docx",
    DATA / "python_faq_programming.docx",
]
HTML = CURATED / "html_python_faq_programming.html"
SUPPORTED = (".pdf", ".txt", ".md", ".html", ".htm", ".docx", ".PDF", ".Md")
# the CLI with the hash embedder in place of the real one; the rest of ingest is docqa's own
CHILD = (
    "import sys, pytest\n"
    "from tests.fakes import install_hash_embedder\n"
    "install_hash_embedder(pytest.MonkeyPatch())\n"
    "from docqa.cli import main\n"
    "sys.argv[0] = 'docqa'\n"
    "main()\n"
)


def odd_name(rng: random.Random, i: int, ext: str) -> str:
    stem = rng.choice(
        [
            f"plain {i}",
            f"-dash{i}",
            f"accents-é-ü-{i}",
            f"emoji-📄-{i}",
            f"rtl-שלום-{i}",
            f"glob[{i}]*?",
            f"quote'\"{i}",
            f"{'long' * 50}{i}",
            os.fsdecode(b"latin1-\xe9\xff-%d" % i),  # not UTF-8
            f"double.pdf.{i}",
        ]
    )
    return stem + ext


def mutate(rng: random.Random, data: bytes) -> bytes:
    kind = rng.choice(["truncate", "flip", "random", "zero-tail", "head-garbage"])
    if kind == "truncate":
        return data[: rng.randrange(0, len(data))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 64)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "random":
        return rng.randbytes(rng.randint(1, 20_000))
    if kind == "zero-tail":
        cut = rng.randrange(len(data))
        return data[:cut] + bytes(len(data) - cut)
    return rng.randbytes(rng.randint(1, 64)) + data


def make_corpus(folder: Path, seed: int = 15) -> dict[str, str]:
    """Writes the files; returns {name of each good file: a word only it holds}."""
    rng = random.Random(seed)
    sources = {p.suffix: p.read_bytes() for p in SOURCES}
    sources[".html"] = HTML.read_bytes()[:40_000]  # a real page, cut to keep the run short
    sources[".docx"] = (DATA / "node_url.docx").read_bytes()
    pdfs = [p.read_bytes() for p in SOURCES if p.suffix == ".pdf"]
    docxs = [p.read_bytes() for p in SOURCES if p.suffix == ".docx"]
    good: dict[str, str] = {}
    for i in range(30):
        word = "".join(rng.choices(string.ascii_lowercase, k=10))
        ext = rng.choice([".txt", ".md", ".html"])
        text = f"The field notes for day {i} mention {word} near the boats."
        body = f"<html><body><p>{text}</p></body></html>" if ext == ".html" else text
        name = odd_name(rng, i, ext)
        (folder / name).write_text(body, encoding="utf-8")
        good[name] = word
    for i in range(150):
        ext = rng.choice([".pdf", ".pdf", ".pdf", ".docx", ".docx", ".html", ".md"])
        base = (
            rng.choice(pdfs)
            if ext == ".pdf"
            else rng.choice(docxs)
            if ext == ".docx"
            else sources[ext]
        )
        (folder / odd_name(rng, 100 + i, ext)).write_bytes(mutate(rng, base))
    for ext in (".pdf", ".docx", ".html", ".md", ".txt"):
        (folder / f"empty{ext}").write_bytes(b"")
        (folder / f"blank{ext}").write_bytes(b" \n\t\n" * 10)
    (folder / "one-long-line.txt").write_text("word " * 60_000, encoding="utf-8")
    (folder / "no-spaces.txt").write_text(rng.randbytes(150_000).hex(), encoding="utf-8")
    (folder / "many-empty-lines.md").write_text("\n" * 200_000 + "# end\nlast line\n")
    (folder / "nul.txt").write_bytes(b"text\x00" * 1000)
    (folder / "unsupported.xyz").write_bytes(b"skipped")
    return good


def test_fuzzed_files_fail_one_line_each_and_good_files_stay_searchable(tmp_path: Path) -> None:
    folder = tmp_path / "fuzz"
    folder.mkdir()
    good = make_corpus(folder)
    names = [n for n in os.listdir(folder) if n.endswith(SUPPORTED)]
    assert len(names) >= 190
    store = tmp_path / "store"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]))
    env = {k: v for k, v in env.items() if not k.startswith("DOCQA_")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "--store", str(store), "ingest", str(folder)],
        cwd=tmp_path,
        env=env | {"DOCQA_CONFIG": str(tmp_path / "none.toml")},
        capture_output=True,
        timeout=600,
    )
    out, err = done.stdout.decode(), done.stderr.decode("utf-8", "backslashreplace")
    assert done.returncode in (0, 2), err[-3000:]
    assert "Traceback" not in err and "Traceback" not in out
    shown = {path_text(folder / n): n for n in names}
    failed: dict[str, str] = {}
    for line in err.splitlines():
        assert line.startswith(("failed: ", "warning: ")), f"stray output: {line!r}"
        if line.startswith("failed: "):
            path = next((p for p in shown if line.startswith(f"failed: {p}: ")), None)
            assert path is not None, f"failure names no file: {line!r}"
            reason = line.removeprefix(f"failed: {path}: ")
            assert len(reason) > 10, line
            failed[shown[path]] = reason
    added = int(out.split(" added")[0])
    assert added + len(failed) == len(names), "a file was neither ingested nor named as failed"
    assert not set(good) & set(failed), {n: failed[n] for n in set(good) & set(failed)}
    for name in ("empty.pdf", "empty.docx", "empty.txt"):
        assert name in failed
    settings = Settings(store=store, search_mode="bm25")
    for name, word in good.items():
        hits = search(word, settings, embedder=HashEmbedder(), k=3)
        assert hits and hits[0].file == path_text(folder / name), (name, word)
