"""Checking a returned form against the form that was sent.

Each rule is a small function that yields `Issue`s; `validate_form` runs them all and
reports every problem at once. Columns and rows are found by their header labels and
task ids, never by a fixed position, so reordered rows and inserted blank rows are fine.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..cells import cell_ref, row_col
from ..config.model import Field, PlausibilityRule, Settings
from ..issues import Issue, IssueCode, error, warning
from ..model import FormSpec
from ..plausibility import EXPLAINED_MARK, Hit, hits, previous_fields, rules_in_use
from ..reading.workbook import Cell, RawWorkbook, text_of
from ..text import (
    CELL_TEXT_LIMIT,
    cell_length,
    invalid_xml_chars,
    normalise_text,
)
from ..values import phone_ok, to_number
from ..wording import ROLE_HEADER, role_label, row_name
from .locate import Table, find_task_sheet, label_key, locate_table


@dataclass
class FormResult:
    values: dict[str, dict[str, Any]]
    contact: dict[str, Any]
    issues: list[Issue]


def check_rows(table: Table, spec: FormSpec, settings: Settings) -> Iterator[Issue]:
    """Every task of the form exactly once; no other tasks; a row without an id only warns."""
    sheet = table.sheet
    for row in table.rows:
        r, tid, at = row.row, row.task_id, cell_ref(row.row, table.id_col)
        if row.kind == "stray":
            used = [table.id_col, *table.field_cols.values(), *table.readonly_cols.values()]
            filled = [(c, sheet.cell(r, c)) for c in used if text_of(sheet.cell(r, c)).strip()]
            shown = "；".join(f"{cell_ref(r, c)}：{text_of(v)[:40]}" for c, v in filled[:4])
            yield warning(
                IssueCode.EXTRA_ROW,
                f"第 {r + 1} 行没有序号，不属于任何任务，其内容未被采用（{shown}）。"
                "如是补充说明，请写入对应任务行的“进展情况”中。",
                sheet=sheet.name,
                cell=at,
            )
        elif row.kind == "foreign":
            yield error(
                IssueCode.TASK_FOREIGN,
                f"第 {r + 1} 行的序号 {tid} 不是本处室（{spec.division}）本轮的任务，不能在本表中填报。"
                "请删除该行，或恢复为原来的序号。",
                sheet=sheet.name,
                cell=at,
                task_id=tid,
            )
        elif row.kind == "repeated":
            yield error(
                IssueCode.TASK_DUPLICATED,
                f"序号 {tid} 出现了两次（第 {row.first + 1} 行和第 {r + 1} 行）。"
                "每项任务只能填一行，请删除多余的行。",
                sheet=sheet.name,
                cell=at,
                task_id=tid,
            )
    for row_spec in spec.rows:
        if row_spec.task_id not in table.task_rows:
            name = row_name(row_spec, settings.register)
            yield error(
                IssueCode.TASK_MISSING,
                f"缺少序号 {row_spec.task_id} 的任务行{f'（{name}）' if name else ''}。"
                "该行可能被删除，请使用下发的原表重新填写。",
                sheet=sheet.name,
                task_id=row_spec.task_id,
            )


def check_readonly(table: Table, spec: FormSpec) -> Iterator[Issue]:
    """Locked text must be exactly what was sent: task, content, target and role."""
    sheet = table.sheet
    for row_spec in spec.rows:
        r = table.task_rows.get(row_spec.task_id)
        if r is None:
            continue
        cells = list(row_spec.readonly)
        if table.role_col is not None:
            cells.insert(0, (ROLE_HEADER, role_label(row_spec.role)))
        for header, original in cells:
            c = table.role_col if header == ROLE_HEADER else table.readonly_cols.get(header)
            if c is None:
                continue
            found = text_of(sheet.cell(r, c))
            if found != original and normalise_text(found) != normalise_text(original):
                yield error(
                    IssueCode.READONLY_EDITED,
                    f"序号 {row_spec.task_id} 的“{header}”被改动，不能修改。原文为：“{original}”；"
                    f"现为：“{found}”。请恢复原文（或用下发的原表重新填写）。",
                    sheet=sheet.name,
                    cell=cell_ref(r, c),
                    task_id=row_spec.task_id,
                )


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@functools.cache
def _choice_keys(choices: tuple[str, ...]) -> dict[str, str]:
    """Each choice by its NFKC form, so full-width or decomposed input still matches."""
    return {unicodedata.normalize("NFKC", c).strip(): c for c in choices}


def _clean_number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 6)


_DATE_PATTERNS = (
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def _to_date(value: Cell) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 20000 < value < 80000:
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        for pattern in _DATE_PATTERNS:
            m = pattern.fullmatch(text)
            if m:
                try:
                    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    return None
    return None


def _text_checks(f: Field, text: str, where: dict[str, str], label: str) -> Iterator[Issue]:
    bad = invalid_xml_chars(text)
    if bad:
        codes = "、".join(f"U+{ord(ch):04X}" for ch in bad)
        yield error(
            IssueCode.INVALID_CHARACTERS,
            f"{label}含有表格无法保存的不可见控制字符（{codes}），多见于从网页或其他系统复制的内容。"
            "请删除后重新输入这段文字。",
            **where,
        )
    if cell_length(text) > CELL_TEXT_LIMIT:
        yield error(
            IssueCode.CELL_TEXT_LIMIT,
            f"{label}有 {len(text)} 个字符（按 Excel 的算法计 {cell_length(text)}），超过单元格上限 "
            f"{CELL_TEXT_LIMIT}，内容会被截断，未采用。请精简。",
            **where,
        )
    elif f.max_length and len(text) > f.max_length:
        yield error(
            IssueCode.TOO_LONG,
            f"{label}有 {len(text)} 字，超过 {f.max_length} 字的上限。请精简到 {f.max_length} 字以内。",
            **where,
        )


@dataclass(frozen=True)
class _Cell:
    """One input cell being read: where it is, what to call it, and what it needs to know."""

    value: Cell
    where: dict[str, str]
    label: str
    percent_formatted: Callable[[], bool]
    status: Any  # the row's status, for 1 meaning 100 % on a finished task
    done_status: str


def normalise_value(
    f: Field,
    value: Cell,
    where: dict[str, str],
    label: str,
    percent_formatted: Callable[[], bool],
    row_values: Mapping[str, Any],
    done_status: str,
) -> tuple[Any, list[Issue]]:
    """One input cell: the stored value (None if blank or unusable) and its issues."""
    if _blank(value):
        return None, []
    cell = _Cell(value, where, label, percent_formatted, row_values.get("__status"), done_status)
    if f.type == "choice":
        return _choice_value(f, cell)
    if f.type in ("percent", "number"):
        return _number_value(f, cell)
    if f.type == "date":
        return _date_value(cell)
    return _text_value(f, cell)


def _choice_value(f: Field, cell: _Cell) -> tuple[Any, list[Issue]]:
    text = unicodedata.normalize("NFKC", text_of(cell.value)).strip()
    choice = _choice_keys(f.choices).get(text)
    if choice is not None:
        return choice, []
    return None, [
        error(
            IssueCode.CHOICE_NOT_ALLOWED,
            f"{cell.label}填的是“{text_of(cell.value)}”，不是可选项。请从下拉列表中选择：{'、'.join(f.choices)}。",
            **cell.where,
        )
    ]


def _number_value(f: Field, cell: _Cell) -> tuple[Any, list[Issue]]:
    label, where, value = cell.label, cell.where, cell.value
    number, had_percent = to_number(value)
    if number is None:
        hint = "请填 0-100 之间的数字，如 80。" if f.type == "percent" else "请填数字。"
        return None, [
            error(
                IssueCode.NOT_A_NUMBER,
                f"{label}填的是“{text_of(value)}”，不是数字。" + hint,
                **where,
            )
        ]
    issues: list[Issue] = []
    # 80% typed into a cell is stored as 0.8 with a percent format; look the format up
    # only for a number that could be such a fraction
    if f.type == "percent" and not had_percent and (number < 10 or not number.is_integer()):
        if cell.percent_formatted():
            number *= 100
        elif 0 < number < 1:
            issues.append(
                warning(
                    IssueCode.PERCENT_AMBIGUOUS,
                    f"{label}填的是 {text_of(value)}，已按 {_clean_number(number * 100)}% 理解。"
                    f"如不是这个意思，请改为 0-100 的数字。",
                    **where,
                )
            )
            number *= 100
        elif number == 1 and cell.status == cell.done_status:
            issues.append(
                warning(
                    IssueCode.PERCENT_AMBIGUOUS,
                    f"{label}填的是 1，而状态为“{cell.done_status}”，已按 100% 理解。请直接填 100。",
                    **where,
                )
            )
            number = 100.0
    number = float(_clean_number(number))
    if (f.min is not None and number < f.min) or (f.max is not None and number > f.max):
        lo = f"{f.min:g}" if f.min is not None else "不限"
        hi = f"{f.max:g}" if f.max is not None else "不限"
        return None, [
            *issues,
            error(
                IssueCode.OUT_OF_RANGE,
                f"{label}填的是 {text_of(value)}，超出范围（{lo} 至 {hi}）。",
                **where,
            ),
        ]
    return _clean_number(number), issues


def _date_value(cell: _Cell) -> tuple[Any, list[Issue]]:
    day = _to_date(cell.value)
    if day is None:
        return None, [
            error(
                IssueCode.NOT_A_DATE,
                f"{cell.label}填的是“{text_of(cell.value)}”，不是日期。请按 2019-06-30 的格式填写。",
                **cell.where,
            )
        ]
    return day.isoformat(), []


def _text_value(f: Field, cell: _Cell) -> tuple[Any, list[Issue]]:
    text = cell.value if isinstance(cell.value, str) else text_of(cell.value)
    issues: list[Issue] = []
    if f.type == "phone":
        text = text.strip()
        if not phone_ok(text):
            issues.append(
                error(
                    IssueCode.PHONE_INVALID,
                    f"{cell.label}填的是“{text}”，不像电话号码。请填写座机（如 0574-87654321）或手机号码。",
                    **cell.where,
                )
            )
    issues += list(_text_checks(f, text, cell.where, cell.label))
    if any(i.code in (IssueCode.INVALID_CHARACTERS, IssueCode.CELL_TEXT_LIMIT) for i in issues):
        return None, issues
    return text, issues


def _plain_value(f: Field, value: Cell) -> Any:
    """The stored value of a cell that needs no message at all, else None.

    Most cells of most returns are like this; they skip building locations and messages.
    """
    if f.type == "choice":
        if isinstance(value, str):
            return _choice_keys(f.choices).get(value)
        return None
    if f.type in ("percent", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value):
            return None
        if f.type == "percent" and (value < 10 or not float(value).is_integer()):
            return None  # could be a fraction with a percent format
        if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
            return None
        return _clean_number(float(value))
    if f.type == "text" and isinstance(value, str) and value.strip():
        if (f.max_length and len(value) > f.max_length) or len(value) * 2 >= CELL_TEXT_LIMIT:
            return None
        if invalid_xml_chars(value):
            return None
        return value
    return None


def _percent_of(raw: RawWorkbook, sheet: str, ref: str) -> Callable[[], bool]:
    return lambda: raw.is_percent(sheet, ref)


def _read_problems(
    raw: RawWorkbook,
    sheet: str,
    ref: str,
    value: Cell,
    label: str,
    where: dict[str, str],
    field_type: str,
) -> tuple[bool, list[Issue]]:
    """(usable, issues) for how a cell was stored: a formula's cached value counts, one with
    none is an error, and text the reader had to cut at the cell limit is never used.

    In an .xls a formula in a text or choice field must have cached text: LibreOffice
    stores the text result of a formula (`=""`, `=CONCATENATE(...)`) as the number 0
    there, so a number is no trustworthy answer to a text question."""
    if raw.was_cut(value):
        return False, [
            error(
                IssueCode.CELL_TEXT_LIMIT,
                f"{label}超过单元格上限 {CELL_TEXT_LIMIT} 个字符，Excel 会截断它，未采用。请精简后重新报送。",
                **where,
            )
        ]
    unreliable = (
        raw.format == "xls"
        and field_type in ("text", "choice")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and ref in raw.formulas.get(sheet, set())
    )
    if unreliable or ref in raw.formulas_without_value.get(sheet, set()):
        return False, [
            error(
                IssueCode.FORMULA_NO_VALUE,
                f"{label}是一个公式，但文件中没有保存可用的计算结果（没有结果、结果是错误值或空文字，"
                "或 .xls 文件把文字结果存成了数字）。"
                "请把公式改为直接填写的内容（复制后“选择性粘贴 → 数值”），保存后重新报送。",
                **where,
            )
        ]
    if ref in raw.formulas.get(sheet, set()):
        return True, [
            warning(
                IssueCode.FORMULA_VALUE_USED,
                f"{label}是公式，已采用其保存的计算结果。建议直接填写内容而不是公式。",
                **where,
            )
        ]
    return True, []


def read_values(
    table: Table, spec: FormSpec, settings: Settings, raw: RawWorkbook
) -> tuple[dict[str, dict[str, Any]], list[Issue]]:
    """Every input cell of every task row, normalised, with required and range checks."""
    values: dict[str, dict[str, Any]] = {}
    issues: list[Issue] = []
    sheet = table.sheet
    status_key = settings.status.field
    done = settings.status_order[0] if settings.status_order else ""
    ordered = sorted(settings.fields, key=lambda f: f.key != status_key)
    # cells stored in an unusual way (formulas, text cut by the reader) take the long road;
    # a formula elsewhere on the sheet (the form's own check line) does not slow the rest
    formula_cells = {
        row_col(ref)
        for ref in (
            *raw.formulas.get(sheet.name, ()),
            *raw.formulas_without_value.get(sheet.name, ()),
        )
    }
    for row_spec in spec.rows:
        r = table.task_rows.get(row_spec.task_id)
        if r is None:
            continue
        row_values: dict[str, Any] = {}
        for f in ordered:
            c = table.field_cols.get(f.key)
            if c is None:
                continue
            ref = cell_ref(r, c)
            if (r, c) not in formula_cells:
                quick = _plain_value(f, sheet.cell(r, c))
                if quick is not None:
                    if f.key == status_key:
                        row_values["__status"] = quick
                    row_values[f.key] = quick
                    continue
            where = {"sheet": sheet.name, "cell": ref, "task_id": row_spec.task_id, "field": f.key}
            label = f"序号 {row_spec.task_id} 的“{f.label}”（{ref}）"
            usable, found = _read_problems(
                raw, sheet.name, ref, sheet.cell(r, c), label, where, f.type
            )
            issues += found
            if not usable:
                continue
            value, found = normalise_value(
                f,
                sheet.cell(r, c),
                where,
                label,
                _percent_of(raw, sheet.name, ref),
                row_values,
                done,
            )
            issues += found
            if f.key == status_key:
                row_values["__status"] = value
            if value is not None:
                row_values[f.key] = value
            elif f.required and not found:
                issues.append(
                    error(
                        IssueCode.REQUIRED_MISSING,
                        f"{label}未填写，这是必填项。{f.prompt or ''}".strip(),
                        **where,
                    )
                )
        row_values.pop("__status", None)
        issues += _required_when(row_values, r, row_spec.task_id, table, settings)
        values[row_spec.task_id] = row_values
    return values, issues


def _required_when(
    row_values: Mapping[str, Any], r: int, task_id: str, table: Table, settings: Settings
) -> list[Issue]:
    """A field required by another's value (存在问题 when 进度滞后), left empty."""
    out = []
    for f in settings.fields:
        cond = f.required_when
        if cond is None or f.key in row_values or f.key not in table.field_cols:
            continue
        if row_values.get(cond.field) in cond.values:
            other = settings.field_by_key(cond.field)
            c = table.field_cols[f.key]
            out.append(
                error(
                    IssueCode.REQUIRED_WHEN,
                    f"序号 {task_id} 的“{other.label if other else cond.field}”为"
                    f"“{row_values.get(cond.field)}”，此时“{f.label}”（{cell_ref(r, c)}）必须填写。"
                    f"{f.prompt or ''}".strip(),
                    sheet=table.sheet.name,
                    cell=cell_ref(r, c),
                    task_id=task_id,
                    field=f.key,
                )
            )
    return out


