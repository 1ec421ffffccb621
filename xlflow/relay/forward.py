"""Forwarding a form down a level (`xlflow forward`): a unit that must ask its own units
before it can answer makes a child round from the form it received.

The unit runs xlflow in a working folder of its own. The form it received becomes that
folder's register: the form's tasks with their read-only text and target, and a column
`分解到` naming the sub-units each task goes to (all of them until the unit says
otherwise). Its own unit directory names the sub-units. Each sub-unit gets a form signed
with the child folder's own secret; the children are collected, checked and merged as
any round is, and `xlflow roll-up` writes their answers back into the received form.

The received form is a file from outside: it is read in a worker, as a return is, and
every read-only row is checked against the hash the form carries before anything is made
from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cells import col_number
from ..config.load import settings_from_dict
from ..config.model import Limits, RegisterSettings, Settings
from ..config.writing import (
    replace_fields_section,
    replace_office,
    replace_register_section,
    replace_rollup_section,
    toml_string,
)
from ..errors import FolderInvalid, Invalid, NotFound
from ..excel import BORDER, LOOK, new_workbook, row_height
from ..files import FolderChange, atomic_write
from ..generate.forms import GenerateResult, generate_forms
from ..intake.identify import read_metadata
from ..issues import Severity
from ..model import Role, parse_round
from ..pool import JobFailure, call_isolated
from ..reading.reader import read_workbook
from ..reading.workbook import text_of
from ..register.directory import (
    DIRECTORY_CSV,
    DIRECTORY_XLSX,
    Directory,
    Draft,
    find_directory,
    unit_key,
)
from ..register.directory_file import write_draft
from ..register.load import READ_DIRECTORY, READ_REGISTER, read_isolated
from ..signing import PROP_PREFIX, ROLLUP_PROPERTY, row_hash
from ..text import task_id_text
from ..units import is_collective
from ..wording import ID_HEADER, ROLE_LABELS, role_label
from ..workspace import REPORT_TEMPLATE, SETTINGS_NAME, STATE_DIR, Workspace, bundled_file

FORWARDED = "forwarded.json"  # in .xlflow/: each round forwarded here, and its form
RECEIVED_DIR = "forwarded"  # in .xlflow/: each received form as it came
CHILD_REGISTER = "任务清单.xlsx"
SPLIT_COLUMN = "分解到"
PARENT_ROLE_COLUMN = "上级分工"
_REGISTER_SHEET = "任务清单"
_REGISTER_NOTE = (
    f"“{SPLIT_COLUMN}”写每项任务交给哪些下级单位（用“、”隔开，第一个牵头），"
    "改好后保存，并重新运行 xlflow forward。"
)
_READ_FORM = "xlflow.relay.forward:parse_received_form"


@dataclass(frozen=True)
class ReceivedRow:
    task_id: str
    role: Role
    readonly: tuple[tuple[str, str], ...]  # (form header, text), target last if any
    row_hash: str


@dataclass(frozen=True)
class ReceivedForm:
    """A form a unit received from the level above, as read back from the file."""

    name: str
    sha256: str
    round_id: str
    round_title: str
    division: str  # the unit it was sent to: the one forwarding it
    signature: str
    title: str
    sheet: str
    target_year: int | None
    target_header: str
    rows: tuple[ReceivedRow, ...]
    hint: dict[str, Any]  # the settings tables the form was made with (forms.form_hint)

    @property
    def task_ids(self) -> tuple[str, ...]:
        return tuple(r.task_id for r in self.rows)

    @property
    def office(self) -> str:
        return str(self.hint.get("office", {}).get("name", ""))

    @property
    def deadline(self) -> dt.date | None:
        text = str(self.hint.get("round", {}).get("deadline", "") or "")
        return dt.date.fromisoformat(text) if text else None

    @property
    def year(self) -> int | None:
        year = self.hint.get("round", {}).get("year")
        return int(year) if isinstance(year, int) else None

    def settings(self) -> Settings:
        """The settings the form was made with, as far as a form needs them."""
        tables = {k: v for k, v in self.hint.items() if k in ("office", "form", "status")}
        columns = self.hint.get("columns", {})
        shown = (
            [h for h, _ in self.rows[0].readonly if h != self.target_header] if self.rows else []
        )
        return settings_from_dict(
            {
                **tables,
                "register": {
                    "divisions_column": SPLIT_COLUMN,
                    "group_column": columns.get("group", ""),
                    "name_column": columns.get("name", ""),
                    "readonly_columns": shown,
                },
                "fields": self.hint["fields"],
                "contact": self.hint["contact"],
            },
            f"{self.name} 中的填报表设置",
        )


def _not_a_form(name: str, why: str) -> Invalid:
    return Invalid(
        f"“{name}”不能分发：{why}。请使用上级下发的 xlflow 填报表原件（未改名的工作表、未删除的隐藏信息）。"
    )


def parse_received_form(path: Path, limits: Limits) -> ReceivedForm:
    """Read a received form (in a worker): its identity, its settings, and each task row,
    every read-only row checked against the hash the form itself carries."""
    name = path.name
    data = path.read_bytes()
    result = read_workbook(data, path.suffix, limits)
    raw = result.workbook
    if raw is None:
        why = "；".join(i.message for i in result.issues if i.severity is Severity.ERROR)
        raise _not_a_form(name, why or "无法读取")
    meta = read_metadata(raw)
    if meta is None or not meta.values.get("round"):
        raise _not_a_form(name, "它不是 xlflow 生成的填报表（找不到识别信息）")
    values = meta.values
    hint_text = values.get("form_settings", "")
    if not hint_text:
        raise _not_a_form(
            name, "它由较早版本的 xlflow 生成，缺少分发所需的填报项设置；请向上级索取新生成的表格"
        )
    try:
        hint = json.loads(hint_text)
        tasks = [task_id_text(t) for t in json.loads(values.get("tasks", "[]"))]
        columns = json.loads(values.get("columns", "{}"))
    except (ValueError, TypeError):
        raise _not_a_form(name, "表中的识别信息已损坏") from None
    shape = _shape_problem(hint, columns)
    if shape:
        raise _not_a_form(name, f"表中的填报项设置已损坏（{shape}）")
    if any(k.startswith(PROP_PREFIX + ROLLUP_PROPERTY) for k in raw.properties):
        raise _not_a_form(
            name, "它是已经汇总过的表格（xlflow roll-up 的结果），应上报，而不是再分发"
        )
    sheet_name = values.get("sheet", "")
    sheet = raw.sheet(sheet_name)
    if sheet is None:
        raise _not_a_form(name, f"找不到工作表“{sheet_name}”")
    first_field = min((col_number(c) for c in columns.values()), default=0) - 1
    header = next(
        (r for r, row in enumerate(sheet.rows[:30]) if row and text_of(row[0]) == ID_HEADER), None
    )
    if header is None or first_field < 2:
        raise _not_a_form(name, f"在“{sheet_name}”中找不到表头行")
    heads = [text_of(c) for c in sheet.rows[header][2:first_field]]
    roles = {label: Role(role) for role, label in ROLE_LABELS.items()}
    hashes = meta.row_hashes or {}
    found: dict[str, ReceivedRow] = {}
    for r in range(header + 1, len(sheet.rows)):
        row = sheet.rows[r]
        tid = task_id_text(text_of(row[0])) if row else ""
        if tid not in tasks or tid in found:
            continue
        cells = [text_of(row[c]) if c < len(row) else "" for c in range(2, first_field)]
        role = roles.get(text_of(row[1]) if len(row) > 1 else "", Role.COOPERATING)
        digest = row_hash(tid, role_label(role), cells)
        if hashes.get(tid) != digest:
            raise _not_a_form(
                name, f"第 {r + 1} 行（序号 {tid}）的只读内容与表格记录的不一致，表格可能被改动过"
            )
        found[tid] = ReceivedRow(tid, role, tuple(zip(heads, cells, strict=True)), digest)
    missing = [t for t in tasks if t not in found]
    if missing:
        raise _not_a_form(name, f"表中缺少序号 {'、'.join(missing)} 的任务行")
    year_text = values.get("target_year", "")
    target_year = int(year_text) if year_text.isdigit() else None
    title_row = sheet.rows[0] if sheet.rows else []
    return ReceivedForm(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        round_id=values["round"],
        round_title=values.get("round_title", values["round"]),
        division=values.get("division", ""),
        signature=values.get("signature", ""),
        title=text_of(title_row[0]) if title_row else "",
        sheet=sheet_name,
        target_year=target_year,
        target_header=heads[-1] if target_year and heads else "",
        rows=tuple(found[t] for t in tasks),
        hint=hint,
    )


_TABLES = ("office", "form", "status", "round", "columns")


def _shape_problem(hint: Any, columns: Any) -> str:
    """What is wrong with the shape of a form's unsigned settings, or "": they are read
    from any file that claims to be a form, so nothing of them is trusted before this."""
    if not isinstance(hint, dict):
        return "不是一组设置"
    for key in ("fields", "contact"):
        tables = hint.get(key)
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            return f"“{key}”不是设置表的列表"
    if not hint["fields"]:
        return "没有填报项"
    for key in _TABLES:
        if not isinstance(hint.get(key, {}), dict):
            return f"“{key}”不是一张设置表"
    for table in (columns, hint.get("columns", {})):
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            return "列的位置不是文字"
    return ""


def read_received_form(path: Path, limits: Limits) -> ReceivedForm:
    """`parse_received_form` in a worker: a form that crashes or hangs its reader is a
    message, not a traceback."""
    if not path.is_file():
        raise NotFound(f"找不到要分发的填报表：{path}")
    outcome = call_isolated(
        _READ_FORM, (path, limits), limits.read_timeout_seconds * 2, limits.worker_memory_mb
    )
    if isinstance(outcome, JobFailure):
        failed = {"error": "读取程序内部出错", "timeout": "读取超时仍未完成"}.get(
            outcome.kind, "读取程序异常终止"
        )
        raise Invalid(
            f"“{path.name}”无法读取（{failed}：{outcome.detail}）。请在 Excel 或 WPS 中打开确认后另存，再重试。"
        )
    form: ReceivedForm = outcome
    return form


# --- the child folder ---


@dataclass(frozen=True)
class ForwardResult:
    root: Path
    received: ReceivedForm
    units: tuple[str, ...]  # the sub-units named in the directory
    generated: GenerateResult
    created: bool  # the child folder was made now
    notes: tuple[str, ...] = ()
    register: Path = field(default=Path())

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "round": self.received.round_id,
            "received": {
                "name": self.received.name,
                "sha256": self.received.sha256,
                "division": self.received.division,
                "office": self.received.office,
                "tasks": list(self.received.task_ids),
            },
            "units": list(self.units),
            "register": str(self.register),
            "created": self.created,
            "forms": self.generated.to_dict()["forms"],
            "notes": list(self.notes),
        }


def forwarded_rounds(root: Path) -> dict[str, dict[str, Any]]:
    """What `.xlflow/forwarded.json` records: each forwarded round's received form."""
    path = root / STATE_DIR / FORWARDED
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise Invalid(f"{path} 已损坏，无法读取；请用 xlflow forward 重新分发。") from None
    return dict(data.get("rounds", {}))


