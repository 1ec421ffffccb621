"""Forms that check themselves: the red cells and the check line say what `collect` would.

Every case below is one change to a complete return. Three judges must agree on which
input cells are wrong: `collect` (the errors it reports, by cell), the formulas as an office
suite computes them (LibreOffice, in the office test: the check line and the flag sheet),
and their Python twin (`selfcheck.breaks`, which writes the cached values).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlflow.config.load import load_settings
from xlflow.generate.selfcheck import CHECK_SHEET, breaks, breaks_formula, remaining
from xlflow.intake.validate import normalise_value
from xlflow.signing import META_SHEET

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    TASK_SHEET,
    complete_values,
    fill,
    run,
    run_json,
    task_rows,
)
from .office import Job, artifacts_dir, needs_office, run_batch, to_png

REPO = Path(__file__).resolve().parents[1]
SETTINGS = load_settings(REPO / "templates" / "xlflow.toml")
CO = "创新平台与合作处"
CONTACT = {**GOOD_CONTACT, "填报日期": "2019-07-05"}
# the errors of the rules a form checks: its input cells and its contact block
RULES = {
    "required-missing", "required-when", "choice-not-allowed", "out-of-range", "not-a-number",
    "too-long", "contact-missing", "phone-invalid", "not-a-date",
}  # fmt: skip

# name, changes to the first task (by header), changes to the contact block, cells wrong
CASES: list[tuple[str, dict[str, Any], dict[str, Any], int]] = [
    ("complete", {}, {}, 0),
    ("status empty", {"完成状态": None}, {}, 1),
    ("status not a choice", {"完成状态": "完成了"}, {}, 1),
    ("percent 150", {"完成进度(%)": 150}, {}, 1),
    ("percent -1", {"完成进度(%)": -1}, {}, 1),
    ("percent 0", {"完成进度(%)": 0}, {}, 0),
    ("percent 100", {"完成进度(%)": 100}, {}, 0),
    ("percent in words", {"完成进度(%)": "大约一半"}, {}, 1),
    ("percent as text 80%", {"完成进度(%)": "80%"}, {}, 0),
    ("percent as text 150%", {"完成进度(%)": "150%"}, {}, 1),
    ("percent typed 80%", {"完成进度(%)": {"typed": "80%"}}, {}, 0),
    ("percent typed 150%", {"完成进度(%)": {"typed": "150%"}}, {}, 1),
    ("percent a half", {"完成进度(%)": 0.5}, {}, 0),
    ("percent empty", {"完成进度(%)": None}, {}, 1),
    ("progress empty", {"进展情况": None}, {}, 1),
    ("progress only spaces", {"进展情况": "  \u3000 "}, {}, 1),
    ("progress too long", {"进展情况": "很" * 2001}, {}, 1),
    ("progress at the limit", {"进展情况": "很" * 2000}, {}, 0),
    (
        "lagging without a reason",
        {"完成状态": "进度滞后", "存在问题": None},
        {},
        0,
    ),  # explained, not wrong
    ("lagging with a reason", {"完成状态": "进度滞后", "存在问题": "资金未到位"}, {}, 0),
    ("everything missing", {"完成状态": None, "完成进度(%)": None, "进展情况": None}, {}, 3),
    ("reporter empty", {}, {"填报人": None}, 1),
    ("phone in words", {}, {"联系电话": "找我"}, 1),
    ("phone empty", {}, {"联系电话": None}, 1),
    ("mobile", {}, {"联系电话": "13800138000"}, 0),
    ("phone with extension", {}, {"联系电话": "0574-87654321转123"}, 0),
    ("phone with a full-width space", {}, {"联系电话": "0574\u300087654321"}, 0),
    ("phone after a word", {}, {"联系电话": "电话0574-87654321"}, 1),
    ("status between spaces", {"完成状态": " 已完成 "}, {}, 0),
    ("date in words", {}, {"填报日期": "下周"}, 1),
]
TYPED = {"80%": (0.8, "0%"), "150%": (1.5, "0%")}  # what a person's typing stores


def _new_form(root: Path) -> Path:
    """CO's form in a new working folder (root/outbox/ROUND/forms/...)."""
    run(["init", str(root)])
    data = run_json(["generate", "-w", str(root), "--round", DEFAULT_ROUND, "--division", CO])
    return Path(data["forms"][0]["path"])


