"""The mapping file: the coordinator's word on each pair of a register revision.

`register --update NEW --write-mapping 对照.xlsx` writes every pair xlflow found, sure
and proposed, each old task's words beside its successor's, with the likeness, what else
changed and why a pair is not sure; every retired and added task has its row too. The
coordinator fills 确认 (是 or 否), corrects or adds rows in Excel or WPS, and gives the file
back with `--mapping`. A `.csv` is written the same way for scripts; both are read back
in any encoding Excel and WPS save.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import Invalid, RegisterError
from ..excel import BORDER, LOOK, new_workbook, row_height
from ..model import Lineage, Register, Task
from .lineage import what_else
from .parse import read_grids
from .revise import KINDS, Revision
from .words import likeness, word_columns, words_by_id

SHEET = "对照表"
COLUMNS = (
    "原序号",
    "原任务",
    "新序号",
    "新任务",
    "关系",
    "相似度",
    "其他变化",
    "待确认的原因",
    "确认",
)
REQUIRED = ("原序号", "新序号", "关系", "确认")
_WIDTHS = (7, 44, 7, 44, 12, 7, 22, 22, 7)
# the labels earlier releases wrote, still read
_KIND_OF = {label: kind for kind, label in KINDS.items()} | {"改名或改号": "renamed"}
READ_MAPPING = "xlflow.register.mapping:read_mapping_rows"


def task_words(task: Task, skip: Iterable[str] = (), most: int = 300) -> str:
    """A task's words as the coordinator compares them: its name and content columns."""
    text = "；".join(" ".join(t.split()) for _, t in word_columns(task, skip) if t.strip())
    return text if len(text) <= most else text[: most - 1] + "…"


def mapping_rows(
    revision: Revision, old: Register, new: Register, skip: Iterable[str] = ()
) -> list[list[str]]:
    """The file's rows: the header, then each old task's pairs in register order (sure
    ones 是, proposed ones left blank to decide, retired ones 是), then the added tasks;
    each task by its words, old beside new."""

    def name(task: Task) -> str:
        return task_words(task, skip)

    old_by, new_by = {t.id: t for t in old.tasks}, {t.id: t for t in new.tasks}
    rows: list[list[str]] = [list(COLUMNS)]
    pairs = [(x, "是") for x in revision.lineage] + [(x, "") for x in revision.uncertain]
    order = {o: i for i, o in enumerate(old_by)}
    pairs.sort(key=lambda p: (order.get(p[0].old_id, len(order)), p[1] == ""))
    taken = set()
    for x, yes in pairs:
        was = old_by.get(x.old_id)
        now = new_by.get(x.new_id)
        taken.add(x.new_id)
        score = "" if x.kind == "retired" else f"{x.score:.2f}"
        rows.append(
            [
                x.old_id,
                name(was) if was else "",
                x.new_id,
                name(now) if now else "",
                KINDS.get(x.kind, x.kind),
                score,
                x.note,
                revision.reason(x.old_id, x.new_id),
                yes,
            ]
        )
    for n, task in new_by.items():
        if n not in taken:
            rows.append(["", "", n, name(task), KINDS["added"], "", "", "", "是"])
    return rows