def received_copy(root: Path, round_id: str) -> Path:
    return (
        root
        / STATE_DIR
        / RECEIVED_DIR
        / f"{hashlib.sha256(round_id.encode()).hexdigest()[:16]}.xlsx"
    )


def _sub_units(to: str, limits: Limits) -> tuple[Path | None, tuple[str, ...]]:
    """(the directory file given, the units it or the list names), checked."""
    candidate = Path(to)
    if candidate.suffix.lower() in (".xlsx", ".xls", ".csv", ".ods") or candidate.is_file():
        if not candidate.is_file():
            raise NotFound(f"找不到单位名录：{candidate}")
        directory: Directory = read_isolated(READ_DIRECTORY, candidate, None, limits, "单位名录")
        if directory.errors:
            shown = "；".join(f"{p.location}：{p.message}" for p in directory.errors[:5])
            raise Invalid(
                f"{candidate.name} 有 {len(directory.errors)} 处需要改正：{shown}。未做任何改动。"
            )
        units = tuple(u.name for u in directory.units if not is_collective(u.name))
        if not units:
            raise Invalid(f"{candidate.name} 中没有列出任何单位；未做任何改动。")
        return candidate, units
    names: list[str] = []
    for part in to.replace("，", "、").replace(",", "、").replace("；", "、").split("、"):
        unit = unit_key(part)
        if unit in names:
            raise Invalid(f"--to 中“{unit}”写了两次；每个下级单位只写一次。未做任何改动。")
        if unit:
            names.append(unit)
    if not names:
        raise Invalid("--to 没有给出下级单位：写单位名录文件，或用“、”隔开的单位名称。")
    return None, tuple(names)


