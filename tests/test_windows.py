"""The whole round as it runs on Windows: no fcntl, no resource limits, no prctl, workers
spawned rather than forked, and a working folder with a long Chinese path, settings
saved with CRLF line ends and a register in GBK.

The commands run in a subprocess whose sitecustomize takes those modules away before
xlflow is imported, in the parent and in every spawned worker.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import openpyxl

from .conftest import GOOD_CONTACT, complete_values, fill

SITECUSTOMIZE = """
import ctypes
import sys

sys.modules["fcntl"] = None  # import fcntl raises ImportError, as on Windows
sys.modules["resource"] = None


class _NoLibc:
    def __init__(self, *args, **kwargs):
        raise OSError("no C library to call prctl on (as on Windows)")


ctypes.CDLL = _NoLibc

import xlflow.pool

xlflow.pool.START_METHOD = "spawn"
"""


def _xlflow(site: Path, *args: str) -> Any:
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-m", "xlflow", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_a_whole_round_without_posix_modules(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    # the modules really are gone there
    probe = subprocess.run(
        [sys.executable, "-c", "import fcntl"],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
    )
    assert probe.returncode != 0

    # past Windows' old MAX_PATH of 260 characters, Chinese names on the way; SQLite on
    # Linux opens at most about 500 bytes of path, which a longer Chinese one would pass
    deep = (
        tmp_path
        / "市科技局督查工作"
        / ("2019H1-key-tasks-" * 5)
        / "重点任务进展"
        / ("reports-" * 14)
        / "工作文件夹"
    )
    assert len(str(deep)) > 260
    if sys.platform == "win32":
        # Windows itself opens no such path without LongPathsEnabled: xlflow refuses it up
        # front (test_a_folder_too_deep_for_windows_is_refused_before_anything_is_written)
        deep = tmp_path / "市科技局督查工作" / "重点任务进展" / "工作文件夹"
    register = tmp_path / "任务清单.csv"
    with open(register, "w", encoding="gb18030", newline="") as fh:  # CRLF, as Excel writes
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(["序号", "工作任务", "责任单位"])
        for n in range(1, 10):
            writer.writerow([n, f"推进第{n}项工作", f"第{n % 3 + 1}处，办公室"])
    _xlflow(site, "init", str(deep), "--register", str(register), "--office", "市科技局")
    settings = deep / "xlflow.toml"
    settings.write_bytes(settings.read_bytes().replace(b"\n", b"\r\n"))
    # the directory as a GBK CSV with CRLF line ends, as Excel on Chinese Windows saves it
    (deep / "templates" / "单位名录.xlsx").unlink()
    (deep / "templates" / "单位名录.csv").write_bytes(
        "单位,简称/别名,所属集体,联系人,电子邮箱,联系电话\r\n第1处,一处,,张三,zs@example.gov.cn,\r\n".encode(
            "gb18030"
        )
    )

    forms = _xlflow(site, "generate", "-w", str(deep), "--round", "2019-H1")["forms"]
    assert len(forms) == 4
    for form in forms:
        path = Path(form["path"])
        for copy in range(3):  # enough returns that the reading pool spawns its workers
            values = complete_values(path)
            for row in values.values():
                row["进展情况"] = f"第{copy}稿：本期完成调研"
            target = deep / "inbox" / f"{form['division']}（第{copy}稿）.xlsx"
            fill(path, target, values, GOOD_CONTACT)
            os.utime(target, (1e9 + copy, 1e9 + copy))
    report = _xlflow(site, "collect", "-w", str(deep), "--round", "2019-H1")
    verdicts = sorted(f["verdict"] for f in report["files"])
    assert verdicts == ["accepted"] * 4 + ["superseded"] * 8
    assert report["missing"] == []
    merged = _xlflow(site, "merge", "-w", str(deep), "--round", "2019-H1")
    assert merged["accepted"] == 4
    with closing(openpyxl.load_workbook(merged["path"], read_only=True)) as book:
        ids = [r[1] for r in book["任务明细"].iter_rows(min_row=5, values_only=True) if r[1]]
    assert ids == [str(n) for n in range(1, 10)]
    status = _xlflow(site, "status", "-w", str(deep), "--round", "2019-H1")
    assert {d["state"] for d in status["divisions"]} == {"accepted"}
    receipts = list((deep / "outbox" / "2019-H1" / "receipts").glob("*.xlsx"))
    assert len(receipts) == 4  # written by spawned workers too


def test_a_folder_too_deep_for_windows_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Windows opens no path past 260 characters unless long paths are enabled, and said
    only 有更多可用数据 (ERROR_MORE_DATA) at the first file. The folder is refused first,
    with its length, and nothing is written. Off Windows the same is checked with the
    platform imitated."""
    import xlflow.windows

    from .conftest import run

    monkeypatch.setattr(xlflow.windows, "WINDOWS_PATHS", True)
    monkeypatch.setattr(xlflow.windows, "long_paths_enabled", lambda: False)
    deep = tmp_path.joinpath(*["重点任务进展情况" * 4] * 4)
    deep.mkdir(parents=True)
    result = run(["init", str(deep)], expect=3)
    assert f"工作文件夹的路径太长（{len(str(deep))} 个字符）" in result.output
    assert "。。" not in result.output and list(deep.iterdir()) == []
    shallow = tmp_path / "督查"
    run(["init", str(shallow)])
    monkeypatch.setattr(xlflow.windows, "long_paths_enabled", lambda: True)
    run(["init", str(deep)])  # where Windows takes long paths, so does xlflow