def read_contact(
    table: Table, settings: Settings, raw: RawWorkbook, hint: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[Issue]]:
    """The contact block: each label, and the first filled cell to its right."""
    sheet = table.sheet
    found: dict[str, tuple[int, int, Cell]] = {}
    keys = {label_key(f.label): f for f in settings.contact}
    start = table.end_row if table.end_row else table.header_row + 1
    for r in range(start, len(sheet.rows)):
        row = sheet.rows[r]
        for c, cell in enumerate(row):
            if not isinstance(cell, str):
                continue
            f = keys.get(label_key(cell))
            if f is None or f.key in found:
                continue
            value: Cell = ""
            vc = c + 1
            for k in range(c + 1, len(row)):
                nxt = row[k]
                if isinstance(nxt, str) and label_key(nxt) in keys:
                    break
                if not _blank(nxt):
                    value, vc = nxt, k
                    break
            found[f.key] = (r, vc, value)
    contact: dict[str, Any] = {}
    issues: list[Issue] = []
    for f in settings.contact:
        value = ""
        ref = (hint or {}).get(f.key, "")  # where the form put the input cell
        if f.key in found:
            r, c, value = found[f.key]
            if not _blank(value) or not ref:
                ref = cell_ref(r, c)
        where = {"sheet": sheet.name, "cell": ref, "field": f.key}
        label = f"“{f.label}”" + (f"（{ref}）" if ref else "")
        usable, more = _read_problems(raw, sheet.name, ref, value, label, where, f.type)
        issues += more
        if not usable:
            continue
        normal, more = normalise_value(f, value, where, label, lambda: False, {}, "")
        issues += more
        if normal is not None:
            contact[f.key] = normal
        elif f.required and not more:
            issues.append(
                error(
                    IssueCode.CONTACT_MISSING,
                    f"表格下方的{label}未填写，这是必填项，便于核实情况时联系。",
                    **where,
                )
            )
    return contact, issues


