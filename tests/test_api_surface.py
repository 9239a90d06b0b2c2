"""The public surface: exported names exist, and ``import docqa`` stays light."""

from __future__ import annotations

import subprocess
import sys

import docqa


def test_all_exports_resolve() -> None:
    for name in docqa.__all__:
        assert getattr(docqa, name) is not None, name
    assert sorted(docqa.__all__) == sorted(set(docqa.__all__))


def test_public_functions_are_the_documented_verbs() -> None:
    for verb in ("ingest", "status", "reset"):
        assert callable(getattr(docqa, verb))
    assert isinstance(docqa.Settings().top_k, int)


def test_every_error_is_a_docqa_error() -> None:
    errors = [
        getattr(docqa, n) for n in docqa.__all__ if n.endswith("Error") or n.endswith("Required")
    ]
    assert errors and all(issubclass(e, docqa.DocqaError) for e in errors)


def test_import_is_light() -> None:
    code = (
        "import docqa, sys\n"
        "print([m for m in ('torch', 'qdrant_client', 'qdrant_edge', 'llama_index.core', "
        "'sentence_transformers', 'onnxruntime', 'pypdf', 'pypdfium2') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
