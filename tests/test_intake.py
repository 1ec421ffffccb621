"""collect: identify, validate and give every returned file a verdict."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName

from xlflow.intake.collect import collect
from xlflow.issues import Verdict
from xlflow.workspace import Workspace

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    TASK_SHEET,
    complete_values,
    fill,
    fill_complete,
    header_columns,
    run,
    run_json,
    set_mtime,
    task_rows,
    tree_digest,
)

PLAN = "政策规划处"  # tasks 5 (lead), 6 (co-operating), 22 (co-operating)
CO = "创新平台与合作处"


def _collect(ws: Path) -> dict[str, Any]:
    return run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])


def _by_path(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in report["files"]}


def _codes(entry: dict[str, Any]) -> list[str]:
    return [i["code"] for i in entry["issues"]]


def test_all_divisions_accepted_and_inbox_untouched(ws: Path, forms: dict[str, Path]) -> None:
    for n, (division, form) in enumerate(forms.items()):
        fill_complete(form, ws / "inbox" / f"{division}.xlsx")
        set_mtime(ws / "inbox" / f"{division}.xlsx", time.time() - 1000 + n)
    before = tree_digest(ws / "inbox")
    report = _collect(ws)
    assert tree_digest(ws / "inbox") == before
    assert report["missing"] == []
    assert {f["verdict"] for f in report["files"]} == {"accepted"}
    assert {f["division"] for f in report["files"]} == set(forms)
    receipts = sorted(p.name for p in (ws / "outbox" / DEFAULT_ROUND / "receipts").iterdir())
    assert receipts == sorted(f"{d}-回执.xlsx" for d in forms)


def test_renamed_reordered_and_percent_forms(ws: Path, forms: dict[str, Path]) -> None:
    form = forms[CO]
    values = complete_values(form)
    values["5"]["完成进度(%)"] = "80%"
    values["6"]["完成进度(%)"] = "８０"
    values["7"]["完成进度(%)"] = " 80 "
    values["8"]["完成进度(%)"] = 0.8
    values["9"]["完成进度(%)"] = 0.8
    values["20"]["完成状态"] = " 已完成 "
    values["20"]["完成进度(%)"] = 100

    def reorder_and_format(wb: Any) -> None:
        sheet = wb[TASK_SHEET]
        rows = task_rows(form)
        a, b = rows["5"], rows["24"]
        for col in range(1, sheet.max_column + 1):
            x, y = sheet.cell(a, col), sheet.cell(b, col)
            x.value, y.value = y.value, x.value
        # 0.8 typed as 80% in Excel: a fraction with a percent format
        header = header_columns(sheet)
        sheet.cell(rows["9"], header["完成进度(%)"]).number_format = "0%"

    name = "回复：关于报送重点任务进展的通知(1).xlsx"
    fill(form, ws / "inbox" / name, values, GOOD_CONTACT, edit=reorder_and_format)
    entry = _by_path(_collect(ws))[name]
    assert entry["division"] == CO and entry["verdict"] == "accepted", entry["issues"]
    record = Workspace.open(ws)
    from xlflow.ledger.book import Ledger

    with Ledger(record.ledger_path) as ledger:
        (row,) = ledger.accepted(DEFAULT_ROUND)
    percents = {t: v["percent"] for t, v in row.values.items()}
    assert percents == {t: 80 for t in ("5", "6", "7", "8", "9")} | {"20": 100, "21": 60, "24": 60}
    assert row.values["20"]["status"] == "已完成"
    ambiguous = [i for i in entry["issues"] if i["code"] == "percent-ambiguous"]
    assert [i["task_id"] for i in ambiguous] == ["8"]  # 0.8 with no % format, and only that one


def test_newer_resubmission_counts_by_time_not_name(ws: Path, forms: dict[str, Path]) -> None:
    first = fill_complete(forms[PLAN], ws / "inbox" / "z-政策规划处.xlsx")
    second = fill_complete(forms[PLAN], ws / "inbox" / "a-政策规划处-更正.xlsx", status="已完成")
    set_mtime(first, time.time() - 3600)
    set_mtime(second, time.time() - 60)
    files = _by_path(_collect(ws))
    assert files["a-政策规划处-更正.xlsx"]["verdict"] == "accepted"
    assert files["z-政策规划处.xlsx"]["verdict"] == "superseded"
    ws_obj = Workspace.open(ws)
    from xlflow.ledger.book import Ledger

    with Ledger(ws_obj.ledger_path) as ledger:
        old = next(f for f in ledger.files(DEFAULT_ROUND) if f.path == "z-政策规划处.xlsx")
    assert old.superseded_by == "a-政策规划处-更正.xlsx"


def test_exact_duplicate(ws: Path, forms: dict[str, Path]) -> None:
    original = fill_complete(forms[PLAN], ws / "inbox" / "政策规划处.xlsx")
    set_mtime(original, time.time() - 100)
    copy = ws / "inbox" / "again" / "政策规划处(2).xlsx"
    copy.parent.mkdir()
    copy.write_bytes(original.read_bytes())
    files = _by_path(_collect(ws))
    assert files["政策规划处.xlsx"]["verdict"] == "accepted"
    assert files["again/政策规划处(2).xlsx"]["verdict"] == "duplicate"


def _rewrite_identity(wb: Any, division: str) -> None:
    meta = wb["_xlflow"]
    for row in meta.iter_rows():
        if row[0].value == "division":
            row[1].value = division
    del wb.defined_names["xlflow_division"]
    wb.defined_names["xlflow_division"] = DefinedName("xlflow_division", attr_text=f'"{division}"')
    for prop in wb.custom_doc_props.props:
        if prop.name == "xlflow.division":
            prop.value = division


def test_forged_division_is_rejected(ws: Path, forms: dict[str, Path]) -> None:
    fill_complete(
        forms[PLAN],
        ws / "inbox" / "外国专家局.xlsx",
        edit=lambda wb: _rewrite_identity(wb, "外国专家局"),
    )
    entry = _by_path(_collect(ws))["外国专家局.xlsx"]
    assert entry["verdict"] == "rejected"
    assert _codes(entry) == ["signature-invalid"]
    assert "外国专家局" in entry["issues"][0]["message"]


def test_a_copy_naming_another_division_is_a_warning_when_the_signed_one_verifies(
    ws: Path, forms: dict[str, Path]
) -> None:
    """The verified signature decides: the names and properties still carry PLAN's signed
    identity, so the file is PLAN's; the edited sheet copy is named to the coordinator."""

    def only_sheet(wb: Any) -> None:
        for row in wb["_xlflow"].iter_rows():
            if row[0].value == "division":
                row[1].value = "外国专家局"

    fill_complete(forms[PLAN], ws / "inbox" / "x.xlsx", edit=only_sheet)
    entry = _by_path(_collect(ws))["x.xlsx"]
    assert entry["verdict"] == "accepted" and entry["division"] == PLAN
    (note,) = [i for i in entry["issues"] if i["code"] == "metadata-copy-differs"]
    assert note["severity"] == "warning"
    assert PLAN in note["message"] and "外国专家局" in note["message"]
    # for the coordinator only: the division's receipt does not mention it
    receipt = ws / "outbox" / DEFAULT_ROUND / "receipts" / f"{PLAN}-回执.xlsx"
    shown = [
        str(c.value)
        for sheet in openpyxl.load_workbook(receipt).worksheets
        for row in sheet.iter_rows()
        for c in row
        if c.value
    ]
    assert not any("识别信息" in t for t in shown)


