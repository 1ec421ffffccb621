"""The double click (xlflow.launcher, `xlflow start`): which working folder it opens,
remembered per user, made the first time, and never made inside a folder of other files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlflow.errors import FolderInvalid
from xlflow.launcher import FOLDER_NAME, choose_folder, settings_path, wants_launcher

from .conftest import run


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("APPDATA", str(home / "AppData"))
    return home


def test_what_starts_the_launcher(tmp_path: Path) -> None:
    assert wants_launcher([])  # a double click
    assert wants_launcher([str(tmp_path)])  # a folder dropped onto the program
    assert not wants_launcher(["demo"]) and not wants_launcher(["--help"])
    (tmp_path / "a.xlsx").write_bytes(b"x")
    assert not wants_launcher([str(tmp_path / "a.xlsx")])  # a file is a command's business
    assert not wants_launcher([str(tmp_path), str(tmp_path)])


def test_the_first_start_makes_a_folder_in_the_documents_and_remembers_it(home: Path) -> None:
    (home / "文档").mkdir()
    first = choose_folder()
    assert first.made and first.folder == (home / "文档" / FOLDER_NAME).resolve()
    assert (first.folder / "xlflow.toml").is_file()
    assert json.loads(settings_path().read_text("utf-8"))["folder"] == str(first.folder)
    again = choose_folder()
    assert again.folder == first.folder and not again.made


def test_a_folder_dropped_becomes_the_one_remembered(home: Path, tmp_path: Path) -> None:
    work = tmp_path / "2026督查"
    run(["init", str(work)])
    chosen = choose_folder(work)
    assert chosen.folder == work.resolve() and not chosen.made
    assert choose_folder().folder == work.resolve()
    # the repository's own layout (settings in templates/) is a working folder too
    repo = Path(__file__).resolve().parents[1]
    assert not choose_folder(repo).made


def test_a_folder_of_other_files_is_never_made_a_working_folder(home: Path, tmp_path: Path) -> None:
    mine = tmp_path / "我的文件"
    mine.mkdir()
    (mine / "报告.docx").write_bytes(b"x")
    with pytest.raises(FolderInvalid, match="不是 xlflow 工作文件夹"):
        choose_folder(mine)
    assert sorted(p.name for p in mine.iterdir()) == ["报告.docx"]
    result = run(["start", str(mine), "--no-browser"], expect=3)
    assert "换一个空文件夹" in result.output and "Traceback" not in result.output


def test_on_windows_the_folder_is_remembered_in_appdata_and_made_in_documents(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Windows paths, exercised here as far as Linux can: %APPDATA% and Documents."""
    import xlflow.launcher as launcher

    monkeypatch.setattr(launcher.sys, "platform", "win32")
    (home / "Documents").mkdir()
    assert settings_path() == home / "AppData" / "xlflow" / "launcher.json"
    first = choose_folder()
    assert first.folder == (home / "Documents" / FOLDER_NAME).resolve()
    assert (home / "AppData" / "xlflow" / "launcher.json").is_file()
