"""The real client: forms filled and saved in LibreOffice read back exactly.

Every division's form of the bundled register is typed into through LibreOffice (values
as a person types them, `80%` included) and saved as .xlsx, .xls and .ods. collect must
accept each, identified as the right division, with every value exactly as typed, and
merge must show them. What xlflow writes must open and print in LibreOffice, and keep
its dropdowns, protection and unlocked inputs through a LibreOffice save.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine

from xlflow.intake.collect import collect
from xlflow.register.init import init_workspace
from xlflow.workspace import Workspace

from .conftest import DEFAULT_ROUND, run, run_json, stored, task_rows
from .office import Job, artifacts_dir, needs_office, page_text, pdf_pages, run_batch, to_png

pytestmark = needs_office

FORMATS = ("xlsx", "xls", "ods")
STATUSES = ("按计划推进", "已完成", "进度滞后", "未启动")
CO = "创新平台与合作处"


def _layout(form: Path) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Columns by label, rows by task id and the contact input cells, as a person sees them."""
    wb = openpyxl.load_workbook(form)
    sheet = wb["填报"]
    header = next(
        r for r in sheet.iter_rows(min_row=1, max_row=10) if any(c.value == "序号" for c in r)
    )
    cols = {c.value: c.column for c in header if c.value}
    contact: dict[str, str] = {}
    for row in sheet.iter_rows(min_row=header[0].row + 1):
        for cell in row:
            if isinstance(cell.value, str) and "：" in cell.value and not cell.value[0].isdigit():
                label = cell.value.split("：")[0]
                for nxt in row[cell.column :]:
                    if nxt.protection.locked is False:
                        contact[label] = nxt.coordinate
                        break
    return cols, task_rows(form), contact


