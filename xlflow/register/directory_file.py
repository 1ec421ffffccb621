"""The unit directory as a file: read from the coordinator's .xlsx or .csv (in a worker,
as every file from outside is), drafted by init from the register, and applied to the
register as it is parsed."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from ..config.model import RegisterSettings
from ..errors import RegisterError
from ..excel import BORDER, LOOK, new_workbook, row_height
from ..model import Register
from . import parse
from .directory import (
    HEADERS,
    LEGACY_CSV,
    SHEET,
    Directory,
    Draft,
    Unit,
    check_against,
    header_of,
    organise,
    units_from_rows,
)


def read_directory(path: Path, _option: object = None) -> Directory:
    """Read a directory file; what is wrong inside it becomes its problems (with the row),
    a file that cannot be read at all a RegisterError."""
    if path.suffix.lower() == ".csv":
        grids = parse.read_grids(path, what="单位名录")  # its refusals already say 单位名录
    else:
        grids = _grids(path)
    for grid in grids:
        header = header_of(grid.rows)
        if header is not None:
            return units_from_rows(path, grid.name, grid.rows, *header)
    raise RegisterError(
        f"{path}: 找不到表头：第一行应有“单位”列（以及 {'、'.join(HEADERS[1:6])}）。"
        "可以用 xlflow init 起草的单位名录为样板。"
    )


def _grids(path: Path) -> list[parse.Grid]:
    try:
        return parse.read_grids(path, what="单位名录")
    except RegisterError:
        # the reader's words are the register's ("任务清单"); this file is another
        raise RegisterError(
            f"{path}: 单位名录无法读取：文件已损坏、不完整或不是表格。请在 Excel 或 WPS 中打开它，"
            "确认后另存为 .xlsx（或 .csv）再重试；也可以照 xlflow init 起草的格式重建。"
        ) from None


_DRAFT_NOTE = (
    "单位名录：每个单位一行。“简称/别名”写同一单位的其他名称（用“、”隔开），任务清单中的这些名称合并为一个单位、"
    "只生成一份填报表。“所属集体”写这个单位属于哪个集体（如“各街道”），集体的每个成员各生成一份填报表。"
    "改好后保存，运行 xlflow directory --check 检查。"
)


def write_draft(draft: Draft, contacts: Mapping[str, Unit] | None = None) -> bytes:
    """The directory init writes: every unit the register names, each collective marked
    with an empty member list, and each likely duplicate noted with its reason."""
    contacts = contacts or {}
    notes: dict[str, list[str]] = {}
    for s in draft.suggestions:
        notes.setdefault(s.name, []).append(
            f"可能与“{s.other}”是同一单位（{s.reason}）：如是，把“{s.other}”写入本行的简称/别名，并删除“{s.other}”一行。"
        )
        notes.setdefault(s.other, []).append(f"可能与“{s.name}”是同一单位，见“{s.name}”一行。")
    for c in draft.collectives:
        notes.setdefault(c, []).append(
            f"集体名称：在下面添加它的成员，每个成员一行，“所属集体”写“{c}”；"
            "不列成员则只生成一份填报表，发给牵头汇总的单位。"
        )
    buffer = io.BytesIO()
    wb = new_workbook(buffer)
    head = wb.add_format(
        {"bold": True, "font_name": "黑体", "font_size": 11, "align": "center",
         "valign": "vcenter", "text_wrap": True, "bg_color": LOOK["header"], **BORDER}
    )  # fmt: skip
    body = wb.add_format(
        {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True, **BORDER}
    )
    mark = wb.add_format(
        {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True,
         "bg_color": LOOK["input"], **BORDER}
    )  # fmt: skip
    intro = wb.add_format(
        {"font_name": "宋体", "font_size": 10, "text_wrap": True, "valign": "top"}
    )
    ws = wb.add_worksheet(SHEET)
    widths = (24, 24, 16, 10, 28, 16, 60)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    for col, text in enumerate(HEADERS):
        ws.write_string(0, col, text, head)
    ws.set_row(0, 22)
    rows = [(name, False) for name in draft.units] + [(name, True) for name in draft.collectives]
    for r, (name, collective) in enumerate(rows, start=1):
        unit = contacts.get(name, Unit(name))
        values = (name, "", "", unit.person, unit.email, unit.phone, "\n".join(notes.get(name, ())))
        fmt = mark if collective or name in notes else body
        for col, text in enumerate(values):
            if text:
                ws.write_string(r, col, text, fmt)
            else:
                ws.write_blank(r, col, None, fmt)
        ws.set_row(r, row_height([(values[-1], widths[-1])]))
    if draft.collectives:
        ws.data_validation(
            1, 2, max(len(rows), 1) + 200, 2,
            {"validate": "list", "source": list(draft.collectives)[:20], "error_type": "information",
             "input_title": "所属集体", "input_message": "从列表中选择，或照任务清单的写法填写"},
        )  # fmt: skip
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, max(len(rows), 1), len(HEADERS) - 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    guide = wb.add_worksheet("填写说明")
    guide.set_column(0, 0, 100)
    lines = [_DRAFT_NOTE]
    if draft.suggestions:
        lines.append("以下名称可能指同一单位，请核对（不会自动合并）：")
        lines += [f"· {s.name} / {s.other}：{s.reason}" for s in draft.suggestions]
    if draft.collectives:
        lines.append(f"集体名称：{'、'.join(draft.collectives)}。请在“单位名录”中列出它们的成员。")
    for r, text in enumerate(lines):
        guide.write_string(r, 0, text, intro)
        guide.set_row(r, row_height([(text, 100)]))
    wb.close()
    return buffer.getvalue()


def read_organised(path: Path, option: tuple[RegisterSettings, Path | None]) -> Register:
    """The register read and organised by the directory at `option[1]` (run in a worker).
    A directory with errors is refused: forms made from it would go to the wrong units."""
    settings, where = option
    # looked up when called, so that the one parser can be stood in for (tests do)
    register = parse.read_register(path, settings)
    if where is None or where.name == LEGACY_CSV:
        return register  # the older contact list names no aliases and no collectives
    directory = read_directory(where)
    found = [*directory.errors, *check_against(directory, register)]
    if found:
        shown = "；".join(f"{p.message}" for p in found[:5])
        more = f"（另有 {len(found) - 5} 处）" if len(found) > 5 else ""
        raise RegisterError(
            f"{where}: 单位名录有 {len(found)} 处需要改正：{shown}{more}。"
            "改好后保存再试；xlflow directory --check 列出全部问题。"
        )
    return organise(register, directory)


__all__ = ["read_directory", "read_organised", "write_draft"]
