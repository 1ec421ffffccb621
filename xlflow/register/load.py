"""The register as parsed: read once per version of the file, the [register] settings and
xlflow itself, and kept in the ledger for every later command.

The parse runs in a worker (`pool.call_isolated`): the register is a file from outside too
(a .docx or .xlsx another office mailed), and python-docx, lxml, openpyxl's and xlflow's own
readers parse it as a returned file is read. The reader is named, not imported, so that a
command that finds the register in the ledger (`status`, `history`, `register`) loads no
workbook reader at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config.model import Limits, RegisterSettings
from ..errors import NotFound, RegisterError
from ..issues import Issue, Severity
from ..ledger.book import Ledger
from ..ledger.codec import code_fingerprint
from ..model import Register, Role
from ..units import is_collective
from ..wording import task_label
from ..workspace import Workspace
from .directory import (
    DIRECTORY_XLSX,
    LEGACY_CSV,
    Directory,
    Unit,
    check_against,
    find_directory,
    organise,
    valid_emails,
)

# the parsers, loaded in the worker that runs them
READ_REGISTER = "xlflow.register.parse:read_register"
READ_ORGANISED = "xlflow.register.directory_file:read_organised"
READ_DIRECTORY = "xlflow.register.directory_file:read_directory"
READ_CSV = "xlflow.register.parse:read_csv_file"
DETECT_LAYOUT = "xlflow.register.detect:detect_layout"


def load_register(ws: Workspace) -> Register:
    """The working folder's register, parsed once per version and kept in the ledger.

    A long-lived working folder (the console's) sees an edit of the register, the
    directory or the settings at the next call: the key is taken anew each time, which
    is a read and a hash of two small files."""
    key = _key(ws)
    held = ws.parsed_register
    if held is not None and held[0] == key:
        return held[1]
    key, parsed = _cache_register(ws, key)
    if parsed is None:
        with Ledger(ws.ledger_path) as ledger:
            parsed = ledger.cached_register(key)
    assert parsed is not None
    ws.parsed_register = (key, parsed)
    return parsed


def load_directory(ws: Workspace, register: Register | None = None) -> Directory | None:
    """The folder's unit directory, read in a worker, with its problems (checked against
    `register` too, when given); None where the folder has none."""
    where = find_directory(ws.templates)
    if where is None:
        return None
    directory: Directory = read_isolated(
        READ_DIRECTORY, where, None, ws.settings.limits, "单位名录"
    )
    more = check_against(directory, register) if where.name != LEGACY_CSV else []
    return replace(directory, problems=(*directory.problems, *more))


def register_key(ws: Workspace) -> str:
    """The key under which the ledger keeps the parsed register, parsing it first if it is
    not there; read it from the ledger a task at a time with this key."""
    return _cache_register(ws)[0]


def _key(ws: Workspace) -> str:
    """What the parsed register depends on: the register's bytes, the [register]
    settings, where it is, xlflow's own code, and the unit directory's bytes."""
    path, settings = ws.register_path, ws.settings.register
    try:
        data = path.read_bytes()
    except OSError:
        read_isolated(READ_REGISTER, path, settings, ws.settings.limits)  # says what is wrong
        raise
    where = find_directory(ws.templates)
    try:
        names = where.read_bytes() if where is not None else b""
    except OSError as exc:
        raise RegisterError(f"{where}: 单位名录无法读取（{exc.strerror}）") from None
    key = hashlib.sha256(
        b"\0".join(
            [
                data,
                repr(settings).encode(),
                str(path).encode(),
                code_fingerprint().encode(),
                str(where or "").encode(),
                names,
            ]
        )
    ).hexdigest()
    return key


def _cache_register(ws: Workspace, key: str | None = None) -> tuple[str, Register | None]:
    """The key, and the register if it had to be parsed now."""
    key = key or _key(ws)
    path, settings = ws.register_path, ws.settings.register
    where = find_directory(ws.templates)
    with Ledger(ws.ledger_path) as ledger:
        if ledger.register_head(key) is not None:
            return key, None
        register: Register = read_isolated(
            READ_ORGANISED, path, (settings, where), ws.settings.limits
        )
        ledger.cache_register(key, register)
    return key, register


# The coordinator's register is a file from outside too: python-docx, lxml, openpyxl's
# and xlflow's own readers parse it in a worker, as a returned file is read. Registers are
# larger than returns, so the time limit is more generous.
_REGISTER_TIMEOUT = 120.0


def read_isolated(
    reader: str, path: Path, option: Any, limits: Limits, what: str = "任务清单"
) -> Any:
    """`reader(path, option)` in a worker, the reader named as "module:function"; a crash,
    hang or runaway allocation is a RegisterError naming the file and `what` it is."""
    # here, not at the top: the pool brings multiprocessing, a fifth of `status`'s start,
    # and a register already parsed is read from the ledger without a worker
    from ..pool import JobFailure, call_isolated

    outcome = call_isolated(
        reader,
        (path, option),
        max(_REGISTER_TIMEOUT, limits.read_timeout_seconds),
        limits.worker_memory_mb,
    )
    if not isinstance(outcome, JobFailure):
        return outcome
    if outcome.kind == "timeout":
        failed = f"读取超过 {max(_REGISTER_TIMEOUT, limits.read_timeout_seconds):g} 秒仍未完成"
    elif outcome.kind == "error":
        failed = f"读取程序内部出错（{outcome.detail}）"
    else:
        failed = f"读取程序异常终止（{outcome.detail}）"
    raise RegisterError(
        f"{path}: 无法读取{what}：{failed}。请在 Excel/WPS/Word 中打开确认后另存，再重试。"
    )


@dataclass(frozen=True)
class RegisterSummary:
    """The parsed register as `xlflow register` shows it: counts, groups, tasks, divisions."""

    source: str
    counts: dict[str, int]
    groups: tuple[str, ...]
    tasks: tuple[dict[str, Any], ...]
    divisions: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]
    folded: tuple[tuple[str, str], ...] = ()  # (name as written, the unit it names)
    collectives: tuple[tuple[str, tuple[str, ...]], ...] = ()  # answered by their members

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "counts": self.counts,
            "groups": list(self.groups),
            "tasks": list(self.tasks),
            "divisions": list(self.divisions),
            "notes": list(self.notes),
            "folded": [{"name": name, "unit": unit} for name, unit in self.folded],
            "collectives": [
                {"collective": name, "members": list(members)} for name, members in self.collectives
            ],
        }


def describe_register(register: Register, settings: RegisterSettings) -> RegisterSummary:
    """The parsed register as plain data: counts, groups, tasks and divisions."""
    index = register.index()
    divisions = []
    for d in register.divisions:
        tasks = index[d]
        divisions.append(
            {
                "division": d,
                "lead": sum(1 for _, role in tasks if role is Role.LEAD),
                "cooperating": sum(1 for _, role in tasks if role is Role.COOPERATING),
                "task_ids": [t.id for t, _ in tasks],
                "collective": is_collective(d),
                "member_of": sorted({t.collective_of(d) for t, _ in tasks} - {""}),
            }
        )
    return RegisterSummary(
        source=register.source,
        counts={
            "tasks": len(register.tasks),
            "groups": len(register.groups),
            "divisions": len(register.divisions),
            "assignments": len(register.assignments),
        },
        groups=tuple(register.groups),
        tasks=tuple(
            {
                "id": t.id,
                "group": t.group,
                "name": task_label(t, settings),
                "lead": list(t.lead),
                "cooperating": list(t.cooperating),
                "collectives": {name: list(members) for name, members in t.collectives},
                "targets": {str(y): text for y, text in t.targets},
            }
            for t in register.tasks
        ),
        divisions=tuple(divisions),
        notes=tuple(register.notes),
        folded=register.folded,
        collectives=register.collectives,
    )


@dataclass(frozen=True)
class DirectoryReport:
    """The unit directory as `xlflow directory` and the console show it: its units, the
    collectives and their members, the names it folds, and every problem with its row."""

    path: str
    units: tuple[Unit, ...]
    problems: tuple[Issue, ...]
    collectives: tuple[tuple[str, tuple[str, ...]], ...]  # collective -> members
    folded: tuple[tuple[str, str], ...]  # (name in the register, the unit it names)
    unlisted: tuple[str, ...]  # collectives of the register without members: one form each
    without_email: tuple[str, ...]  # units of the register no reminder can be addressed to
    legacy: bool = False  # the older divisions.csv, contacts only

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "legacy": self.legacy,
            "units": [
                {
                    "name": u.name,
                    "aliases": list(u.aliases),
                    "collectives": list(u.collectives),
                    "person": u.person,
                    "email": u.email,
                    "phone": u.phone,
                    "row": u.row,
                }
                for u in self.units
            ],
            "collectives": [{"collective": c, "members": list(m)} for c, m in self.collectives],
            "folded": [{"name": n, "unit": u} for n, u in self.folded],
            "unlisted_collectives": list(self.unlisted),
            "without_email": list(self.without_email),
            "problems": [p.to_dict() for p in self.problems],
        }


def directory_report(ws: Workspace) -> DirectoryReport:
    """Read the directory and check it against the register as written (not as organised:
    a directory with errors must still be checked)."""
    where = find_directory(ws.templates)
    if where is None:
        raise NotFound(
            f"工作文件夹中没有单位名录（{ws.templates / DIRECTORY_XLSX}）。"
            "用 xlflow init 新建的工作文件夹会起草一份；也可以照 docs/organisation.md 新建。"
        )
    written: Register = read_isolated(
        READ_REGISTER, ws.register_path, ws.settings.register, ws.settings.limits
    )
    directory = load_directory(ws, written)
    assert directory is not None
    legacy = where.name == LEGACY_CSV
    organised = written if legacy or directory.errors else organise(written, directory)
    names = organised.divisions
    return DirectoryReport(
        path=str(where),
        units=directory.units,
        problems=directory.problems,
        collectives=organised.collectives,
        folded=organised.folded,
        unlisted=tuple(n for n in names if is_collective(n) and not directory.members(n)),
        without_email=tuple(n for n in names if not valid_emails(directory.contact(n).email)),
        legacy=legacy,
    )


__all__ = [
    "describe_register",
    "directory_report",
    "load_directory",
    "load_register",
    "read_isolated",
    "register_key",
]
