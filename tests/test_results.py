"""One result shape: every public step returns a frozen dataclass with `to_dict()`, and the
command's `--json` is exactly that dict.

Each command runs on one copy of a demo round and its library step on another, from the
same state, so that a step that writes (collect, merge, a decision) is compared too. The
copies' folders are written as <root>, and times of today (a decision's) as <time>.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xlflow.demo import run_demo
from xlflow.generate.forms import generate_forms
from xlflow.intake.collect import collect
from xlflow.intake.decisions import decide, undo
from xlflow.intake.extensions import extend
from xlflow.intake.remind import write_reminders
from xlflow.model import parse_round
from xlflow.register.init import check_register, init_workspace
from xlflow.register.load import describe_register, directory_report, load_register
from xlflow.relay.forward import forward
from xlflow.relay.rollup import roll_up
from xlflow.reporting.bulletin import write_report
from xlflow.reporting.data import export
from xlflow.reporting.history import task_history
from xlflow.reporting.scorecard import scorecard
from xlflow.reporting.status import round_status
from xlflow.reporting.workbook.book import merge
from xlflow.workspace import Workspace

from .conftest import BUNDLED_XLSX, run

ROUND = "2019-H1"


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("results") / "demo", soffice=None).root


def _normal(data: Any, roots: tuple[Path, ...]) -> Any:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    for root in roots:
        # as JSON writes it: a Windows path's backslashes are escaped
        text = text.replace(json.dumps(str(root), ensure_ascii=False)[1:-1], "<root>")
    today = re.escape(dt.date.today().isoformat())
    text = re.sub(today + r"[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", "<time>", text)
    return json.loads(text)


def _files(root: Path) -> tuple[str, str]:
    """A rejected and an accepted file of the demo round, as collect recorded them."""
    report = collect(Workspace.open(root), ROUND)
    rejected = next(f.path for f in report.files if str(f.verdict) == "rejected")
    accepted = next(f.path for f in report.files if str(f.verdict) == "accepted")
    return rejected, accepted


# written by the CLI and the library alike: a place outside both working folders
EXPORTED = Path(tempfile.gettempdir()) / f"xlflow-results-export-{os.getpid()}.json"


def _steps(demo: Path) -> list[tuple[str, list[str], Callable[[Path], Any]]]:
    rejected, accepted = _files(demo)
    h2 = parse_round("2019-H2", deadline=dt.date(2019, 12, 31))

    def decided_then_undone(root: Path) -> Any:
        ws = Workspace.open(root)
        decide(ws, ROUND, rejected, "accept", "电话确认", "办公室")
        return undo(ws, ROUND, rejected, "办公室")

    return [
        (
            "register",
            ["register"],
            lambda r: describe_register(
                load_register(Workspace.open(r)), Workspace.open(r).settings.register
            ),
        ),
        ("status", ["status", "--round", ROUND], lambda r: round_status(Workspace.open(r), ROUND)),
        ("history", ["history"], lambda r: task_history(Workspace.open(r))),
        (
            "history --task",
            ["history", "--task", "5"],
            lambda r: task_history(Workspace.open(r), "5"),
        ),
        ("collect", ["collect", "--round", ROUND], lambda r: collect(Workspace.open(r), ROUND)),
        ("merge", ["merge", "--round", ROUND], lambda r: merge(Workspace.open(r), ROUND)),
        (
            "remind",
            ["remind", "--round", ROUND],
            lambda r: write_reminders(Workspace.open(r), ROUND),
        ),
        ("report", ["report", "--round", ROUND], lambda r: write_report(Workspace.open(r), ROUND)),
        (
            "generate",
            ["generate", "--round", "2019-H2", "--deadline", "2019-12-31"],
            lambda r: generate_forms(Workspace.open(r), h2),
        ),
        (
            "accept",
            ["accept", "--round", ROUND, rejected, "--reason", "电话确认", "--by", "办公室"],
            lambda r: decide(Workspace.open(r), ROUND, rejected, "accept", "电话确认", "办公室"),
        ),
        (
            "exclude",
            ["exclude", "--round", ROUND, accepted, "--reason", "测试", "--by", "办公室"],
            lambda r: decide(Workspace.open(r), ROUND, accepted, "exclude", "测试", "办公室"),
        ),
        ("undo", [], decided_then_undone),
        ("directory", ["directory"], lambda r: directory_report(Workspace.open(r))),
        ("scorecard", ["scorecard"], lambda r: scorecard(Workspace.open(r))),
        (
            "export",
            ["export", "--format", "json", "-o", str(EXPORTED)],
            lambda r: export(Workspace.open(r), "json", EXPORTED),
        ),
        (
            "extend",
            [
                "extend",
                "--round",
                ROUND,
                "--division",
                "办公室",
                "--until",
                "2099-01-01",
                "--reason",
                "处长出差",
                "--by",
                "办公室",
            ],
            lambda r: extend(
                Workspace.open(r), ROUND, "办公室", dt.date(2099, 1, 1), "处长出差", "办公室"
            ),
        ),
    ]


def test_every_command_with_json_is_covered() -> None:
    """Every command that takes --json is compared below (init and check on their own)."""
    from xlflow.cli.main import commands

    with_json = sorted(
        name
        for name, command in commands().items()
        if any(p.name == "as_json" for p in command.params)
    )
    covered = {"register", "status", "history", "collect", "merge", "remind", "report"}
    covered |= {"generate", "accept", "exclude", "undo", "init", "directory"}
    covered |= {"forward", "roll-up"}  # test_forward_and_roll_up_too
    covered |= {"extend", "scorecard", "export"}
    assert with_json == sorted(covered)


def test_each_commands_json_is_its_library_result(demo_root: Path, tmp_path: Path) -> None:
    for n, (name, args, step) in enumerate(_steps(demo_root)):
        cli_root, lib_root = tmp_path / f"cli-{n}", tmp_path / f"lib-{n}"
        shutil.copytree(demo_root, cli_root)
        shutil.copytree(demo_root, lib_root)
        if name == "undo":
            ws = Workspace.open(cli_root)
            rejected = _files(cli_root)[0]
            decide(ws, ROUND, rejected, "accept", "电话确认", "办公室")
            args = ["undo", "--round", ROUND, rejected, "--by", "办公室"]
        shown = json.loads(run([*args[:1], "-w", str(cli_root), *args[1:], "--json"]).output)
        result = step(lib_root)
        assert dataclasses.is_dataclass(result) and result.__dataclass_params__.frozen, name  # type: ignore[union-attr]
        mine = _normal(result.to_dict(), (lib_root,))
        assert _normal(shown, (cli_root,)) == mine, name


def test_init_and_a_register_check_too(tmp_path: Path) -> None:
    shown = json.loads(run(["init", str(tmp_path / "a"), "--json"]).output)
    made = init_workspace(tmp_path / "b")
    assert _normal(shown, (tmp_path / "a",)) == _normal(made.to_dict(), (tmp_path / "b",))
    checked = json.loads(run(["register", "--check", str(BUNDLED_XLSX), "--json"]).output)
    assert checked == _normal(check_register(BUNDLED_XLSX).to_dict(), ())
    dry = json.loads(run(["init", "--register", str(BUNDLED_XLSX), "--dry-run", "--json"]).output)
    assert dry == checked


def test_forward_and_roll_up_too(demo_root: Path, tmp_path: Path) -> None:
    form = next((demo_root / "outbox" / ROUND / "forms").glob("*.xlsx"))
    to = "一科、二科、三科"
    cli, lib = tmp_path / "cli", tmp_path / "lib"
    shown = json.loads(run(["forward", str(form), "--to", to, "-w", str(cli), "--json"]).output)
    made = forward(lib, form, to)
    assert dataclasses.is_dataclass(made) and made.__dataclass_params__.frozen  # type: ignore[union-attr]
    assert _normal(shown, (cli,)) == _normal(made.to_dict(), (lib,))
    shown = json.loads(run(["roll-up", "-w", str(cli), "--json"]).output)
    rolled = roll_up(Workspace.open(lib))
    assert _normal(shown, (cli,)) == _normal(rolled.to_dict(), (lib,))
