"""Merging the accepted returns into the consolidated status workbook (汇总表).

`consolidate` builds plain data from the ledger; `render_consolidation` writes it with
XlsxWriter. The same ledger always gives the same cell contents: even the time the
workbook was made comes from the ledger, not the clock.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings
from .excel import new_workbook, page_text, row_height, write_text, write_value
from .files import atomic_write, folder_lock, sweep_temp_files
from .issues import VERDICT_LABELS, Issue, IssueCode, Severity, Verdict, warning
from .ledger import Ledger
from .model import FileRecord, Register, Role, Round, Task
from .state import DivisionState, Standing, round_state
from .text import CELL_TEXT_LIMIT, cell_length, cut_to_cell, display_width, safe_filename
from .wording import deadline_text, form_title, task_label
from .workspace import Workspace

OVERVIEW = "总览"
DETAIL = "任务明细"
MISSING = "未报送"
PROBLEMS = "校验问题"
SOURCES = "来源"
HISTORY = "历次进展"


@dataclass(frozen=True)
class DivisionAnswer:
    """What one division said about one task."""

    division: str
    role: Role
    values: dict[str, Any]
    source: str


@dataclass(frozen=True)
class TaskState:
    task: Task
    target: str
    status: str
    percent: float | int | None
    answers: tuple[DivisionAnswer, ...]
    note: str = ""
    conflict: bool = False
    texts: dict[str, str] = field(default_factory=dict)  # text field key -> combined text


@dataclass(frozen=True)
class HistoryEntry:
    round: Round
    statuses: dict[str, tuple[str, Any]]  # task id -> (status, percent)


@dataclass(frozen=True)
class Consolidation:
    round: Round
    made_at: dt.datetime
    settings: Settings
    register: Register
    tasks: tuple[TaskState, ...]
    divisions: tuple[DivisionState, ...]
    files: tuple[FileRecord, ...]
    problems: tuple[Issue, ...]
    history: tuple[HistoryEntry, ...] = ()
    target_year: int | None = None
    changes: dict[str, int] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        return [d.division for d in self.divisions if d.standing is not Standing.ACCEPTED]

    @property
    def accepted(self) -> list[str]:
        return [d.division for d in self.divisions if d.standing is Standing.ACCEPTED]

    @property
    def conflicts(self) -> int:
        return sum(1 for t in self.tasks if t.conflict)

    def status_counts(self, tasks: Sequence[TaskState] | None = None) -> Counter[str]:
        return Counter(t.status for t in (self.tasks if tasks is None else tasks))

    def summary(self, path: Path) -> dict[str, Any]:
        return {
            "path": str(path),
            "round": self.round.id,
            "tasks": len(self.tasks),
            "accepted": len(self.accepted),
            "missing": self.missing,
            "conflicts": self.conflicts,
        }


def _made_at(files: Sequence[FileRecord], fallback: dt.datetime | None) -> dt.datetime:
    stamps = [f.first_seen for f in files if f.first_seen]
    if stamps:
        return dt.datetime.fromisoformat(max(stamps))
    return fallback or dt.datetime(2000, 1, 1)


def task_states(
    register: Register,
    settings: Settings,
    rnd: Round,
    accepted: dict[str, FileRecord],
) -> tuple[list[TaskState], list[Issue]]:
    status_key, percent_key = settings.status.field, settings.status.percent_field
    missing_label = settings.status.missing_label
    states: list[TaskState] = []
    problems: list[Issue] = []
    for task in register.tasks:
        answers = []
        for division in task.divisions:
            record = accepted.get(division)
            if record is None or task.id not in record.values:
                continue
            role = task.role_of(division) or Role.COOPERATING
            answers.append(DivisionAnswer(division, role, record.values[task.id], record.path))
        lead = next((r for r in answers if r.role is Role.LEAD), None)
        notes = []
        if lead is not None:
            status = str(lead.values.get(status_key, "")) or missing_label
            percent = lead.values.get(percent_key)
        elif answers:
            status, percent = missing_label, None
            shown = "；".join(f"{r.division}：{r.values.get(status_key, '')}" for r in answers)
            notes.append(f"牵头处室未报送（配合处室报：{shown}）")
        else:
            status, percent = missing_label, None
        said = {r.values.get(status_key) for r in answers if r.values.get(status_key)}
        conflict = len(said) > 1
        if conflict:
            shown = "；".join(
                f"{r.division}（{r.role.label}）：{r.values.get(status_key)}" for r in answers
            )
            notes.append(f"各处室所报状态不一致：{shown}")
            problems.append(
                warning(
                    IssueCode.STATUS_CONFLICT,
                    f"序号 {task.id} 各处室所报完成状态不一致（{shown}）；汇总表按牵头处室的状态列示，请核实。",
                    task_id=task.id,
                    division="、".join(r.division for r in answers),
                    sheet=DETAIL,
                )
            )
        found = task.target_for(rnd.year) if rnd.year else None
        target = found[1] if found else ""
        texts, cut = _combined_texts(task, answers, settings)
        problems += cut
        states.append(
            TaskState(
                task=task,
                target=target,
                status=status,
                percent=percent,
                answers=tuple(answers),
                note="；".join(notes),
                conflict=conflict,
                texts=texts,
            )
        )
    return states, problems


_CUT_NOTE = "……（合并后超出单元格上限 32767 字，以下从略；完整内容见来源文件）"


def _combined_texts(
    task: Task, answers: Sequence[DivisionAnswer], settings: Settings
) -> tuple[dict[str, str], list[Issue]]:
    """Each text field with every division's words, labelled 【处室】 where several answer.

    A cell holds at most 32,767 characters. Labelled texts joined together can pass that,
    so a combined text is shortened with a visible note, and reported, never cut silently.
    """
    out: dict[str, str] = {}
    problems: list[Issue] = []
    skip = (settings.status.field, settings.status.percent_field)
    for f in settings.fields:
        if f.key in skip:
            continue
        parts = []
        for rep in answers:
            value = rep.values.get(f.key)
            if value in (None, ""):
                continue
            text = str(value)
            parts.append(f"【{rep.division}】{text}" if len(task.divisions) > 1 else text)
        combined = "\n".join(parts)
        if cell_length(combined) > CELL_TEXT_LIMIT:
            combined = cut_to_cell(combined, CELL_TEXT_LIMIT - cell_length(_CUT_NOTE)) + _CUT_NOTE
            problems.append(
                warning(
                    IssueCode.CELL_TEXT_LIMIT,
                    f"序号 {task.id} 的“{f.label}”合并各处室内容后超过单元格上限 {CELL_TEXT_LIMIT} 字，"
                    "汇总表中已截短并注明；完整内容见各处室的报送文件。",
                    task_id=task.id,
                    sheet=DETAIL,
                    field=f.key,
                )
            )
        out[f.key] = combined
    return out, problems


def consolidate(ws: Workspace, round_id: str) -> Consolidation:
    """Everything the consolidated workbook shows, from the ledger."""
    register = ws.register()
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        forms = ledger.forms(rnd)
        state = round_state(ledger, rnd, register.divisions)
        history = _history(ledger, rnd, register, ws.settings)
        created = ledger.round_created_at(rnd.id)
    files = state.files
    tasks, problems = task_states(register, ws.settings, rnd, state.accepted)
    collected = tuple(i for f in files for i in f.issues)
    target_year = next((s.target_year for s in forms.values() if s.target_year), None)
    changes: dict[str, int] = {}
    if len(history) > 1 and history[-1].round.id == rnd.id:
        changes = compare_statuses(
            history[-2].statuses, history[-1].statuses, ws.settings.status_order
        )
    return Consolidation(
        round=rnd,
        made_at=_made_at(files, created),
        settings=ws.settings,
        register=register,
        tasks=tuple(tasks),
        divisions=state.divisions,
        files=files,
        problems=collected + tuple(problems),
        history=tuple(history),
        target_year=target_year,
        changes=changes,
    )


def _history(
    ledger: Ledger, current: Round, register: Register, settings: Settings
) -> list[HistoryEntry]:
    """Every round up to the current one, with each task's status as the detail sheet shows it."""
    out = []
    for rnd in ledger.rounds():
        accepted = round_state(ledger, rnd).accepted
        states, _ = task_states(register, settings, rnd, accepted)
        out.append(HistoryEntry(rnd, {t.task.id: (t.status, t.percent) for t in states}))
        if rnd.id == current.id:
            break
    return out