def test_copies_that_disagree_with_none_verifying_are_a_conflict(
    ws: Path, forms: dict[str, Path]
) -> None:
    def two_ways(wb: Any) -> None:
        for row in wb["_xlflow"].iter_rows():
            if row[0].value == "division":
                row[1].value = "外国专家局"
            if row[0].value == "signature":
                row[1].value = "0" * 64
        wb.custom_doc_props.props = []  # and no other copy to fall back on
        for name in list(wb.defined_names):
            if name.startswith("xlflow_signature"):
                del wb.defined_names[name]

    fill_complete(forms[PLAN], ws / "inbox" / "x.xlsx", edit=two_ways)
    entry = _by_path(_collect(ws))["x.xlsx"]
    assert entry["verdict"] == "rejected"
    assert _codes(entry) == ["metadata-conflict"], _codes(entry)


def test_edited_task_text_names_cell_and_original(ws: Path, forms: dict[str, Path]) -> None:
    def edit_text(wb: Any) -> None:
        sheet = wb[TASK_SHEET]
        header = header_columns(sheet)
        r = task_rows(forms[PLAN])["5"]
        sheet.cell(r, header["2019年目标"]).value = "推进建设（已降低目标）"

    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx", edit=edit_text)
    entry = _by_path(_collect(ws))["p.xlsx"]
    assert entry["verdict"] == "rejected"
    (issue,) = [i for i in entry["issues"] if i["code"] == "readonly-edited"]
    assert issue["cell"] == f"F{task_rows(forms[PLAN])['5']}" and issue["task_id"] == "5"
    assert "原文为：“推进落地建设”" in issue["message"]


