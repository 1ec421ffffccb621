"""Shared workbook helpers: cell references, CJK column widths and row heights, text that
stays text, page headers, and an XlsxWriter workbook set up for all of it."""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import CellFormulaTuple, Worksheet

from .text import display_width, wrapped_lines

MAX_ROW_HEIGHT = 409.0
LINE_HEIGHT = 14.5  # points per wrapped line of 10.5 pt SimSun, with a little air


# The workbook look: one table that the forms, the receipts and the consolidated workbook
# all draw from, so that one colour means one thing in every workbook xlflow writes.
LOOK: dict[str, str] = {
    "border": "#808080",  # every cell border
    "header": "#D9D9D9",  # header rows
    "shade": "#F2F2F2",  # label cells, rows to read past
    "input": "#FFF2CC",  # cells a division types in; a conflict to look at
    "prefilled": "#DDEBF7",  # cells filled from the last round
    "input_text": "#7F6000",  # the prompts beside the inputs
    "check_line": "#FFE699",  # the form's check line
    "bad": "#FFC7CE",  # a cell to fix
    "bad_text": "#9C0006",
    "broken": "#FF9999",  # a check that cannot be computed
    "good": "#C6EFCE",  # all filled, accepted
    "good_text": "#006100",
    "warn": "#FFEB9C",  # a warning
    "explain": "#F8CBAD",  # a row to explain (核实性审核): amber, not red
    "explain_text": "#843C0C",
    "note_text": "#595959",  # notes under a table
    "muted_text": "#7F7F7F",  # what is missing
    "chart_missing": "#BFBFBF",  # the chart's bar for tasks nobody reported
    "chart_other": "#9BC2E6",  # a status with no colour of its own
}
BORDER = {"border": 1, "border_color": LOOK["border"]}


def column_width(texts: Iterable[str], header: str, lo: float, hi: float) -> float:
    """A CJK-aware column width: the longest line counting CJK as 2, within [lo, hi].

    Long text is given a width that wraps it into a few lines rather than one long one.
    """
    natural = float(max((display_width(t) for t in texts), default=0))
    head = max((display_width(part) for part in header.split("\n")), default=0)
    if natural > hi:
        natural = max(hi * 0.75, min(hi, natural / 3))
    return float(min(hi, max(lo, natural + 2, min(head + 2, hi))))


def row_height(cells: Iterable[tuple[str, float]], min_lines: int = 1) -> float:
    """Height in points that shows every (text, column width) pair wrapped in full."""
    lines = max([min_lines] + [wrapped_lines(t, w) for t, w in cells])
    return min(MAX_ROW_HEIGHT, math.ceil(lines * LINE_HEIGHT + 6))


_AS_TEXT = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}


def new_workbook(buffer: io.BytesIO, created: dt.datetime | None = None) -> Any:
    """An XlsxWriter workbook that never turns text into formulas, numbers or links."""
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, **_AS_TEXT})
    if created is not None:
        # a fixed creation time keeps the same inputs giving the same bytes
        wb.set_properties({"created": created})
    return wb


def streamed_workbook(
    path: Path, scratch: Path, created: dt.datetime | None = None, constant_memory: bool = True
) -> Any:
    """A workbook written to `path` a row at a time. With `constant_memory` (XlsxWriter's)
    each row goes to a file in `scratch` once the next row starts, so memory stays flat
    however many rows there are, but its text is inline, which Excel moves to a shared
    strings table on its next save. Either way rows are written in order; see
    StreamedSheet for merges."""
    options = {"constant_memory": constant_memory, "tmpdir": str(scratch), **_AS_TEXT}
    wb = xlsxwriter.Workbook(str(path), options)
    if created is not None:
        wb.set_properties({"created": created})
    return wb


def abandon(wb: Any) -> None:
    """Let go of a streamed workbook that will not be finished: its sheets' row files in
    the scratch folder are closed, so the folder can go (Windows keeps an open file)."""
    for sheet in wb.worksheets():
        fh = getattr(sheet, "row_data_fh", None)
        if fh is not None and not fh.closed:
            fh.close()


class StreamedSheet(Worksheet):  # type: ignore[misc]
    """A worksheet of a streamed workbook that can still merge cells down a column.

    XlsxWriter's merge_range pads the area with formatted blanks at once, which in
    constant_memory mode would write the later rows before their other cells. Here the
    area is recorded when its first row is written, and each later row writes its own
    formatted blank when it comes (`merge_down`, then `write_blank` per row).
    """

    def merge_down(self, first_row: int, col: int, last_row: int, text: str, fmt: Any) -> None:
        self.merge.append([first_row, col, last_row, col])
        self.write_string(first_row, col, text, fmt)


def write_text(ws: Any, row: int, col: int, text: str, fmt: Any = None) -> None:
    """User text is always a string cell, whatever it starts with."""
    if text == "":
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_string(row, col, text, fmt)


def write_value(ws: Any, row: int, col: int, value: object, fmt: Any = None) -> None:
    """A stored value: numbers as numbers, everything else as text, never a formula."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, int | float):
        ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def page_text(text: str, size: int = 9) -> str:
    """Header or footer text at `size` points, with '&' escaped.

    A text that starts with a digit would run into the size code ('&9' + '2019' reads
    as size 92019), so it is kept apart by a space.
    """
    escaped = text.replace("&", "&&")
    return f"&{size}{' ' if escaped[:1].isdigit() else ''}{escaped}"


class PlainFormulaSheet(Worksheet):  # type: ignore[misc]
    """A worksheet for formulas of functions Excel 2010 already had.

    XlsxWriter prepares every formula for the dynamic-array functions of Excel 365 (some 35
    regular expressions over its whole text) before it writes it; a sheet of thousands of
    long, old-style formulas (the self-checking form's flags) spends most of its time
    there, and in its search of each for the dynamic-array functions. Its formulas are
    written as given, without the leading "="; a test checks that none uses a function
    XlsxWriter would have prefixed or written as a dynamic array.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return formula.removeprefix("=")

    def _write_formula(
        self, row: int, col: int, formula: str, cell_format: Any = None, value: Any = 0
    ) -> int:
        # XlsxWriter's own first searches every formula for Excel 365's dynamic-array
        # functions (one long regular expression), which these formulas never use; the
        # rest is what it does for a plain formula.
        if self._check_dimensions(row, col):
            return -1
        if self.constant_memory and row > self.previous_row:
            self._write_single_row(row)
        self.table[row][col] = CellFormulaTuple(formula.removeprefix("="), cell_format, value)
        return 0