def forward(
    root: Path | str,
    form: Path | str,
    to: str | None,
    deadline: dt.date | None = None,
    limits: Limits | None = None,
) -> ForwardResult:
    """Make (or bring up to date) the child round of a received form in the working folder
    `root`, and one form per sub-unit. Nothing is written until the form, the sub-units
    and the folder have all been checked."""
    folder = Path(root).resolve()
    limits = limits or Limits()
    received = read_received_form(Path(form), limits)
    settings = received.settings()  # a form whose settings do not read is refused here
    existing = _existing_folder(folder, received)
    if to is None and existing is None:
        raise Invalid("第一次分发时要用 --to 给出下级单位：单位名录文件，或用“、”隔开的单位名称。")
    given, units = _sub_units(to, limits) if to else (None, ())
    notes: list[str] = []
    kept = [
        folder / SETTINGS_NAME,
        folder / "templates" / CHILD_REGISTER,
        folder / "templates" / DIRECTORY_XLSX,
        folder / "templates" / DIRECTORY_CSV,
        folder / STATE_DIR / FORWARDED,
        received_copy(folder, received.round_id),
    ]
    # a new folder is removed whole if a step fails; an existing one gets back every file
    # a step changed, so it works exactly as before
    with _folder(folder, existing is None), FolderChange.guarding(kept if existing else ()):
        if existing is None:
            _make_folder(folder, received, settings)
        ws = Workspace.open(folder)
        if to is not None:
            notes += _place_directory(ws, given, units)
        split = _current_split(ws)
        if not units:
            units = _directory_units(ws, limits)
        register = ws.templates / CHILD_REGISTER
        atomic_write(register, _register_bytes(received, units, split))
        _remember(folder, received, Path(form))
        rnd = parse_round(
            received.round_id,
            title=received.round_title,
            year=received.year,
            deadline=deadline or received.deadline,
        )
        ws = Workspace.open(folder)  # the register changed: read it anew
        generated = generate_forms(ws, rnd)
    if split:
        notes.append(f"沿用 templates/{CHILD_REGISTER} 中已填写的“{SPLIT_COLUMN}”。")
    return ForwardResult(
        folder, received, units, generated, existing is None, tuple(notes), register
    )