def test_wrong_round(ws: Path, forms: dict[str, Path]) -> None:
    other = run_json(["generate", "-w", str(ws), "--round", "2019-H2", "--division", PLAN])
    fill_complete(Path(other["forms"][0]["path"]), ws / "inbox" / "下半年.xlsx")
    entry = _by_path(_collect(ws))["下半年.xlsx"]
    assert entry["verdict"] == "rejected" and _codes(entry) == ["wrong-round"]
    assert "2019-H2" in entry["issues"][0]["message"]


def test_rows_deleted_foreign_blank_and_notes(ws: Path, forms: dict[str, Path]) -> None:
    def mangle(wb: Any) -> None:
        sheet = wb[TASK_SHEET]
        rows = task_rows(forms[PLAN])
        header = header_columns(sheet)
        sheet.cell(rows["6"], header["序号"]).value = "7"  # a task of another division
        sheet.insert_rows(rows["22"])  # a blank row
        sheet.insert_rows(rows["22"])
        sheet.cell(rows["22"], header["进展情况"]).value = "补充说明：另有三项工作"

    values = complete_values(forms[PLAN])
    fill(forms[PLAN], ws / "inbox" / "p.xlsx", values, GOOD_CONTACT, edit=mangle)
    entry = _by_path(_collect(ws))["p.xlsx"]
    codes = _codes(entry)
    assert "task-foreign" in codes and "task-missing" in codes and "extra-row" in codes
    missing = next(i for i in entry["issues"] if i["code"] == "task-missing")
    assert missing["task_id"] == "6" and "推进已落地研究院发展" in missing["message"]
    foreign = next(i for i in entry["issues"] if i["code"] == "task-foreign")
    assert foreign["task_id"] == "7" and foreign["cell"] == f"A{task_rows(forms[PLAN])['6']}"
    extra = next(i for i in entry["issues"] if i["code"] == "extra-row")
    assert "补充说明" in extra["message"] and extra["severity"] == "warning"
    assert entry["verdict"] == "rejected"


def test_fill_in_rules_are_all_reported(ws: Path, forms: dict[str, Path]) -> None:
    values = complete_values(forms[CO])
    values["5"]["完成状态"] = "完成了"
    values["6"]["完成进度(%)"] = 150
    values["7"]["完成进度(%)"] = "大约一半"
    values["8"]["进展情况"] = None
    values["9"]["完成状态"] = "进度滞后"
    values["9"]["存在问题"] = None
    values["20"]["进展情况"] = "很" * 2001
    values["21"]["完成状态"] = None
    contact = {"填报人": None, "联系电话": "找我"}
    fill(forms[CO], ws / "inbox" / "c.xlsx", values, contact)
    entry = _by_path(_collect(ws))["c.xlsx"]
    got = {(i["code"], i["task_id"], i["cell"]) for i in entry["issues"]}
    rows = task_rows(forms[CO])
    assert ("choice-not-allowed", "5", f"G{rows['5']}") in got
    assert ("out-of-range", "6", f"H{rows['6']}") in got
    assert ("not-a-number", "7", f"H{rows['7']}") in got
    assert ("required-missing", "8", f"I{rows['8']}") in got
    # lagging without a reason: explained in 说明 (column L), not refused
    assert ("needs-explanation", "9", f"L{rows['9']}") in got
    assert ("too-long", "20", f"I{rows['20']}") in got
    assert ("required-missing", "21", f"G{rows['21']}") in got
    assert any(c == "contact-missing" for c, _, _ in got)
    assert any(c == "phone-invalid" for c, _, _ in got)
    assert entry["verdict"] == "rejected"
    assert all(i["message"] for i in entry["issues"])


