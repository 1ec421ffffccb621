"""需说明事项: every plausibility flag by division, with its 说明 and the coordinator's word."""

from __future__ import annotations

from typing import Any

from ...excel import (
    row_height,
    write_text,
)
from ...wording import (
    EXPLANATIONS,
)
from .figures import Consolidation, Inputs
from .look import Page, Styles, list_sheet, print_setup


def write_explanations(ws: Any, st: Styles, data: Consolidation, title: str) -> None:
    """需说明事项: every flagged row by division, what the value is, the 说明 or its want,
    and the coordinator's word on it."""
    heads = [
        ("处室", 16.0),
        ("序号", 6.0),
        ("任务", 24.0),
        ("事项", 14.0),
        ("情况", 40.0),
        ("说明", 40.0),
        ("状态", 12.0),
        ("汇总单位意见", 24.0),
    ]
    header = list_sheet(ws, st, EXPLANATIONS, heads)
    order = {d.division: n for n, d in enumerate(data.divisions)}
    flags = sorted(
        data.flags,
        key=lambda f: (order.get(f.division, len(order)), f.division, f.task_id.zfill(6)),
    )
    r = header
    for flag in flags:
        r += 1
        review = flag.review
        opinion = ""
        if review is not None:
            verdict = "已认可" if review.verdict == "accepted" else "请再说明"
            opinion = f"{verdict}{'：' + review.note if review.note else ''}（{review.by}）"
        row = [
            flag.division, flag.task_id, data.names.get(flag.task_id, ""), flag.label,
            flag.situation, flag.explanation, flag.state_label, opinion,
        ]  # fmt: skip
        for i, text in enumerate(row):
            write_text(ws, r, i, text, st.text)
        if not flag.explained and flag.state != "noted":
            write_text(ws, r, 6, flag.state_label, st.to_explain)
        ws.set_row(r, row_height([(flag.situation, 40), (flag.explanation, 40), (row[2], 24)]))
    if r == header:
        ws.merge_range(
            header + 1, 0, header + 1, len(heads) - 1, "本轮次没有需要说明的事项。", st.text
        )
        r += 1
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    print_setup(ws, title, data.round, header_row=header)


# --- its place in the workbook (book.SHEETS) ---

NAME = EXPLANATIONS
STREAMED = False


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    """Whether the workbook has this sheet; None until the tasks are counted, if that decides."""
    return (
        None if data is None else bool(data.flags or inputs.settings.explanation_field is not None)
    )


def write(sheet: Any, page: Page) -> None:
    write_explanations(sheet, page.look, page.data, page.title)