def compare_statuses(
    before: dict[str, tuple[str, Any]], now: dict[str, tuple[str, Any]], order: Sequence[str]
) -> dict[str, int]:
    """How many tasks improved, worsened or stayed the same; `order` is best first."""
    rank = {status: i for i, status in enumerate(order)}
    out = {"improved": 0, "worsened": 0, "same": 0, "not_comparable": 0}
    for task_id, (status, _) in now.items():
        old = before.get(task_id, ("", None))[0]
        if status not in rank or old not in rank:
            out["not_comparable"] += 1
        elif rank[status] < rank[old]:
            out["improved"] += 1
        elif rank[status] > rank[old]:
            out["worsened"] += 1
        else:
            out["same"] += 1
    return out


def output_path(ws: Workspace, rnd: Round) -> Path:
    title = form_title(ws.settings, rnd, "")
    return ws.round_dir(rnd) / f"{safe_filename(title)}-汇总-{rnd.slug}.xlsx"


def merge(ws: Workspace, round_id: str) -> tuple[Consolidation, Path]:
    """Write outbox/ROUND/<title>-汇总-ROUND.xlsx atomically."""
    with folder_lock(ws.lock_path, "汇总"):
        sweep_temp_files(ws.outbox)
        data = consolidate(ws, round_id)
        path = output_path(ws, data.round)
        atomic_write(path, render_consolidation(data))
    return data, path


