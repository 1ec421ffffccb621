"""The hidden identity of a returned form, tampered with in all three of its copies (the
hidden sheet, the defined names and the custom properties) as a person editing them, or
a program of another version, would: each gets its own verdict and message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from .conftest import (
    DEFAULT_ROUND,
    fill_complete,
    header_columns,
    run_json,
    set_identity,
    task_rows,
)

PLAN = "政策规划处"


def _collect(ws: Path) -> dict[str, dict[str, Any]]:
    data = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    return {f["path"]: f for f in data["files"]}


@pytest.mark.parametrize(
    ("key", "value", "verdict", "code"),
    [
        ("schema", "2", "rejected", "schema-unsupported"),
        ("tasks", "不是 JSON", "rejected", "metadata-invalid"),
        ("tasks", '{"5": 1}', "rejected", "metadata-invalid"),
        ("tasks", "[true, false]", "rejected", "metadata-invalid"),
        ("columns", "[1, 2]", "accepted", "metadata-invalid"),
        ("contact", '{"填报人": 3}', "accepted", "metadata-invalid"),
    ],
)
def test_a_tampered_identity_gets_its_own_verdict(
    ws: Path, forms: dict[str, Path], key: str, value: str, verdict: str, code: str
) -> None:
    target = fill_complete(forms[PLAN], ws / "inbox" / "改过.xlsx")
    wb = openpyxl.load_workbook(target)
    set_identity(wb, key, value)
    wb.save(target)
    entry = _collect(ws)["改过.xlsx"]
    codes = [i["code"] for i in entry["issues"]]
    assert entry["verdict"] == verdict, entry["issues"]
    assert code in codes
    if code == "schema-unsupported":
        assert "schema 2" in entry["issues"][codes.index(code)]["message"]


def test_a_schema_written_as_a_number_is_the_same_schema(ws: Path, forms: dict[str, Path]) -> None:
    """WPS stores 1 typed into the hidden sheet as 1.0."""
    target = fill_complete(forms[PLAN], ws / "inbox" / "数字.xlsx")
    wb = openpyxl.load_workbook(target)
    set_identity(wb, "schema", "1.0")
    wb.save(target)
    assert _collect(ws)["数字.xlsx"]["verdict"] == "accepted"


def test_a_defined_name_reads_as_its_text_however_it_is_written() -> None:
    from xlflow.intake.identify import _joined, _unquote_name

    assert _unquote_name(' ="2019-H1" ') == "2019-H1"
    assert _unquote_name('"说""明"""') == '说"明"'
    assert _unquote_name("2019-H1") == "2019-H1"
    assert _unquote_name('"') == '"'
    # a value over Excel's 255 characters is kept as name, name_2, name_3 …
    names = {"xlflow_tasks": '="[""1"","', "xlflow_tasks_2": '"""2""]"', "xlflow_other": "x"}
    assert _joined(names, "xlflow_", "tasks", unquote=True) == '["1","2"]'
    assert _joined(names, "xlflow_", "round", unquote=True) is None
    assert _joined({"p.k": "a", "p.k_2": "b"}, "p.", "k", unquote=False) == "ab"


@pytest.mark.parametrize(
    ("key", "other", "what"), [("division", "外国专家局", "处室"), ("round", "2019-H2", "轮次")]
)
def test_one_copy_naming_another_division_or_round_is_a_note(
    ws: Path, forms: dict[str, Path], key: str, other: str, what: str
) -> None:
    """The signed copy decides; a custom property naming another division or round is a
    warning for the coordinator, beside any other (here: the hidden sheet shown)."""
    target = fill_complete(forms[PLAN], ws / "inbox" / "拼接.xlsx")
    wb = openpyxl.load_workbook(target)
    for prop in wb.custom_doc_props.props:
        if prop.name == f"xlflow.{key}":
            prop.value = other
    wb["_xlflow"].sheet_state = "visible"
    wb.save(target)
    entry = _collect(ws)["拼接.xlsx"]
    assert entry["verdict"] == "accepted" and entry["division"] == PLAN
    codes = [i["code"] for i in entry["issues"]]
    assert "metadata-visible" in codes
    (note,) = [i for i in entry["issues"] if i["code"] == "metadata-copy-differs"]
    signed = PLAN if key == "division" else DEFAULT_ROUND
    assert note["message"] == (
        f"文件中签名核验通过的识别信息（工作表）为“{signed}”，但另一份副本写的是别的{what}"
        f"（工作表：{signed}；定义名称：{signed}；文档属性：{other}）。"
        "已按签名核验通过的一份处理；请核实这份文件是否被拼接或改动过。"
    )


