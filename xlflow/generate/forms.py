"""Per-division fill-in workbooks, written with XlsxWriter.

The workbook is the only thing a division ever sees of xlflow, so it is the user
interface: a clear title, only that division's tasks, shaded input cells with
dropdowns and prompts, everything else locked, and a page that prints.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as default
from pathlib import Path
from typing import Any, overload

from ..cells import cell_ref, col_letter
from ..config.fields import describe_field
from ..config.model import EXPLANATION_KEY, Field, Settings
from ..config.writing import form_settings_table
from ..errors import NotFound
from ..excel import (
    BORDER,
    LOOK,
    PlainFormulaSheet,
    column_width,
    new_workbook,
    page_text,
    row_height,
    write_text,
    write_value,
)
from ..files import atomic_write, folder_lock, sha256_bytes, sweep_temp_files
from ..ledger.book import Ledger
from ..ledger.readers import AcceptedFiles
from ..model import FileRecord, FormRow, FormSpec, Provenance, Register, Role, Round
from ..plausibility import (
    RULE_LABELS,
    asked_rules,
    describe_rule,
    hits,
    previous_fields,
    rules_in_use,
    task_deadline,
)
from ..pool import IsolatedPool, default_workers
from ..register.load import load_register
from ..register.revise import ancestors, current_version, lineage_chain
from ..signing import (
    META_NOTE,
    META_SHEET,
    NAME_PREFIX,
    PROP_PREFIX,
    ROLLUP_PROPERTY,
    ROLLUP_SHEET,
    before_digest,
    identity,
    load_or_create_secret,
    row_hash,
    sign_form,
)
from ..text import display_width, safe_filename
from ..wording import ID_HEADER, ROLE_HEADER, deadline_text, form_title, role_label, task_label
from ..workspace import Workspace
from .selfcheck import (
    CHECK_SHEET,
    COMPLETE,
    breaks,
    breaks_formula,
    check_line_formula,
    explained_formula,
    number_formula,
    percent_value_formula,
    plausibility_formulas,
    remaining,
)

INSTRUCTION_SHEET = "填报说明"
LISTS_SHEET = "选项"
_CHUNK = 240  # Excel caps a text constant in a name and a custom property at 255

INPUT_FILL = LOOK["input"]
PREFILL_FILL = LOOK["prefilled"]
HEADER_FILL = LOOK["header"]
TASK_SHEET_PROTECTION = {
    "select_locked_cells": True,
    "select_unlocked_cells": True,
    "format_columns": True,
    "format_rows": True,
}


def readonly_headers(register: Register, settings: Settings, year: int | None) -> list[str]:
    headers = list(settings.register.readonly_columns)
    target = _target_header(register, settings, year)
    if target:
        headers.append(target)
    return headers


def _target_header(register: Register, settings: Settings, year: int | None) -> str:
    if year is None or not settings.register.targets:
        return ""
    for milestone, column in settings.register.targets:
        if milestone >= year:
            return _display_header(column)
    return _display_header(settings.register.targets[-1][1])


def _display_header(name: str) -> str:
    return "".join(name.split())


class FormSpecs(Sequence[FormSpec]):
    """What each division's form holds, signed, made when asked for.

    A ministry's round has thousands of forms of dozens of tasks each; made all at once
    they took some 200 MiB at 10,000 forms. Here each is made when a worker needs it and
    kept only until `release`, once the ledger has it.

    `previous` maps a division to its accepted return of the round in `prefill_from`;
    its values and contact details are carried into the new form. `earlier` is what the
    plausibility rules compare with (`EarlierAnswers`).
    """

    def __init__(
        self,
        register: Register,
        settings: Settings,
        rnd: Round,
        secret: bytes,
        previous: Mapping[str, FileRecord] | None = None,
        prefill_from: str = "",
        divisions: Sequence[str] = (),
        earlier: EarlierAnswers | None = None,
    ) -> None:
        self.earlier = earlier or EarlierAnswers()
        self.register = register
        self.settings = settings
        self.round = rnd
        self.secret = secret
        self.previous = previous or {}
        self.prefill_from = prefill_from
        chosen = set(divisions)
        self.divisions = tuple(d for d in register.divisions if not chosen or d in chosen)
        self._target_header = _target_header(register, settings, rnd.year)
        self._headers = [_display_header(c) for c in settings.register.readonly_columns]
        self._made: dict[int, FormSpec] = {}

    def __len__(self) -> int:
        return len(self.divisions)

    @overload
    def __getitem__(self, index: int) -> FormSpec: ...

    @overload
    def __getitem__(self, index: slice) -> list[FormSpec]: ...

    def __getitem__(self, index: int | slice) -> FormSpec | list[FormSpec]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        spec = self._made.get(index)
        if spec is None:
            spec = self._made[index] = self._make(self.divisions[index])
        return spec

    def __iter__(self) -> Iterator[FormSpec]:
        for index in range(len(self)):
            yield self[index]
            self.release(index)

    def release(self, index: int) -> None:
        """Forget a made spec; asked for again, it is made again (the same)."""
        self._made.pop(index, None)

    def _make(self, division: str) -> FormSpec:
        settings, rnd = self.settings, self.round
        rows: list[FormRow] = []
        target_year = None
        earlier = self.previous.get(division)
        carried = earlier.values if earlier else {}
        before = self.earlier.of(division)
        for task, role in self.register.index().get(division, ()):
            readonly = [
                (h, task.column(c))
                for h, c in zip(self._headers, settings.register.readonly_columns, strict=True)
            ]
            if self._target_header and rnd.year is not None:
                found = task.target_for(rnd.year)
                if found:
                    target_year = found[0]
                readonly.append((self._target_header, found[1] if found else ""))
            values = carried.get(task.id, {})
            rows.append(
                FormRow(
                    task_id=task.id,
                    role=role,
                    name=task_label(task, settings.register),
                    collective=task.collective_of(division),
                    readonly=tuple(readonly),
                    prefill=tuple(
                        (f.key, values[f.key])
                        for f in settings.fields
                        if values.get(f.key) not in (None, "")
                    ),
                    before=before.get(task.id, ()),
                    due=self.earlier.due.get(task.id, ""),
                )
            )
        hashes = tuple(
            row_hash(r.task_id, role_label(r.role), [t for _, t in r.readonly]) for r in rows
        )
        task_ids = tuple(r.task_id for r in rows)
        before_round = self.earlier.title if any(r.before for r in rows) else ""
        digest = before_digest(before_round, rows)
        signature = sign_form(self.secret, rnd.id, division, task_ids, hashes, before=digest)
        # who fills in and their phone rarely change; the date always does
        contact = tuple(
            (f.key, earlier.contact[f.key])
            for f in settings.contact
            if earlier and f.type != "date" and earlier.contact.get(f.key) not in (None, "")
        )
        return FormSpec(
            round=rnd,
            division=division,
            title=form_title(settings, rnd, division),
            target_year=target_year,
            rows=tuple(rows),
            prefill_from=self.prefill_from if earlier else "",
            signature=signature,
            row_hashes=hashes,
            contact_prefill=contact,
            before_round=before_round,
        )


@dataclass(frozen=True)
class EarlierAnswers:
    """What a round's plausibility rules compare with: each division's accepted answer in
    the round before (its status, percent and progress, by the current task ids), and each
    task's deadline where it passed before this round's."""

    title: str = ""
    answers: Mapping[str, FileRecord] = default(default_factory=dict)
    ids: Mapping[str, str] | None = None  # current task id -> its id then; None: the same
    keys: tuple[str, ...] = ()
    due: Mapping[str, str] = default(default_factory=dict)

    def of(self, division: str) -> dict[str, tuple[tuple[str, Any], ...]]:
        """current task id -> the division's answer to it then (the return read once)."""
        record = self.answers.get(division) if self.keys else None
        if record is None:
            return {}
        out = {}
        for task_id, then in (self.ids or {t: t for t in record.values}).items():
            values = record.values.get(then, {})
            said = tuple((k, values[k]) for k in self.keys if values.get(k) not in (None, ""))
            if said:
                out[task_id] = said
        return out


