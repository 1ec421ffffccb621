"""Putting returned files into inbox/ for people who do not copy files into folders
themselves (the web console's upload).

A file is saved under a name every system accepts and never over another file: a second
`高新处.xlsx` becomes `高新处（2）.xlsx`. Each file is written in full beside the inbox first
and then linked in under its name, so `collect` never reads half a file and two uploads
never take the same name. What is not a spreadsheet, a mail or an archive, and what is
over the size `collect` would read, is refused by name, and nothing of it is written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..config.model import Limits
from ..errors import Invalid
from ..files import folder_lock
from ..reading.containers import CONTAINERS
from ..reading.package import SPREADSHEET_SUFFIXES
from ..text import name_part, not_a_device
from ..workspace import Workspace

RECEIVABLE = SPREADSHEET_SUFFIXES + CONTAINERS
# the most files one upload may carry; a round's returns come a few at a time
MAX_FILES = 200
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Upload:
    name: str  # as the sender's computer named it; may carry folders or be empty
    stream: IO[bytes]


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str


@dataclass(frozen=True)
class Saved:
    name: str  # as uploaded
    path: str  # where it is now, relative to inbox/


@dataclass(frozen=True)
class ReceiveResult:
    saved: tuple[Saved, ...]
    refused: tuple[Refused, ...]

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        return {
            "saved": [{"name": s.name, "path": s.path} for s in self.saved],
            "refused": [{"name": r.name, "reason": r.reason} for r in self.refused],
        }


def inbox_name(name: str) -> str:
    """The last part of an uploaded name, without what Windows, macOS or Linux refuse, and
    without a leading dot (collect skips hidden files)."""
    cleaned = name_part(re.split(r"[\\/]", name)[-1])
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, ""
    stem = not_a_device(stem[:80].rstrip(" .") or "上传的文件")
    return f"{stem}.{suffix.lower()}" if suffix else stem


def size_limit_mb(name: str, limits: Limits) -> float:
    """What collect reads of a file of this name: a spreadsheet up to max_file_mb, a mail
    or archive up to max_uncompressed_mb."""
    return limits.max_uncompressed_mb if name.lower().endswith(CONTAINERS) else limits.max_file_mb


def _refusal(name: str, limits: Limits) -> str | None:
    if not name.lower().endswith(RECEIVABLE):
        kinds = "、".join(s.lstrip(".") for s in RECEIVABLE)
        return f"不是表格、邮件或压缩包（可以上传的类型：{kinds}），未保存。"
    return None


def _free_name(inbox: Path, name: str) -> Path:
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    n = 1
    while True:
        candidate = name if n == 1 else f"{stem}（{n}）" + (f".{suffix}" if suffix else "")
        path = inbox / candidate
        if not os.path.lexists(path):
            return path
        n += 1


def _copy_limited(stream: IO[bytes], target: Path, ceiling: int) -> int | None:
    """Copy the stream to `target`; the size, or None as soon as it passes `ceiling`."""
    size = 0
    with open(target, "wb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > ceiling:
                return None
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size


def _link_in(tmp: Path, inbox: Path, name: str) -> Path:
    """Give the finished file its name in the inbox without ever replacing a file."""
    while True:
        target = _free_name(inbox, name)
        try:
            os.link(tmp, target)
        except FileExistsError:
            continue  # taken in the meantime, by a person copying files in
        except OSError:
            # a file system without hard links: create the name exclusively and copy
            try:
                with open(target, "xb") as out, open(tmp, "rb") as src:
                    shutil.copyfileobj(src, out, _CHUNK)
            except FileExistsError:
                continue
        return target


def receive(ws: Workspace, uploads: Sequence[Upload]) -> ReceiveResult:
    """Save uploaded files into inbox/, each under a free safe name; refuse the rest by name.

    Never replaces, moves or deletes a file already in the inbox. Collect them afterwards
    with `xlflow.collect`.
    """
    limits = ws.settings.limits
    if len(uploads) > MAX_FILES:
        raise Invalid(
            f"一次最多上传 {MAX_FILES} 个文件，这次有 {len(uploads)} 个；请分几次上传，"
            "或把它们打成一个 .zip 压缩包。"
        )
    saved: list[Saved] = []
    refused: list[Refused] = []
    with folder_lock(ws.lock_path, "接收上传的文件"):
        ws.inbox.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=ws.state, prefix="upload-") as scratch:
            for n, upload in enumerate(uploads):
                shown = upload.name or "（没有文件名）"
                name = inbox_name(upload.name)
                reason = _refusal(name, limits)
                if reason:
                    refused.append(Refused(shown, reason))
                    continue
                limit_mb = size_limit_mb(name, limits)
                tmp = Path(scratch) / f"{n}"
                size = _copy_limited(upload.stream, tmp, int(limit_mb * 1024 * 1024))
                if size is None:
                    refused.append(
                        Refused(shown, f"超过 {limit_mb:g} MB，xlflow 不读这么大的文件，未保存。")
                    )
                elif size == 0:
                    refused.append(Refused(shown, "是空文件（0 字节），未保存。"))
                else:
                    target = _link_in(tmp, ws.inbox, name)
                    saved.append(Saved(shown, target.relative_to(ws.inbox).as_posix()))
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
    return ReceiveResult(tuple(saved), tuple(refused))