def _answers(
    division: str, form: Path, seed: int
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """Cells to type and the values collect must find, for one division."""
    cols, rows, contact_cells = _layout(form)
    letter = openpyxl.utils.get_column_letter
    cells: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for n, (tid, r) in enumerate(rows.items()):
        status = STATUSES[(n + seed) % len(STATUSES)]
        typed: Any
        if status == "已完成":
            typed, percent = 100, 100
        elif n % 3 == 0:
            typed, percent = {"typed": "80%"}, 80
        elif n % 3 == 1:
            typed, percent = {"typed": "45"}, 45
        else:
            typed, percent = 35, 35
        progress = (
            f"{division}承担的任务{tid}：\n一是完成专题调研，走访企业 {12 + n} 家；\n"
            f"二是出台配套政策，累计投入资金 {300 + 10 * n} 万元。\n"
            + "推进情况总体良好，"
            * (20 + n)
        )
        values = {"status": status, "percent": percent, "progress": progress}
        cells[f"{letter(cols['完成状态'])}{r}"] = status
        cells[f"{letter(cols['完成进度(%)'])}{r}"] = typed
        cells[f"{letter(cols['进展情况'])}{r}"] = progress
        if status == "进度滞后":
            problem = f"受疫情影响，任务{tid}的部分项目推迟开工（“三评一审”尚未完成）。"
            cells[f"{letter(cols['存在问题'])}{r}"] = problem
            values["problems"] = problem
        expected[tid] = values
    phone = "13805740001" if seed % 2 else "0574-87190001"
    cells[contact_cells["填报人"]] = f"{division[:2]}联络员"
    cells[contact_cells["联系电话"]] = {"typed": phone} if seed % 2 else phone
    contact = {"reporter": f"{division[:2]}联络员", "phone": phone}
    return [{"sheet": "填报", "cells": cells}], expected, contact


def _formula_answers(form: Path) -> tuple[list[dict[str, Any]], set[str], str]:
    """A complete return but for formulas whose result is no answer: an error in a percent,
    an error in a text, an empty string in a text, and a text built by a formula, which
    LibreOffice caches as the number 0 in an .xls. Then the cells refused in every format,
    and the cell of the text formula."""
    cells = _answers(CO, form, 0)[0][0]["cells"]
    cols, rows, _ = _layout(form)
    letter = openpyxl.utils.get_column_letter
    first, second = list(rows.values())[:2]
    refused = {
        f"{letter(cols['完成进度(%)'])}{first}": "=1/0",
        f"{letter(cols['进展情况'])}{first}": "=NA()",
        f"{letter(cols['进展情况'])}{second}": '=""',
    }
    text = f"{letter(cols['下步打算'])}{second}"
    formulas = {**refused, text: '=CONCATENATE("继续";"推进")'}
    return [{"sheet": "填报", "cells": {**cells, **formulas}}], set(refused), text


@pytest.fixture(scope="module")
def office_round(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("office")
    root = base / "work"
    init_workspace(root)
    data = run_json(
        ["generate", "-w", str(root), "--round", DEFAULT_ROUND, "--deadline", "2099-12-31"]
    )
    forms = {f["division"]: Path(f["path"]) for f in data["forms"]}
    jobs: list[Job] = []
    expected: dict[str, Any] = {}
    contacts: dict[str, Any] = {}
    for seed, (division, form) in enumerate(forms.items()):
        cells, expected[division], contacts[division] = _answers(division, form, seed)
        for fmt in FORMATS:
            jobs.append(Job(form, base / fmt / f"回复-{division}.{fmt}", cells))
    blank = base / "blank" / f"{CO}.xlsx"
    jobs.append(Job(forms[CO], blank))
    forced = base / "forced" / f"{CO}.xlsx"
    cols, rows, _ = _layout(forms[CO])
    target = f"{openpyxl.utils.get_column_letter(cols['2019年目标'])}{rows['7']}"
    jobs.append(
        Job(
            forms[CO],
            forced,
            [{"sheet": "填报", "cells": {target: "研究院累计达50家以上"}}],
            force=True,
        )
    )
    formulas, refused, text_formula = _formula_answers(forms[CO])
    for fmt in FORMATS:
        jobs.append(Job(forms[CO], base / "formulas" / f"{CO}.{fmt}", formulas))
    results = run_batch(jobs)
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    return {
        "refused_formulas": refused,
        "text_formula": text_formula,
        "base": base,
        "root": root,
        "forms": forms,
        "expected": expected,
        "contacts": contacts,
        "blank": blank,
        "forced": forced,
    }


def _workspace_with(office_round: dict[str, Any], name: str, files: list[Path]) -> Path:
    """A copy of the working folder (same ledger and secret) with these files in its inbox."""
    root = office_round["base"] / f"ws-{name}"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(office_round["root"], root)
    for f in files:
        shutil.copy2(f, root / "inbox" / f.name)
    return root


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_form_saved_by_libreoffice_is_accepted_exactly(
    office_round: dict[str, Any], fmt: str
) -> None:
    files = sorted((office_round["base"] / fmt).glob(f"*.{fmt}"))
    assert len(files) == 7
    root = _workspace_with(office_round, fmt, files)
    report = collect(Workspace.open(root), DEFAULT_ROUND)
    assert report.missing == ()
    for record in report.files:
        division = record.path.removeprefix("回复-").rsplit(".", 1)[0]
        assert record.division == division
        assert record.verdict.value == "accepted", [i.message for i in record.issues]
        assert record.format == fmt
        # typed "80%" is a percent, not an ambiguous fraction, in every format
        assert not [i for i in record.issues if i.code.value == "percent-ambiguous"]
        full = stored(root, DEFAULT_ROUND, record.path)
        for tid, values in office_round["expected"][division].items():
            assert full.values[tid] == values, (division, tid)
        assert full.contact == office_round["contacts"][division]
    data = run_json(["merge", "-w", str(root), "--round", DEFAULT_ROUND])
    assert data["accepted"] == 7 and data["missing"] == []
    with python_calamine.CalamineWorkbook.from_path(data["path"]) as book:
        detail = book.get_sheet_by_name("任务明细").to_python()
    header = next(i for i, row in enumerate(detail) if "序号" in row)
    cols = {name: i for i, name in enumerate(detail[header])}
    reg = run_json(["register", "-w", str(root)])
    for task, row in zip(reg["tasks"], detail[header + 1 : header + 25], strict=True):
        lead = task["lead"][0]
        want = office_round["expected"][lead][task["id"]]
        assert row[cols["完成状态"]] == want["status"]
        assert row[cols["完成进度(%)"]] == want["percent"]
        if len(task["lead"] + task["cooperating"]) == 1:
            assert row[cols["进展情况"]] == want["progress"]
        else:
            assert f"【{lead}】{want['progress']}" in row[cols["进展情况"]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_formula_without_a_usable_result_is_refused_alike_in_every_format(
    office_round: dict[str, Any], fmt: str
) -> None:
    """An error, an empty string, and (in .xls, where LibreOffice caches a formula's text
    as 0) a text result: each is formula-no-value on its cell, in all three formats."""
    path = office_round["base"] / "formulas" / f"{CO}.{fmt}"
    root = _workspace_with(office_round, f"formulas-{fmt}", [path])
    (record,) = collect(Workspace.open(root), DEFAULT_ROUND).files
    assert record.verdict.value == "rejected"
    refused = {i.cell for i in record.issues if i.code.value == "formula-no-value"}
    text_formula = office_round["text_formula"]
    expected = office_round["refused_formulas"] | ({text_formula} if fmt == "xls" else set())
    assert refused == expected, [(i.code.value, i.cell) for i in record.issues]
    if fmt != "xls":  # the text is cached as written, and taken with a warning
        used = {i.cell for i in record.issues if i.code.value == "formula-value-used"}
        assert text_formula in used
        second = list(task_rows(office_round["forms"][CO]))[1]
        assert stored(root, DEFAULT_ROUND, record.path).values[second]["next_steps"] == "继续推进"


def test_opened_and_saved_without_edits(office_round: dict[str, Any]) -> None:
    root = _workspace_with(office_round, "blank", [office_round["blank"]])
    report = collect(Workspace.open(root), DEFAULT_ROUND)
    (record,) = report.files
    assert record.division == CO  # recognised as the genuine form
    codes = {i.code.value for i in record.issues}
    assert codes <= {"required-missing", "contact-missing"}, codes
    missing = {(i.task_id, i.field) for i in record.issues if i.code.value == "required-missing"}
    tasks = task_rows(office_round["forms"][CO])
    assert missing == {(t, f) for t in tasks for f in ("status", "percent", "progress")}
    assert {i.field for i in record.issues if i.code.value == "contact-missing"} == {
        "reporter",
        "phone",
    }


def test_a_locked_cell_written_with_force_is_caught(office_round: dict[str, Any]) -> None:
    root = _workspace_with(office_round, "forced", [office_round["forced"]])
    report = collect(Workspace.open(root), DEFAULT_ROUND)
    (record,) = report.files
    assert record.verdict.value == "rejected"
    (edited,) = [i for i in record.issues if i.code.value == "readonly-edited"]
    assert edited.task_id == "7" and "研究院累计达65家以上" in edited.message


def test_protection_dropdowns_and_inputs_survive_a_libreoffice_save(
    office_round: dict[str, Any],
) -> None:
    saved = openpyxl.load_workbook(office_round["blank"])
    sheet = saved["填报"]
    assert sheet.protection.sheet is True
    lists = [dv for dv in sheet.data_validations.dataValidation if dv.type == "list"]
    assert len(lists) == 1 and "xlflow_list_status" in lists[0].formula1
    target = saved.defined_names["xlflow_list_status"].attr_text
    assert "选项" in target
    choices = [c.value for c in saved["选项"]["A"]][1:5]
    assert choices == ["已完成", "按计划推进", "进度滞后", "未启动"]
    assert {dv.type for dv in sheet.data_validations.dataValidation} >= {
        "list",
        "decimal",
        "textLength",
    }
    cols, rows, contact = _layout(office_round["forms"][CO])
    for tid, r in rows.items():
        for label in ("完成状态", "完成进度(%)", "进展情况", "存在问题", "下步打算"):
            assert sheet.cell(r, cols[label]).protection.locked is False, (tid, label)
        for label in ("序号", "主要内容", "2019年目标"):
            assert sheet.cell(r, cols[label]).protection.locked is not False, (tid, label)
    assert sheet[contact["填报人"]].protection.locked is False
    # the metadata sheet survives too, though LibreOffice turns veryHidden into hidden
    assert saved["_xlflow"].sheet_state in ("hidden", "veryHidden")


def test_everything_xlflow_writes_opens_and_prints(office_round: dict[str, Any]) -> None:
    """Forms, receipts and the consolidated workbook open in LibreOffice and print to PDF;
    the pages are rendered to PNG and kept for people to look at."""
    files = sorted((office_round["base"] / "xlsx").glob("*.xlsx"))
    root = _workspace_with(office_round, "print", files)
    collect(Workspace.open(root), DEFAULT_ROUND)
    merged = Path(run_json(["merge", "-w", str(root), "--round", DEFAULT_ROUND])["path"])
    receipts = sorted((root / "outbox" / DEFAULT_ROUND / "receipts").glob("*.xlsx"))
    forms = office_round["forms"]
    out = office_round["base"] / "pdf"
    # every receipt: most of them are written directly rather than through XlsxWriter
    targets = [forms[CO], forms["办公室"], forms["高新技术及产业化处"], *receipts, merged]
    jobs = [Job(p, out / f"{p.stem}.pdf") for p in targets]
    results = run_batch(jobs)
    assert all(r["ok"] for r in results), results
    keep = artifacts_dir()
    for job in jobs:
        pages = pdf_pages(job.out)
        assert pages >= 1
        for page in range(1, pages + 1):
            assert page_text(job.out, page).strip(), (job.out.name, page)
        pngs = to_png(job.out, keep)
        assert len(pngs) == pages
    for division in (CO, "办公室", "高新技术及产业化处"):
        pdf = out / f"{forms[division].stem}.pdf"
        tasks = len(task_rows(forms[division]))
        # instruction page and task table together: at most 2 landscape pages per 10 tasks
        assert pdf_pages(pdf) <= 2 * math.ceil(tasks / 10), (division, pdf_pages(pdf))
        assert "填报单位" in page_text(pdf, 2) or "填报单位" in page_text(pdf, 1)
    merged_pdf = out / f"{merged.stem}.pdf"
    first = page_text(merged_pdf, 1)
    assert "报送情况" in first and "任务完成状态" in first
    detail_pages = [
        p for p in range(1, pdf_pages(merged_pdf) + 1) if "明细表" in page_text(merged_pdf, p)
    ]
    assert detail_pages
    for p in range(1, pdf_pages(merged_pdf) + 1):
        # no page that holds a single column: every page shows several headers' worth of text
        assert len(page_text(merged_pdf, p).split()) > 5, p
    (keep / "office-renders.json").write_text(
        json.dumps([str(j.out) for j in jobs], ensure_ascii=False)
    )


def test_demo_uses_libreoffice_when_present(tmp_path: Path) -> None:
    result = run(["demo", str(tmp_path / "demo")])
    assert "由 LibreOffice 保存，同样被正确识别" in result.output
    status = run_json(["status", "-w", str(tmp_path / "demo"), "--round", "2019-H1"])
    co = next(d for d in status["divisions"] if d["division"] == CO)
    assert co["state"] == "accepted"


def test_xls_bytes_under_other_names(office_round: dict[str, Any]) -> None:
    """An old-format workbook renamed .xlsx, or saved by WPS as .et, is read by its content."""
    renamed = office_round["base"] / "renamed"
    renamed.mkdir(exist_ok=True)
    as_xlsx = renamed / f"{CO}.xlsx"
    as_et = renamed / "政策规划处-wps.et"
    shutil.copy2(office_round["base"] / "xls" / f"回复-{CO}.xls", as_xlsx)
    shutil.copy2(office_round["base"] / "xls" / "回复-政策规划处.xls", as_et)
    root = _workspace_with(office_round, "renamed", [as_xlsx, as_et])
    report = collect(Workspace.open(root), DEFAULT_ROUND)
    by = {f.path: f for f in report.files}
    mismatch = by[as_xlsx.name]
    assert (mismatch.format, mismatch.division, mismatch.verdict.value) == ("xls", CO, "accepted")
    assert [i.code.value for i in mismatch.issues] == ["extension-mismatch"], [
        i.message for i in mismatch.issues
    ]
    et = by[as_et.name]
    assert (et.format, et.division, et.verdict.value) == ("xls", "政策规划处", "accepted")
    assert not et.issues
