"""The README stays true: its settings table is current, it gives the two set-up commands, and no
merge left its conflict markers in it."""

from __future__ import annotations

import re

from docqa.config import Settings, settings_table

from .conftest import REPO


def test_settings_table_is_current() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- settings-table -->\n(.*?)\n<!-- /settings-table -->", readme, re.S)
    assert block, "README lacks the settings-table markers"
    assert block.group(1) == settings_table(), "regenerate it with `python -m docqa.config`"


def test_every_setting_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 10, name


def test_readme_gives_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Two commands", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]


def test_readme_holds_no_merge_conflict() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    markers = re.findall(r"^(?:<{7}|={7}|>{7})(?: .*)?$", readme, re.M)
    assert not markers, f"README.md holds an unresolved merge conflict: {markers}"