@pytest.fixture(scope="module")
def form(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _new_form(tmp_path_factory.mktemp("selfcheck") / "work")


def _places(form: Path) -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
    """(field key -> column letter, contact key -> cell, task id -> row) of a form."""
    meta = {
        r[0]: r[1] for r in openpyxl.load_workbook(form)[META_SHEET].iter_rows(values_only=True)
    }
    return json.loads(meta["columns"]), json.loads(meta["contact"]), task_rows(form)


def _checks(form: Path) -> dict[str, Any]:
    meta = {
        r[0]: r[1] for r in openpyxl.load_workbook(form)[META_SHEET].iter_rows(values_only=True)
    }
    return json.loads(meta["checks"])


def _flagged(form: Path, saved: Any) -> set[str]:
    """The input cells the flag sheet of `saved` (a copy of `form`, values read) says break a
    rule: a task row's cells by the bits of its mask, a contact cell by its 1."""
    columns, contact_cells, rows = _places(form)
    checks = _checks(form)
    flags = saved[CHECK_SHEET]
    out = set()
    for r in rows.values():
        mask = flags[f"{checks['mask']}{r}"].value or 0
        out |= {f"{columns[k]}{r}" for k, bit in checks["bits"].items() if int(mask) & bit}
        # the row's count, which the check line sums, counts the same bits
        assert (flags[f"{checks['count']}{r}"].value or 0) == int(mask).bit_count(), r
    out |= {ref for ref in contact_cells.values() if flags[ref].value == 1}
    return out


def _case_values(form: Path, task: dict[str, Any], contact: dict[str, Any]) -> tuple[Any, Any]:
    values = complete_values(form)
    first = next(iter(values))
    values[first].update(task)
    return values, {**CONTACT, **contact}


def _key(label: str) -> str:
    return next(f.key for f in (*SETTINGS.fields, *SETTINGS.contact) if f.label == label)


def _twin(form: Path, values: Any, contact: Any) -> set[str]:
    """The cells selfcheck.breaks calls wrong, for these answers."""
    columns, contact_cells, rows = _places(form)
    out = set()
    for tid, answers in values.items():
        row: dict[str, Any] = {}
        formatted: set[str] = set()
        for label, value in answers.items():
            if isinstance(value, dict):
                value, _ = TYPED[value["typed"]]
                formatted.add(_key(label))
            row[_key(label)] = value
        for f in SETTINGS.fields:
            if breaks(f, row.get(f.key), row, SETTINGS, f.key in formatted):
                out.add(f"{columns[f.key]}{rows[tid]}")
    said = {_key(label): v for label, v in contact.items()}
    for f in SETTINGS.contact:
        if breaks(f, said.get(f.key), said, SETTINGS):
            out.add(contact_cells[f.key])
    return out


def _collect_errors(root: Path) -> dict[str, set[str]]:
    """The cells collect finds wrong in each file of the inbox, by file name."""
    report = run_json(["collect", "-w", str(root), "--round", DEFAULT_ROUND, "--no-receipts"])
    return {
        Path(f["path"]).stem: {
            i["cell"] for i in f["issues"] if i["severity"] == "error" and i["code"] in RULES
        }
        for f in report["files"]
    }


def _fill_with_openpyxl(form: Path, out: Path, values: Any, contact: Any) -> None:
    typed: list[tuple[str, str, str]] = []  # (task, label, text) typed as a person would
    plain = {tid: dict(answers) for tid, answers in values.items()}
    for tid, answers in values.items():
        for label, value in answers.items():
            if isinstance(value, dict):
                typed.append((tid, label, value["typed"]))
                plain[tid][label] = None
    rows = task_rows(form)
    columns = _places(form)[0]

    def type_in(wb: Any) -> None:
        for tid, label, text in typed:
            number, fmt = TYPED[text]
            cell = wb[TASK_SHEET][f"{columns[_key(label)]}{rows[tid]}"]
            cell.value, cell.number_format = number, fmt

    fill(form, out, plain, contact, edit=type_in)


def test_the_form_and_collect_agree_on_every_case(form: Path, tmp_path: Path) -> None:
    root = form.parents[3]
    inbox = root / "inbox"
    expected = {}
    for name, task, contact, wrong in CASES:
        values, said = _case_values(form, task, contact)
        _fill_with_openpyxl(form, inbox / f"{name}.xlsx", values, said)
        expected[name] = _twin(form, values, said)
        assert len(expected[name]) == wrong, (name, expected[name])
    errors = _collect_errors(root)
    for name, *_ in CASES:
        assert errors[name] == expected[name], name


def test_the_generated_form_says_what_is_missing(form: Path) -> None:
    wb = openpyxl.load_workbook(form)
    sheet = wb[TASK_SHEET]
    tasks = len(task_rows(form))
    required = sum(f.required for f in SETTINGS.fields)
    contact = sum(f.required for f in SETTINGS.contact)
    (line,) = [c for c in sheet[3] if c.value is not None]
    assert line.value.startswith("=IF(SUM('_xlflow_check'!")
    # the value a reader that does not recalculate sees (XlsxWriter's cached result)
    cached = openpyxl.load_workbook(form, data_only=True)[TASK_SHEET][line.coordinate].value
    assert cached == remaining(tasks * required + contact)
    assert line.protection.locked
    # formulas only in locked cells: the check line, and the flags on their own sheet
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                assert cell.protection.locked, cell.coordinate
    flags = wb[CHECK_SHEET]
    assert flags.sheet_state == "veryHidden" and flags.protection.sheet
    columns, contact_cells, rows = _places(form)
    checks = _checks(form)
    # each task row: one number of bits, one bit per field that can break a rule, and the
    # count of them in column A, inside the area the check line sums; the contact block's
    # flags at the contact cells' own addresses
    same_row = {f.key: "X1" for f in SETTINGS.fields}
    can_break = {
        f.key for f in SETTINGS.fields if breaks_formula(f, "X1", same_row, SETTINGS) != "FALSE"
    }  # fmt: skip
    assert set(checks["bits"]) == can_break and can_break < {f.key for f in SETTINGS.fields}
    assert len(set(checks["bits"].values())) == len(can_break)
    last = max(openpyxl.utils.column_index_from_string(c) for c in columns.values())
    summed = {
        c.coordinate for row in flags.iter_rows(max_col=last) for c in row if c.value is not None
    }
    assert summed == {f"{checks['count']}{r}" for r in rows.values()} | set(contact_cells.values())
    for r in rows.values():
        assert flags[f"{checks['mask']}{r}"].value.startswith("=IF(")
    cached = openpyxl.load_workbook(form, data_only=True)
    assert len(_flagged(form, cached)) == tasks * required + contact
    # a plain 0, no formula, only where nothing can break: an optional contact cell with no
    # rule
    free_contact = {
        contact_cells[f.key] for f in SETTINGS.contact
        if breaks_formula(f, "X1", {}, SETTINGS) == "FALSE"
    }  # fmt: skip
    constant = {ref for ref in contact_cells.values() if flags[ref].value == 0}
    assert constant == free_contact
    # every input column that can break a rule, and each contact cell, turns red by a
    # formula that reads its bit
    ranges = {
        str(r.sqref): [f for rule in r.rules for f in rule.formula]
        for r in sheet.conditional_formatting
    }
    for key in can_break:
        (formulas,) = [
            f for s, f in ranges.items() if s.startswith(f"{columns[key]}{min(rows.values())}:")
        ]
        assert f"{checks['mask']}{min(rows.values())}" in formulas[0], key
    for ref in contact_cells.values():
        assert any(s.startswith(ref) for s in ranges), ref
    notes = "\n".join(str(c.value) for row in wb["填报说明"].iter_rows() for c in row if c.value)
    assert "标红" in notes


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
        st.integers(min_value=-1000, max_value=1000),
        st.sampled_from(["80%", "150%", "０.５", "abc", "", "  ", "1", "100", "-0", "1e2"]),
        st.text(alphabet="0123456789.%-, 　a", max_size=6),
    ),
    formatted=st.booleans(),
    status=st.sampled_from(["已完成", "按计划推进", "进度滞后", "未启动"]),
)
def test_the_twin_and_collect_agree_on_a_percent(value: Any, formatted: bool, status: str) -> None:
    """For any value in a percent cell, breaks() is True exactly where collect errs."""
    f = SETTINGS.percent_field
    assert f is not None
    normal, issues = normalise_value(
        f, value, {}, "x", lambda: formatted, {"__status": status}, SETTINGS.status_order[0]
    )
    collect_errs = any(i.severity.value == "error" for i in issues) or (
        normal is None and not issues and f.required
    )
    row = {SETTINGS.status.field: status}
    if isinstance(value, float) and not math.isfinite(value):
        return
    assert breaks(f, value, row, SETTINGS, formatted) == collect_errs, (value, normal, issues)


