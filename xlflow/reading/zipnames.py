"""The names inside a zip, checked before anything else uses them.

A zip's central directory is untrusted text. Python's `zipfile` cuts a name at its first
NUL byte (so `"\\0otes.txt"` becomes `""`, on which `ZipInfo.is_dir()` raises), decodes
names without the UTF-8 flag as cp437, and keeps absolute paths and `..` steps as they
are. Workbooks, registers and archives of returns all pass through `member_problem`
first: a name no genuine writer makes refuses the whole file, with a code of its own.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

from ..issues import IssueCode
from ..text import visible

_UTF8_FLAG = 0x800


@dataclass(frozen=True, slots=True)
class NameProblem:
    code: IssueCode
    shown: str  # the name as a person can read it, control characters made visible
    what: str  # what is wrong with it, in Chinese


def raw_name(info: zipfile.ZipInfo) -> str:
    """The name as the central directory holds it, before zipfile cut it at a NUL."""
    return getattr(info, "orig_filename", "") or info.filename


def decoded_name(info: zipfile.ZipInfo) -> str | None:
    """A member's name as its writer meant it: UTF-8 where flagged; else GBK, as Windows'
    own zip writes Chinese names, or UTF-8 written without the flag; None when the bytes
    are valid in neither."""
    name = raw_name(info)
    if info.flag_bits & _UTF8_FLAG:
        return name
    try:
        data = name.encode("cp437")  # zipfile read the bytes as cp437
    except UnicodeEncodeError:
        return name  # decoded by a metadata_encoding the caller chose
    for encoding in ("utf-8", "gbk"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def text_problem(name: str) -> NameProblem | None:
    """What is wrong with a member name already decoded (a .7z or .rar member's too)."""
    shown = visible(name)
    if not name.strip():
        return NameProblem(IssueCode.MEMBER_NAME_EMPTY, shown, "名称为空")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name):
        what = "名称中含有空字符（NUL）" if "\0" in name else "名称中含有控制字符"
        return NameProblem(IssueCode.MEMBER_NAME_CONTROL, shown, what)
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return NameProblem(IssueCode.UNSAFE_ZIP_MEMBER, shown, "是绝对路径")
    if ".." in parts:
        return NameProblem(IssueCode.UNSAFE_ZIP_MEMBER, shown, "含有上级目录（..）")
    return None


def member_problem(info: zipfile.ZipInfo) -> NameProblem | None:
    """What is wrong with a zip member's name, or None: checked before any other use."""
    raw = raw_name(info)
    problem = text_problem(raw)
    if problem is not None:
        return problem
    if decoded_name(info) is None:
        return NameProblem(
            IssueCode.MEMBER_NAME_ENCODING, visible(raw), "名称既不是有效的 GBK 也不是有效的 UTF-8"
        )
    return None


def first_problem(infos: list[zipfile.ZipInfo]) -> NameProblem | None:
    return next((p for p in map(member_problem, infos) if p is not None), None)


__all__ = [
    "NameProblem",
    "decoded_name",
    "first_problem",
    "member_problem",
    "text_problem",
]
