"""No command leaves a working folder unusable: a command that rewrites the settings or the
templates reads the new settings back before it writes them, never writes over another file
of the folder, and changes everything or nothing. Each write step is made to fail in turn,
and the folder must then work exactly as before (issue #38, R1 and R3)."""

from __future__ import annotations

import errno
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from xlflow.cli.main import main

from .conftest import s4_working_folder

S4 = Path(__file__).parent / "data" / "s4"
REVISED = S4 / "R-revised-register.xlsx"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The folder that signed the s4 reproducers: round 2019-H1's forms made, version 1."""
    return s4_working_folder(tmp_path / "wf")


def _invoke(args: list[str]) -> Any:
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _state(root: Path) -> dict[str, Any]:
    """What a command must leave as it was when it fails: the settings, the templates and
    the register versions the ledger holds."""
    from xlflow.ledger.book import Ledger

    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        latest = ledger.latest_version()
    templates = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "templates").iterdir()
    }
    return {"templates": templates, "toml": (root / "xlflow.toml").read_bytes(), "version": latest}


def _works(root: Path) -> None:
    for args in (["status", "-w", str(root), "--round", "2019-H1"], ["register", "-w", str(root)]):
        result = _invoke(args)
        assert result.exit_code == 0, (args, result.output)


class _FailAt:
    """Make the n-th call of a function fail as a full disk does."""

    def __init__(self, real: Callable[..., Any], n: int) -> None:
        self.real, self.n, self.calls = real, n, 0

    def __call__(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls == self.n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real(*args, **kw)


def _apply(root: Path, source: Path) -> Any:
    return _invoke(
        ["register", "-w", str(root), "--update", str(source), "--apply", "--accept-uncertain"]
    )


def test_register_update_apply_changes_everything_or_nothing(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xlflow.files
    from xlflow.ledger.book import Ledger

    source = tmp_path / "in" / "key-task-list-2.xlsx"
    source.parent.mkdir()
    shutil.copy(REVISED, source)
    before = _state(folder)
    real_write, real_record = xlflow.files.atomic_write, Ledger.record_version
    n = 1
    while True:  # each write of the files in turn, until the command has none left to fail
        failing = _FailAt(real_write, n)
        monkeypatch.setattr(xlflow.files, "atomic_write", failing)
        result = _apply(folder, source)
        monkeypatch.setattr(xlflow.files, "atomic_write", real_write)
        if failing.calls < n:
            assert result.exit_code == 0, result.output
            break
        assert result.exit_code == 3 and "Traceback" not in result.output, (n, result.output)
        assert _state(folder) == before, f"write {n} failed and left the folder changed"
        _works(folder)
        n += 1
    assert n >= 3, "the register and the settings are both written"
    applied = _state(folder)
    assert applied["version"][0] == before["version"][0] + 1
    # the ledger's record is the last step: when it fails, the files written are put back
    shutil.rmtree(folder)
    s4_working_folder(folder)
    monkeypatch.setattr(Ledger, "record_version", _FailAt(real_record, 1))
    result = _apply(folder, source)
    assert result.exit_code == 3, result.output
    assert _state(folder) == before
    _works(folder)


@pytest.mark.parametrize(
    ("name", "header"),
    [("清单\x7f.xlsx", False), ("key-task-list.xlsx", True)],
    ids=["DEL-in-file-name", "DEL-in-a-header"],
)
def test_a_control_character_never_breaks_the_settings(
    folder: Path, tmp_path: Path, name: str, header: bool
) -> None:
    """R1, R1b: a header or file name with U+007F made --apply write an xlflow.toml that
    did not parse, and every command of the folder exited 3 from then on."""
    source = tmp_path / "in" / name
    source.parent.mkdir()
    shutil.copy(S4 / "R1.xlsx" if header else REVISED, source)
    result = _apply(folder, source)
    assert result.exit_code == 0, result.output
    _works(folder)


@pytest.mark.parametrize("taken", ["单位名录.xlsx", "上一版清单.xlsx"])
def test_a_revised_register_never_overwrites_another_file(
    folder: Path, tmp_path: Path, taken: str
) -> None:
    """R3: a revised register saved under the unit directory's name was copied over it."""
    source = tmp_path / "in" / taken
    source.parent.mkdir()
    shutil.copy(REVISED, source)
    if not (folder / "templates" / taken).exists():  # a file the coordinator keeps there
        shutil.copy(folder / "templates" / "key-task-list.xlsx", folder / "templates" / taken)
    before = (folder / "templates" / taken).read_bytes()
    result = _apply(folder, source)
    assert result.exit_code == 0, result.output
    assert (folder / "templates" / taken).read_bytes() == before
    kept = folder / "templates" / f"{Path(taken).stem}-2{Path(taken).suffix}"
    assert kept.read_bytes() == REVISED.read_bytes()
    _works(folder)
    directory = _invoke(["directory", "-w", str(folder), "--check"])
    assert directory.exit_code == 0, directory.output


def test_init_leaves_nothing_half_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xlflow.register.init

    real = xlflow.register.init.atomic_write
    n = 1
    while True:
        target = tmp_path / f"new{n}"
        failing = _FailAt(real, n)
        monkeypatch.setattr(xlflow.register.init, "atomic_write", failing)
        result = _invoke(["init", str(target)])
        monkeypatch.setattr(xlflow.register.init, "atomic_write", real)
        if failing.calls < n:
            assert result.exit_code == 0, result.output
            break
        assert result.exit_code == 3, result.output
        files = [p for p in target.rglob("*") if p.is_file() and ".xlflow" not in p.parts]
        assert files == [], (n, files)
        # the same folder then makes a whole working folder, as if nothing had happened
        assert _invoke(["init", str(target)]).exit_code == 0
        n += 1
    assert n >= 5
