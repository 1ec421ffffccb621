"""Cell references, one way everywhere (xlflow.cells), agree with XlsxWriter's own."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from xlsxwriter.utility import xl_cell_to_rowcol, xl_col_to_name, xl_rowcol_to_cell

from xlflow.cells import cell_ref, col_letter, col_number, row_col


@given(st.integers(0, 1_048_575), st.integers(0, 16_383))
def test_a_reference_is_the_writers_both_ways(row: int, col: int) -> None:
    ref = cell_ref(row, col)
    assert ref == xl_rowcol_to_cell(row, col)
    assert row_col(ref) == (row, col) == tuple(xl_cell_to_rowcol(ref))
    assert col_letter(col) == xl_col_to_name(col)
    assert col_number(col_letter(col)) == col + 1


def test_absolute_references_and_bad_ones() -> None:
    assert row_col("$C$7") == (6, 2)
    for bad in ("", "7C", "C", "C0x"):
        try:
            row_col(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_one_date_parser_for_the_command_and_the_console() -> None:
    import datetime as dt

    import pytest

    from xlflow.errors import Invalid
    from xlflow.model import parse_date

    day = dt.date(2019, 7, 10)
    for typed in ("2019-07-10", "2019/7/10", "2019.7.10", "2019年7月10日", " 2019-7-10 "):
        assert parse_date(typed) == day, typed
    assert parse_date("") is None and parse_date(None) is None
    for bad in ("明天", "2019-02-30", "2019-13-01", "10/7/2019"):
        with pytest.raises(Invalid, match="不是日期"):
            parse_date(bad)
