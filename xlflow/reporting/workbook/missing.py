"""未报送: the divisions not counted, with their tasks."""

from __future__ import annotations

from typing import Any

from ...excel import (
    row_height,
    write_text,
)
from ...issues import Severity, Verdict
from ...ledger.book import Ledger
from ...standing import Standing
from ...wording import (
    MISSING,
    role_label,
    task_label,
)
from .figures import Consolidation, Inputs
from .look import Page, Styles, list_sheet, print_setup


def write_missing(
    ws: Any, st: Styles, data: Consolidation, title: str, ledger: Ledger, key: str
) -> None:
    heads = [("处室", 18.0), ("情况", 12.0), ("待报任务", 60.0), ("退回的文件及原因", 70.0)]
    header = list_sheet(ws, st, "未报送单位及待报任务", heads)
    r = header
    for d in data.divisions:
        if d.standing is Standing.ACCEPTED:
            continue
        r += 1
        pending = "\n".join(
            f"{t.id}. {task_label(t, data.settings.register)}（{role_label(role)}）"
            for t, role in ledger.tasks_of(key, d.division)
        )
        rejected = []
        for f in d.files:
            if f.verdict is not Verdict.REJECTED:
                continue
            errors = [i.message for i in f.issues if i.severity is Severity.ERROR]
            shown = "\n".join(f"  · {m}" for m in errors[:5])
            more = f"\n  ……共 {len(errors)} 处问题，详见回执" if len(errors) > 5 else ""
            rejected.append(f"{f.path}（{f.received:%m-%d %H:%M}）：\n{shown}{more}")
        situation = "已退回修改" if d.standing is Standing.REJECTED else Standing.MISSING.label
        if d.extension is not None:
            situation += f"\n（延期至 {d.extension.until:%m-%d}）"
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
    print_setup(ws, title, data.round, header_row=header)
    ws.freeze_panes(header + 1, 0)


# --- its place in the workbook (book.SHEETS) ---

NAME = MISSING
STREAMED = False


def wanted(inputs: Inputs, data: Consolidation | None) -> bool | None:
    """Whether the workbook has this sheet; None until the tasks are counted, if that decides."""
    return True


def write(sheet: Any, page: Page) -> None:
    write_missing(sheet, page.look, page.data, page.title, page.ledger, page.inputs.key)
