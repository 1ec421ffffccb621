"""The form itself (`render_form`): its task sheet, title block, rows, contact block and
print setup, with the flag, identity and instructions sheets beside it."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from ..cells import cell_ref
from ..config.fields import describe_field
from ..config.model import Settings
from ..excel import (
    PlainFormulaSheet,
    new_workbook,
    page_text,
    row_height,
    write_text,
    write_value,
)
from ..model import FormSpec, Provenance
from ..plausibility import (
    asked_rules,
)
from ..signing import (
    META_SHEET,
    PROP_PREFIX,
    ROLLUP_PROPERTY,
    ROLLUP_SHEET,
)
from ..wording import deadline_text, role_label
from .flags import write_self_check
from .formats import (
    INSTRUCTION_SHEET,
    LISTS_SHEET,
    TASK_SHEET_PROTECTION,
    Formats,
    Layout,
    chunks,
    contact_layout,
    form_columns,
)
from .identity import write_identity
from .instructions import write_instructions
from .selfcheck import (
    CHECK_SHEET,
)
from .validations import input_rules, validation_of


def render_form(
    spec: FormSpec,
    settings: Settings,
    created: dt.datetime | None = None,
    provenance: Provenance | None = None,
) -> bytes:
    """The form as xlsx bytes. The same spec always gives the same cell contents.

    With `provenance`, the form is one rolled up from a unit's own units (`xlflow
    roll-up`): its values are the answers, not carried over, and it says where they came
    from, in the hint line and on a veryHidden sheet."""
    buf = io.BytesIO()
    wb = new_workbook(buf, created)
    fmt = Formats(wb, settings)
    cols = form_columns(spec, settings)
    layout = Layout(
        cols, {c.field.key: i for i, c in enumerate(cols) if c.field is not None}, len(spec.rows)
    )
    notes = wb.add_worksheet(INSTRUCTION_SHEET)
    # its conditional formats are formulas too, a dozen of them, each prepared at length
    ws = wb.add_worksheet(settings.form.sheet, worksheet_class=PlainFormulaSheet)
    lists = wb.add_worksheet(LISTS_SHEET)
    meta = wb.add_worksheet(META_SHEET)
    flags = wb.add_worksheet(CHECK_SHEET, worksheet_class=PlainFormulaSheet)
    title_block(ws, fmt, spec, settings, layout, provenance)
    write_task_rows(ws, fmt, spec, settings, layout, carried_over=provenance is None)
    input_rules(wb, ws, lists, fmt, spec, settings, layout)
    contact_cells, contact_spans, bottom = contact_block(ws, fmt, spec, settings, layout)
    checks = write_self_check(ws, flags, fmt, spec, settings, layout, contact_spans, bottom)
    page_setup(ws, spec, settings, layout, bottom)
    write_instructions(notes, fmt, spec, settings)
    lists.hide()
    if settings.form.protect:
        lists.protect(settings.form.password)
    write_identity(wb, meta, fmt, spec, settings, layout.field_cols, contact_cells, checks)
    if provenance is not None:
        write_provenance(wb, fmt, provenance, settings)
    wb.set_properties(
        {
            "title": spec.title,
            "subject": f"{spec.division} {spec.round.title}",
            "author": settings.office.name,
            "company": settings.office.name,
            "comments": "由 xlflow 生成。请在“填报”工作表的浅黄色单元格中填写后报送。",
            **({"created": created} if created else {}),
        }
    )
    wb.close()
    return buf.getvalue()


def write_provenance(wb: Any, fmt: Formats, provenance: Provenance, settings: Settings) -> None:
    """Where a rolled-up form's answers came from: in full on a veryHidden sheet (each
    child file with its sha256, and which sub-unit said what), in short as a property."""
    sheet = wb.add_worksheet(ROLLUP_SHEET)
    rows: list[tuple[str, ...]] = [
        ("xlflow roll-up", "本工作表记录汇总来源：由哪些下级单位的哪份报送文件汇总而来。"),
        ("unit", provenance.unit),
        ("at", provenance.at),
        ("answered", "、".join(provenance.answered)),
        ("missing", "、".join(provenance.missing)),
        ("line", provenance.line),
        (),
        ("sub_unit", "file", "sha256"),
        *provenance.files,
        (),
        ("task_id", "field", "sub_unit", "value"),
        *provenance.said,
    ]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            sheet.write_string(r, c, text, fmt.meta)
    sheet.very_hidden()
    if settings.form.protect:
        sheet.protect(settings.form.password)
    summary = json.dumps(provenance.to_dict(), ensure_ascii=False, sort_keys=True)
    for n, part in enumerate(chunks(summary)):
        suffix = f"_{n + 1}" if n else ""
        wb.set_custom_property(f"{PROP_PREFIX}{ROLLUP_PROPERTY}{suffix}", part)


def title_block(
    ws: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    layout: Layout,
    provenance: Provenance | None = None,
) -> None:
    """Title, 填报单位 and 报送时限, the one-line hint, and the column headers."""
    last_col = layout.last_col
    ws.set_zoom(90)
    for i, w in enumerate(layout.widths):
        ws.set_column(i, i, w)
    ws.merge_range(0, 0, 0, last_col, spec.title, fmt.title)
    ws.set_row(0, 36)
    split = max(1, len(layout.cols) // 2)
    ws.merge_range(1, 0, 1, split - 1, f"填报单位：{spec.division}（盖章）", fmt.subtitle_left)
    ws.merge_range(
        1, split, 1, last_col, f"报送时限：{deadline_text(spec.round.deadline)}", fmt.subtitle_right
    )
    ws.set_row(1, 22)
    hint = (
        "填写说明：请在浅黄色单元格中填写，其余内容已锁定；完成状态请从下拉列表选择，完成进度填 0-100 的数字。"
        "标红的单元格还需要填写或修改，上方一行随时显示还差几处。详细要求见“填报说明”工作表。"
    )
    explanation = settings.explanation_field
    if explanation is not None and asked_rules(settings):
        hint += f"标橙的行请在“{explanation.label}”栏写明原因。"
    if spec.prefill_from:
        hint += f"浅蓝色单元格为上一轮次（{spec.prefill_from}）已报内容，请逐项核对更新。"
    if provenance is not None:
        hint = provenance.line
    hint_row = layout.check_row + 1
    ws.merge_range(hint_row, 0, hint_row, last_col, hint, fmt.hint)
    ws.set_row(hint_row, 30)
    header_row = layout.header_row
    for i, c in enumerate(layout.cols):
        ws.write_string(
            header_row, i, c.header, fmt.header_input if c.kind == "field" else fmt.header
        )
    ws.set_row(header_row, row_height([(c.header, c.width) for c in layout.cols]))


def write_task_rows(
    ws: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    layout: Layout,
    carried_over: bool = True,
) -> None:
    """One row per task: id, role, the read-only text, and the input cells (carried over
    from an earlier round where there are values to carry)."""
    widths = layout.widths
    long_input = any(f.is_long_text for f in settings.fields)
    for n, row in enumerate(spec.rows):
        r = layout.first + n
        ws.write_string(r, 0, row.task_id, fmt.id)
        ws.write_string(r, 1, role_label(row.role), fmt.role)
        cells: list[tuple[str, float]] = []
        for j, (_, text) in enumerate(row.readonly):
            write_text(ws, r, 2 + j, text, fmt.readonly)
            cells.append((text, widths[2 + j]))
        carried = dict(row.prefill)
        for f in settings.fields:
            col = layout.field_cols[f.key]
            value = carried.get(f.key)
            cell_fmt = fmt.input_for(f, carried_over and value is not None)
            if f.type == "date" and isinstance(value, str) and value:
                try:
                    ws.write_datetime(r, col, dt.datetime.fromisoformat(value), cell_fmt)
                    continue
                except ValueError:
                    pass
            write_value(ws, r, col, value, cell_fmt)
            if isinstance(value, str):
                cells.append((value, widths[col]))
        ws.set_row(r, row_height(cells, min_lines=4 if long_input else 2))


def contact_block(
    ws: Any, fmt: Formats, spec: FormSpec, settings: Settings, layout: Layout
) -> tuple[dict[str, str], dict[str, tuple[int, int, int]], int]:
    """填报人, 联系电话 and the others below the table; returns each input cell, its
    (row, first column, last column), and the block's last row."""
    contact_top = layout.last + 2
    places = contact_layout(layout.widths, [f"{f.label}：" for f in settings.contact])
    contact_cells: dict[str, str] = {}
    spans: dict[str, tuple[int, int, int]] = {}
    for f, (line, l0, l1, i0, i1) in zip(settings.contact, places, strict=True):
        r = contact_top + line
        label = f"{f.label}：" + ("*" if f.required else "")
        if l1 > l0:
            ws.merge_range(r, l0, r, l1, label, fmt.contact_label)
        else:
            ws.write_string(r, l0, label, fmt.contact_label)
        carried_contact = dict(spec.contact_prefill).get(f.key)
        cfmt = fmt.contact_date if f.type == "date" else fmt.contact_input
        if carried_contact is not None:
            cfmt = fmt.contact_prefill
        if i1 > i0:
            ws.merge_range(r, i0, r, i1, "", cfmt)
        write_value(ws, r, i0, carried_contact, cfmt)
        contact_cells[f.key] = cell_ref(r, i0)
        spans[f.key] = (r, i0, i1)
        v = validation_of(f, "")
        v["input_message"] = (f.prompt or describe_field(f, settings.field_by_key))[:250]
        if f.type in ("text", "phone"):
            v = {k: v[k] for k in ("input_title", "input_message")} | {"validate": "any"}
        ws.data_validation(r, i0, r, i0, v)
    contact_lines = (max(line for line, *_ in places) + 1) if places else 0
    for k in range(contact_lines):
        ws.set_row(contact_top + k, 26)
    return contact_cells, spans, contact_top + max(contact_lines, 1) - 1


def page_setup(ws: Any, spec: FormSpec, settings: Settings, layout: Layout, bottom: int) -> None:
    """A4 landscape, fit to width, the header row repeated, and the sheet protected."""
    ws.freeze_panes(layout.first, 2)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(layout.header_row)
    ws.print_area(0, 0, bottom, layout.last_col)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.center_horizontally()
    ws.set_header(f"&L{page_text(spec.division)}&R{page_text(spec.round.title)}")
    ws.set_footer("&C&9第 &P 页，共 &N 页")
    if settings.form.protect:
        ws.protect(settings.form.password, TASK_SHEET_PROTECTION)
    ws.activate()
