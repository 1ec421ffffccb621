"""历次进展, one row per task with its status and percent in every round, written as the
tasks come."""

from __future__ import annotations

from typing import Any

from ...excel import (
    row_height,
    write_text,
    write_value,
)
from ...wording import (
    HISTORY,
    task_label,
)
from .figures import Consolidation, Inputs, TaskRow
from .look import Styles, print_setup, status_formats


class HistoryRows:
    """The history sheet (历次进展): one row per task, a status and percent pair per round."""

    def __init__(self, ws: Any, st: Styles, inputs: Inputs, title: str) -> None:
        self.ws = ws
        self.st, self.inputs, self.title = st, inputs, title
        rounds = inputs.rounds
        ws.set_column(0, 0, 6)
        ws.set_column(1, 1, 30)
        last_col = 1 + 2 * len(rounds)
        ws.set_column(2, last_col, 10)
        ws.merge_range(
            0,
            0,
            0,
            last_col,
            "历次进展（各轮次完成状态及进度，按牵头处室所报"
            + ("；集体的任务逐个成员列示）" if inputs.head.collectives else "）"),
            st.title,
        )
        ws.set_row(0, 32)
        self.top, self.sub = 2, 3
        top, sub = self.top, self.sub
        ws.merge_down(top, 0, sub, "序号", st.header)
        ws.merge_down(top, 1, sub, "任务", st.header)
        for k, rnd in enumerate(rounds):
            c = 2 + 2 * k
            ws.merge_range(top, c, top, c + 1, rnd.title, st.header)
        ws.write_blank(sub, 0, None, st.header)
        ws.write_blank(sub, 1, None, st.header)
        for k in range(len(rounds)):
            c = 2 + 2 * k
            ws.write_string(sub, c, "完成状态", st.header)
            ws.write_string(sub, c + 1, "进度(%)", st.header)
        self.r = sub

    def add(self, row: TaskRow) -> None:
        ws, st = self.ws, self.st
        self.r += 1
        r, task = self.r, row.state.task
        name = task_label(task, self.inputs.settings.register)
        ws.write_string(r, 0, task.id, st.center)
        write_text(ws, r, 1, name, st.text)
        for k, (status, percent) in enumerate(row.history):
            ws.write_string(r, 2 + 2 * k, status, st.center)
            write_value(ws, r, 3 + 2 * k, percent, st.number)
        ws.set_row(r, row_height([(name, 30)]))
        # a collective's task: each member's own answers, on a row of its own below
        for collective, member, past in row.members:
            self.r += 1
            r = self.r
            ws.write_blank(r, 0, None, st.center)
            label = f"　└ {member}（{collective}）"
            write_text(ws, r, 1, label, st.text)
            for k, (status, percent) in enumerate(past):
                ws.write_string(r, 2 + 2 * k, status, st.center)
                write_value(ws, r, 3 + 2 * k, percent, st.number)
            ws.set_row(r, row_height([(label, 30)]))

    def close(self) -> None:
        ws, sub = self.ws, self.sub
        for k in range(len(self.inputs.rounds)):
            status_formats(ws, self.st, self.inputs.settings, sub + 1, self.r, 2 + 2 * k)
        ws.freeze_panes(sub + 1, 2)
        print_setup(ws, self.title, self.inputs.round, header_row=sub)
        ws.repeat_rows(self.top, sub)


# --- its place in the workbook (book.SHEETS): written by the pass, a task at a time ---

NAME = HISTORY
STREAMED = True
ROWS = HistoryRows


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    return len(inputs.rounds) > 1
