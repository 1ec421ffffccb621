"""Shared workbook helpers: cell references, CJK column widths and row heights, text that
stays text, page headers, and an XlsxWriter workbook set up for all of it."""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_cell_to_rowcol, xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from .text import display_width, wrapped_lines

MAX_ROW_HEIGHT = 409.0
LINE_HEIGHT = 14.5  # points per wrapped line of 10.5 pt SimSun, with a little air


@functools.lru_cache(maxsize=65536)
def cell_ref(row: int, col: int) -> str:
    """0-based (row, col) -> 'C7'."""
    return str(xl_rowcol_to_cell(row, col))


def row_col(ref: str) -> tuple[int, int]:
    """'C7' -> 0-based (row, col)."""
    row, col = xl_cell_to_rowcol(ref)
    return int(row), int(col)


def col_letter(col: int) -> str:
    return str(xl_col_to_name(col))


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
    there. Its formulas are written as given, without the leading "="; a test checks that
    none uses a function XlsxWriter would have prefixed.
    """

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        return formula.removeprefix("=")
