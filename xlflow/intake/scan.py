"""Scanning the inbox: every file found, what is skipped and why (lock files, hidden
files, links, files another program holds, what is not a spreadsheet). Nothing in the
inbox is ever modified, moved or deleted."""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from ..issues import (
    Issue,
    IssueCode,
    error,
    warning,
)
from ..reading.containers import is_container
from ..reading.package import SPREADSHEET_SUFFIXES
from ..text import visible

SKIP_CODES = {
    IssueCode.SKIPPED_LOCK_FILE,
    IssueCode.SKIPPED_HIDDEN,
    IssueCode.SKIPPED_SYMLINK,
    IssueCode.SKIPPED_IN_USE,
    IssueCode.SKIPPED_NOT_SPREADSHEET,
    IssueCode.OTHER_ROUND_FILE,
}
# ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: another program holds the file open
_IN_USE = {32, 33}
_SILENT = {".gitkeep", ".DS_Store", "Thumbs.db", "desktop.ini"}


# --- scanning ---


@dataclass(frozen=True, slots=True)
class Found:
    """A file in the inbox worth reading, or one skipped with a reason."""

    path: Path
    rel: str
    size: int
    mtime: float
    skip: Issue | None = None
    container: bool = False  # a mail or an archive: its spreadsheets are read, not it
    origin: str = ""


def display_name(rel: str) -> str:
    """A name as it is stored and shown: bytes that are not UTF-8 as \\x escapes, control
    characters as pictures, so no name can act on a terminal or hide in a workbook."""
    return visible(rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


def scan_inbox(inbox: Path) -> list[Found]:
    """Every file under inbox/, recursively, without following links."""
    found: list[Found] = []
    if not inbox.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        base = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            p = base / d
            skipped = folder_skipped(p, display_name(p.relative_to(inbox).as_posix()))
            if skipped is None:
                keep.append(d)
            else:
                found.append(skipped)
        dirnames[:] = keep
        for name in sorted(filenames):
            if name not in _SILENT:
                p = base / name
                item = file_found(p, display_name(p.relative_to(inbox).as_posix()))
                if item is not None:
                    found.append(item)
    return found


def is_link(p: Path, st: os.stat_result | None = None) -> bool:
    """A symbolic link, or on Windows any reparse point (a junction made by mklink /J is
    no symlink to Python 3.11, and leads out of the folder all the same)."""
    try:
        st = st or p.lstat()
    except OSError:
        return False
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_file_attributes", 0) & _REPARSE_POINT)


_REPARSE_POINT = 0x400  # FILE_ATTRIBUTE_REPARSE_POINT


def folder_skipped(p: Path, rel: str) -> Found | None:
    """A folder not walked into, with the reason; None for one to walk."""
    if is_link(p):
        return skipped(p, rel, IssueCode.SKIPPED_SYMLINK, "这是指向别处的文件夹链接，不读取。")
    if p.name.startswith("."):
        return skipped(p, rel, IssueCode.SKIPPED_HIDDEN, "隐藏文件夹，不读取。")
    if p.name.lower().endswith(SPREADSHEET_SUFFIXES):
        return skipped(
            p,
            rel,
            IssueCode.SKIPPED_NOT_SPREADSHEET,
            "这是名字以表格扩展名结尾的文件夹，不是文件，已跳过。",
        )
    return None


def unreadable(exc: OSError) -> Issue:
    """Why a file in inbox/ could not be read: in use by another program (Windows; it is
    read again by the next collect), or refused by the system."""
    # Python opens files through the C runtime, which says EACCES for a sharing violation
    # and keeps no winerror: on Windows a file it may not read is, as a rule, in use
    if getattr(exc, "winerror", None) in _IN_USE or (
        sys.platform == "win32" and isinstance(exc, PermissionError)
    ):
        return warning(
            IssueCode.SKIPPED_IN_USE,
            "文件正被其他程序占用（可能仍在下载、复制或被杀毒软件扫描，或在某个程序中打开），"
            "或当前用户没有读取权限，暂时无法读取，本次跳过。请关闭占用它的程序或稍候"
            "（或检查文件权限），再运行一次收集。",
        )
    return error(
        IssueCode.CORRUPT_FILE,
        f"无法读取文件（{exc.strerror or exc}）。请检查文件权限后重试。",
    )


def file_found(p: Path, rel: str) -> Found | None:
    """A file to read, or one skipped with its reason; None for one that vanished."""
    name = p.name
    try:
        st = p.lstat()
    except OSError:
        return None
    if is_link(p, st) or name.lower().endswith(".lnk"):
        # .lnk: a Windows shortcut (Explorer hides the suffix: 政策规划处.xlsx - 快捷方式)
        return skipped(
            p,
            rel,
            IssueCode.SKIPPED_SYMLINK,
            "这是一个链接（快捷方式），xlflow 不跟随链接读取。请把文件本身放入 inbox。",
        )
    if name.startswith("~$") or name.startswith(".~lock."):
        return skipped(
            p,
            rel,
            IssueCode.SKIPPED_LOCK_FILE,
            "这是 Office/WPS/LibreOffice 打开文件时生成的临时锁定文件，不是报送的表格，已跳过。",
        )
    if name.startswith("."):
        return skipped(p, rel, IssueCode.SKIPPED_HIDDEN, "隐藏文件，已跳过。")
    if not stat.S_ISREG(st.st_mode):
        return skipped(p, rel, IssueCode.SKIPPED_NOT_SPREADSHEET, "不是普通文件，已跳过。")
    if is_container(name):
        return Found(p, rel, st.st_size, st.st_mtime, container=True)
    if not name.lower().endswith(SPREADSHEET_SUFFIXES):
        return skipped(p, rel, IssueCode.SKIPPED_NOT_SPREADSHEET, not_spreadsheet(name))
    return Found(p, rel, st.st_size, st.st_mtime)


_UNREAD_CONTAINERS = (".tar", ".gz", ".tgz", ".bz2", ".xz")


def not_spreadsheet(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _UNREAD_CONTAINERS:
        return (
            f"这是压缩包（{suffix}），xlflow 不读取这种格式（.eml、.msg 邮件和 .zip、.7z、.rar 压缩包可以）。"
            "请把其中的填报表取出放入 inbox/（原文件可以留着），再运行 collect。"
        )
    return (
        f"扩展名 {suffix or '（无）'} 不是表格文件（.xlsx .xlsm .xls .et .ods），已跳过。"
        "如果这是报送的填报表，请另存为 .xlsx 后重新放入。"
    )


def skipped(path: Path, rel: str, code: IssueCode, message: str) -> Found:
    try:
        st = path.lstat()
        size, mtime = st.st_size, st.st_mtime
    except OSError:
        size, mtime = 0, 0.0
    return Found(path, rel, size, mtime, warning(code, message, file=rel))
