"""How xlflow names things to people: a form's title, a deadline, a task.

One place for each, so that a form, a receipt, a reminder and the consolidated workbook
call the same thing by the same name.
"""

from __future__ import annotations

import datetime as dt
import errno
from collections.abc import Iterable

from .config.model import RegisterSettings, Settings
from .issues import Verdict
from .model import FormRow, Role, Round, Task
from .text import header_key

ID_HEADER = "序号"
ROLE_HEADER = "牵头/配合"
# what a file's verdict, a division's standing and a division's role are called
VERDICT_LABELS: dict[str, str] = {
    Verdict.ACCEPTED: "已采用",
    Verdict.REJECTED: "退回修改",
    Verdict.SUPERSEDED: "已被更新版本替代",
    Verdict.DUPLICATE: "重复文件",
    Verdict.SKIPPED: "已跳过",
    Verdict.EXCLUDED: "不采用（协调办公室决定）",
}
STANDING_LABELS: dict[str, str] = {
    "accepted": "已采用",
    "rejected": "退回修改",
    "missing": "未报送",
}
OVERDUE_LABEL = "逾期"
ROLE_LABELS: dict[str, str] = {Role.LEAD: "牵头", Role.COOPERATING: "配合"}
# the consolidated workbook's sheets
OVERVIEW = "总览"
DETAIL = "任务明细"
MISSING = "未报送"
PROBLEMS = "校验问题"
SOURCES = "来源"
HISTORY = "历次进展"
COLLECTIVES = "集体汇总"
ASSESSMENT = "考核情况"
EXPLANATIONS = "需说明事项"


def form_title(settings: Settings, rnd: Round, division: str) -> str:
    return settings.form.title.format(
        office=settings.office.name,
        round=rnd.title,
        division=division,
        year=rnd.year or "",
    )


def short_time_text(when: dt.datetime) -> str:
    """07月05日 09:30: month and day as remind says them. Built from the numbers, never
    through strftime, whose non-ASCII formats the Windows C runtime refuses (ValueError)."""
    return f"{when.month:02d}月{when.day:02d}日 {when.hour:02d}:{when.minute:02d}"


def deadline_text(deadline: dt.date | None) -> str:
    if deadline is None:
        return "按通知要求"
    return f"{deadline.year}年{deadline.month}月{deadline.day}日前"


def task_name(columns: Iterable[tuple[str, str]], register: RegisterSettings, fallback: str) -> str:
    """A task's short name: its text in the register's name column, else its first text
    that is neither its id nor its group, else `fallback` (its id).

    `columns` are (header, text) pairs: a register task's, or the read-only cells of its
    row on a form; headers match whatever their line breaks and spaces.
    """
    pairs = list(columns)
    if register.name_column:
        wanted = header_key(register.name_column)
        for header, text in pairs:
            if header_key(header) == wanted and text:
                return text.replace("\n", "")
    skip = {header_key(register.id_column), header_key(register.group_column)}
    for header, text in pairs:
        if header_key(header) not in skip and text:
            return text.replace("\n", "")
    return fallback


def task_label(task: Task, register: RegisterSettings) -> str:
    """A register task's short name (see `task_name`)."""
    return task_name(task.columns, register, task.id)


def units_shown(task: Task, units: tuple[str, ...]) -> list[str]:
    """A task's units as people read them: a collective's members as the collective."""
    out: list[str] = []
    for unit in units:
        collective = task.collective_of(unit)
        name = (
            f"{collective}（{len(dict(task.collectives)[collective])} 个成员）"
            if collective
            else unit
        )
        if name not in out:
            out.append(name)
    return out


def row_name(row: FormRow, register: RegisterSettings) -> str:
    """The name of a task on a form: as generated from the register, or, for a form stored
    by an older xlflow, from the row's read-only cells."""
    return row.name or task_name(row.readonly, register, row.task_id)


def days_left_text(days: int | None) -> str:
    """How long is left before the deadline, in one sentence everywhere (the status, the
    console, the reminders)."""
    if days is None:
        return "未设报送时限"
    if days > 0:
        return f"距报送时限还有 {days} 天"
    if days == 0:
        return "今天是报送时限"
    return f"已超过报送时限 {-days} 天"


def role_label(role: Role | str) -> str:
    """牵头 or 配合."""
    return ROLE_LABELS[Role(role)]


def disk_error_text(exc: OSError) -> str:
    """What a person is told when the disk or a folder's permissions stop xlflow."""
    where = f"（{exc.filename}）" if exc.filename else ""
    said = str(exc.strerror or exc).rstrip("。. \r\n")  # Windows' own text ends with 。
    if exc.errno == errno.ENAMETOOLONG or getattr(exc, "winerror", None) in (206, 234):
        # 234 (有更多可用数据) is what Windows says of a path past 260 characters
        return (
            f"文件读写失败{where}：路径太长（{len(str(exc.filename or ''))} 个字符）。"
            "请把工作文件夹移到较短的路径下（如 D:\\督查\\2024）后重试。"
        )
    if getattr(exc, "winerror", None) in (5, 32, 33) and exc.filename2:
        # a finished file put in place of one a program holds open: Windows refuses that
        # (Excel and WPS keep a workbook open while it is shown)
        return (
            f"无法写入“{exc.filename2}”：这个文件正被其他程序打开（多为 Excel 或 WPS），"
            "Windows 不允许替换。请关闭它后重新运行；已有的文件没有改动。"
        )
    return f"文件读写失败{where}：{said}。请检查磁盘空间和文件夹权限后重试。"
