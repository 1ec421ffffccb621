"""What collect makes of everything that is not a plain returned file in inbox/: hidden and
system files, folders named like workbooks, pipes, a missing inbox, what a killed run left."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

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
    if sys.platform == "win32":
        # Windows has no pipes in a folder; its file that cannot be read is one another
        # program holds open without sharing, as a download or a copy still under way does
        held = _held_open(inbox / "占用中.xlsx")
    else:
        os.mkfifo(inbox / "管道.xlsx")
    fill_complete(forms[PLAN], inbox / "子文件夹" / "政策规划处.xlsx")
    (inbox / "说明.txt").write_text("附件请查收", encoding="utf-8")
    fill_complete(forms[PLAN], inbox / ".草稿.xlsx")
    try:
        files = _by_path(ws)
    finally:
        if sys.platform == "win32":
            _close(held)
    codes = {p: [i["code"] for i in f["issues"]] for p, f in files.items()}  # type: ignore[union-attr]
    said = {p: " ".join(i["message"] for i in f["issues"]) for p, f in files.items()}  # type: ignore[union-attr]
    assert codes[".svn"] == ["skipped-hidden"] and said[".svn"] == "隐藏文件夹，不读取。"
    assert codes[".草稿.xlsx"] == ["skipped-hidden"] and said[".草稿.xlsx"] == "隐藏文件，已跳过。"
    assert codes["看着像表格.xlsx"] == ["skipped-not-spreadsheet"]
    if sys.platform == "win32":
        assert codes["占用中.xlsx"] == ["skipped-in-use"]
        assert files["占用中.xlsx"]["verdict"] == "skipped"
    else:
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


def _held_open(path: Path) -> int:
    """A file created and held open with no sharing (Windows' CreateFileW, share mode 0)."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateFileW.restype = wintypes.HANDLE
    generic_rw, create_always = 0xC0000000, 2
    handle = kernel32.CreateFileW(str(path), generic_rw, 0, None, create_always, 0, None)
    assert handle not in (None, wintypes.HANDLE(-1).value), ctypes.get_last_error()  # type: ignore[attr-defined]
    return int(handle)


def _close(handle: int) -> None:
    import ctypes

    ctypes.WinDLL("kernel32").CloseHandle(ctypes.c_void_p(handle))  # type: ignore[attr-defined]


def test_a_file_another_program_holds_is_skipped_until_the_next_run(
    ws: Path, forms: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses to open a file another program holds without sharing (a download
    or copy under way, a virus scan): the return is skipped, named, and read next time."""
    from xlflow.intake import collect as collecting

    fill_complete(forms[PLAN], ws / "inbox" / "政策规划处.xlsx")
    hashing = collecting.sha256_file

    def in_use(path: Path) -> str:
        exc = OSError(13, "另一个程序正在使用此文件，进程无法访问。")
        exc.winerror = 32  # type: ignore[attr-defined]  # ERROR_SHARING_VIOLATION, as on Windows
        raise exc

    monkeypatch.setattr(collecting, "sha256_file", in_use)
    entry = _by_path(ws)["政策规划处.xlsx"]
    assert entry["verdict"] == "skipped"
    assert [i["code"] for i in entry["issues"]] == ["skipped-in-use"]  # type: ignore[union-attr]
    assert "再运行一次收集" in entry["issues"][0]["message"]  # type: ignore[index]
    monkeypatch.setattr(collecting, "sha256_file", hashing)
    assert _by_path(ws)["政策规划处.xlsx"]["verdict"] == "accepted"


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


def test_once_collect_returns_no_file_of_the_folder_is_held_open(
    ws: Path, forms: dict[str, Path]
) -> None:
    """Windows cannot move or delete a file a process holds open: once collect (and the
    receipts it writes) returns, the folder can be moved, as the console's user may."""
    import gc

    import psutil

    fill_complete(forms[PLAN], ws / "inbox" / "政策规划处.xlsx")
    gc.collect()
    gc.disable()  # what is closed must be closed by the code, not by the collector
    try:
        collect(Workspace.open(ws), DEFAULT_ROUND, workers=1)
        root = str(ws.resolve())
        held = [f.path for f in psutil.Process().open_files() if f.path.startswith(root)]
    finally:
        gc.enable()
    assert held == []
