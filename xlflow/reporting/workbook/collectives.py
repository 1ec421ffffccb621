"""集体汇总: each collective's members' answers, rolled up."""

from __future__ import annotations

from typing import Any

from ...excel import (
    row_height,
    write_text,
    write_value,
)
from ...text import clean_cell
from ...wording import (
    COLLECTIVES,
    role_label,
)
from .figures import Consolidation, Inputs
from .look import Page, Styles, list_sheet, print_setup, status_formats


def write_collectives(ws: Any, st: Styles, data: Consolidation, title: str) -> None:
    """集体汇总: one row per collective and task, rolled up from its members' answers."""
    heads = [
        ("集体", 16.0), ("序号", 6.0), ("任务", 26.0), ("牵头/配合", 8.0), ("成员数", 7.0),
        ("已报", 6.0), ("未报成员", 20.0), ("进展最慢的成员", 14.0), ("完成状态", 10.0),
        ("完成进度(%)", 8.0), ("各成员所报", 50.0),
    ]  # fmt: skip
    header = list_sheet(ws, st, "集体汇总（各成员分别报送，完成状态、进度取进展最慢的成员）", heads)
    ws.set_row(header, 30)  # 完成进度(%) takes two lines
    r = header
    missing = data.settings.status.missing_label
    for task_id, name, c in data.rollups:
        r += 1
        each = "\n".join(
            f"{a.member}：{(a.status or '未填') if a.answered else missing}"
            + (f" {clean_cell(a.percent)}%" if a.percent is not None else "")
            for a in c.said
        )
        cells = [
            (c.collective, st.text), (task_id, st.center), (name, st.text),
            (role_label(c.role), st.center),
        ]  # fmt: skip
        for j, (text, fmt) in enumerate(cells):
            write_text(ws, r, j, text, fmt)
        ws.write_number(r, 4, len(c.said), st.number)
        ws.write_number(r, 5, len(c.reported), st.number)
        write_text(ws, r, 6, "、".join(c.missing), st.text)
        write_text(ws, r, 7, c.slowest, st.center)
        ws.write_string(r, 8, c.status, st.center)
        write_value(ws, r, 9, c.percent, st.number)
        write_text(ws, r, 10, each, st.text)
        ws.set_row(r, row_height([(each, 50), (name, 26), ("、".join(c.missing), 20)]))
    status_formats(ws, st, data.settings, header + 1, max(r, header + 1), 8)
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    print_setup(ws, title, data.round, header_row=header)


# --- its place in the workbook (book.SHEETS) ---

NAME = COLLECTIVES
STREAMED = False


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    """Whether the workbook has this sheet; None until the tasks are counted, if that decides."""
    return None if data is None else bool(data.rollups)


def write(sheet: Any, page: Page) -> None:
    write_collectives(sheet, page.look, page.data, page.title)