# --- in LibreOffice: what the division sees while typing ---


def _office_cells(form: Path, values: Any, contact: Any) -> dict[str, Any]:
    columns, contact_cells, rows = _places(form)
    cells: dict[str, Any] = {}
    for tid, answers in values.items():
        for label, value in answers.items():
            cells[f"{columns[_key(label)]}{rows[tid]}"] = value
    for label, value in contact.items():
        cells[contact_cells[_key(label)]] = value
    return cells


def _every_case_in_libreoffice(
    form: Path, source: Path, tmp_path: Path
) -> tuple[list[Job], dict[str, set[str]]]:
    """Every case typed into `source` (the form, or a variant of it) and recalculated in
    LibreOffice: the jobs, and the cells collect's twin flags for each case on `form`."""
    jobs, expected = [], {}
    for name, task, contact, _ in CASES:
        values, said = _case_values(form, task, contact)
        expected[name] = _twin(form, values, said)
        cells = _office_cells(form, values, said)
        jobs.append(
            Job(source, tmp_path / f"{name}.xlsx", [{"sheet": TASK_SHEET, "cells": cells}],
                recalculate=True)
        )  # fmt: skip
    results = run_batch(jobs)
    assert all(r["ok"] for r in results), results
    return jobs, expected


@needs_office[0]
@needs_office[1]
def test_libreoffice_computes_what_collect_says(tmp_path: Path) -> None:
    form = _new_form(tmp_path / "work")
    jobs, expected = _every_case_in_libreoffice(form, form, tmp_path)
    home = form.parents[3]
    for job in jobs:
        saved = openpyxl.load_workbook(job.out, data_only=True)
        name = job.out.stem
        flagged = _flagged(form, saved)
        assert flagged == expected[name], name
        line = next(c.value for c in saved[TASK_SHEET][3] if c.value is not None)
        # rows that are right but want a word (amber, not red): lagging without a reason,
        # and 已完成 at the 60 % every case answers (tests/test_plausibility.py has the rules)
        asked = 1 if name in ("lagging without a reason", "status between spaces") else 0
        assert line == remaining(len(flagged), asked), name
        shutil.copy(job.out, home / "inbox" / job.out.name)
    errors = _collect_errors(home)
    for name, *_ in CASES:
        assert errors[name] == expected[name], name
    # a half-filled form, as a division sees it
    half = [j for j in jobs if j.out.stem == "lagging without a reason"]
    shown = run_batch([Job(half[0].out, tmp_path / "half.pdf")])
    assert shown[0]["ok"]
    assert to_png(tmp_path / "half.pdf", artifacts_dir() / "selfcheck", dpi=70)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789０５-（）() +转分机ext.\u3000\nx", min_size=0, max_size=24))
