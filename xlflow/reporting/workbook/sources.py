"""来源: the file each division's answers were taken from."""

from __future__ import annotations

from typing import Any

from ...excel import (
    row_height,
    write_text,
)
from ...issues import CHANGE_CODES, DECISION_CODES, IssueCode
from ...wording import (
    SOURCES,
    VERDICT_LABELS,
)
from .figures import Consolidation, Inputs
from .look import Page, Styles, list_sheet, print_setup


def write_sources(ws: Any, st: Styles, data: Consolidation, title: str) -> None:
    heads = [
        ("文件", 30),
        ("收到时间", 17),
        ("处室", 16),
        ("结论", 12),
        ("被替代为 / 重复于", 26),
        ("格式及保存程序", 22),
        ("在 inbox 中", 9),
        ("来自邮件", 30),
        ("协调办公室决定", 30),
        ("汇总来源", 40),
        ("与上次报送相比", 40),
        ("sha256", 66),
    ]
    header = list_sheet(ws, st, "报送文件来源", heads)
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
            f.origin.removeprefix("邮件："),
            "；".join(i.message for i in f.issues if i.code in DECISION_CODES),
            "；".join(i.message for i in f.issues if i.code is IssueCode.ROLLED_UP),
            "；".join(i.message for i in f.issues if i.code in CHANGE_CODES),
            f.sha256,
        ]
        for i, text in enumerate(row):
            write_text(ws, r, i, text, st.text)
        ws.set_row(r, row_height([(f.path, 30), (app, 22), (f.superseded_by, 26)]))
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    print_setup(ws, title, data.round, header_row=header)


# --- its place in the workbook (book.SHEETS) ---

NAME = SOURCES
STREAMED = False


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    """Whether the workbook has this sheet; None until the tasks are counted, if that decides."""
    return True


def write(sheet: Any, page: Page) -> None:
    write_sources(sheet, page.look, page.data, page.title)