def mapping_csv(rows: Sequence[Sequence[str]]) -> bytes:
    """The rows as a CSV for scripts (UTF-8 with a BOM, which Excel opens as UTF-8)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def mapping_xlsx(rows: Sequence[Sequence[str]], made: dt.datetime) -> bytes:
    """The rows as a workbook to open in Excel or WPS: both texts side by side, wrapped,
    the rows to decide shaded, 确认 and 关系 chosen from a list."""
    buffer = io.BytesIO()
    wb = new_workbook(buffer, made)
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "text_wrap": True, **BORDER}
    head = wb.add_format({**base, "bold": True, "font_name": "黑体", "align": "center",
                          "bg_color": LOOK["header"]})  # fmt: skip
    body = wb.add_format(base)
    decide = wb.add_format({**base, "bg_color": LOOK["input"]})
    ws = wb.add_worksheet(SHEET)
    for col, width in enumerate(_WIDTHS):
        ws.set_column(col, col, width)
    for col, text in enumerate(rows[0]):
        ws.write_string(0, col, text, head)
    ws.set_row(0, 20)
    for r, row in enumerate(rows[1:], start=1):
        fmt = decide if not row[-1] else body
        for col, text in enumerate(row):
            if text:
                ws.write_string(r, col, text, fmt)
            else:
                ws.write_blank(r, col, None, fmt)
        ws.set_row(r, row_height(zip(row, _WIDTHS, strict=True)))
    last = max(len(rows) - 1, 1) + 200  # room for rows the coordinator adds
    ws.data_validation(1, 8, last, 8, {"validate": "list", "source": ["是", "否"],
                                       "input_title": "确认", "input_message": "是：采用这一行；否：不采用"})  # fmt: skip
    ws.data_validation(1, 4, last, 4, {"validate": "list",
                                       "source": [KINDS[k] for k in ("same", "renamed", "split", "merged", "retired", "added")]})  # fmt: skip
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows) - 1, len(COLUMNS) - 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_footer("&C第 &P 页，共 &N 页")
    guide = wb.add_worksheet("填写说明")
    guide.set_column(0, 0, 90)
    lines = [
        "每行是新旧清单中的一对任务。“确认”填“是”采用这一行，填“否”不采用；底色标出的行是 xlflow 不能确定的对应，请逐行核对。",
        "可以增加行：填原序号、新序号和关系（同一任务、改号或文字修改、拆分、合并），“其他变化”可写牵头单位变更等说明，留空则由 xlflow 比对填写。",
        "原清单中没有任何一行采用的任务记为撤销；新清单中没有任何一行采用的任务记为新增。",
        "改好后保存，用 xlflow register --update 新清单 --mapping 本文件 先看结果，再加 --apply 采用。",
    ]
    fmt = wb.add_format({"font_name": "宋体", "font_size": 10, "text_wrap": True, "valign": "top"})
    for r, text in enumerate(lines):
        guide.write_string(r, 0, text, fmt)
        guide.set_row(r, row_height([(text, 90)]))
    wb.close()
    return buffer.getvalue()


def read_mapping_rows(path: Path, what: str) -> list[list[str]]:
    """The mapping file's rows, whatever saved it (.xlsx, .xls, .ods, or CSV in any
    encoding); run in a worker, as every file from outside is read."""
    grids = read_grids(path, what=what)
    for grid in grids:
        for r, row in enumerate(grid.rows[:10]):
            if "原序号" in [c.strip() for c in row]:
                return [list(x) for x in grid.rows[r:]]
    raise RegisterError(
        f"{path}: 找不到表头：应有 {'、'.join(REQUIRED)} 列（用 --write-mapping 写出的格式）。"
    )


def read_mapping(
    rows: Sequence[Sequence[str]],
    old: Register,
    new: Register,
    revision: Revision,
    skip: Iterable[str] = (),
) -> tuple[Lineage, ...]:
    """The lineage as the coordinator confirmed it: every row with 确认 是, its kind and
    its note (the row's own, or what xlflow finds changed for a row they added); an old
    task no row takes is retired."""
    header = [c.strip() for c in rows[0]] if rows else []
    if not all(h in header for h in REQUIRED):
        raise Invalid(
            f"对照表第一行应有 {'、'.join(REQUIRED)} 列（用 --write-mapping 写出的格式），"
            f"现为：{'，'.join(h for h in header if h) or '空行'}。"
        )
    at = {h: header.index(h) for h in COLUMNS if h in header}
    old_by, new_by = {t.id: t for t in old.tasks}, {t.id: t for t in new.tasks}
    old_words, new_words = words_by_id(old, new, tuple(skip))
    known = {(x.old_id, x.new_id): x for x in (*revision.lineage, *revision.uncertain)}
    out: list[Lineage] = []
    for n, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row] + [""] * len(COLUMNS)

        def cell(h: str, cells: list[str] = cells) -> str:
            return cells[at[h]] if h in at else ""

        o, nid, label, yes = cell("原序号"), cell("新序号"), cell("关系"), cell("确认")
        if not (o or nid or label):
            continue
        if yes not in ("是", "否"):
            shown = yes or "空白"
            raise Invalid(
                f"对照表第 {n} 行（原序号 {o or '无'}，新序号 {nid or '无'}）的“确认”应填“是”或“否”，现为{shown}。"
            )
        if yes == "否":
            continue
        kind = _KIND_OF.get(label)
        if kind is None:
            raise Invalid(
                f"对照表第 {n} 行的“关系”应为 {'、'.join(KINDS.values())} 之一，现为“{label}”。"
            )
        if kind == "added":
            if nid not in new_by:
                raise Invalid(f"对照表第 {n} 行：新序号 {nid!r} 不在修订后的清单中。")
            continue
        if o not in old_by or (kind != "retired" and nid not in new_by):
            raise Invalid(f"对照表第 {n} 行：原序号 {o!r} 或新序号 {nid!r} 不在相应的清单中。")
        if kind == "retired":
            out.append(Lineage(o, "", "retired", 0.0))
            continue
        found = known.get((o, nid))
        note = cell("其他变化") if "其他变化" in at else (found.note if found else "")
        if not note and found is None:  # a row they added: what changed, as xlflow finds it
            note = what_else(old_by[o], new_by[nid], kind)
        score = found.score if found else likeness(old_words[o], new_words[nid])
        out.append(Lineage(o, nid, kind, score, note))
    paired = {x.old_id for x in out if x.kind != "retired"}
    out = [x for x in out if x.kind != "retired" or x.old_id not in paired]
    kept = {x.old_id for x in out}
    out += [Lineage(o, "", "retired", 0.0) for o in old_by if o not in kept]
    return tuple(dict.fromkeys(out))


__all__ = [
    "COLUMNS",
    "READ_MAPPING",
    "mapping_csv",
    "mapping_rows",
    "mapping_xlsx",
    "read_mapping",
    "read_mapping_rows",
    "task_words",
]
