"""任务明细, a task per row in register order, written as the tasks come."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...config.model import EXPLANATION_KEY
from ...excel import (
    row_height,
    write_text,
    write_value,
)
from ...wording import (
    DETAIL,
    units_shown,
)
from ..explanations import by_task, flag_line
from ..tasks import (
    TaskState,
)
from .figures import Consolidation, Inputs
from .look import Styles, print_setup, status_formats


class DetailRows:
    """The detail sheet (任务明细), a task per row in register order, the group merged down."""

    def __init__(self, ws: Any, st: Styles, inputs: Inputs, title: str) -> None:
        self.ws = ws
        self.st, self.inputs, self.title = st, inputs, title
        settings = inputs.settings
        reg = settings.register
        self.readonly = [c for c in reg.readonly_columns if c != reg.group_column]
        target_head = f"{inputs.target_year}年目标" if inputs.target_year else "目标"
        # the 说明 stands beside the value it explains, with what it explains
        self.text_fields = [
            f
            for f in settings.fields
            if f.key not in (settings.status.field, settings.status.percent_field, EXPLANATION_KEY)
        ]
        self.flags = by_task(inputs.flags)
        self.shows_explanations = settings.explanation_field is not None or bool(inputs.flags)
        columns: list[tuple[str, float]] = [("分组", 11), ("序号", 6)]
        for c in self.readonly:
            columns.append(("".join(c.split()), 16 if inputs.head.widths.get(c, 0) < 40 else 34))
        # a collective is named with its count of members, 各街道（3 个成员）: one line
        units = 19.0 if inputs.head.collectives else 12.0
        columns += [(target_head, 26), ("牵头处室", units), ("配合处室", units)]
        self.status_col = len(columns)
        columns += [("完成状态", 10), ("完成进度(%)", 8)]
        if self.shows_explanations:
            columns.append((settings.explanation_field.label if settings.explanation_field
                            else "说明", 26))  # fmt: skip
        self.first_text = len(columns)
        columns += [
            (f.label, 40 if f.key == settings.status.progress_field else 26)
            for f in self.text_fields
        ]
        self.note_col = len(columns)
        columns += [("备注", 18), ("来源文件", 20)]
        self.columns = columns
        self.last_col = len(columns) - 1
        for i, (_, width) in enumerate(columns):
            ws.set_column(i, i, width)
        ws.merge_range(0, 0, 0, self.last_col, title.replace("汇总表", "明细表"), st.title)
        ws.set_row(0, 34)
        ws.merge_range(
            1,
            0,
            1,
            self.last_col,
            f"轮次：{inputs.round.title}    汇总时间：{inputs.made_at:%Y-%m-%d %H:%M}    任务按清单顺序列示；完成状态、完成进度取牵头处室所报；多个处室报送的文字以【处室】标明。",
            st.subtitle,
        )
        self.header = 3
        for i, (name, _) in enumerate(columns):
            ws.write_string(self.header, i, name, st.header)
        ws.set_row(self.header, 30)
        self.r = self.header
        self.runs = iter(inputs.head.group_runs)
        self.left = 0  # rows still to come in the current group

    def add(self, state: TaskState) -> None:
        ws, st, columns = self.ws, self.st, self.columns
        self.r += 1
        r, task = self.r, state.task
        if self.left == 0:
            group, self.left = next(self.runs)
            if self.left > 1:
                ws.merge_down(r, 0, r + self.left - 1, group, st.group)
            else:
                ws.write_string(r, 0, group, st.group)
        else:
            ws.write_blank(r, 0, None, st.group)
        self.left -= 1
        ws.write_string(r, 1, task.id, st.center)
        cells: list[tuple[str, float]] = []
        for j, name in enumerate(self.readonly, start=2):
            text = task.column(name)
            write_text(ws, r, j, text, st.text)
            cells.append((text, columns[j][1]))
        tc = 2 + len(self.readonly)
        write_text(ws, r, tc, state.target, st.text)
        cells.append((state.target, columns[tc][1]))
        ws.write_string(r, tc + 1, "\n".join(units_shown(task, task.lead)), st.center)
        write_text(ws, r, tc + 2, "\n".join(units_shown(task, task.cooperating)), st.center)
        ws.write_string(r, self.status_col, state.status, st.center)
        write_value(ws, r, self.status_col + 1, state.percent, st.number)
        if self.shows_explanations:
            flags = self.flags.get(task.id, [])
            several = len({f.division for f in flags}) > 1 or len(state.answers) > 1
            said = "\n".join(flag_line(f, several) for f in flags)
            unexplained = any(not f.explained and f.state != "noted" for f in flags)
            write_text(ws, r, self.status_col + 2, said, st.to_explain if unexplained else st.text)
            cells.append((said, columns[self.status_col + 2][1]))
        for j, f in enumerate(self.text_fields):
            combined = state.texts.get(f.key, "")
            write_text(ws, r, self.first_text + j, combined, st.text)
            cells.append((combined, columns[self.first_text + j][1]))
        write_text(ws, r, self.note_col, state.note, st.flag if state.conflict else st.text)
        cells.append((state.note, columns[self.note_col][1]))
        sources = "\n".join(f"【{rep.division}】{Path(rep.source).name}" for rep in state.answers)
        write_text(ws, r, self.note_col + 1, sources, st.text)
        cells.append((sources, columns[self.note_col + 1][1]))
        ws.set_row(r, row_height(cells, min_lines=2))

    def close(self) -> None:
        ws, r, header = self.ws, self.r, self.header
        status_formats(ws, self.st, self.inputs.settings, header + 1, r, self.status_col)
        ws.autofilter(header, 0, max(r, header), self.last_col)
        ws.freeze_panes(header + 1, 2)
        print_setup(ws, self.title, self.inputs.round, a3=True, header_row=header)
        ws.print_area(0, 0, max(r, header), self.last_col)


# --- its place in the workbook (book.SHEETS): written by the pass, a task at a time ---

NAME = DETAIL
STREAMED = True
ROWS = DetailRows


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    return True