def earlier_answers(
    ledger: Ledger, register: Register, settings: Settings, rnd: Round, version: int
) -> EarlierAnswers:
    """The answers and deadlines a round's forms are checked against (see EarlierAnswers):
    of the round it prefills from, else of the round made before it, as collect compares."""
    rules = {r.name for r in rules_in_use(settings)}
    due = _past_deadlines(register, settings, rnd, ledger) if "overdue" in rules else {}
    then = ledger.compared_round(rnd.id)
    keys = tuple(previous_fields(settings).values())
    if then is None or not rules & {"percent_fell", "percent_jump", "progress_copied"}:
        return EarlierAnswers(due=due)
    ids: dict[str, str] | None = None
    then_version = ledger.round_version(then.id)
    if then_version is not None and then_version != version:
        chain = lineage_chain(ledger)
        ids = {}
        for task in register.tasks:
            found = ancestors(chain, task.id, version, then_version)
            # each part of a task split since is compared with the task's answer; a task
            # merged from several has no one answer to be compared with
            if len(found) == 1 and not any(e.startswith("合并") for e in found[0][1]):
                ids[task.id] = found[0][0]
    return EarlierAnswers(then.title, AcceptedFiles(ledger, then.id), ids, keys, due)


def _past_deadlines(
    register: Register, settings: Settings, rnd: Round, ledger: Ledger
) -> dict[str, str]:
    """task id -> its deadline, for the tasks whose deadline passed by the round's: its
    deadline, but no later than the end of the year it reports on (a round on 2019 sent
    late is still judged as of 2019), else the day it was made."""
    created = ledger.round_created_at(rnd.id)
    made = created.date() if created else dt.date.today()
    year_end = dt.date(rnd.year, 12, 31) if rnd.year else made
    today = min(rnd.deadline or made, year_end)
    column = settings.plausibility.rule("overdue").column
    out: dict[str, str] = {}
    for task in register.tasks:
        has = {year: bool(text.strip()) for year, text in task.targets}
        deadline = task_deadline(task.column(column) if column else None,
                                 settings.register.targets, has)  # fmt: skip
        if deadline is not None and deadline < today:
            out[task.id] = deadline.isoformat()
    return out


def form_filename(spec: FormSpec) -> str:
    return f"{safe_filename(spec.division)}_{spec.round.slug}_填报表.xlsx"


@dataclass(frozen=True)
class _Column:
    kind: str  # id | role | readonly | field
    header: str
    width: float
    field: Field | None = None


def _columns(spec: FormSpec, settings: Settings) -> list[_Column]:
    cols = [
        _Column(
            "id",
            ID_HEADER,
            max(6.0, max((display_width(r.task_id) for r in spec.rows), default=0) + 3),
        ),
        _Column("role", ROLE_HEADER, 8.0),
    ]
    if spec.rows:
        for i, (header, _) in enumerate(spec.rows[0].readonly):
            texts = [r.readonly[i][1] for r in spec.rows]
            # wide enough to read, narrow enough that A4 landscape prints at ~80%
            cols.append(_Column("readonly", header, column_width(texts, header, 8, 28)))
    for f in settings.fields:
        if f.width:
            width = f.width
        elif f.type == "choice":
            width = max(10.0, max(display_width(c) for c in f.choices) + 4.0)
        elif f.type in ("percent", "number"):
            width = 10.0
        elif f.type == "date":
            width = 12.0
        else:
            width = 30.0 if f.is_long_text else 16.0
        width = max(width, min(display_width(f.label) + 2.0, 14.0))
        cols.append(_Column("field", f.label, width, f))
    return cols