def check_plausibility(
    values: Mapping[str, Mapping[str, Any]],
    spec: FormSpec,
    settings: Settings,
    table: Table,
    previous: Mapping[str, Mapping[str, Any]],
    previous_round: str,
) -> Iterator[Issue]:
    """核实性审核: each row a plausibility rule flags, explained in its 说明 cell or not.

    The previous answers are those the form was made with (signed into it); a form made
    before it carried them is compared with the ledger's, as collect found them."""
    rules = rules_in_use(settings)
    if not rules:
        return
    explanation = settings.explanation_field
    column = table.field_cols.get(explanation.key) if explanation is not None else None
    carried = bool(spec.before_round) or any(r.due for r in spec.rows)
    then = spec.before_round if carried else previous_round
    keys = tuple(previous_fields(settings).values())
    by_name = {rule.name: rule for rule in rules}
    for row_spec in spec.rows:
        tid = row_spec.task_id
        row = values.get(tid)
        r = table.task_rows.get(tid)
        if row is None or r is None:
            continue
        if carried:
            before: Mapping[str, Any] = dict(row_spec.before)
        else:
            said = previous.get(tid, {})
            before = {k: said[k] for k in keys if said.get(k) not in (None, "")}
        note = row.get(explanation.key) if explanation is not None else None
        for hit in hits(settings, row, before, row_spec.due, rules, then):
            yield _plausibility_issue(hit, tid, settings, table, r, column, note, by_name[hit.rule])


