"""Finding the task table in a returned file: its sheet, header row, columns and rows.

Everything is found by label and by task id, never by a fixed position, so reordered
rows, inserted blank rows and a moved column are fine. Locating judges nothing beyond
what it cannot find; the rules in `xlflow.validate` read the located table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..cells import cell_ref
from ..config.model import EXPLANATION_KEY, Settings
from ..issues import Issue, IssueCode, error
from ..model import FormSpec
from ..reading.workbook import Cell, RawSheet, RawWorkbook, text_of
from ..text import header_key, task_id_text
from ..wording import ID_HEADER, ROLE_HEADER

_HEADER_SCAN_ROWS = 40


@dataclass(frozen=True)
class TableRow:
    """A row below the header that holds something."""

    row: int
    task_id: str  # "" for a row without an id
    kind: str  # task | foreign (not this form's) | repeated | stray (no id, but text)
    first: int = -1  # for a repeated task: the row it first appeared on


@dataclass
class Table:
    """Where the task table is in a returned file."""

    sheet: RawSheet
    header_row: int
    id_col: int
    role_col: int | None
    readonly_cols: dict[str, int]  # form header -> column
    field_cols: dict[str, int]  # field key -> column
    task_rows: dict[str, int] = field(default_factory=dict)  # task id -> row (first seen)
    rows: list[TableRow] = field(default_factory=list)
    end_row: int = 0  # first row after the table (the contact block or the end)


def label_key(text: object) -> str:
    """A contact label as typed on the form: '填报人：*' -> '填报人'."""
    key = header_key(text)
    key = key.replace("（签字）", "").replace("(签字)", "")
    return key.rstrip(":：*").rstrip(":：")


def find_task_sheet(raw: RawWorkbook, settings: Settings, name_hint: str = "") -> RawSheet | None:
    """The sheet holding the table: by name, else the sheet whose header has the field labels."""
    for name in (name_hint, settings.form.sheet):
        if name:
            sheet = raw.sheet(name)
            if sheet is not None:
                return sheet
    labels = {header_key(f.label) for f in settings.fields}
    for sheet in raw.sheets:
        for row in sheet.rows[:_HEADER_SCAN_ROWS]:
            if labels <= {header_key(c) for c in row if isinstance(c, str)}:
                return sheet
    return None


def _header_row(sheet: RawSheet, settings: Settings) -> int | None:
    """The row that looks most like the form's header (its 序号 and field labels), in the
    first rows of the sheet; None where none has three of them."""
    labels = [header_key(f.label) for f in settings.fields]
    best: tuple[int, int] | None = None
    full = len(labels) + 2
    for r, row in enumerate(sheet.rows[:_HEADER_SCAN_ROWS]):
        keys = {_short_key(c) for c in row}
        score = sum(1 for k in labels if k in keys) + (2 if header_key(ID_HEADER) in keys else 0)
        if score >= 3 and (best is None or score > best[1]):
            best = (r, score)
        if score == full:
            break
    return best[0] if best else None


def locate_table(
    sheet: RawSheet,
    spec: FormSpec | None,
    settings: Settings,
    column_hint: Mapping[str, str] | None = None,
) -> tuple[Table | None, list[Issue]]:
    """Find the header row and every column by label; with the form sent (`spec`), every
    row too."""
    readonly_headers = [h for h, _ in spec.rows[0].readonly] if spec and spec.rows else []
    best = _header_row(sheet, settings)
    if best is None:
        return None, [
            error(
                IssueCode.COLUMN_MISSING,
                f"在工作表“{sheet.name}”中找不到表头行（应含“{ID_HEADER}”和"
                f"{'、'.join('“' + f.label + '”' for f in settings.fields)}）。"
                "请使用下发的原表填写，不要删除或改动表头。",
                sheet=sheet.name,
            )
        ]
    header_row = best
    columns = [_short_key(c) for c in sheet.rows[header_row]]

    def col_of(label: str) -> int | None:
        k = header_key(label)
        return columns.index(k) if k in columns else None

    issues: list[Issue] = []
    id_col = col_of(ID_HEADER)
    if id_col is None:
        id_col = 0
        issues.append(
            error(
                IssueCode.COLUMN_MISSING,
                f"表头中没有“{ID_HEADER}”列，无法对应任务。请使用下发的原表填写，不要改动表头。",
                sheet=sheet.name,
                cell=cell_ref(header_row, 0),
            )
        )
    field_cols: dict[str, int] = {}
    for f in settings.fields:
        c = col_of(f.label)
        if c is None and column_hint and f.key in column_hint:
            c = _col_index(column_hint[f.key])
        if c is None and f.key == EXPLANATION_KEY:
            continue  # a form made before it had a 说明 column: nothing to explain in
        if c is None:
            issues.append(
                error(
                    IssueCode.COLUMN_MISSING,
                    f"表头中没有“{f.label}”列。请使用下发的原表填写，不要删除列或改动表头。",
                    sheet=sheet.name,
                    cell=cell_ref(header_row, 0),
                    field=f.key,
                )
            )
        else:
            field_cols[f.key] = c
    readonly_cols = {h: c for h in readonly_headers if (c := col_of(h)) is not None}
    issues += [
        error(
            IssueCode.READONLY_EDITED,
            f"表头中的“{h}”列被删除或改名。请使用下发的原表填写，不要改动表头。",
            sheet=sheet.name,
            cell=cell_ref(header_row, 0),
        )
        for h in readonly_headers
        if h not in readonly_cols
    ]
    table = Table(
        sheet=sheet,
        header_row=header_row,
        id_col=id_col,
        role_col=col_of(ROLE_HEADER),
        readonly_cols=readonly_cols,
        field_cols=field_cols,
    )
    if spec is not None:
        _locate_rows(table, spec, settings)
    return table, issues


def _short_key(cell: Cell) -> str:
    """The header key of a cell that could be a column title; long text never is one."""
    return header_key(cell) if isinstance(cell, str) and len(cell) <= 40 else ""


def _col_index(letters: str) -> int | None:
    if not letters.isalpha():
        return None
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _is_contact_row(row: list[Cell], contact_keys: set[str]) -> bool:
    # a label is short; long cells (task text, progress) are never one
    return any(isinstance(c, str) and len(c) <= 40 and label_key(c) in contact_keys for c in row)


def _locate_rows(table: Table, spec: FormSpec, settings: Settings) -> None:
    """Each row below the header: a task of this form (its first row), a task repeated, a
    task that is not this form's, or a row with no id but text; and where the table ends
    (the contact block)."""
    expected = set(spec.task_ids)
    contact_keys = {label_key(f.label) for f in settings.contact}
    sheet = table.sheet
    table.end_row = len(sheet.rows)
    used = [table.id_col, *table.field_cols.values(), *table.readonly_cols.values()]
    for r in range(table.header_row + 1, len(sheet.rows)):
        tid = task_id_text(sheet.cell(r, table.id_col))
        if tid not in expected and _is_contact_row(sheet.rows[r], contact_keys):
            table.end_row = r
            break
        if not tid:
            if any(text_of(sheet.cell(r, c)).strip() for c in used):
                table.rows.append(TableRow(r, "", "stray"))
        elif tid not in expected:
            table.rows.append(TableRow(r, tid, "foreign"))
        elif tid in table.task_rows:
            table.rows.append(TableRow(r, tid, "repeated", table.task_rows[tid]))
        else:
            table.task_rows[tid] = r
            table.rows.append(TableRow(r, tid, "task"))
