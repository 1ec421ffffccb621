"""validate's rules on a cell, apart from any file: how a value was stored decides
whether it can be used at all."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from xlflow.config.model import Field
from xlflow.intake import validate
from xlflow.issues import IssueCode, Severity
from xlflow.reading.reader import read_workbook
from xlflow.reading.workbook import RawWorkbook
from xlflow.text import CELL_TEXT_LIMIT, cell_length

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    complete_values,
    fill,
    header_columns,
    task_rows,
)

SHEET = "填报"
WHERE = {"sheet": SHEET, "cell": "H7"}


def _formula_at_h7(fmt: str) -> RawWorkbook:
    raw = RawWorkbook(format=fmt)
    raw.note_cells(SHEET, {"H7"}, set(), set())
    return raw


@pytest.mark.parametrize("field_type", ["text", "choice"])
def test_an_xls_number_cached_for_a_formula_in_a_text_field_is_not_used(field_type: str) -> None:
    """LibreOffice stores a text formula's result in an .xls as the number 0."""
    usable, issues = validate._read_problems(
        _formula_at_h7("xls"), SHEET, "H7", 0.0, "进展情况", WHERE, field_type
    )
    assert not usable
    assert [(i.code, i.severity) for i in issues] == [(IssueCode.FORMULA_NO_VALUE, Severity.ERROR)]
    assert "存成了数字" in issues[0].message and issues[0].cell == "H7"


@pytest.mark.parametrize(
    ("fmt", "value", "field_type"),
    [
        ("xlsx", 0.0, "text"),  # an .xlsx keeps a text result as text: a number is a number
        ("ods", 0.0, "choice"),
        ("xls", 40.0, "percent"),  # a number is the right answer to a number question
        ("xls", "按计划推进", "choice"),  # the cached text
        ("xls", True, "text"),  # a boolean is cached as one
    ],
)
def test_a_formula_s_cached_value_is_used_with_a_warning(
    fmt: str, value: object, field_type: str
) -> None:
    usable, issues = validate._read_problems(
        _formula_at_h7(fmt),
        SHEET,
        "H7",
        value,
        "完成状态",
        WHERE,
        field_type,  # type: ignore[arg-type]
    )
    assert usable
    assert [(i.code, i.severity) for i in issues] == [
        (IssueCode.FORMULA_VALUE_USED, Severity.WARNING)
    ]


def test_a_value_that_is_no_formula_has_no_problem() -> None:
    assert validate._read_problems(
        RawWorkbook(format="xls"), SHEET, "H7", 0.0, "进展情况", WHERE, "text"
    ) == (True, [])


def test_text_the_reader_cut_at_the_cell_limit_is_not_used() -> None:
    raw = RawWorkbook(format="xlsx")
    raw.truncation_check = lambda text: True
    cut = "长" * CELL_TEXT_LIMIT
    usable, issues = validate._read_problems(raw, SHEET, "H7", cut, "下步打算", WHERE, "text")
    assert not usable and [i.code for i in issues] == [IssueCode.CELL_TEXT_LIMIT]
    assert str(CELL_TEXT_LIMIT) in issues[0].message


def test_text_over_the_limit_in_utf16_units_is_named_with_both_counts() -> None:
    """Fewer characters than the limit, more UTF-16 units than a cell holds."""
    text = "\U00010000" * (CELL_TEXT_LIMIT // 2 + 1)
    assert len(text) < CELL_TEXT_LIMIT < cell_length(text)
    field = Field(key="next_steps", label="下步打算", type="text", max_length=100_000)
    issues = list(validate._text_checks(field, text, WHERE, "下步打算"))
    assert [(i.code, i.severity) for i in issues] == [(IssueCode.CELL_TEXT_LIMIT, Severity.ERROR)]
    message = issues[0].message
    assert f"{len(text)} 个字符" in message and str(cell_length(text)) in message
    assert issues[0].cell == "H7"
    short = list(validate._text_checks(field, "好" * 10, WHERE, "下步打算"))
    assert short == []


def test_a_form_read_from_an_xls_does_not_take_a_number_cached_in_a_text_field(
    forms: dict[str, Path], ws: Path
) -> None:
    """The rule above, through validate_form as collect runs it: a filled form read back,
    then stored as LibreOffice stores an .xls, the 进展情况 of task 5 a formula cached as 0."""
    from xlflow.ledger.book import Ledger
    from xlflow.workspace import Workspace

    work = Workspace.open(ws)
    form = forms["创新平台与合作处"]
    filled = fill(form, ws / "staging" / "r.xlsx", complete_values(form), GOOD_CONTACT)
    raw = read_workbook(filled.read_bytes(), ".xlsx", work.settings.limits).workbook
    assert raw is not None
    row, col = task_rows(form)["5"], header_columns(openpyxl.load_workbook(form)[SHEET])["进展情况"]
    sheet = raw.sheet(SHEET)
    assert sheet is not None
    sheet.rows[row - 1][col - 1] = 0.0
    ref = f"{get_column_letter(col)}{row}"
    raw.note_cells(SHEET, {ref}, set(), set())
    with Ledger(work.ledger_path) as ledger:
        spec = ledger.forms(ledger.load_round(DEFAULT_ROUND))["创新平台与合作处"]
    for fmt, code in (("xls", IssueCode.FORMULA_NO_VALUE), ("xlsx", IssueCode.FORMULA_VALUE_USED)):
        raw.format = fmt
        result = validate.validate_form(raw, spec, work.settings)
        assert [(i.code, i.cell) for i in result.issues] == [(code, ref)], fmt
        taken = result.values.get("5", {}).get("progress")
        assert taken == ("0" if fmt == "xlsx" else None), fmt


def test_a_task_sheet_without_its_header_row_takes_nothing_and_says_why(
    forms: dict[str, Path], ws: Path
) -> None:
    from xlflow.ledger.book import Ledger
    from xlflow.workspace import Workspace

    work = Workspace.open(ws)
    form = forms["创新平台与合作处"]
    filled = fill(form, ws / "staging" / "r.xlsx", complete_values(form), GOOD_CONTACT)
    raw = read_workbook(filled.read_bytes(), ".xlsx", work.settings.limits).workbook
    assert raw is not None
    sheet = raw.sheet(SHEET)
    assert sheet is not None
    header = min(task_rows(form).values()) - 2  # 0-based: the row above the first task
    sheet.rows[header] = [""] * len(sheet.rows[header])
    with Ledger(work.ledger_path) as ledger:
        spec = ledger.forms(ledger.load_round(DEFAULT_ROUND))["创新平台与合作处"]
    result = validate.validate_form(raw, spec, work.settings)
    assert result.values == {} and result.contact == {}
    assert [i.code for i in result.issues] == [IssueCode.COLUMN_MISSING]
    assert "找不到表头行" in result.issues[0].message