def _plausibility_issue(
    hit: Hit,
    task_id: str,
    settings: Settings,
    table: Table,
    r: int,
    column: int | None,
    note: Any,
    rule: PlausibilityRule,
) -> Issue:
    f = settings.field_by_key(hit.field)
    name = f.label if f else hit.field
    value_ref = cell_ref(r, table.field_cols[hit.field]) if hit.field in table.field_cols else ""
    what = f"序号 {task_id}【{hit.label}】“{name}”{f'（{value_ref}）' if value_ref else ''}：{hit.said}"
    where = {
        "sheet": table.sheet.name,
        "task_id": task_id,
        "field": hit.field,
        "rule": hit.rule,
    }
    label = settings.explanation_field.label if settings.explanation_field else "说明"
    if rule.severity == "warning":
        return warning(IssueCode.IMPLAUSIBLE, f"{what}。请核实。", cell=value_ref, **where)
    if column is not None and isinstance(note, str) and note.strip():
        return warning(
            IssueCode.EXPLAINED,
            f"{what}{EXPLAINED_MARK}{note.strip()}",
            cell=cell_ref(r, column),
            **where,
        )
    if column is None:
        # a form made before the 说明 column: nowhere to explain, so never a reason to refuse
        return warning(
            IssueCode.NEEDS_EXPLANATION,
            f"{what}。这份表格没有“{label}”栏（旧版表格），请另行向汇总单位说明原因。",
            cell=value_ref,
            **where,
        )
    fix = f"请在本行的“{label}”栏（{cell_ref(r, column)}）写明原因"
    if rule.severity == "error":
        return error(
            IssueCode.NEEDS_EXPLANATION,
            f"{what}。{fix}后重新报送；未说明原因的，本表不能采用。",
            cell=cell_ref(r, column),
            **where,
        )
    return warning(
        IssueCode.NEEDS_EXPLANATION,
        f"{what}。{fix}；不影响本表采用，补充说明后可重新报送。",
        cell=cell_ref(r, column),
        **where,
    )


def validate_form(
    raw: RawWorkbook,
    spec: FormSpec,
    settings: Settings,
    sheet_hint: str = "",
    column_hint: Mapping[str, str] | None = None,
    contact_hint: Mapping[str, str] | None = None,
    previous: Mapping[str, Mapping[str, Any]] | None = None,
    previous_round: str = "",
) -> FormResult:
    """Run every rule on a returned form; report every problem, not just the first."""
    sheet = find_task_sheet(raw, settings, sheet_hint)
    if sheet is None:
        return FormResult(
            {},
            {},
            [
                error(
                    IssueCode.TASK_SHEET_MISSING,
                    f"找不到“{settings.form.sheet}”工作表。请使用下发的原表填写，不要删除或重命名工作表。",
                )
            ],
        )
    table, issues = locate_table(sheet, spec, settings, column_hint)
    if table is None:
        return FormResult({}, {}, issues)
    issues += check_rows(table, spec, settings)
    issues += check_readonly(table, spec)
    values, found = read_values(table, spec, settings, raw)
    issues += found
    contact, found = read_contact(table, settings, raw, contact_hint)
    issues += found
    issues += check_plausibility(values, spec, settings, table, previous or {}, previous_round)
    return FormResult(values, contact, issues)
