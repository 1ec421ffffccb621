"""校验问题: every issue of every counted or refused file."""

from __future__ import annotations

from typing import Any

from ...excel import (
    row_height,
    write_text,
)
from ...issues import Severity
from ...wording import (
    PROBLEMS,
    VERDICT_LABELS,
)
from .figures import Consolidation, Inputs
from .look import Page, Styles, list_sheet, print_setup


def write_problems(ws: Any, st: Styles, data: Consolidation, title: str) -> None:
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
    header = list_sheet(ws, st, PROBLEMS, heads)
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
    print_setup(ws, title, data.round, header_row=header)


# --- its place in the workbook (book.SHEETS) ---

NAME = PROBLEMS
STREAMED = False


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    """Whether the workbook has this sheet; None until the tasks are counted, if that decides."""
    return True


def write(sheet: Any, page: Page) -> None:
    write_problems(sheet, page.look, page.data, page.title)