# --- rendering ---


class _Styles:
    def __init__(self, wb: Any, settings: Settings) -> None:
        body = {
            "font_name": settings.form.font,
            "font_size": 10.5,
            "valign": "top",
            "text_wrap": True,
        }
        head = {"font_name": settings.form.header_font}
        border = {"border": 1, "border_color": "#808080"}
        self.title = wb.add_format(
            {**head, "font_size": 18, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.subtitle = wb.add_format(
            {**body, "font_size": 11, "valign": "vcenter", "text_wrap": False}
        )
        self.section = wb.add_format(
            {**head, "font_size": 12, "bold": True, "valign": "vcenter", "bottom": 2}
        )
        self.header = wb.add_format(
            {
                **head,
                **border,
                "bold": True,
                "font_size": 10.5,
                "bg_color": "#D9D9D9",
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )
        self.text = wb.add_format({**body, **border})
        self.center = wb.add_format({**body, **border, "align": "center", "valign": "vcenter"})
        self.number = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "num_format": "0"}
        )
        self.share = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "num_format": "0.0%"}
        )
        self.group = wb.add_format(
            {**body, **border, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.big = wb.add_format(
            {
                **head,
                **border,
                "font_size": 16,
                "bold": True,
                "align": "center",
                "valign": "vcenter",
            }
        )
        self.big_label = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "bg_color": "#F2F2F2"}
        )
        self.note = wb.add_format(
            {**body, "font_size": 9.5, "font_color": "#595959", "text_wrap": True}
        )
        self.flag = wb.add_format(
            {**body, **border, "font_color": "#9C0006", "bg_color": "#FFF2CC"}
        )
        self.total = wb.add_format(
            {
                **body,
                **border,
                "bold": True,
                "align": "center",
                "valign": "vcenter",
                "bg_color": "#F2F2F2",
            }
        )
        self.status_fill = {
            status: wb.add_format({"bg_color": colour})
            for status, colour in settings.status.colours
        }
        self.missing_fill = wb.add_format({"bg_color": "#F2F2F2", "font_color": "#7F7F7F"})