def test_the_form_and_collect_read_a_phone_alike(text: str) -> None:
    """collect's phone rule is the form's (one function), and blank is required-missing."""
    phone = next(f for f in SETTINGS.contact if f.type == "phone")
    _, issues = normalise_value(phone, text, {}, "x", lambda: False, {}, "")
    collect_errs = any(i.severity.value == "error" for i in issues) or (
        not text.strip() and phone.required
    )
    assert breaks(phone, text, {}, SETTINGS) == collect_errs, text


def test_the_flag_formulas_need_none_of_xlsxwriters_preparation(form: Path) -> None:
    """The flag sheet and the task sheet skip XlsxWriter's passes for newer Excel functions
    (for speed): every formula in them, in a cell or a conditional format, must be one
    those passes would leave as it is, and none a dynamic array."""
    from xlsxwriter.worksheet import Worksheet, re_dynamic_function

    prepare = Worksheet()._prepare_formula
    wb = openpyxl.load_workbook(form)
    flags, task = wb[CHECK_SHEET], wb[TASK_SHEET]
    formulas = [
        c.value for sheet in (flags, task) for row in sheet.iter_rows() for c in row
        if isinstance(c.value, str) and c.data_type == "f"
    ]  # fmt: skip
    rules = [f for r in task.conditional_formatting for rule in r.rules for f in rule.formula]
    assert len(formulas) > 40 and len(rules) > 5
    for formula in formulas + rules:
        assert prepare(formula, expand_future_functions=True) == formula.removeprefix("=")
        assert not re_dynamic_function.search(formula), formula
        assert not formula.startswith("{"), formula  # an array formula


