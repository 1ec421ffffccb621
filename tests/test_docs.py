"""The documentation keeps up with the code: every command, issue code and setting."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from xlflow.cli.main import commands
from xlflow.config.model import Limits
from xlflow.issues import IssueCode

from .conftest import REPO, run

README = (REPO / "README.md").read_text("utf-8")
CODES = (REPO / "docs" / "issue-codes.md").read_text("utf-8")
SETTINGS = (REPO / "docs" / "settings.md").read_text("utf-8")


@pytest.mark.parametrize("command", sorted(commands()))
def test_every_command_is_in_the_readme_and_has_help(command: str) -> None:
    assert f"xlflow {command}" in README
    result = run([command, "--help"])
    assert "例：" in result.output  # every command's help shows an example


@pytest.mark.parametrize("code", [c.value for c in IssueCode])
def test_every_issue_code_is_documented(code: str) -> None:
    assert f"`{code}`" in CODES


def test_every_setting_is_documented() -> None:
    bundled = tomllib.loads((REPO / "templates" / "xlflow.toml").read_text("utf-8"))
    for table, values in bundled.items():
        if isinstance(values, dict):
            for key in values:
                if key != "targets" or table != "register":
                    assert f"`{key}`" in SETTINGS, f"{table}.{key}"
    for name in Limits.__dataclass_fields__:
        assert f"`{name}`" in SETTINGS
    for key in (
        "key",
        "label",
        "type",
        "required",
        "choices",
        "min",
        "max",
        "max_length",
        "required_when",
        "prompt",
        "width",
    ):
        assert f"`{key}`" in SETTINGS


def test_readme_commands_are_the_real_ones() -> None:
    assert "pip install -e . && xlflow demo" in README
    assert "pip install -e '.[test]' && python -m pytest" in README
    ci = (REPO / ".ci" / "run").read_text("utf-8")
    assert "pip install -e '.[test]' && python -m pytest" in ci
    for flag in re.findall(r"--[a-z][a-z-]+", README):
        if flag in ("--no-install-recommends", "--check", "--help", "--json"):
            continue
        assert any(
            flag in (p.opts + p.secondary_opts)  # type: ignore[attr-defined]
            for cmd in _with_subcommands(commands().values())
            for p in cmd.params
        ), flag


def _with_subcommands(found: Any) -> list[Any]:
    """Every command, a group's own commands (`mail fetch`, `mail send`) included."""
    out = []
    for cmd in found:
        out.append(cmd)
        out += _with_subcommands(getattr(cmd, "commands", {}).values())
    return out