def test_windows_own_words_are_not_doubled_and_a_long_path_is_named() -> None:
    from xlflow.wording import disk_error_text

    full = OSError(28, "磁盘空间不足。")
    assert disk_error_text(full).count("。。") == 0
    more = OSError(22, "有更多可用数据。", "C:\\" + "长" * 250)
    more.winerror = 234  # type: ignore[attr-defined]
    assert "路径太长（253 个字符）" in disk_error_text(more)


def test_a_consolidated_workbook_open_in_excel_is_named_and_kept(
    ws: Path, forms: dict[str, Path], monkeypatch: Any
) -> None:
    """Excel and WPS hold a workbook open while it is shown, and Windows will not put a new
    file in its place: merge says which file to close, and the old one is untouched."""
    from xlflow import files

    from .conftest import DEFAULT_ROUND, run, run_json

    path = Path(run_json(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])["path"])
    before = path.read_bytes()
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.CreateFileW.restype = ctypes.c_void_p
        # as Excel opens it: others may read it, none may delete or replace it
        handle = kernel32.CreateFileW(str(path), 0x80000000, 1, None, 3, 0, None)
    else:
        replace = os.replace

        def refused(src: Any, dst: Any) -> None:
            if str(dst) == str(path):
                exc = PermissionError(13, "拒绝访问。", str(src), None, str(dst))
                exc.winerror = 5  # type: ignore[attr-defined]  # what Windows says
                raise exc
            replace(src, dst)

        monkeypatch.setattr(files.os, "replace", refused)
    try:
        result = run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND], expect=None)
    finally:
        if sys.platform == "win32":
            kernel32.CloseHandle(ctypes.c_void_p(handle))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"无法写入“{path}”" in result.output and "Excel 或 WPS" in result.output
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".*.tmp"))  # the new one's temporary file is gone


def test_a_working_folder_too_deep_for_sqlite_says_so(tmp_path: Path) -> None:
    part = "二〇一九年上半年重点任务进展情况" * 2
    deep = tmp_path.joinpath(*[part] * 6)
    from .conftest import run

    result = run(["init", str(deep)], expect=3)
    assert "工作文件夹的路径太长" in result.output and "Traceback" not in result.output


def test_no_date_goes_through_strftime_with_text_that_is_not_ascii() -> None:
    """The Windows C runtime refuses a strftime format with non-ASCII text
    (`ValueError: Invalid format string`, found by running remind under Windows CPython);
    dates are built from their numbers instead, everywhere."""
    import ast

    for path in (Path(__file__).parents[1] / "xlflow").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "strftime":
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        assert arg.value.isascii(), (path.name, node.lineno, arg.value)


def test_json_to_a_file_in_a_code_page_loses_no_character(tmp_path: Path) -> None:
    """Redirected on Chinese Windows, output is GBK, which has no ␀, no 𠀀 and no 🎉: the
    JSON escapes them, so it is written whole and reads back to exactly the data."""
    from xlflow.text import json_text

    data = {"path": "报送\u2400名\U00020000🎉.xlsx", "message": "退回修改"}
    for encoding in ("gbk", "cp1252", "utf-8"):
        text = json_text(data, encoding)
        assert json.loads(text.encode(encoding).decode(encoding)) == data
    assert "退回修改" in json_text(data, "gbk")  # what GBK holds stays readable