def _page(
    ws: Any, title: str, rnd: Round, *, a3: bool = False, header_row: int | None = None
) -> None:
    ws.set_landscape()
    ws.set_paper(8 if a3 else 9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    ws.center_horizontally()
    ws.set_header(f"&L{page_text(title)}&R{page_text(f'{rnd.title}（{rnd.id}）')}")
    ws.set_footer("&C&9第 &P 页，共 &N 页")
    if header_row is not None:
        ws.repeat_rows(header_row)


def _status_formats(
    ws: Any,
    st: _Styles,
    settings: Settings,
    first: int,
    last: int,
    col: int,
    last_col: int | None = None,
) -> None:
    """Status colours as conditional formats, so a status typed later is coloured too."""
    if last < first:
        return
    end = col if last_col is None else last_col
    for status, fmt in st.status_fill.items():
        ws.conditional_format(
            first,
            col,
            last,
            end,
            {"type": "cell", "criteria": "==", "value": f'"{status}"', "format": fmt},
        )
    ws.conditional_format(
        first, col, last, end,
        {"type": "cell", "criteria": "==", "value": f'"{settings.status.missing_label}"', "format": st.missing_fill},
    )  # fmt: skip


def render_consolidation(data: Consolidation) -> bytes:
    buf = io.BytesIO()
    wb = new_workbook(buf, data.made_at)
    st = _Styles(wb, data.settings)
    title = f"{data.settings.office.name}{data.round.title}重点任务进展情况汇总表"
    _overview(wb, st, data, title)
    _detail(wb, st, data, title)
    _missing(wb, st, data, title)
    _problems(wb, st, data, title)
    _sources(wb, st, data, title)
    if len(data.history) > 1:
        _history_sheet(wb, st, data, title)
    wb.set_properties(
        {
            "title": title,
            "subject": data.round.title,
            "author": data.settings.office.name,
            "company": data.settings.office.name,
            "comments": "由 xlflow 根据已采用的报送文件汇总生成。",
            "created": data.made_at,
        }
    )
    wb.close()
    return buf.getvalue()


def _statuses(data: Consolidation) -> list[str]:
    order = list(data.settings.status_order)
    order.append(data.settings.status.missing_label)
    seen = {t.status for t in data.tasks}
    return order + sorted(s for s in seen if s not in order)


def _overview(wb: Any, st: _Styles, data: Consolidation, title: str) -> None:
    """The page leadership reads first: returns, statuses, by group, by division, charts."""
    page = _Overview(wb, st, data)
    page.heading(title)
    page.returns()
    status_rows = page.status_table()
    group_rows = page.by_group()
    page.by_division()
    last_row = page.charts(status_rows, group_rows)
    ws = page.ws
    _page(ws, title, data.round)
    ws.print_area(0, 0, last_row, page.ncols - 1)
    if len(data.divisions) <= 30:
        ws.fit_to_pages(1, 1)
    ws.activate()


class _Overview:
    """The overview sheet, written top to bottom; `r` is the next free row."""

    def __init__(self, wb: Any, st: _Styles, data: Consolidation) -> None:
        self.wb, self.st, self.data = wb, st, data
        self.ws = wb.add_worksheet(OVERVIEW)
        self.statuses = _statuses(data)
        self.ncols = max(len(self.statuses) + 2, 8)
        self.widths = [24.0] + [12.0] * (self.ncols - 1)
        for i, w in enumerate(self.widths):
            self.ws.set_column(i, i, w)
        self.r = 0

    def section(self, text: str) -> None:
        self.ws.merge_range(self.r, 0, self.r, self.ncols - 1, text, self.st.section)
        self.r += 1

    def heading(self, title: str) -> None:
        ws, st, rnd = self.ws, self.st, self.data.round
        ws.merge_range(0, 0, 0, self.ncols - 1, title, st.title)
        ws.set_row(0, 34)
        ws.merge_range(
            1, 0, 1, self.ncols - 1,
            f"轮次：{rnd.title}（{rnd.id}）    报送时限：{deadline_text(rnd.deadline)}    汇总时间：{self.data.made_at:%Y-%m-%d %H:%M}",
            st.subtitle,
        )  # fmt: skip
        self.r = 3

    def returns(self) -> None:
        """一、报送情况: the counts in boxes, who is missing or late, and the change since last round."""
        ws, st, data = self.ws, self.st, self.data
        late = [d.division for d in data.divisions if d.accepted and d.accepted.late]
        self.section("一、报送情况")
        boxes = [
            ("应报处室", len(data.divisions)),
            ("已采用", len(data.accepted)),
            ("退回修改", sum(1 for d in data.divisions if d.standing is Standing.REJECTED)),
            ("未报送", sum(1 for d in data.divisions if d.standing is Standing.MISSING)),
            ("逾期报送", len(late)),
        ]
        for i, (label, n) in enumerate(boxes):
            ws.write_string(self.r, i, label, st.big_label)
            ws.write_number(self.r + 1, i, n, st.big)
        ws.set_row(self.r + 1, 30)
        self.r += 2
        lines = [f"未报送或未通过核验：{'、'.join(data.missing) if data.missing else '无'}"]
        if late:
            lines.append(f"逾期报送：{'、'.join(late)}")
        if data.changes:
            c = data.changes
            lines.append(
                f"与上一轮次（{data.history[-2].round.title}）相比：状态改善 {c['improved']} 项，"
                f"变差 {c['worsened']} 项，持平 {c['same']} 项。"
            )
        for line in lines:
            ws.merge_range(self.r, 0, self.r, self.ncols - 1, line, st.note)
            ws.set_row(self.r, row_height([(line, 100)]))
            self.r += 1
        self.r += 1

    def status_table(self) -> tuple[int, int]:
        """二、任务完成状态: tasks and shares by status; returns the first and last status rows."""
        ws, st, data = self.ws, self.st, self.data
        self.section("二、任务完成状态")
        counts = data.status_counts()
        total = len(data.tasks)
        for i, head in enumerate(("状态", "任务数", "占比")):
            ws.write_string(self.r, i, head, st.header)
        top = self.r + 1
        for status in self.statuses:
            self.r += 1
            ws.write_string(self.r, 0, status, st.center)
            ws.write_number(self.r, 1, counts.get(status, 0), st.number)
            ws.write_number(self.r, 2, counts.get(status, 0) / total if total else 0, st.share)
        bottom = self.r
        _status_formats(ws, st, data.settings, top, bottom, 0)
        self.r += 1
        ws.write_string(self.r, 0, "合计", st.total)
        ws.write_number(self.r, 1, total, st.total)
        ws.write_number(self.r, 2, 1 if total else 0, st.share)
        self.r += 2
        return top, bottom

    def crosstab(
        self, heading: str, label: str, keys: Sequence[str], rows: dict[str, Counter[str]]
    ) -> int:
        """A table of status counts per key; returns its header row."""
        ws, st = self.ws, self.st
        self.section(heading)
        ws.write_string(self.r, 0, label, st.header)
        for j, status in enumerate(self.statuses):
            ws.write_string(self.r, 1 + j, status, st.header)
        ws.write_string(self.r, 1 + len(self.statuses), "合计", st.header)
        ws.set_row(self.r, 30)
        head = self.r
        for key in keys:
            self.r += 1
            ws.write_string(self.r, 0, key, st.text)
            for j, status in enumerate(self.statuses):
                ws.write_number(self.r, 1 + j, rows[key].get(status, 0), st.number)
            ws.write_number(self.r, 1 + len(self.statuses), sum(rows[key].values()), st.total)
        self.r += 2
        return head

    def by_group(self) -> tuple[int, int]:
        """三、按分组统计; returns the header row and the last row."""
        data = self.data
        groups = list(data.register.groups)
        counts = {
            g: data.status_counts([t for t in data.tasks if t.task.group == g]) for g in groups
        }
        head = self.crosstab("三、按分组统计（按牵头处室所报状态）", "分组", groups, counts)
        return head, head + len(groups)

    def by_division(self) -> None:
        """四、按处室统计: each division's own answers on its own tasks."""
        data = self.data
        status_key = data.settings.status.field
        counts: dict[str, Counter[str]] = {}
        for d in data.divisions:
            counter: Counter[str] = Counter()
            for task, _role in data.register.tasks_of(d.division):
                values = d.accepted.values.get(task.id, {}) if d.accepted else {}
                counter[values.get(status_key) or data.settings.status.missing_label] += 1
            counts[d.division] = counter
        self.crosstab(
            "四、按处室统计（各处室对本处室承担任务所报状态）",
            "处室",
            [d.division for d in data.divisions],
            counts,
        )

    def charts(self, status_rows: tuple[int, int], group_rows: tuple[int, int]) -> int:
        """五、图表: a pie of statuses and a stacked bar by group, native charts sized to the
        columns so that both stay inside the printed page; returns the last row."""
        wb, ws, data = self.wb, self.ws, self.data
        self.section("五、图表")
        r = self.r
        font, header_font = data.settings.form.font, data.settings.form.header_font
        top, bottom = status_rows
        pie = wb.add_chart({"type": "pie"})
        pie.add_series(
            {
                "name": "任务完成状态",
                "categories": [OVERVIEW, top, 0, bottom, 0],
                "values": [OVERVIEW, top, 1, bottom, 1],
                "data_labels": {"value": True, "percentage": False, "leader_lines": True},
                "points": [{"fill": {"color": _colour(data, s)}} for s in self.statuses],
            }
        )
        pie.set_title({"name": "任务完成状态", "name_font": {"size": 11, "name": header_font}})
        pie.set_legend({"position": "right", "font": {"name": font}})
        px = [int(w * 7 + 0.5) + 5 for w in self.widths]
        bar_col = 4
        pie.set_size({"width": sum(px[:bar_col]) - 15, "height": 300})
        ws.insert_chart(r, 0, pie, {"x_offset": 5, "y_offset": 5, "object_position": 1})
        head, last = group_rows
        bar = wb.add_chart({"type": "bar", "subtype": "stacked"})
        for j, status in enumerate(self.statuses):
            bar.add_series(
                {
                    "name": [OVERVIEW, head, 1 + j],
                    "categories": [OVERVIEW, head + 1, 0, last, 0],
                    "values": [OVERVIEW, head + 1, 1 + j, last, 1 + j],
                    "fill": {"color": _colour(data, status)},
                    "gap": 60,
                }
            )
        bar.set_title({"name": "各分组任务状态", "name_font": {"size": 11, "name": header_font}})
        bar.set_y_axis({"reverse": True, "num_font": {"name": font}})
        bar.set_x_axis({"major_unit": 1, "min": 0})
        bar.set_legend({"position": "bottom"})
        bar.set_size({"width": sum(px[bar_col:]) - 15, "height": 300})
        ws.insert_chart(r, bar_col, bar, {"x_offset": 10, "y_offset": 5, "object_position": 1})
        chart_rows = 16
        for k in range(chart_rows):
            ws.set_row(r + k, 20)
        return r + chart_rows


def _colour(data: Consolidation, status: str) -> str:
    colours = dict(data.settings.status.colours)
    if status == data.settings.status.missing_label:
        return "#BFBFBF"
    return colours.get(status, "#9BC2E6")


def _detail(wb: Any, st: _Styles, data: Consolidation, title: str) -> None:
    ws = wb.add_worksheet(DETAIL)
    settings = data.settings
    reg = settings.register
    readonly = [c for c in reg.readonly_columns if c != reg.group_column]
    target_head = f"{data.target_year}年目标" if data.target_year else "目标"
    text_fields = [
        f
        for f in settings.fields
        if f.key not in (settings.status.field, settings.status.percent_field)
    ]
    columns: list[tuple[str, float]] = [("分组", 11), ("序号", 6)]
    for c in readonly:
        texts = [t.task.column(c) for t in data.tasks]
        columns.append(
            (
                "".join(c.split()),
                16 if max((display_width(x) for x in texts), default=0) < 40 else 34,
            )
        )
    columns += [(target_head, 26), ("牵头处室", 12), ("配合处室", 12)]
    status_col = len(columns)
    columns += [("完成状态", 10), ("完成进度(%)", 8)]
    first_text = len(columns)
    columns += [
        (f.label, 40 if f.key == settings.status.progress_field else 26) for f in text_fields
    ]
    note_col = len(columns)
    columns += [("备注", 18), ("来源文件", 20)]
    last_col = len(columns) - 1
    for i, (_, width) in enumerate(columns):
        ws.set_column(i, i, width)
    ws.merge_range(0, 0, 0, last_col, title.replace("汇总表", "明细表"), st.title)
    ws.set_row(0, 34)
    ws.merge_range(
        1,
        0,
        1,
        last_col,
        f"轮次：{data.round.title}    汇总时间：{data.made_at:%Y-%m-%d %H:%M}    任务按清单顺序列示；完成状态、完成进度取牵头处室所报；多个处室报送的文字以【处室】标明。",
        st.subtitle,
    )
    header = 3
    for i, (name, _) in enumerate(columns):
        ws.write_string(header, i, name, st.header)
    ws.set_row(header, 30)
    r = header
    group_start: tuple[str, int] | None = None
    for state in data.tasks:
        r += 1
        task = state.task
        if group_start is None or group_start[0] != task.group:
            _close_group(ws, st, group_start, r - 1)
            group_start = (task.group, r)
        ws.write_string(r, 0, task.group, st.group)
        ws.write_string(r, 1, task.id, st.center)
        cells: list[tuple[str, float]] = []
        for j, name in enumerate(readonly, start=2):
            text = task.column(name)
            write_text(ws, r, j, text, st.text)
            cells.append((text, columns[j][1]))
        tc = 2 + len(readonly)
        write_text(ws, r, tc, state.target, st.text)
        cells.append((state.target, columns[tc][1]))
        ws.write_string(r, tc + 1, "\n".join(task.lead), st.center)
        write_text(ws, r, tc + 2, "\n".join(task.cooperating), st.center)
        ws.write_string(r, status_col, state.status, st.center)
        write_value(ws, r, status_col + 1, state.percent, st.number)
        for j, f in enumerate(text_fields):
            combined = state.texts.get(f.key, "")
            write_text(ws, r, first_text + j, combined, st.text)
            cells.append((combined, columns[first_text + j][1]))
        write_text(ws, r, note_col, state.note, st.flag if state.conflict else st.text)
        cells.append((state.note, columns[note_col][1]))
        sources = "\n".join(f"【{rep.division}】{Path(rep.source).name}" for rep in state.answers)
        write_text(ws, r, note_col + 1, sources, st.text)
        cells.append((sources, columns[note_col + 1][1]))
        ws.set_row(r, row_height(cells, min_lines=2))
    _close_group(ws, st, group_start, r)
    _status_formats(ws, st, settings, header + 1, r, status_col)
    ws.autofilter(header, 0, max(r, header), last_col)
    ws.freeze_panes(header + 1, 2)
    _page(ws, title, data.round, a3=True, header_row=header)
    ws.print_area(0, 0, max(r, header), last_col)


def _close_group(ws: Any, st: _Styles, start: tuple[str, int] | None, end: int) -> None:
    if start is not None and end > start[1]:
        ws.merge_range(start[1], 0, end, 0, start[0], st.group)


def _missing(wb: Any, st: _Styles, data: Consolidation, title: str) -> None:
    heads = [("处室", 18.0), ("情况", 12.0), ("待报任务", 60.0), ("退回的文件及原因", 70.0)]
    ws, header = _list_sheet(wb, st, MISSING, "未报送单位及待报任务", heads)
    r = header
    for d in data.divisions:
        if d.standing is Standing.ACCEPTED:
            continue
        r += 1
        pending = "\n".join(
            f"{t.id}. {task_label(t, data.settings.register)}（{role.label}）"
            for t, role in data.register.tasks_of(d.division)
        )
        rejected = []
        for f in d.files:
            if f.verdict is not Verdict.REJECTED:
                continue
            errors = [i.message for i in f.issues if i.severity is Severity.ERROR]
            shown = "\n".join(f"  · {m}" for m in errors[:5])
            more = f"\n  ……共 {len(errors)} 处问题，详见回执" if len(errors) > 5 else ""
            rejected.append(f"{f.path}（{f.received:%m-%d %H:%M}）：\n{shown}{more}")
        situation = "已退回修改" if d.standing is Standing.REJECTED else "未报送"
        ws.write_string(r, 0, d.division, st.text)
        ws.write_string(r, 1, situation, st.center)
        write_text(ws, r, 2, pending, st.text)
        write_text(ws, r, 3, "\n\n".join(rejected), st.text)
        ws.set_row(r, row_height([(pending, 60), ("\n\n".join(rejected), 70)]))
    if r == header:
        ws.merge_range(
            header + 1, 0, header + 1, len(heads) - 1, "全部处室均已报送并通过核验。", st.text
        )
        r += 1
    _page(ws, title, data.round, header_row=header)
    ws.freeze_panes(header + 1, 0)


def _list_sheet(
    wb: Any, st: _Styles, name: str, heading: str, heads: Sequence[tuple[str, float]]
) -> tuple[Any, int]:
    """A sheet with a title and a header row of (label, width) columns; returns the header row."""
    ws = wb.add_worksheet(name)
    for i, (_, width) in enumerate(heads):
        ws.set_column(i, i, width)
    ws.merge_range(0, 0, 0, len(heads) - 1, heading, st.title)
    ws.set_row(0, 32)
    header = 2
    for i, (label, _) in enumerate(heads):
        ws.write_string(header, i, label, st.header)
    return ws, header


def _problems(wb: Any, st: _Styles, data: Consolidation, title: str) -> None:
    heads = [
        ("处室", 16),
        ("文件", 24),
        ("结论", 10),
        ("位置", 11),
        ("序号", 6),
        ("代码", 18),
        ("类别", 8),
        ("问题", 70),
    ]
    ws, header = _list_sheet(wb, st, PROBLEMS, "校验问题", heads)
    verdict_of = {f.path: f.verdict for f in data.files}
    r = header
    for issue in data.problems:
        r += 1
        verdict = verdict_of.get(issue.file)
        row = [
            issue.division,
            issue.file,
            VERDICT_LABELS[verdict] if verdict else "",
            issue.location,
            issue.task_id,
            str(issue.code),
            "错误" if issue.severity is Severity.ERROR else "提醒",
        ]
        for i, text in enumerate(row):
            write_text(ws, r, i, text, st.text)
        write_text(
            ws, r, 7, issue.message, st.flag if issue.severity is Severity.ERROR else st.text
        )
        ws.set_row(r, row_height([(issue.message, 70), (issue.file, 24)]))
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    _page(ws, title, data.round, header_row=header)


def _sources(wb: Any, st: _Styles, data: Consolidation, title: str) -> None:
    heads = [
        ("文件", 30),
        ("收到时间", 17),
        ("处室", 16),
        ("结论", 12),
        ("被替代为 / 重复于", 26),
        ("格式及保存程序", 22),
        ("在 inbox 中", 9),
        ("sha256", 66),
    ]
    ws, header = _list_sheet(wb, st, SOURCES, "报送文件来源", heads)
    r = header
    for f in data.files:
        r += 1
        app = f"{f.format} {f.application}".strip()
        row = [
            f.path,
            f"{f.received:%Y-%m-%d %H:%M:%S}",
            f.division,
            VERDICT_LABELS[f.verdict],
            f.superseded_by,
            app,
            "是" if f.present else "否（已存档）",
            f.sha256,
        ]
        for i, text in enumerate(row):
            write_text(ws, r, i, text, st.text)
        ws.set_row(r, row_height([(f.path, 30), (app, 22), (f.superseded_by, 26)]))
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    _page(ws, title, data.round, header_row=header)


def _history_sheet(wb: Any, st: _Styles, data: Consolidation, title: str) -> None:
    """One row per task, a status and percent column pair per round."""
    ws = wb.add_worksheet(HISTORY)
    rounds = data.history
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 30)
    last_col = 1 + 2 * len(rounds)
    ws.set_column(2, last_col, 10)
    ws.merge_range(0, 0, 0, last_col, "历次进展（各轮次完成状态及进度，按牵头处室所报）", st.title)
    ws.set_row(0, 32)
    top, sub = 2, 3
    ws.merge_range(top, 0, sub, 0, "序号", st.header)
    ws.merge_range(top, 1, sub, 1, "任务", st.header)
    for k, entry in enumerate(rounds):
        c = 2 + 2 * k
        ws.merge_range(top, c, top, c + 1, entry.round.title, st.header)
        ws.write_string(sub, c, "完成状态", st.header)
        ws.write_string(sub, c + 1, "进度(%)", st.header)
    r = sub
    for state in data.tasks:
        r += 1
        name = task_label(state.task, data.settings.register)
        ws.write_string(r, 0, state.task.id, st.center)
        write_text(ws, r, 1, name, st.text)
        for k, entry in enumerate(rounds):
            status, percent = entry.statuses.get(
                state.task.id, (data.settings.status.missing_label, None)
            )
            ws.write_string(r, 2 + 2 * k, status, st.center)
            write_value(ws, r, 3 + 2 * k, percent, st.number)
        ws.set_row(r, row_height([(name, 30)]))
    for k in range(len(rounds)):
        _status_formats(ws, st, data.settings, sub + 1, r, 2 + 2 * k)
    ws.freeze_panes(sub + 1, 2)
    _page(ws, title, data.round, header_row=sub)
    ws.repeat_rows(top, sub)
