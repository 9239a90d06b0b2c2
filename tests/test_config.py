"""Settings precedence (flags > env > docqa.toml > defaults) and git-like store discovery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from docqa.cli import cli
from docqa.config import Settings, SettingWarning, find_store, store_path
from docqa.errors import ConfigError, NoStoreError

from .fakes import install_hash_embedder


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


def test_unknown_toml_keys_are_named_with_the_closest_setting_and_bad_values_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "docqa.toml"
    toml.write_text("modle = 'typo'\ntop_k = 3\n")
    monkeypatch.setenv("DOCQA_CONFIG", str(toml))
    with pytest.warns(
        SettingWarning, match=r"unknown setting modle in .*docqa.toml: did you mean model\?"
    ):
        assert Settings().top_k == 3
    monkeypatch.setenv("DOCQA_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("DOCQA_LLM", "chatgpt")
    with pytest.raises(ValidationError):
        Settings()
    with pytest.raises(ValidationError, match="modle"):
        Settings(modle="typo")  # a keyword argument is code, not configuration: refused


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


# --- readable errors and typos (issue 13, item 11) ------------------------------------------


def test_languages_take_the_readmes_comma_form(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in [("en,fr", ("en", "fr")), ("fr", ("fr",)), (" en , fr ", ("en", "fr"))]:
        monkeypatch.setenv("DOCQA_LANGUAGES", value)
        assert Settings().languages == expected
    monkeypatch.setenv("DOCQA_LANGUAGES", '["fr", "en"]')
    assert Settings().languages == ("fr", "en")


def test_an_unreadable_env_value_is_one_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCQA_PRESETS", "x")
    with pytest.raises(ConfigError) as info:
        Settings()
    assert str(info.value).startswith("bad setting presets: the value in DOCQA_PRESETS")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"top_k = \n", "Invalid value"), (b"model = 'caf\xe9'\n", "can't decode byte 0xe9")],
)
def test_a_malformed_or_non_utf8_toml_is_one_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, needle: str
) -> None:
    toml = tmp_path / "docqa.toml"
    toml.write_bytes(content)
    monkeypatch.setenv("DOCQA_CONFIG", str(toml))
    with pytest.raises(ConfigError) as info:
        Settings()
    assert str(info.value).startswith(f"bad setting file {toml}: ") and needle in str(info.value)


def test_unknown_env_names_are_named_with_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCQA_TOPK", "3")
    monkeypatch.setenv("DOCQA_ZZZZZ", "1")
    with pytest.warns(SettingWarning) as caught:
        assert Settings().top_k == 8
    assert sorted(str(w.message) for w in caught) == [
        "unknown setting DOCQA_TOPK: did you mean DOCQA_TOP_K?",
        "unknown setting DOCQA_ZZZZZ: it is ignored",
    ]


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"DOCQA_PRESETS": "x"}, "Error: bad setting presets: the value in DOCQA_PRESETS"),
        ({"DOCQA_TOP_K": "zero"}, "Error: bad setting top_k: Input should be a valid integer"),
        ({"DOCQA_CONFIG": "bad.toml"}, "Error: bad setting file bad.toml: Invalid value"),
    ],
)
def test_cli_prints_one_line_for_a_bad_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("top_k = \n")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith(line)


def test_cli_warns_about_a_typo_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCQA_TOPK", "3")
    monkeypatch.setenv("DOCQA_LANGUAGES", "en,fr")
    monkeypatch.setenv("DOCQA_STORE", str(tmp_path / "store"))
    install_hash_embedder(monkeypatch)
    (tmp_path / "a.md").write_text("The launch has a 90 hp engine.\n")
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "a.md")])
    assert result.exit_code == 0, result.output
    assert result.stderr == "warning: unknown setting DOCQA_TOPK: did you mean DOCQA_TOP_K?\n"
