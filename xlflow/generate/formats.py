"""The form's look: its sheets' names, every cell format it uses (`Formats`), its columns and
the layout of its header and contact block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config.model import Field, Settings
from ..excel import (
    BORDER,
    LOOK,
    column_width,
)
from ..model import FormSpec
from ..text import display_width
from ..wording import ID_HEADER, ROLE_HEADER

INSTRUCTION_SHEET = "填报说明"
LISTS_SHEET = "选项"
CHUNK = 240  # Excel caps a text constant in a name and a custom property at 255

INPUT_FILL = LOOK["input"]
PREFILL_FILL = LOOK["prefilled"]
HEADER_FILL = LOOK["header"]
TASK_SHEET_PROTECTION = {
    "select_locked_cells": True,
    "select_unlocked_cells": True,
    "format_columns": True,
    "format_rows": True,
}


@dataclass(frozen=True)
class Column:
    kind: str  # id | role | readonly | field
    header: str
    width: float
    field: Field | None = None


def form_columns(spec: FormSpec, settings: Settings) -> list[Column]:
    cols = [
        Column(
            "id",
            ID_HEADER,
            max(6.0, max((display_width(r.task_id) for r in spec.rows), default=0) + 3),
        ),
        Column("role", ROLE_HEADER, 8.0),
    ]
    if spec.rows:
        for i, (header, _) in enumerate(spec.rows[0].readonly):
            texts = [r.readonly[i][1] for r in spec.rows]
            # wide enough to read, narrow enough that A4 landscape prints at ~80%
            cols.append(Column("readonly", header, column_width(texts, header, 8, 28)))
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
        cols.append(Column("field", f.label, width, f))
    return cols


class Formats:
    """Every cell format of a form, made in one order (which the workbook's bytes follow):
    the title and table, the inputs, the contact block, the instructions, the check."""

    def __init__(self, wb: Any, settings: Settings) -> None:
        body = {"font_name": settings.form.font, "font_size": 10.5}
        head = {"font_name": settings.form.header_font}
        self._table(wb, body, head, dict(BORDER))
        self._inputs(wb, body, dict(BORDER))
        self._contact(wb, body)
        self._notes_and_check(wb, body, head, dict(BORDER))

    def _table(
        self, wb: Any, body: dict[str, Any], head: dict[str, Any], border: dict[str, Any]
    ) -> None:
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

    def _inputs(self, wb: Any, body: dict[str, Any], border: dict[str, Any]) -> None:
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

    def _contact(self, wb: Any, body: dict[str, Any]) -> None:
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

    def _notes_and_check(
        self, wb: Any, body: dict[str, Any], head: dict[str, Any], border: dict[str, Any]
    ) -> None:
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


def chunks(value: str) -> list[str]:
    return [value[i : i + CHUNK] for i in range(0, len(value), CHUNK)] or [""]


def plain_number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def contact_layout(widths: list[float], labels: list[str]) -> list[tuple[int, int, int, int, int]]:
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
class Layout:
    """Where everything is on the task sheet."""

    cols: list[Column]
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


def blank_cell(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