def test_formulas_cached_value_counts_and_missing_value_is_an_error(
    ws: Path, forms: dict[str, Path]
) -> None:
    values = complete_values(forms[PLAN])
    values["5"]["完成进度(%)"] = "=40+40"  # openpyxl stores no cached value
    fill(forms[PLAN], ws / "inbox" / "p.xlsx", values, GOOD_CONTACT)
    entry = _by_path(_collect(ws))["p.xlsx"]
    (issue,) = [i for i in entry["issues"] if i["code"] == "formula-no-value"]
    assert issue["cell"] == f"H{task_rows(forms[PLAN])['5']}" and issue["task_id"] == "5"
    assert entry["verdict"] == "rejected"


def test_injection_looking_text_is_kept_verbatim(ws: Path, forms: dict[str, Path]) -> None:
    texts = ['=HYPERLINK("http://x","点我")', "+1-1", "-减少", "@SUM(1)", "=cmd|' /C calc'!A0"]

    def as_text(wb: Any) -> None:
        sheet = wb[TASK_SHEET]
        header = header_columns(sheet)
        for n, r in enumerate(task_rows(forms[CO]).values()):
            cell = sheet.cell(r, header["下步打算"])
            cell.value = texts[n % len(texts)]
            cell.data_type = "s"

    fill_complete(forms[CO], ws / "inbox" / "c.xlsx", edit=as_text)
    entry = _by_path(_collect(ws))["c.xlsx"]
    assert entry["verdict"] == "accepted", entry["issues"]
    from xlflow.ledger.book import Ledger

    with Ledger(Workspace.open(ws).ledger_path) as ledger:
        (row,) = ledger.accepted(DEFAULT_ROUND)
    got = [row.values[t]["next_steps"] for t in ("5", "6", "7", "8", "9")]
    assert got == texts


def test_metadata_gone_is_identified_by_content(ws: Path, forms: dict[str, Path]) -> None:
    filled = fill_complete(forms[CO], ws / "tmp.xlsx")
    source = openpyxl.load_workbook(filled)[TASK_SHEET]
    pasted = openpyxl.Workbook()
    sheet = pasted.active
    sheet.title = "Sheet1"
    for row in source.iter_rows():
        for cell in row:
            if cell.value is not None and not isinstance(cell, openpyxl.cell.cell.MergedCell):
                sheet.cell(cell.row, cell.column).value = cell.value
    pasted.save(ws / "inbox" / "新建 Microsoft Excel 工作表.xlsx")
    entry = _by_path(_collect(ws))["新建 Microsoft Excel 工作表.xlsx"]
    assert entry["division"] == CO
    assert entry["verdict"] == "accepted"
    assert _codes(entry) == ["identified-by-content"]


def test_only_the_task_and_identity_sheets_are_read(ws: Path, forms: dict[str, Path]) -> None:
    # a scratch sheet the division added, beyond the row limit, is not the return's business
    def scratch(wb: Any) -> None:
        wb.create_sheet("草稿").cell(20000, 1).value = "草稿"

    fill_complete(forms[CO], ws / "inbox" / "配合.xlsx", edit=scratch)
    entry = _by_path(_collect(ws))["配合.xlsx"]
    assert entry["verdict"] == "accepted", entry["issues"]
    assert entry["division"] == CO