def _existing_folder(folder: Path, received: ReceivedForm) -> dict[str, Any] | None:
    """The folder's forwarded rounds, if it is a child folder of the same unit; None if it
    is not a working folder yet. Any other working folder is refused."""
    has_settings = (folder / SETTINGS_NAME).is_file() or (
        folder / "templates" / SETTINGS_NAME
    ).is_file()
    if not has_settings:
        if folder.exists() and any(p.name not in (".DS_Store",) for p in folder.iterdir()):
            raise FolderInvalid(
                f"{folder} 不是空文件夹，也不是 xlflow forward 建立的工作文件夹；请换一个新文件夹（-w）。未做任何改动。"
            )
        return None
    rounds = forwarded_rounds(folder)
    if not rounds:
        raise FolderInvalid(
            f"{folder} 是 xlflow 工作文件夹，但不是由 xlflow forward 建立的（没有 {STATE_DIR}/{FORWARDED}）。"
            "下级分发请用单独的文件夹，如 -w 分发。未做任何改动。"
        )
    units = {entry.get("division") for entry in rounds.values()}
    if received.division not in units:
        raise FolderInvalid(
            f"{folder} 分发的是 {'、'.join(sorted(u for u in units if u))} 收到的表格，"
            f"而“{received.name}”是发给 {received.division} 的。请换一个文件夹（-w）。未做任何改动。"
        )
    return rounds


