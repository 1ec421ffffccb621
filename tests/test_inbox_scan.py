"""What collect makes of everything that is not a plain returned file in inbox/: hidden and
system files, folders named like workbooks, pipes, a missing inbox, what a killed run left."""

from __future__ import annotations

import os
from pathlib import Path

from xlflow.intake.collect import collect
from xlflow.workspace import Workspace

from .conftest import DEFAULT_ROUND, fill_complete, run_json

PLAN = "政策规划处"


def _by_path(ws: Path) -> dict[str, dict[str, object]]:
    data = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    return {f["path"]: f for f in data["files"]}


def test_things_in_the_inbox_that_are_not_returns(ws: Path, forms: dict[str, Path]) -> None:
    inbox = ws / "inbox"
    (inbox / ".svn").mkdir()
    fill_complete(forms[PLAN], inbox / ".svn" / "藏起来.xlsx")
    (inbox / "看着像表格.xlsx").mkdir()
    (inbox / "Thumbs.db").write_bytes(b"\0" * 10)
    (inbox / "desktop.ini").write_text("[.ShellClassInfo]")
    os.mkfifo(inbox / "管道.xlsx")
    fill_complete(forms[PLAN], inbox / "子文件夹" / "政策规划处.xlsx")
    (inbox / "说明.txt").write_text("附件请查收", encoding="utf-8")
    fill_complete(forms[PLAN], inbox / ".草稿.xlsx")
    files = _by_path(ws)
    codes = {p: [i["code"] for i in f["issues"]] for p, f in files.items()}  # type: ignore[union-attr]
    said = {p: " ".join(i["message"] for i in f["issues"]) for p, f in files.items()}  # type: ignore[union-attr]
    assert codes[".svn"] == ["skipped-hidden"] and said[".svn"] == "隐藏文件夹，不读取。"
    assert codes[".草稿.xlsx"] == ["skipped-hidden"] and said[".草稿.xlsx"] == "隐藏文件，已跳过。"
    assert codes["看着像表格.xlsx"] == ["skipped-not-spreadsheet"]
    assert codes["管道.xlsx"] == ["skipped-not-spreadsheet"]
    assert codes["说明.txt"] == ["skipped-not-spreadsheet"]
    assert (
        said["说明.txt"].startswith("扩展名 .txt 不是表格文件")
        and "另存为 .xlsx" in said["说明.txt"]
    )
    assert (
        "Thumbs.db" not in files and "desktop.ini" not in files and ".svn/藏起来.xlsx" not in files
    )
    assert files["子文件夹/政策规划处.xlsx"]["verdict"] == "accepted"


def test_a_missing_inbox_is_an_empty_one(ws: Path, forms: dict[str, Path]) -> None:
    for leftover in (ws / "inbox").iterdir():
        leftover.unlink()
    (ws / "inbox").rmdir()
    report = collect(Workspace.open(ws), DEFAULT_ROUND)
    assert list(report.files) == []
    assert report.counted(PLAN) is None
    assert not (ws / "inbox").exists()  # collect made nothing there


def test_what_a_killed_collect_left_is_cleared(ws: Path, forms: dict[str, Path]) -> None:
    left = ws / ".xlflow" / ".unpacked-killed"
    left.mkdir(parents=True)
    (left / "附件.xlsx").write_bytes(b"half")
    fill_complete(forms[PLAN], ws / "inbox" / "政策规划处.xlsx")
    report = collect(Workspace.open(ws), DEFAULT_ROUND)
    assert not left.exists()
    counted = report.counted(PLAN)
    assert counted is not None and counted.path == "政策规划处.xlsx"