def _without_cell(form: Path, out: Path) -> Path:
    """The form as a client without CELL() computes it: every CELL( in its formulas is
    replaced by a function no spreadsheet has, which evaluates to an error (#NAME?)."""
    import zipfile

    with zipfile.ZipFile(form) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    changed = 0
    for name, data in parts.items():
        if name.startswith("xl/worksheets/") and b"CELL(" in data:
            changed += data.count(b"CELL(")
            parts[name] = data.replace(b"CELL(", b"XLFLOWNOCELL(")
    assert changed, "the form's flags use CELL()"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return out


@needs_office[0]
@needs_office[1]
def test_a_client_without_cell_shows_no_error_and_no_wrong_flag(tmp_path: Path) -> None:
    """Issue #40: Excel for the web, Excel Mobile and Excel Starter have no CELL(). With it
    made an error, recalculated in LibreOffice, every flag and the check line hold what they
    hold with it: no #NAME?, #VALUE! or #N/A anywhere a division looks, no cell red wrongly."""
    form = _new_form(tmp_path / "work")
    blind = _without_cell(form, tmp_path / "no-cell.xlsx")
    jobs, expected = _every_case_in_libreoffice(form, blind, tmp_path)
    errors = ("#NAME?", "#VALUE!", "#N/A", "#REF!", "Err:")
    for job in jobs:
        saved = openpyxl.load_workbook(job.out, data_only=True)
        name = job.out.stem
        last = max(openpyxl.utils.column_index_from_string(c) for c in _places(form)[0].values())
        # what a division sees: the task sheet, and the flags its red cells and check line
        # read: the counts and contact flags, and each row's bits (beside them, on the
        # hidden sheet, each number's value is an error where the text is no number, by
        # design)
        mask = _checks(form)["mask"]
        shown = [
            *(c.value for row in saved[TASK_SHEET].iter_rows() for c in row),
            *(c.value for row in saved[CHECK_SHEET].iter_rows(max_col=last) for c in row),
            *(saved[CHECK_SHEET][f"{mask}{r}"].value for r in _places(form)[2].values()),
        ]
        assert not [v for v in shown if isinstance(v, str) and v.startswith(errors)], name
        flagged = _flagged(form, saved)
        if name in ONLY_CELL_SEES:
            # a percent format only CELL can see: the form checks less, never wrongly, and
            # collect's verdict, which reads the format itself, stays the rule
            assert flagged < expected[name], name
        else:
            assert flagged == expected[name], name
        line = next(c.value for c in saved[TASK_SHEET][3] if c.value is not None)
        asked = 1 if name in ("lagging without a reason", "status between spaces") else 0
        assert line == remaining(len(flagged), asked), name


# the cases whose flag rests on a cell's percent format, which only CELL("format") shows
ONLY_CELL_SEES = {"percent typed 150%"}
