"""Settings precedence (flags > env > docqa.toml > defaults) and git-like store discovery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from docqa.config import Settings, find_store, store_path
from docqa.errors import NoStoreError


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "docqa.toml"
    toml.write_text(
        'model = "from-toml"\ntop_k = 3\nchunk_tokens = 128\n[presets]\nlegal = "Be exact."\n'
    )
    monkeypatch.setenv("DOCQA_CONFIG", str(toml))
    assert Settings().model == "from-toml" and Settings().presets == {"legal": "Be exact."}
    monkeypatch.setenv("DOCQA_MODEL", "from-env")
    monkeypatch.setenv("DOCQA_TOP_K", "5")
    s = Settings(top_k=9)
    assert (s.model, s.top_k, s.chunk_tokens) == ("from-env", 9, 128)


def test_unknown_keys_and_bad_values_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "docqa.toml"
    toml.write_text("modle = 'typo'\n")
    monkeypatch.setenv("DOCQA_CONFIG", str(toml))
    with pytest.raises(ValidationError, match="modle"):
        Settings()
    monkeypatch.setenv("DOCQA_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("DOCQA_LLM", "chatgpt")
    with pytest.raises(ValidationError):
        Settings()


def test_settings_load_on_first_use() -> None:
    code = (
        "import sys, docqa\n"
        "before = 'pydantic_settings' in sys.modules\n"
        "from docqa import Settings\n"
        "print(before, Settings.__module__, Settings(device='cpu').device)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "docqa.config", "cpu"]


def test_device_is_one_of_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCQA_DEVICE", "cuda")
    assert Settings().device == "cuda"
    with pytest.raises(ValidationError, match="device"):
        Settings(device="tpu")  # type: ignore[arg-type]


def test_with_ignores_none_and_returns_a_copy() -> None:
    s = Settings()
    assert s.with_(model=None) is s
    t = s.with_(model="mixtral")
    assert t.model == "mixtral" and s.model == "mistral"


def test_store_is_found_like_git(tmp_path: Path) -> None:
    (tmp_path / ".docqa").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_store(Settings(), deep) == tmp_path / ".docqa"
    assert find_store(Settings(store=tmp_path / "x"), deep) == tmp_path / "x"


def test_no_store_is_an_error_unless_creating(tmp_path: Path) -> None:
    with pytest.raises(NoStoreError, match="run `docqa ingest PATH`"):
        store_path(Settings(), create=False, start=tmp_path)
    created = store_path(Settings(), create=True, start=tmp_path)
    assert created == tmp_path / ".docqa" and created.is_dir()
    with pytest.raises(NoStoreError):
        store_path(Settings(store=tmp_path / "missing"), create=False)