def test_collect_redirected_to_a_gbk_file_writes_every_file_whole(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    """Issue #39: collect with F1b and F1c (names holding NUL, shown as ␀) in the inbox, its
    output going to a file in code page 936 as a scheduled task's does, ends well and says
    something readable of each file; its --json reads back exactly."""
    finds = Path(__file__).parent / "data" / "fuzz-finds" / "more"
    for name in ("F1b_xlsx_nul_member_name_indexerror.xlsx", "F1c_zip_container_nul_member_name_collect_crash.zip"):  # fmt: skip
        (ws / "inbox" / name).write_bytes((finds / name).read_bytes())
    command = [sys.executable, "-m", "xlflow", "collect", "-w", str(ws), "--round", "2019-H1"]
    env = {**os.environ, "PYTHONIOENCODING": "gbk"}  # what Windows gives a redirected stream
    for extra in ([], ["--json"]):
        out = tmp_path / f"out{len(extra)}.txt"
        with open(out, "wb") as fh:
            done = subprocess.run(command + extra, stdout=fh, stderr=subprocess.PIPE, env=env)
        assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
        text = out.read_text("gbk")
        if extra:
            said = {f["path"]: f for f in json.loads(text)["files"]}
            # the NUL shown as ␀, escaped in GBK, never a "?"
            assert "\\u2400" in text and "?" not in text
            messages = " ".join(i["message"] for f in said.values() for i in f["issues"])
            assert "\u2400" in messages
            assert len(said) >= 2
        else:
            assert "F1b_xlsx_nul_member_name_indexerror.xlsx" in text
            assert "F1c_zip_container_nul_member_name_collect_crash.zip" in text


class _Spawner:
    """The part of `_winapi` multiprocessing's Windows spawner calls, recording the calls."""

    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls
        self.INFINITE = 0xFFFFFFFF

    def CreateProcess(self, *args: Any) -> tuple[int, int, int, int]:
        self.calls.append(("create", args[5]))
        return (11, 22, 33, 44)


class _Job:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def take(self, handle: int) -> bool:
        self.calls.append(("take", handle))
        return True


def test_a_worker_is_in_its_job_from_its_first_instruction() -> None:
    """Put in the Job Object after it starts, a worker of a parent killed in between keeps
    running: so while `starting_in(job)` holds, the spawner's one CreateProcess creates it
    inside the job, and only where Windows cannot is it put there once started. Outside
    `starting_in`, and for everything else the spawner calls, `_winapi` is unchanged."""
    from xlflow import windows

    calls: list[tuple[str, Any]] = []
    spawner = _Spawner(calls)
    job: Any = _Job(calls)
    able = True

    def create_in_job(into: Any, app: str, cmd: str, env: Any) -> tuple[int, int, int, int] | None:
        calls.append(("create in job", into is job))
        return (55, 66, 77, 88) if able else None

    wrapped = windows.WinapiStartingInJob(spawner, create_in_job)
    spawned = ("python.exe", "cmd", None, None, False, 0, None, None, None)
    assert wrapped.CreateProcess(*spawned) == (11, 22, 33, 44)
    assert calls == [("create", 0)]
    assert wrapped.INFINITE == 0xFFFFFFFF
    calls.clear()
    with windows.starting_in(job):
        assert wrapped.CreateProcess(*spawned) == (55, 66, 77, 88)
    assert calls == [("create in job", True)]
    calls.clear()
    assert wrapped.CreateProcess(*spawned) == (11, 22, 33, 44)  # the context is over
    assert calls == [("create", 0)]
    # where Windows cannot create into a job (before Windows 10): started, then taken
    calls.clear()
    able = False
    with windows.starting_in(job):
        assert wrapped.CreateProcess(*spawned) == (11, 22, 33, 44)
    assert calls == [("create in job", True), ("create", 0), ("take", 11)]
    # a call the spawner never makes is passed through as it is, then taken
    calls.clear()
    with windows.starting_in(job):
        wrapped.CreateProcess("python.exe", "cmd", None, None, True, 0x10, None, None, None)
    assert calls == [("create", 0x10), ("take", 11)]