class _Formats:
    def __init__(self, wb: Any, settings: Settings) -> None:
        body = {"font_name": settings.form.font, "font_size": 10.5}
        head = {"font_name": settings.form.header_font}
        border = dict(BORDER)
        self.title = wb.add_format(
            {**head, "font_size": 18, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.subtitle_left = wb.add_format(
            {**body, "font_size": 11, "align": "left", "valign": "vcenter"}
        )
        self.subtitle_right = wb.add_format(
            {**body, "font_size": 11, "align": "right", "valign": "vcenter"}
        )
        self.hint = wb.add_format(
            {
                **body,
                "font_size": 9.5,
                "font_color": LOOK["input_text"],
                "align": "left",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )
        self.header = wb.add_format(
            {
                **head,
                **border,
                "font_size": 11,
                "bold": True,
                "bg_color": HEADER_FILL,
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )
        self.header_input = wb.add_format(
            {
                **head,
                **border,
                "font_size": 11,
                "bold": True,
                "bg_color": LOOK["check_line"],
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )
        self.id = wb.add_format({**body, **border, "align": "center", "valign": "vcenter"})
        self.role = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "bold": True}
        )
        self.readonly = wb.add_format({**body, **border, "valign": "top", "text_wrap": True})
        unlocked = {**body, **border, "valign": "top", "text_wrap": True, "locked": False}
        # input cells, empty (yellow) or carried over from an earlier round (blue), by kind
        centred = {"align": "center", "valign": "vcenter"}
        kinds = {
            "text": {"num_format": "@"},
            "choice": centred,
            "number": {**centred, "num_format": "General"},
            "date": {**centred, "num_format": "yyyy-mm-dd"},
        }
        self.inputs = {
            (prefilled, kind): wb.add_format(
                {**unlocked, **extra, "bg_color": PREFILL_FILL if prefilled else INPUT_FILL}
            )
            for prefilled in (False, True)
            for kind, extra in kinds.items()
        }
        self.contact_label = wb.add_format(
            {**body, "font_size": 11, "align": "right", "valign": "vcenter", "bold": True}
        )
        self.contact_input = wb.add_format(
            {
                **body,
                "font_size": 11,
                "bottom": 1,
                "bg_color": INPUT_FILL,
                "locked": False,
                "valign": "vcenter",
                "num_format": "@",
            }
        )
        self.contact_date = wb.add_format(
            {
                **body,
                "font_size": 11,
                "bottom": 1,
                "bg_color": INPUT_FILL,
                "locked": False,
                "valign": "vcenter",
                "num_format": "yyyy-mm-dd",
                "align": "left",
            }
        )
        self.contact_prefill = wb.add_format(
            {
                **body,
                "font_size": 11,
                "bottom": 1,
                "bg_color": PREFILL_FILL,
                "locked": False,
                "valign": "vcenter",
                "num_format": "@",
            }
        )
        self.note_title = wb.add_format(
            {**head, "font_size": 16, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.note_label = wb.add_format(
            {
                **head,
                **border,
                "font_size": 11,
                "bold": True,
                "valign": "top",
                "text_wrap": True,
                "bg_color": LOOK["shade"],
            }
        )
        self.note_text = wb.add_format(
            {**body, **border, "font_size": 11, "valign": "top", "text_wrap": True}
        )
        self.meta = wb.add_format({"num_format": "@"})
        check = {**head, "font_size": 12, "bold": True, "align": "center", "valign": "vcenter"}
        # while anything is missing or wrong; the conditional formats turn it green
        self.check_line = wb.add_format(
            {**check, "font_color": LOOK["bad_text"], "bg_color": LOOK["bad"], "border": 1}
        )
        self.check_done = wb.add_format({"font_color": LOOK["good_text"], "bg_color": LOOK["good"]})
        self.broken = wb.add_format({"font_color": LOOK["bad_text"], "bg_color": LOOK["broken"]})
        self.to_explain = wb.add_format({"bg_color": LOOK["explain"]})
        self.explained = wb.add_format({"bg_color": LOOK["good"]})
        self.explain_line = wb.add_format(
            {"font_color": LOOK["explain_text"], "bg_color": LOOK["explain"]}
        )
        self.flag = wb.add_format({})

    def input_for(self, f: Field, prefilled: bool) -> Any:
        kind = {"choice": "choice", "percent": "number", "number": "number", "date": "date"}
        return self.inputs[(prefilled, kind.get(f.type, "text"))]


def _chunks(value: str) -> list[str]:
    return [value[i : i + _CHUNK] for i in range(0, len(value), _CHUNK)] or [""]


def _plain(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _validation(f: Field, list_name: str) -> dict[str, Any]:
    """Data validation with a Chinese prompt and error message for one field."""
    prompt = (f.prompt or describe_field(f))[:250]
    v: dict[str, Any] = {
        "input_title": f.label[:30],
        "input_message": prompt,
        "error_title": "填写内容不符合要求",
        "error_type": "stop",
        "ignore_blank": True,
    }
    if f.type == "choice":
        v.update(validate="list", source=f"={list_name}")
        v["error_message"] = f"请从下拉列表中选择：{'、'.join(f.choices)}"[:250]
    elif f.type in ("percent", "number"):
        lo = _plain(f.min if f.min is not None else -1e15)
        hi = _plain(f.max if f.max is not None else 1e15)
        v.update(validate="decimal", criteria="between", minimum=lo, maximum=hi)
        v["error_message"] = (
            f"请填写 {f.min:g} 到 {f.max:g} 之间的数字，不要带 % 号或文字。"
            if f.min is not None and f.max is not None
            else "请填写数字。"
        )
    elif f.type == "date":
        v.update(
            validate="date",
            criteria="between",
            minimum=dt.date(2000, 1, 1),
            maximum=dt.date(2099, 12, 31),
        )
        v["error_message"] = "请填写日期，如 2019-06-30。"
    elif f.max_length:
        v.update(validate="length", criteria="<=", value=f.max_length)
        v["error_message"] = f"内容不能超过 {f.max_length} 字，请精简。"
    else:
        v.update(validate="any")
        v.pop("error_title")
        v.pop("error_type")
    return v


def _contact_layout(widths: list[float], labels: list[str]) -> list[tuple[int, int, int, int, int]]:
    """Place label/input pairs two or more to a line, by the columns' widths.

    Returns (line, label_first, label_last, input_first, input_last) per label.
    """
    out = []
    line, col = 0, 0
    n = len(widths)
    for label in labels:
        need_label = display_width(label) + 3
        need_input = 16.0
        placed = False
        while not placed:
            c, w = col, 0.0
            while c < n and w < need_label:
                w += widths[c]
                c += 1
            label_last = c - 1
            w = 0.0
            while c < n and w < need_input:
                w += widths[c]
                c += 1
            if w >= need_input or (col == 0 and c == n):
                out.append((line, col, label_last, label_last + 1, c - 1))
                col = c
                placed = True
            else:
                line, col = line + 1, 0
        if col >= n:
            line, col = line + 1, 0
    return out


@dataclass(frozen=True)
class _Layout:
    """Where everything is on the task sheet."""

    cols: list[_Column]
    field_cols: dict[str, int]  # field key -> column
    rows: int  # task rows
    check_row: int = 2  # the line that counts what is still missing or wrong
    header_row: int = 4

    @property
    def widths(self) -> list[float]:
        return [c.width for c in self.cols]

    @property
    def last_col(self) -> int:
        return len(self.cols) - 1

    @property
    def first(self) -> int:
        return self.header_row + 1

    @property
    def last(self) -> int:
        return self.first + self.rows - 1 if self.rows else self.first


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
    fmt = _Formats(wb, settings)
    cols = _columns(spec, settings)
    layout = _Layout(
        cols, {c.field.key: i for i, c in enumerate(cols) if c.field is not None}, len(spec.rows)
    )
    notes = wb.add_worksheet(INSTRUCTION_SHEET)
    # its conditional formats are formulas too, a dozen of them, each prepared at length
    ws = wb.add_worksheet(settings.form.sheet, worksheet_class=PlainFormulaSheet)
    lists = wb.add_worksheet(LISTS_SHEET)
    meta = wb.add_worksheet(META_SHEET)
    flags = wb.add_worksheet(CHECK_SHEET, worksheet_class=PlainFormulaSheet)
    _title_block(ws, fmt, spec, settings, layout, provenance)
    _task_rows(ws, fmt, spec, settings, layout, carried_over=provenance is None)
    _input_rules(wb, ws, lists, fmt, spec, settings, layout)
    contact_cells, contact_spans, bottom = _contact_block(ws, fmt, spec, settings, layout)
    checks = _self_check(ws, flags, fmt, spec, settings, layout, contact_spans, bottom)
    _page_setup(ws, spec, settings, layout, bottom)
    _write_instructions(notes, fmt, spec, settings)
    lists.hide()
    if settings.form.protect:
        lists.protect(settings.form.password)
    _write_identity(wb, meta, fmt, spec, settings, layout.field_cols, contact_cells, checks)
    if provenance is not None:
        _write_provenance(wb, fmt, provenance, settings)
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


def _write_provenance(wb: Any, fmt: _Formats, provenance: Provenance, settings: Settings) -> None:
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
    for n, part in enumerate(_chunks(summary)):
        suffix = f"_{n + 1}" if n else ""
        wb.set_custom_property(f"{PROP_PREFIX}{ROLLUP_PROPERTY}{suffix}", part)


def _title_block(
    ws: Any,
    fmt: _Formats,
    spec: FormSpec,
    settings: Settings,
    layout: _Layout,
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


def _task_rows(
    ws: Any,
    fmt: _Formats,
    spec: FormSpec,
    settings: Settings,
    layout: _Layout,
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


def _input_rules(
    wb: Any,
    ws: Any,
    lists: Any,
    fmt: _Formats,
    spec: FormSpec,
    settings: Settings,
    layout: _Layout,
) -> None:
    """Dropdowns (from the hidden list sheet), ranges, dates and lengths, each with a prompt."""
    field_cols = layout.field_cols
    for f in settings.fields:
        col = field_cols[f.key]
        list_name = f"{NAME_PREFIX}list_{f.key}"
        if f.type == "choice":
            lc = list(field_cols).index(f.key)
            lists.write_string(0, lc, f.label, fmt.meta)
            for k, choice in enumerate(f.choices):
                lists.write_string(k + 1, lc, choice, fmt.meta)
            letter = col_letter(lc)
            wb.define_name(
                list_name, f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(f.choices) + 1}"
            )
        if spec.rows:
            ws.data_validation(layout.first, col, layout.last, col, _validation(f, list_name))


def _sheet_ref(sheet: str, ref: str) -> str:
    return "'" + sheet.replace("'", "''") + "'!" + ref


def _self_check(
    ws: Any,
    flags: Any,
    fmt: _Formats,
    spec: FormSpec,
    settings: Settings,
    layout: _Layout,
    contact_spans: Mapping[str, tuple[int, int, int]],
    bottom: int,
) -> dict[str, Any]:
    """Each input cell red while it breaks a rule, each row amber while it needs a 说明,
    and the check line counting both. Returns where the plausibility flags are.

    The flag sheet holds, at each input cell's address, 1 while that cell breaks a rule
    (selfcheck's formulas, from the same [[fields]] collect applies); the check line sums
    the flags, and each input cell's conditional format turns it red while its flag is 1.
    Right of them, the plausibility rules (`_explain_flags`).
    """
    task = settings.form.sheet
    broken = 0
    field_cols = layout.field_cols
    # each number's value in a helper cell right of the flags (outside what is summed)
    numeric = [f for f in settings.fields if f.type in ("percent", "number")]
    helper_col = {f.key: layout.last_col + 2 + k for k, f in enumerate(numeric)}
    for n, row in enumerate(spec.rows):
        r = layout.first + n
        values = dict(row.prefill)
        refs = {k: _sheet_ref(task, cell_ref(r, c)) for k, c in field_cols.items()}
        for f in settings.fields:
            c = field_cols[f.key]
            bad = breaks(f, values.get(f.key), values, settings)
            broken += bad
            number = None
            if f.key in helper_col:
                number = cell_ref(r, helper_col[f.key])
                value = values.get(f.key)
                cached = value if isinstance(value, int | float) else 0
                flags.write_formula(
                    r, helper_col[f.key], number_formula(refs[f.key]), fmt.flag, cached
                )
            _write_flag(
                flags, r, c, breaks_formula(f, refs[f.key], refs, settings, number), bad, fmt
            )
    if spec.rows:
        # the red is the flag: a cell of the flag sheet, at the same address (Excel 2010 and
        # later, WPS and LibreOffice take a reference to another sheet in a rule)
        top = layout.first + 1
        for f in settings.fields:
            c = field_cols[f.key]
            flag = _sheet_ref(CHECK_SHEET, f"{col_letter(c)}{top}")
            ws.conditional_format(
                layout.first, c, layout.last, c,
                {"type": "formula", "criteria": f"={flag}=1", "format": fmt.broken},
            )  # fmt: skip
    carried = dict(spec.contact_prefill)
    for f in settings.contact:
        r, c, end = contact_spans[f.key]
        ref = cell_ref(r, c)
        bad = breaks(f, carried.get(f.key), carried, settings)
        broken += bad
        _write_flag(flags, r, c, breaks_formula(f, _sheet_ref(task, ref), {}, settings), bad, fmt)
        flag = _sheet_ref(CHECK_SHEET, "$" + col_letter(c) + "$" + str(r + 1))
        ws.conditional_format(
            r, c, r, end,
            {"type": "formula", "criteria": f"={flag}=1", "format": fmt.broken},
        )  # fmt: skip
    start = layout.last_col + 3 + len(numeric)
    places, to_explain = _explain_flags(ws, flags, fmt, spec, settings, layout, helper_col, start)
    area = _sheet_ref(CHECK_SHEET, f"$A$1:${col_letter(layout.last_col)}${bottom + 1}")
    needs = ""
    if places:
        letter = places["needs"]
        needs = _sheet_ref(CHECK_SHEET, f"${letter}${layout.first + 1}:${letter}${layout.last + 1}")
    label = settings.explanation_field.label if settings.explanation_field else ""
    line = layout.check_row
    ws.merge_range(line, 0, line, layout.last_col, "", fmt.check_line)
    ws.write_formula(
        line, 0, check_line_formula(area, needs, label), fmt.check_line,
        remaining(broken, to_explain, label),
    )  # fmt: skip
    if needs:
        # amber while only explanations are wanting
        ws.conditional_format(
            line, 0, line, layout.last_col,
            {"type": "formula", "criteria": f"=AND(SUM({area})=0,SUM({needs})>0)",
             "format": fmt.explain_line},
        )  # fmt: skip
    ws.conditional_format(
        line, 0, line, layout.last_col,
        {"type": "formula", "criteria": f'=$A${line + 1}="{COMPLETE}"', "format": fmt.check_done},
    )  # fmt: skip
    ws.set_row(line, 24)
    flags.very_hidden()
    if settings.form.protect:
        flags.protect(settings.form.password)
    return places


def _write_flag(flags: Any, r: int, c: int, formula: str, bad: bool, fmt: _Formats) -> None:
    """A cell's flag: 1 while `formula` holds; a plain 0 where it never can (an optional
    cell with no rule), which costs no formula."""
    if formula == "FALSE":
        flags.write_number(r, c, 0, fmt.flag)
    else:
        flags.write_formula(r, c, f"=IF({formula},1,0)", fmt.flag, int(bad))


def _explain_flags(
    ws: Any,
    flags: Any,
    fmt: _Formats,
    spec: FormSpec,
    settings: Settings,
    layout: _Layout,
    helper_col: Mapping[str, int],
    start: int,
) -> tuple[dict[str, Any], int]:
    """The plausibility rules on the flag sheet, from column `start`: per row the percent
    as collect reads it, the division's previous answer and whether the deadline passed
    (what generate signed into the form), the rules that hold as one number (hit: rule k
    adds 2**k, so 0 where none holds) and whether the row still lacks its 说明 (needs).
    The row turns amber while it needs one and green once explained. Returns the columns'
    letters, each rule's bit, and the rows to explain.

    One cell for every rule, not one each: a form carries a formula per rule per row, and
    writing them was most of generate's time (docs/performance.md)."""
    rules = asked_rules(settings)
    explanation = settings.explanation_field
    if not rules or explanation is None or not spec.rows:
        return {}, 0
    task = settings.form.sheet
    roles = previous_fields(settings)
    keys = list(roles.values())
    value_col = start
    before_col = {k: start + 1 + i for i, k in enumerate(keys)}
    due_col = start + 1 + len(keys)
    bit = {rule.name: 1 << i for i, rule in enumerate(rules)}
    hit_col = due_col + 1
    need_col = hit_col + 1
    field_cols = layout.field_cols
    percent = roles.get("percent")
    to_explain = 0
    for n, row in enumerate(spec.rows):
        r = layout.first + n
        refs = {k: _sheet_ref(task, cell_ref(r, c)) for k, c in field_cols.items()}
        values = dict(row.prefill)
        before = dict(row.before)
        for key in keys:
            said = before.get(key)
            if isinstance(said, int | float) and not isinstance(said, bool):
                flags.write_number(r, before_col[key], said, fmt.flag)
            elif said not in (None, ""):
                flags.write_string(r, before_col[key], str(said), fmt.flag)
        flags.write_number(r, due_col, 1 if row.due else 0, fmt.flag)
        value = ""
        if percent is not None and percent in helper_col:
            value = cell_ref(r, value_col)
            cached: Any = values.get(percent)
            formula = percent_value_formula(
                refs[percent], cell_ref(r, helper_col[percent]), refs.get(roles["status"]),
                settings,
            )  # fmt: skip
            flags.write_formula(
                r, value_col, formula, fmt.flag, cached if isinstance(cached, int | float) else ""
            )
        formulas = plausibility_formulas(
            rules, settings, refs, value,
            {k: cell_ref(r, c) for k, c in before_col.items()}, cell_ref(r, due_col),
        )  # fmt: skip
        found = {h.rule for h in hits(settings, values, before, row.due, rules)}
        mask = "+".join(f"IF({formulas[rule.name]},{bit[rule.name]},0)" for rule in rules)
        flags.write_formula(r, hit_col, f"={mask}", fmt.flag, sum(bit[name] for name in found))
        explained = explained_formula(refs[explanation.key])
        asked = bool(found) and _blank_cell(values.get(explanation.key))
        to_explain += asked
        flags.write_formula(
            r, need_col, f"=IF(AND({col_letter(hit_col)}{r + 1}>0,NOT({explained})),1,0)",
            fmt.flag, int(asked),
        )  # fmt: skip
    top = layout.first + 1
    need = _sheet_ref(CHECK_SHEET, f"${col_letter(need_col)}{top}")
    hit = _sheet_ref(CHECK_SHEET, f"${col_letter(hit_col)}{top}")
    ws.conditional_format(
        layout.first, 0, layout.last, layout.last_col,
        {"type": "formula", "criteria": f"={need}=1", "format": fmt.to_explain},
    )  # fmt: skip
    ws.conditional_format(
        layout.first, 0, layout.last, layout.last_col,
        {"type": "formula", "criteria": f"=AND({hit}>0,{need}=0)", "format": fmt.explained},
    )  # fmt: skip
    places = {
        "value": col_letter(value_col),
        "before": {k: col_letter(c) for k, c in before_col.items()},
        "due": col_letter(due_col),
        "rules": bit,
        "hit": col_letter(hit_col),
        "needs": col_letter(need_col),
    }
    return places, to_explain


def _blank_cell(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _contact_block(
    ws: Any, fmt: _Formats, spec: FormSpec, settings: Settings, layout: _Layout
) -> tuple[dict[str, str], dict[str, tuple[int, int, int]], int]:
    """填报人, 联系电话 and the others below the table; returns each input cell, its
    (row, first column, last column), and the block's last row."""
    contact_top = layout.last + 2
    places = _contact_layout(layout.widths, [f"{f.label}：" for f in settings.contact])
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
        v = _validation(f, "")
        v["input_message"] = (f.prompt or describe_field(f, settings.field_by_key))[:250]
        if f.type in ("text", "phone"):
            v = {k: v[k] for k in ("input_title", "input_message")} | {"validate": "any"}
        ws.data_validation(r, i0, r, i0, v)
    contact_lines = (max(line for line, *_ in places) + 1) if places else 0
    for k in range(contact_lines):
        ws.set_row(contact_top + k, 26)
    return contact_cells, spans, contact_top + max(contact_lines, 1) - 1


def _page_setup(ws: Any, spec: FormSpec, settings: Settings, layout: _Layout, bottom: int) -> None:
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


def _write_identity(
    wb: Any,
    meta: Any,
    fmt: _Formats,
    spec: FormSpec,
    settings: Settings,
    field_cols: Mapping[str, int],
    contact_cells: Mapping[str, str],
    checks: Mapping[str, Any],
) -> None:
    """The identity intake recognises the file by: the veryHidden sheet (with each row's
    hash), and the signed keys again as defined names and custom properties."""
    meta_rows = _metadata(spec, settings, field_cols, contact_cells, checks)
    meta.write_string(0, 0, "xlflow", fmt.meta)
    meta.write_string(0, 1, META_NOTE, fmt.meta)
    for k, (key, value) in enumerate(meta_rows, start=1):
        meta.write_string(k, 0, key, fmt.meta)
        meta.write_string(k, 1, value, fmt.meta)
    table = len(meta_rows) + 2
    for j, head in enumerate(("task_id", "row_hash", "role")):
        meta.write_string(table, j, head, fmt.meta)
    for k, (row, digest) in enumerate(zip(spec.rows, spec.row_hashes, strict=True), start=1):
        meta.write_string(table + k, 0, row.task_id, fmt.meta)
        meta.write_string(table + k, 1, digest, fmt.meta)
        meta.write_string(table + k, 2, row.role.value, fmt.meta)
    meta.very_hidden()
    if settings.form.protect:
        meta.protect(settings.form.password)
    for key, value in identity(spec).items():
        for n, part in enumerate(_chunks(value)):
            suffix = f"_{n + 1}" if n else ""
            wb.define_name(f"{NAME_PREFIX}{key}{suffix}", '="' + part.replace('"', '""') + '"')
            wb.set_custom_property(f"{PROP_PREFIX}{key}{suffix}", part)


def _metadata(
    spec: FormSpec,
    settings: Settings,
    field_cols: Mapping[str, int],
    contact_cells: Mapping[str, str],
    checks: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """Key/value rows of the metadata sheet: the signed identity, then the hints intake
    uses to find cells."""
    digest = before_digest(spec.before_round, spec.rows)
    return [
        *identity(spec).items(),
        ("round_title", spec.round.title),
        ("sheet", settings.form.sheet),
        ("target_year", str(spec.target_year or "")),
        ("columns", json.dumps({k: col_letter(c) for k, c in field_cols.items()})),
        ("contact", json.dumps(dict(contact_cells))),
        ("prefill_from", spec.prefill_from),
        # what the form needs to be made again by the unit it is sent to (xlflow forward)
        ("form_settings", json.dumps(form_hint(spec, settings), ensure_ascii=False)),
        # the previous answers the plausibility rules compare with, on the flag sheet, and
        # the digest of them that the signature covers
        *([("before", digest), ("before_round", spec.before_round)] if digest else []),
        *([("checks", json.dumps(dict(checks)))] if checks else []),
    ]


def form_hint(spec: FormSpec, settings: Settings) -> dict[str, Any]:
    """The settings tables a form is made with, and its round (see `form_settings_table`)."""
    rnd = spec.round
    reg = settings.register
    shown = {c: _display_header(c) for c in reg.readonly_columns}
    return {
        **form_settings_table(settings),
        # which of the read-only columns name a task's group and the task itself
        "columns": {
            "group": shown.get(reg.group_column, ""),
            "name": shown.get(reg.name_column, ""),
        },
        # the tasks this unit answers as a member of a collective (各街道)
        "collectives": {r.task_id: r.collective for r in spec.rows if r.collective},
        "round": {
            "id": rnd.id,
            "title": rnd.title,
            "year": rnd.year,
            "deadline": rnd.deadline.isoformat() if rnd.deadline else "",
        },
    }


def _write_instructions(ws: Any, fmt: _Formats, spec: FormSpec, settings: Settings) -> None:
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)
    ws.merge_range(0, 0, 0, 1, f"{spec.title}　填报说明", fmt.note_title)
    ws.set_row(0, 34)
    lead = sum(1 for r in spec.rows if r.role is Role.LEAD)
    coop = len(spec.rows) - lead
    office = settings.office
    contact = "，".join(x for x in (office.name, office.contact, office.phone, office.email) if x)
    by_key = settings.field_by_key
    rules = "\n".join(
        f"{f.label}："
        + (f"标为橙色的行填写原因，不超过 {f.max_length} 字；其他行不用填"
           if f.key == EXPLANATION_KEY else describe_field(f, by_key))
        for f in settings.fields
    )  # fmt: skip
    contact_rules = "、".join(
        f.label + ("（必填）" if f.required else "") for f in settings.contact
    )
    steps = [
        f"1. 在“{settings.form.sheet}”工作表中逐项填写本处室承担的 {len(spec.rows)} 项任务"
        f"（牵头 {lead} 项，配合 {coop} 项）。",
        "2. 只在浅黄色底纹的单元格中填写；任务内容、目标等已锁定，请勿修改，也不要插入、删除行或调整表格结构。",
        "3. 牵头任务请填写任务总体进展；配合任务请填写本处室承担部分的进展。",
        f"4. 在表格下方填写{contact_rules}。",
        "5. 填好后直接保存（Excel 或 WPS 均可，保存为 .xlsx 或 .xls），文件名可以不改，按时限通过邮件报送。"
        "请不要把内容复制到新建的文件中，否则系统无法识别。",
        "6. 报送后如需更正，修改原文件后重新报送即可，以最后收到的一份为准。",
    ]
    shared = sorted({r.collective for r in spec.rows if r.collective})
    if shared:
        steps.append(
            f"{len(steps) + 1}. 其中{'、'.join(f'“{c}”' for c in shared)}的任务由各成员单位分别填报："
            "请只填写本单位的情况，汇总时与其他成员的报送一并列示。"
        )
    if spec.prefill_from:
        steps.append(
            f"{len(steps) + 1}. 浅蓝色底纹的单元格已填入上一轮次（{spec.prefill_from}）的报送内容，请逐项核对并更新为本期情况。"
        )
    explanation = settings.explanation_field
    if asked_rules(settings) and explanation is not None:
        steps.append(
            f"{len(steps) + 1}. 数字或情况需要解释的行（如进度比上次低）会标为橙色：请在该行的"
            f"“{explanation.label}”栏写明原因，写好后该行变为绿色。其他行不用填写“{explanation.label}”。"
        )
    rows = [
        ("填报单位", spec.division),
        ("填报轮次", spec.round.title),
        ("报送时限", deadline_text(spec.round.deadline)),
        ("任务数量", f"{len(spec.rows)} 项（牵头 {lead} 项，配合 {coop} 项）"),
        ("填报步骤", "\n".join(steps)),
        ("各列要求", rules),
        (
            "自动检查",
            f"“{settings.form.sheet}”工作表标题下方的一行随填写自动更新：还有未填或不符合要求的内容时，"
            "显示“还有 N 处需要填写或修改（标红的单元格）”，相应单元格标为红色——必填项为空、"
            "不是下拉列表中的选项、数字超出范围或不是数字、超过字数上限、"
            "需要同时填写的内容未填（如完成状态为“进度滞后”时的存在问题），以及表格下方的填报人、联系电话。"
            f"全部改好后显示“{COMPLETE}”。",
        ),
        *_explain_rows(spec, settings),
        ("联系方式", contact or "见通知"),
    ]
    for k, (label, text) in enumerate(rows, start=2):
        ws.write_string(k, 0, label, fmt.note_label)
        ws.write_string(k, 1, text, fmt.note_text)
        # a line to spare: the text is 11 pt and wraps a little sooner than estimated
        ws.set_row(k, row_height([(text, 90)]) + (15 if "\n" in text else 0))
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 1)  # one sheet of paper: the instructions are read before the form
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.set_footer("&C&9第 &P 页，共 &N 页")
    if settings.form.protect:
        ws.protect(settings.form.password)


def _explain_rows(spec: FormSpec, settings: Settings) -> list[tuple[str, str]]:
    """The 填报说明 rows on 说明: when a row turns amber, and what the office does with it."""
    rules = asked_rules(settings)
    explanation = settings.explanation_field
    if not rules or explanation is None:
        return []
    then = f"（{spec.before_round}）" if spec.before_round else ""
    lines = [f"{n}. {describe_rule(r, settings)}" for n, r in enumerate(rules, start=1)]
    refused = [RULE_LABELS[r.name] for r in rules if r.severity == "error"]
    tail = [
        f"这些数字可能是真实的，只需说明原因，不必改动。与上一轮次{then}的比较按本单位当时报送并被采用的内容。",
        "标橙的行未写说明也可以报送，汇总单位会记下并可能再次询问；"
        + (f"其中“{'、'.join(refused)}”未说明的，本表将被退回。" if refused else "")
        + "说明会随数值一并报给领导。",
    ]
    return [
        (
            f"{explanation.label}栏",
            "以下情况该行标为橙色，请在“"
            + explanation.label
            + "”栏写明原因（写好后变为绿色）：\n"
            + "\n".join(lines + tail),
        )
    ]


@dataclass(frozen=True)
class GeneratedForm:
    division: str
    path: Path
    task_ids: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class GenerateResult:
    round: Round
    forms: tuple[GeneratedForm, ...]
    prefill_from: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round.id,
            "forms": [
                {"division": f.division, "path": str(f.path), "task_ids": list(f.task_ids)}
                for f in self.forms
            ],
        }


_Render = tuple[Settings, dt.datetime | None, Path]


def _render_to(context: _Render, spec: FormSpec) -> GeneratedForm:
    settings, created, out_dir = context
    data = render_form(spec, settings, created)
    path = out_dir / form_filename(spec)
    atomic_write(path, data, durable=False)
    return GeneratedForm(spec.division, path, spec.task_ids, sha256_bytes(data))


def _write_forms(
    specs: FormSpecs, settings: Settings, created: dt.datetime | None, out_dir: Path
) -> Iterator[tuple[int, GeneratedForm]]:
    """(index, form) of every form as it is written, on all the cores when there are many."""
    context = (settings, created, out_dir)
    workers = default_workers(len(specs))
    if workers == 1:
        for index in range(len(specs)):
            yield index, _render_to(context, specs[index])
        return
    pool: IsolatedPool[FormSpec, GeneratedForm] = IsolatedPool(
        _render_to, context, workers, 300, settings.limits.worker_memory_mb
    )
    for index, outcome in pool.run(specs):
        # a worker that died is no reason to lose the form: make it here, where an error shows
        done = outcome if isinstance(outcome, GeneratedForm) else _render_to(context, specs[index])
        yield index, done


def generate_forms(
    ws: Workspace,
    rnd: Round,
    prefill_from: str = "",
    divisions: Sequence[str] = (),
) -> GenerateResult:
    """Write one form per division into outbox/ROUND/forms/ and record them in the ledger."""
    register = load_register(ws)
    unknown = [d for d in divisions if d not in register.divisions]
    if unknown:
        raise NotFound(
            f"任务清单中没有处室 {'、'.join(unknown)}；处室有：{'、'.join(register.divisions)}"
        )
    with folder_lock(ws.lock_path, "生成填报表"), Ledger(ws.ledger_path) as ledger:
        sweep_temp_files(ws.round_dir(rnd))
        secret = load_or_create_secret(ws.secret_path)
        previous: Mapping[str, FileRecord] = {}
        source = ""
        if prefill_from:
            earlier = ledger.find_round(prefill_from)
            if earlier is None:
                raise NotFound(
                    f"没有轮次 {prefill_from!r} 的记录，无法预填；已有轮次："
                    f"{'、'.join(r.id for r in ledger.rounds()) or '（无）'}"
                )
            source = earlier.id
            previous = AcceptedFiles(ledger, source)
        record = ledger.record_round(rnd, source)
        version = current_version(ledger, register, ws.settings.register)
        compared = earlier_answers(ledger, register, ws.settings, record, version)
        specs = FormSpecs(
            register, ws.settings, record, secret, previous, source, divisions, compared
        )
        created = ledger.round_created_at(rnd.id)
        forms: list[GeneratedForm | None] = [None] * len(specs)
        staged = ledger.staged_forms(rnd.id)
        for index, form in _write_forms(specs, ws.settings, created, ws.round_dir(rnd) / "forms"):
            spec = specs[index]
            staged.add(index, spec, form.path, form.sha256)
            forms[index] = replace(form, task_ids=spec.task_ids)  # the register's own strings
            specs.release(index)
        if hasattr(os, "sync"):
            os.sync()  # one flush for every form written, before the ledger records them
        staged.record()
        ledger.record_units(record.id, register)
        ledger.set_round_version(record.id, version)
    return GenerateResult(record, tuple(f for f in forms if f is not None), source)