def test_a_form_of_another_round_says_so_in_full(ws: Path, forms: dict[str, Path]) -> None:
    later = run_json(["generate", "-w", str(ws), "--round", "2019-H2", "--division", PLAN])
    fill_complete(Path(later["forms"][0]["path"]), ws / "inbox" / "下一轮.xlsx")
    entry = _collect(ws)["下一轮.xlsx"]
    assert entry["verdict"] == "rejected"
    (issue,) = [i for i in entry["issues"] if i["code"] == "wrong-round"]
    assert issue["message"] == (
        "这是“2019-H2”轮次的填报表，本次收集的是“2019年上半年”（2019-H1）。"
        "请使用本轮次下发的表格重新填报。"
    )


def test_a_hint_left_out_entirely_is_no_problem(ws: Path, forms: dict[str, Path]) -> None:
    target = fill_complete(forms[PLAN], ws / "inbox" / "无提示.xlsx")
    wb = openpyxl.load_workbook(target)
    sheet = wb["_xlflow"]
    for row in list(sheet.iter_rows()):
        if row[0].value == "columns":
            sheet.delete_rows(row[0].row)
    wb.custom_doc_props.props = [p for p in wb.custom_doc_props.props if p.name != "xlflow.columns"]
    wb.save(target)
    entry = _collect(ws)["无提示.xlsx"]
    assert entry["verdict"] == "accepted"
    assert "metadata-invalid" not in [i["code"] for i in entry["issues"]]


def test_a_form_from_before_the_forms_were_made_again_is_an_old_form(
    ws: Path, forms: dict[str, Path]
) -> None:
    """Its signature verifies (it is this folder's), but the round's forms were generated
    again after the register gave the division another task: it keeps its division and is
    sent back as the old form it is."""
    old = fill_complete(forms[PLAN], ws / "inbox" / "旧表.xlsx")
    register = ws / "templates" / "key-task-list.xlsx"
    wb = openpyxl.load_workbook(register)
    sheet = wb.active
    assert sheet is not None
    for row in sheet.iter_rows(min_row=4):
        if row[0].value == 1:
            row[4].value = f"{row[4].value}、{PLAN}"
    wb.save(register)
    run_json(["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--division", PLAN])
    entry = _collect(ws)[old.name]
    assert entry["verdict"] == "rejected" and entry["division"] == PLAN
    (issue,) = [i for i in entry["issues"] if i["code"] == "signature-invalid"]
    assert issue["message"] == (
        f"文件是“{PLAN}”的表格，但与本轮次下发的表格不一致（可能是重新生成前的旧表）。请使用最新下发的表格。"
    )


def _pasted(form: Path, out: Path, ids: dict[str, str] | None = None) -> Path:
    """The task sheet's values typed into a new workbook: no identity anywhere."""
    source = openpyxl.load_workbook(form)["填报"]
    rows = task_rows(form)
    id_col = header_columns(source)["序号"]
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.title = "填报"
    for row in source.iter_rows():
        for cell in row:
            if cell.value is not None:
                sheet.cell(cell.row, cell.column, cell.value)
    for tid, new in (ids or {}).items():
        sheet.cell(rows[tid], id_col, new)
    wb.save(out)
    return out


def test_a_workbook_that_is_no_form_is_unidentified_and_says_what_to_do(
    ws: Path, forms: dict[str, Path]
) -> None:
    inbox = ws / "inbox"
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet["A1"] = "会议通知"
    wb.save(inbox / "通知.xlsx")
    # a pasted table whose task ids are no division's
    form = forms[PLAN]
    _pasted(form, inbox / "序号全改.xlsx", {t: str(900 + int(t)) for t in task_rows(form)})
    # the same table with its ids as sent: identified by content, with a warning
    _pasted(form, inbox / "粘贴.xlsx")
    files = _collect(ws)
    for name in ("通知.xlsx", "序号全改.xlsx"):
        entry = files[name]
        assert entry["verdict"] == "rejected"
        (issue,) = entry["issues"]
        assert issue["code"] == "unidentified"
        assert issue["message"].startswith("无法识别这是哪个处室的填报表")
        assert "请使用下发给本处室的原表填写后重新报送" in issue["message"]
    pasted = files["粘贴.xlsx"]
    assert pasted["division"] == PLAN
    notes = [i for i in pasted["issues"] if i["code"] == "identified-by-content"]
    assert len(notes) == 1 and f"已按任务序号和内容识别为“{PLAN}”" in notes[0]["message"]