def test_skipped_files_are_reported(ws: Path, forms: dict[str, Path]) -> None:
    inbox = ws / "inbox"
    (inbox / "~$政策规划处.xlsx").write_bytes(b"lock")
    (inbox / ".~lock.政策规划处.xlsx#").write_text("x")
    (inbox / ".hidden.xlsx").write_bytes(b"x")
    (inbox / "folder.xlsx").mkdir()
    (inbox / "说明.pdf").write_bytes(b"%PDF-1.4")
    (inbox / "附件.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    files = _by_path(_collect(ws))
    # an archive is opened: this one holds no spreadsheet
    assert "没有表格文件" in files["附件.zip"]["issues"][0]["message"]
    assert files["~$政策规划处.xlsx"]["issues"][0]["code"] == "skipped-lock-file"
    assert files[".~lock.政策规划处.xlsx#"]["issues"][0]["code"] == "skipped-lock-file"
    assert files[".hidden.xlsx"]["issues"][0]["code"] == "skipped-hidden"
    assert files["folder.xlsx"]["issues"][0]["code"] == "skipped-not-spreadsheet"
    assert files["说明.pdf"]["issues"][0]["code"] == "skipped-not-spreadsheet"
    assert {f["verdict"] for f in files.values()} == {"skipped"}


def test_rerun_is_idempotent_and_reads_nothing_again(ws: Path, forms: dict[str, Path]) -> None:
    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx")
    fill(forms[CO], ws / "inbox" / "c.xlsx", {}, {})
    first = collect(Workspace.open(ws), DEFAULT_ROUND)
    second = collect(Workspace.open(ws), DEFAULT_ROUND)
    assert first.reread == 2 and second.reread == 0
    assert [(f.path, f.verdict, f.issues) for f in first.files] == [
        (f.path, f.verdict, f.issues) for f in second.files
    ]
    receipt = ws / "outbox" / DEFAULT_ROUND / "receipts" / f"{PLAN}-回执.xlsx"
    stamp = receipt.stat().st_mtime_ns
    collect(Workspace.open(ws), DEFAULT_ROUND)
    assert receipt.stat().st_mtime_ns == stamp


def test_json_equals_library_report(ws: Path, forms: dict[str, Path]) -> None:
    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx")
    fill(forms[CO], ws / "inbox" / "c.xlsx", {}, {})
    from_cli = _collect(ws)
    from_library = collect(Workspace.open(ws), DEFAULT_ROUND).to_dict()
    assert from_cli == json.loads(json.dumps(from_library, ensure_ascii=False))
    assert set(from_cli) == {"round", "files", "missing"}
    entry = from_cli["files"][0]
    assert set(entry) == {"path", "sha256", "division", "verdict", "application", "issues"}
    issue = next(f for f in from_cli["files"] if f["issues"])["issues"][0]
    assert set(issue) == {"code", "severity", "sheet", "cell", "task_id", "division", "message"}


def test_ledger_and_archive(ws: Path, forms: dict[str, Path]) -> None:
    path = fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx")
    _collect(ws)
    db = sqlite3.connect(ws / ".xlflow" / "ledger.sqlite")
    row = db.execute(
        "SELECT path, size, sha256, mtime, division, round, verdict, vals FROM files"
    ).fetchone()
    import hashlib

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert row[:3] == ("p.xlsx", path.stat().st_size, sha)
    assert row[3] == pytest.approx(path.stat().st_mtime)
    assert row[4:7] == (PLAN, DEFAULT_ROUND, "accepted")
    assert json.loads(row[7])["5"]["status"] == "按计划推进"
    assert (ws / ".xlflow" / "archive" / f"{sha}.xlsx").read_bytes() == path.read_bytes()


def test_receipt_marks_problem_cells_with_comments(ws: Path, forms: dict[str, Path]) -> None:
    values = complete_values(forms[PLAN])
    values["6"]["完成状态"] = "完成"
    fill(forms[PLAN], ws / "inbox" / "p.xlsx", values, GOOD_CONTACT)
    _collect(ws)
    wb = openpyxl.load_workbook(ws / "outbox" / DEFAULT_ROUND / "receipts" / f"{PLAN}-回执.xlsx")
    assert wb.sheetnames[0] == "回执"
    summary = [c for row in wb["回执"].iter_rows(values_only=True) for c in row if c]
    assert any(isinstance(c, str) and c.startswith("未采用") for c in summary)
    assert any(isinstance(c, str) and "不是可选项" in c for c in summary)
    sheet = wb["报送内容"]
    header = {c.value: c.column for c in sheet[1]}
    ids = [sheet.cell(r, 1).value for r in range(2, 5)]
    r = ids.index("6") + 2
    cell = sheet.cell(r, header["完成状态"])
    assert cell.comment is not None and "不是可选项" in cell.comment.text
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")
    ok = sheet.cell(ids.index("5") + 2, header["完成状态"])
    assert ok.comment is None and ok.value == "按计划推进"


def test_accepted_receipt_says_so_plainly(ws: Path, forms: dict[str, Path]) -> None:
    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx")
    _collect(ws)
    wb = openpyxl.load_workbook(ws / "outbox" / DEFAULT_ROUND / "receipts" / f"{PLAN}-回执.xlsx")
    text = " ".join(str(c) for row in wb["回执"].iter_rows(values_only=True) for c in row if c)
    assert "已采用" in text and "经核验" in text
    # what was recorded, counted, instead of the values echoed back
    assert wb.sheetnames == ["回执"]
    assert "本处室 3 项任务的填报内容均已记录（完成状态：按计划推进 3 项）" in text


def test_a_receipt_with_reminders_marks_their_cells(ws: Path, forms: dict[str, Path]) -> None:
    values = complete_values(forms[PLAN])
    first = next(iter(values))
    values[first]["完成进度(%)"] = 0.6  # read as 60%, with a reminder: accepted
    fill(forms[PLAN], ws / "inbox" / "p.xlsx", values, GOOD_CONTACT)
    entry = _by_path(_collect(ws))["p.xlsx"]
    assert entry["verdict"] == "accepted" and entry["issues"]
    wb = openpyxl.load_workbook(ws / "outbox" / DEFAULT_ROUND / "receipts" / f"{PLAN}-回执.xlsx")
    assert wb.sheetnames == ["回执", "报送内容"]
    sheet = wb["报送内容"]
    header = {c.value: c.column for c in sheet[1]}
    row = next(r for r in range(2, 10) if sheet.cell(r, 1).value == first)
    cell = sheet.cell(row, header["完成进度(%)"])
    assert cell.fill.fgColor.rgb.endswith("FFEB9C") and cell.comment is not None


def test_cli_text_output_and_exit_code(ws: Path, forms: dict[str, Path]) -> None:
    fill(forms[PLAN], ws / "inbox" / "p.xlsx", {}, {})
    result = run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    assert result.exit_code == 0  # a rejection is a result, not a failure
    assert (
        "退回修改" in result.output
        and "尚未报送" in result.output
        and "回执已写入" in result.output
    )


def test_collect_unknown_round_is_exit_3(ws: Path) -> None:
    result = run(["collect", "-w", str(ws), "--round", "2030-H1"], expect=3)
    assert "还没有生成过填报表" in result.output


def test_a_division_speaks_only_for_its_tasks(ws: Path, forms: dict[str, Path]) -> None:
    values = complete_values(forms[PLAN])
    fill(forms[PLAN], ws / "inbox" / "p.xlsx", values, GOOD_CONTACT)
    _collect(ws)
    from xlflow.ledger.book import Ledger

    with Ledger(Workspace.open(ws).ledger_path) as ledger:
        (row,) = ledger.accepted(DEFAULT_ROUND)
    assert set(row.values) == {"5", "6", "22"}
    assert row.verdict == Verdict.ACCEPTED


def test_no_receipts_then_receipts_command(ws: Path, forms: dict[str, Path]) -> None:
    fill_complete(forms[PLAN], ws / "inbox" / "p.xlsx")
    report = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND, "--no-receipts"])
    assert report["files"][0]["verdict"] == "accepted"
    receipts = ws / "outbox" / DEFAULT_ROUND / "receipts"
    assert not receipts.exists()
    result = run(["receipts", "-w", str(ws), "--round", DEFAULT_ROUND])
    assert "回执 1 份" in result.output
    assert (receipts / f"{PLAN}-回执.xlsx").exists()


def test_text_widths_count_cjk_as_two() -> None:
    from xlflow.text import display_width, wrapped_lines

    assert display_width("abc") == 3
    assert display_width("重点任务") == 8
    assert display_width("“中”，") == 8  # curly quotes and full-width commas print wide
    assert display_width("第一行\nab") == 6
    assert wrapped_lines("重" * 20, 11) == 4  # 40 wide in 10-wide lines
    assert wrapped_lines("", 10) == 1


def test_progress_bar_only_for_many_files(capsys: pytest.CaptureFixture[str]) -> None:
    from xlflow.cli.rounds import _progress

    with _progress(True, "核验文件") as update:
        assert update is not None
        update(1, 3)
    assert capsys.readouterr().err == ""  # a few files: no bar
    with _progress(True, "核验文件") as update:
        assert update is not None
        for n in range(1, 61):
            update(n, 60)
    assert "核验文件" in capsys.readouterr().err
    with _progress(False, "核验文件") as update:
        assert update is None  # --json: nothing on the terminal