class _folder:
    """Remove a child folder made now if anything after fails: nothing is left half-made."""

    def __init__(self, folder: Path, new: bool) -> None:
        self.folder, self.new = folder, new

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is not None and self.new and self.folder.is_dir():
            shutil.rmtree(self.folder, ignore_errors=True)


def _make_folder(folder: Path, received: ReceivedForm, settings: Settings) -> None:
    for sub in ("templates", "inbox", "outbox"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    template = bundled_file(SETTINGS_NAME).decode("utf-8")
    readonly = [h for h, _ in received.rows[0].readonly] if received.rows else []
    shown = [h for h in readonly if h != received.target_header]
    columns = received.hint.get("columns", {})
    group = columns.get("group", "") if columns.get("group", "") in shown else ""
    name = columns.get("name", "") if columns.get("name", "") in shown else ""
    reg = RegisterSettings(
        path=f"templates/{CHILD_REGISTER}",
        sheet=_REGISTER_SHEET,
        header_row=2,
        id_column=ID_HEADER,
        group_column=group,
        name_column=name,
        divisions_column=SPLIT_COLUMN,
        readonly_columns=(*shown, PARENT_ROLE_COLUMN),
        targets=((received.target_year, received.target_header),)
        if received.target_header and received.target_year
        else (),
    )
    text = replace_register_section(template, reg)
    text = replace_office(text, received.division)
    text = replace_fields_section(text, received.hint["fields"], received.hint["contact"])
    text = replace_rollup_section(text, settings)
    text = text.replace(
        'title = "{office}{round}重点任务进展情况填报表"',
        f"title = {toml_string(settings.form.title)}",
    )
    atomic_write(folder / SETTINGS_NAME, text.encode("utf-8"))
    atomic_write(folder / "templates" / REPORT_TEMPLATE, bundled_file(REPORT_TEMPLATE))
    atomic_write(folder / ".gitignore", f"{STATE_DIR}/\ninbox/\noutbox/\n".encode())
    Workspace.open(folder)  # the settings written read back, or the folder is removed


def _place_directory(ws: Workspace, given: Path | None, units: Sequence[str]) -> list[str]:
    """Put the sub-units in the child folder's directory: a copy of the file given, or a
    directory drafted from the names (an existing one, perhaps with contacts, is kept)."""
    present = find_directory(ws.templates)
    if given is not None:
        suffix = ".csv" if given.suffix.lower() == ".csv" else ".xlsx"
        target = ws.templates / (DIRECTORY_CSV if suffix == ".csv" else DIRECTORY_XLSX)
        other = ws.templates / (DIRECTORY_XLSX if suffix == ".csv" else DIRECTORY_CSV)
        if other.is_file():
            raise Invalid(f"{other} 已存在；请删除它或改用同一格式的名录，以免两份名录不一致。")
        atomic_write(target, given.read_bytes())
        return []
    if present is not None and present.name == DIRECTORY_XLSX:
        return [f"沿用已有的单位名录 {present}；--to 给出的名称已用于“{SPLIT_COLUMN}”的默认值。"]
    atomic_write(ws.templates / DIRECTORY_XLSX, write_draft(Draft(tuple(units), (), ())))
    return []


def _directory_units(ws: Workspace, limits: Limits) -> tuple[str, ...]:
    where = find_directory(ws.templates)
    if where is None:
        raise Invalid(f"{ws.templates} 中没有单位名录；请用 --to 给出下级单位。")
    directory: Directory = read_isolated(READ_DIRECTORY, where, None, limits)
    return tuple(u.name for u in directory.units if not is_collective(u.name))


def _current_split(ws: Workspace) -> dict[str, str]:
    """分解到 as the unit has filled it in the child register, by task id ({} if none)."""
    path = ws.templates / CHILD_REGISTER
    if not path.is_file():
        return {}
    register = read_isolated(READ_REGISTER, path, ws.settings.register, ws.settings.limits)
    return {t.id: t.column(SPLIT_COLUMN) for t in register.tasks if t.column(SPLIT_COLUMN)}


def _register_bytes(
    received: ReceivedForm, units: Sequence[str], split: Mapping[str, str]
) -> bytes:
    """The child register: the received form's tasks, their read-only text and target, the
    unit's role above, and 分解到 (every sub-unit until the unit says otherwise)."""
    heads = [h for h, _ in received.rows[0].readonly] if received.rows else []
    columns = [ID_HEADER, *heads, PARENT_ROLE_COLUMN, SPLIT_COLUMN]
    everyone = "、".join(units)
    buffer = io.BytesIO()
    wb = new_workbook(buffer)
    head = wb.add_format(
        {"bold": True, "font_name": "黑体", "align": "center", "valign": "vcenter",
         "text_wrap": True, "bg_color": LOOK["header"], **BORDER}
    )  # fmt: skip
    body = wb.add_format({"font_name": "宋体", "valign": "top", "text_wrap": True, **BORDER})
    edit = wb.add_format(
        {
            "font_name": "宋体",
            "valign": "top",
            "text_wrap": True,
            "bg_color": LOOK["input"],
            **BORDER,
        }
    )
    note = wb.add_format({"font_name": "宋体", "font_size": 10, "text_wrap": True, "valign": "top"})
    ws = wb.add_worksheet(_REGISTER_SHEET)
    widths = [6.0] + [24.0] * len(heads) + [10.0, 36.0]
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    text = f"由“{received.name}”（{received.office or '上级'}发给{received.division}，{received.round_title}）转来。"
    ws.merge_range(0, 0, 0, len(columns) - 1, text + _REGISTER_NOTE, note)
    ws.set_row(0, row_height([(text + _REGISTER_NOTE, sum(widths))], min_lines=2))
    for c, text in enumerate(columns):
        ws.write_string(1, c, text, head)
    for r, row in enumerate(received.rows, start=2):
        values = [row.task_id, *(t for _, t in row.readonly), role_label(row.role)]
        for c, text in enumerate(values):
            ws.write_string(r, c, text, body)
        ws.write_string(r, len(values), split.get(row.task_id, everyone), edit)
        ws.set_row(r, row_height([(t, 24.0) for t in values[1:-1]]))
    ws.freeze_panes(2, 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(1)
    wb.close()
    return buffer.getvalue()


def _remember(folder: Path, received: ReceivedForm, form: Path) -> None:
    """Keep the received form as it came, and what it is, for roll-up."""
    copy = received_copy(folder, received.round_id)
    atomic_write(copy, form.read_bytes())
    rounds = forwarded_rounds(folder)
    rounds[received.round_id] = {
        "name": received.name,
        "sha256": received.sha256,
        "division": received.division,
        "office": received.office,
        "round_title": received.round_title,
        "tasks": list(received.task_ids),
        "copy": str(copy.relative_to(folder)),
        "forwarded_at": dt.datetime.now().replace(microsecond=0).isoformat(),
    }
    data = json.dumps({"rounds": rounds}, ensure_ascii=False, indent=2, sort_keys=True)
    atomic_write(folder / STATE_DIR / FORWARDED, data.encode("utf-8"))


__all__ = [
    "CHILD_REGISTER",
    "SPLIT_COLUMN",
    "ForwardResult",
    "ReceivedForm",
    "forward",
    "forwarded_rounds",
    "parse_received_form",
    "read_received_form",
    "received_copy",
]
