"""merge, status and demo: the consolidated workbook read back as leadership would see it."""

from __future__ import annotations

import datetime as dt
import importlib
import multiprocessing
import re
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import psutil
import pytest
import python_calamine

from . import companions
from .conftest import (
    DEADLINE,
    DEFAULT_ROUND,
    GOOD_CONTACT,
    complete_values,
    fill,
    run,
    run_json,
    set_mtime,
    task_rows,
)

PLAN = "政策规划处"
RES = "资源配置与诚信建设处"
CO = "创新平台与合作处"


def _round_with_returns(ws: Path, forms: dict[str, Path]) -> dict[str, dict[str, dict[str, Any]]]:
    """Every division but 办公室 returns; 政策规划处 and 资源配置 disagree on task 22."""
    sent: dict[str, dict[str, dict[str, Any]]] = {}
    for n, (division, form) in enumerate(forms.items()):
        if division == "办公室":
            continue
        values = complete_values(form)
        for k, tid in enumerate(values):
            values[tid]["完成进度(%)"] = 10 + k * 10
            values[tid]["进展情况"] = f"【{division}】就任务{tid}的进展：\n第二行=说明"
        if division == PLAN:
            values["22"]["完成状态"] = "已完成"
            values["22"]["完成进度(%)"] = 100
        sent[division] = values
        path = fill(form, ws / "inbox" / f"{division}.xlsx", values, GOOD_CONTACT)
        set_mtime(path, time.time() - 500 + n)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    return sent


def _two_rounds(ws: Path, forms: dict[str, Path]) -> None:
    """Round 2019-H1 as _round_with_returns leaves it, and 2019-H2 with every other
    division returning, so the workbook has a history sheet."""
    _round_with_returns(ws, forms)
    later = run_json(
        ["generate", "-w", str(ws), "--round", "2019-H2", "--prefill-from", DEFAULT_ROUND]
    )
    for n, form in enumerate(Path(f["path"]) for f in later["forms"]):
        if n % 2:
            values = complete_values(form, status="已完成", percent=100)
            fill(form, ws / "inbox" / f"H2-{n}.xlsx", values, GOOD_CONTACT)
    run(["collect", "-w", str(ws), "--round", "2019-H2"])


def _consolidate_module() -> Any:
    """The module that merges (`merge`, STREAM_ABOVE, LAY_OUT_APART_ABOVE): imported by
    name, as `from xlflow import merge` gives the function, which the package loads on
    first use (xlflow.__getattr__)."""
    return importlib.import_module("xlflow.reporting.workbook.book")


def _passes_module() -> Any:
    """The module of the task pass beside the writer (`start_companion`, `lay_out`)."""
    return importlib.import_module("xlflow.reporting.workbook.passes")


def _merge(ws: Path) -> tuple[dict[str, Any], Path]:
    data = run_json(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    return data, Path(data["path"])


def _header(sheet: Any, first: str) -> tuple[int, dict[str, int]]:
    for row in sheet.iter_rows(min_row=1, max_row=6):
        labels = {c.value: c.column for c in row if c.value}
        if first in labels:
            return row[0].row, labels
    raise AssertionError(first)


def test_merge_json_and_file_name(ws: Path, forms: dict[str, Path]) -> None:
    _round_with_returns(ws, forms)
    data, path = _merge(ws)
    assert set(data) == {
        "path", "round", "tasks", "accepted", "missing", "conflicts", "inline_strings", "note"
    }  # fmt: skip
    assert data["inline_strings"] is False and data["note"] == ""
    assert data["round"] == DEFAULT_ROUND and data["tasks"] == 24 and data["accepted"] == 6
    assert data["missing"] == ["办公室"] and data["conflicts"] == 1
    assert path.name == f"市科技局2019年上半年重点任务进展情况填报表-汇总-{DEFAULT_ROUND}.xlsx"
    assert path.parent == ws / "outbox" / DEFAULT_ROUND
    assert not list(path.parent.glob(".*.tmp"))


def test_a_title_naming_the_division_leaves_it_out_of_the_merged_file_name(ws: Path) -> None:
    toml = ws / "xlflow.toml"
    text = toml.read_text("utf-8")
    line = 'title = "{office}{round}重点任务进展情况填报表"'
    assert line in text
    toml.write_text(text.replace(line, 'title = "{office}{division}{round}填报表"'), "utf-8")
    run(["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", DEADLINE])
    _, path = _merge_of(ws, DEFAULT_ROUND)
    assert path.name == f"市科技局2019年上半年填报表-汇总-{DEFAULT_ROUND}.xlsx"


def test_detail_sheet_holds_what_was_filled(ws: Path, forms: dict[str, Path]) -> None:
    sent = _round_with_returns(ws, forms)
    _, path = _merge(ws)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:5] == ["总览", "任务明细", "未报送", "校验问题", "来源"]
    sheet = wb["任务明细"]
    header, cols = _header(sheet, "序号")
    ids = [sheet.cell(r, cols["序号"]).value for r in range(header + 1, sheet.max_row + 1)]
    assert ids == [str(n) for n in range(1, 25)]
    reg = run_json(["register", "-w", str(ws)])
    for r, task in zip(range(header + 1, header + 25), reg["tasks"], strict=True):
        lead = task["lead"][0]
        status = sheet.cell(r, cols["完成状态"]).value
        progress = sheet.cell(r, cols["进展情况"]).value or ""
        if lead == "办公室":
            assert status == "未报送"
            continue
        assert status == sent[lead][task["id"]]["完成状态"]
        assert sheet.cell(r, cols["完成进度(%)"]).value == sent[lead][task["id"]]["完成进度(%)"]
        text = sent[lead][task["id"]]["进展情况"]
        if len(task["lead"] + task["cooperating"]) > 1:
            assert f"【{lead}】{text}" in progress
        else:
            assert progress == text
        assert sheet.cell(r, cols["牵头处室"]).value == "\n".join(task["lead"])
    # the group is merged down its rows
    merged = [str(m) for m in sheet.merged_cells.ranges if m.min_col == 1 and m.max_row > m.min_row]
    assert len(merged) == 6
    assert sheet.auto_filter.ref and sheet.freeze_panes == f"C{header + 1}"


def test_conflict_flagged_in_row_and_problems(ws: Path, forms: dict[str, Path]) -> None:
    _round_with_returns(ws, forms)
    _, path = _merge(ws)
    wb = openpyxl.load_workbook(path)
    sheet = wb["任务明细"]
    header, cols = _header(sheet, "序号")
    row = next(
        r for r in range(header + 1, sheet.max_row + 1) if sheet.cell(r, cols["序号"]).value == "22"
    )
    assert sheet.cell(row, cols["完成状态"]).value == "按计划推进"  # the lead's
    note = sheet.cell(row, cols["备注"]).value
    assert "不一致" in note and "政策规划处（配合）：已完成" in note
    problems = wb["校验问题"]
    codes = [c.value for c in problems["F"]]
    assert "status-conflict" in codes


def test_missing_sheet_lists_divisions_and_rejections(ws: Path, forms: dict[str, Path]) -> None:
    values = complete_values(forms[RES])
    values["2"]["完成状态"] = "差不多了"
    fill(forms[RES], ws / "inbox" / "res.xlsx", values, GOOD_CONTACT)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    _, path = _merge(ws)
    sheet = openpyxl.load_workbook(path)["未报送"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0]}
    assert set(rows) == set(forms)
    assert (
        rows[RES][1] == "已退回修改" and "差不多了" in rows[RES][3] and "res.xlsx" in rows[RES][3]
    )
    assert rows["办公室"][1] == "未报送" and "24. 打响创新宁波名片（配合）" in rows["办公室"][2]


def test_no_division_text_is_a_formula(ws: Path, forms: dict[str, Path]) -> None:
    values = complete_values(forms[PLAN])
    values["5"]["进展情况"] = '=HYPERLINK("http://evil","点击")'
    values["6"]["存在问题"] = "+1-1"
    values["22"]["下步打算"] = "@SUM(1)"

    def as_text(wb: Any) -> None:
        sheet = wb["填报"]
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value[:1] in "=+@":
                    cell.data_type = "s"

    fill(forms[PLAN], ws / "inbox" / "p.xlsx", values, GOOD_CONTACT, edit=as_text)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    _, path = _merge(ws)
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert "<f>" not in zf.read(name).decode(), name
    wb = openpyxl.load_workbook(path)
    texts = [c.value for row in wb["任务明细"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.endswith('=HYPERLINK("http://evil","点击")') for t in texts)
    assert any(t.endswith("@SUM(1)") for t in texts)


def test_charts_and_print_settings(ws: Path, forms: dict[str, Path]) -> None:
    _round_with_returns(ws, forms)
    _, path = _merge(ws)
    with zipfile.ZipFile(path) as zf:
        charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 3  # statuses, groups, and the year's returns (考核情况)
        kinds = "".join(zf.read(n).decode() for n in charts)
        assert (
            "<c:pieChart>" in kinds
            and "<c:barChart>" in kinds
            and '<c:grouping val="stacked"/>' in kinds
        )
    wb = openpyxl.load_workbook(path)
    detail = wb["任务明细"]
    assert detail.page_setup.paperSize == 8 and detail.page_setup.orientation == "landscape"
    assert detail.sheet_properties.pageSetUpPr.fitToPage and detail.page_setup.fitToHeight == 0
    assert detail.print_title_rows
    assert "&P" in detail.oddFooter.center.text and "&N" in detail.oddFooter.center.text
    assert "2019年上半年" in detail.oddHeader.right.text
    for name in ("总览", "未报送", "校验问题", "来源"):
        sheet = wb[name]
        assert sheet.page_setup.paperSize == 9 and sheet.page_setup.orientation == "landscape", name
        assert "&P" in sheet.oddFooter.center.text, name


def _cells(path: Path) -> dict[str, list[list[Any]]]:
    with python_calamine.CalamineWorkbook.from_path(str(path)) as wb:
        return {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in wb.sheet_names}


def test_same_ledger_same_cells_including_the_time(ws: Path, forms: dict[str, Path]) -> None:
    _round_with_returns(ws, forms)
    _, path = _merge(ws)
    first = _cells(path)
    time.sleep(1.1)
    _, again = _merge(ws)
    assert _cells(again) == first
    overview = " ".join(str(c) for row in first["总览"] for c in row)
    stamp = re.search(r"汇总时间：(\S+ \S+)", overview)
    assert stamp is not None


def test_sources_sheet_lists_every_file(ws: Path, forms: dict[str, Path]) -> None:
    a = fill(forms[PLAN], ws / "inbox" / "a.xlsx", complete_values(forms[PLAN]), GOOD_CONTACT)
    b = ws / "inbox" / "b.xlsx"
    b.write_bytes(a.read_bytes())
    set_mtime(a, time.time() - 100)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    _, path = _merge(ws)
    sheet = openpyxl.load_workbook(path)["来源"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0]}
    assert (
        rows["a.xlsx"][3] == "已采用"
        and rows["b.xlsx"][3] == "重复文件"
        and rows["b.xlsx"][4] == "a.xlsx"
    )
    assert rows["a.xlsx"][7] is None and rows["a.xlsx"][8] is None  # no mail, no decision
    assert rows["a.xlsx"][9] is None  # not rolled up from a unit's own units
    assert rows["b.xlsx"][10] is None  # a duplicate: the same bytes, not a second return
    assert len(rows["a.xlsx"][11]) == 64


def test_status_json_and_text(ws: Path, forms: dict[str, Path]) -> None:
    values = complete_values(forms[RES])
    values["2"]["完成状态"] = "?"
    fill(forms[RES], ws / "inbox" / "res.xlsx", values, GOOD_CONTACT)
    fill(forms[PLAN], ws / "inbox" / "plan.xlsx", complete_values(forms[PLAN]), GOOD_CONTACT)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    data = run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])
    by = {d["division"]: d for d in data["divisions"]}
    assert by[PLAN]["state"] == "accepted" and by[PLAN]["file"] == "plan.xlsx"
    assert by[RES]["state"] == "rejected" and by[RES]["errors"] == 1 and by[RES]["problems"]
    assert by["办公室"]["state"] == "missing" and not by["办公室"]["returned"]
    assert RES in data["missing"] and PLAN not in data["missing"]
    deadline = dt.date.fromisoformat(data["deadline"])
    assert data["days_left"] == (deadline - dt.date.today()).days
    assert {d["overdue"] for d in data["divisions"]} == {False}  # the deadline is 30 days off
    text = run(["status", "-w", str(ws), "--round", DEFAULT_ROUND]).output
    assert "退回修改" in text and f"还有 {data['days_left']} 天" in text


def test_late_return_is_counted(ws: Path) -> None:
    data = run_json(["generate", "-w", str(ws), "--round", "2019-H1", "--deadline", "2019-07-10"])
    form = Path(next(f["path"] for f in data["forms"] if f["division"] == PLAN))
    path = fill(form, ws / "inbox" / "plan.xlsx", complete_values(form), GOOD_CONTACT)
    set_mtime(path, dt.datetime(2019, 7, 12, 10, 0).timestamp())
    report = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    (entry,) = report["files"]
    assert entry["verdict"] == "accepted"
    assert [i["code"] for i in entry["issues"]] == ["late-return"]
    _, merged = _merge(ws)
    overview = " ".join(str(c) for row in _cells(merged)["总览"] for c in row)
    assert "逾期报送：政策规划处" in overview


def test_merge_before_any_return(ws: Path, forms: dict[str, Path]) -> None:
    data, path = _merge(ws)
    assert data["accepted"] == 0 and len(data["missing"]) == 7
    sheet = openpyxl.load_workbook(path)["任务明细"]
    header, cols = _header(sheet, "序号")
    statuses = {sheet.cell(r, cols["完成状态"]).value for r in range(header + 1, header + 25)}
    assert statuses == {"未报送"}


def test_demo_end_to_end(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = run(["demo", str(target), "--no-office"])
    assert "演示完成" in result.output and "汇总表" in result.output
    merged = next((target / "outbox" / "2019-H1").glob("*汇总*.xlsx"))
    wb = openpyxl.load_workbook(merged)
    assert "任务明细" in wb.sheetnames
    status = run_json(["status", "-w", str(target), "--round", "2019-H1"])
    assert status["missing"] == ["办公室"]
    states = {d["division"]: d for d in status["divisions"]}
    assert states["农村与社会发展科技处"]["late"] is True
    assert states["资源配置与诚信建设处"]["file"].endswith("（修改稿）.xlsx")
    receipts = list((target / "outbox" / "2019-H1" / "receipts").glob("*.xlsx"))
    assert len(receipts) == 6
    # a second run recreates the demo folder
    run(["demo", str(target), "--no-office"])


def test_demo_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "important.txt").write_text("x")
    result = run(["demo", str(tmp_path / "mine")], expect=3)
    assert "不是演示文件夹" in result.output
    assert (tmp_path / "mine" / "important.txt").exists()


def test_rows_of_cooperating_divisions_are_labelled(ws: Path, forms: dict[str, Path]) -> None:
    for division in (PLAN, CO):
        values = complete_values(forms[division])
        values["5"]["进展情况"] = f"{division}的说法"
        fill(forms[division], ws / "inbox" / f"{division}.xlsx", values, GOOD_CONTACT)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    _, path = _merge(ws)
    sheet = openpyxl.load_workbook(path)["任务明细"]
    header, cols = _header(sheet, "序号")
    r = header + 5
    assert sheet.cell(r, cols["序号"]).value == "5"
    assert sheet.cell(r, cols["进展情况"]).value == f"【{PLAN}】{PLAN}的说法\n【{CO}】{CO}的说法"
    assert sheet.cell(r, cols["来源文件"]).value == f"【{PLAN}】{PLAN}.xlsx\n【{CO}】{CO}.xlsx"
    assert task_rows(forms[PLAN])  # the forms are untouched by merging


def test_the_streamed_workbook_agrees_with_the_records_in_memory(
    ws: Path, forms: dict[str, Path]
) -> None:
    """merge streams each task's answers out of the ledger (json_each, in register order);
    its detail and history sheets say what the accepted records, read whole, say."""
    from xlflow.ledger.book import Ledger
    from xlflow.register.load import load_register
    from xlflow.reporting.tasks import task_states
    from xlflow.reporting.workbook.figures import consolidate
    from xlflow.standing import round_state
    from xlflow.workspace import Workspace

    _two_rounds(ws, forms)
    data = run_json(["merge", "-w", str(ws), "--round", "2019-H2"])
    workspace = Workspace.open(ws)
    register = load_register(workspace)
    with Ledger(workspace.ledger_path) as ledger:
        rounds = ledger.rounds()
        expected = [
            task_states(register, workspace.settings, r, round_state(ledger, r).accepted)
            for r in rounds
        ]
    wb = openpyxl.load_workbook(data["path"])
    detail = wb["任务明细"]
    header, cols = _header(detail, "序号")
    now, _ = expected[-1]
    for r, state in enumerate(now, start=header + 1):
        assert detail.cell(r, cols["序号"]).value == state.task.id
        assert detail.cell(r, cols["完成状态"]).value == state.status
        assert detail.cell(r, cols["完成进度(%)"]).value == state.percent
        assert (detail.cell(r, cols["进展情况"]).value or "") == state.texts["progress"]
        assert (detail.cell(r, cols["备注"]).value or "") == state.note
    history = wb["历次进展"]
    assert history.row_dimensions[1].height > 30  # the title row, 32 pt (XlsxWriter: 32.25)
    # each round's status column is coloured by status from the first task's row to the last
    coloured = {str(cf.sqref) for cf in history.conditional_formatting}
    last = 4 + len(register.tasks)
    assert coloured == {f"{c}5:{c}{last}" for c in "CE"}, coloured
    for r, task in enumerate(register.tasks, start=5):
        assert history.cell(r, 1).value == task.id
        for k, (states, _) in enumerate(expected):
            state = states[r - 5]
            assert history.cell(r, 3 + 2 * k).value == state.status, (task.id, k)
            assert history.cell(r, 4 + 2 * k).value == state.percent, (task.id, k)
    figures = consolidate(workspace, "2019-H2")
    assert figures.tasks == len(register.tasks) and figures.conflicts == data["conflicts"]
    assert figures.status_counts() == Counter(s.status for s in now)
    assert sum(figures.changes.values()) == len(register.tasks)


def test_a_round_too_large_to_hold_is_streamed_to_the_same_cells(
    ws: Path, forms: dict[str, Path], monkeypatch: Any
) -> None:
    """Beyond STREAM_ABOVE tasks rows go to disk as they come (constant_memory, inline
    text); the workbook shows exactly what the held one shows."""
    consolidate = _consolidate_module()
    from xlflow.workspace import Workspace

    _round_with_returns(ws, forms)
    merged = consolidate.merge(Workspace.open(ws), DEFAULT_ROUND)
    path = merged.path
    assert not merged.inline_strings and merged.note == ""
    with zipfile.ZipFile(path) as zf:  # held: a shared-string table, as WPS 2021 needs
        assert "xl/sharedStrings.xml" in zf.namelist()
    held = (_cells(path), openpyxl.load_workbook(path))
    monkeypatch.setattr(consolidate, "STREAM_ABOVE", 0)
    merged = consolidate.merge(Workspace.open(ws), DEFAULT_ROUND)
    path = merged.path
    streamed = (_cells(path), openpyxl.load_workbook(path))
    with zipfile.ZipFile(path) as zf:
        assert "inlineStr" in zf.read("xl/worksheets/sheet2.xml").decode()
    # and whoever merges is told, since leadership may open it in WPS 2021
    assert merged.inline_strings and "WPS 2021" in merged.note
    said = run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND]).output
    assert "另存一次" in said
    assert streamed[0] == held[0]
    for name in held[1].sheetnames:
        a, b = held[1][name], streamed[1][name]
        assert sorted(map(str, a.merged_cells.ranges)) == sorted(map(str, b.merged_cells.ranges))
        heights = {r: d.height for r, d in a.row_dimensions.items() if d.height}
        assert heights == {r: d.height for r, d in b.row_dimensions.items() if d.height}, name


STARTS = [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()]


# the reaper (conftest.reap_processes) kills the resource tracker a spawn starts, and the
# next test's spawn says so as it starts another
@pytest.mark.filterwarnings("ignore:resource_tracker:UserWarning")
@pytest.mark.parametrize(
    "method",
    # every way this platform starts a process (Windows has no fork), and a thread
    [pytest.param(m, marks=pytest.mark.isolation) for m in STARTS] + ["in-process"],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_rows_laid_out_beside_the_writer_give_the_same_workbook_byte_for_byte(
    ws: Path, forms: dict[str, Path], monkeypatch: Any, method: str, streamed: bool
) -> None:
    """Beyond LAY_OUT_APART_ABOVE tasks a companion process reads the ledger and lays the
    rows out while this one writes them; the file is the one a single process writes.
    Under spawn (Windows, macOS) what the companion needs is pickled to it; with
    XLFLOW_POOL_IN_PROCESS=1 (mutation testing) it is a thread."""
    from xlflow import pool

    consolidate = _consolidate_module()

    _two_rounds(ws, forms)
    if streamed:
        monkeypatch.setattr(consolidate, "STREAM_ABOVE", 0)
    data, path = _merge_of(ws, "2019-H2")
    alone = path.read_bytes()
    started: list[object] = []

    def spy(target: Any, *args: Any) -> Any:
        proc, conn = pool.start_companion(target, *args)
        started.append((target, type(proc).__name__))
        return proc, conn

    passes = _passes_module()
    monkeypatch.setattr(passes, "start_companion", spy)
    monkeypatch.setattr(consolidate, "LAY_OUT_APART_ABOVE", 0)
    if method == "in-process":
        monkeypatch.setenv(pool.IN_PROCESS_VARIABLE, "1")
    else:
        monkeypatch.setattr(pool, "START_METHOD", method)
    beside, path_again = _merge_of(ws, "2019-H2")
    kind = "_CompanionThread" if method == "in-process" else f"{method.capitalize()}Process"
    assert started == [(passes.lay_out, kind)]
    assert path_again == path and path.read_bytes() == alone
    assert beside == data
    assert "历次进展" in openpyxl.load_workbook(path).sheetnames


def _merge_of(ws: Path, round_id: str) -> tuple[dict[str, Any], Path]:
    consolidate = _consolidate_module()
    from xlflow.workspace import Workspace

    merged = consolidate.merge(Workspace.open(ws), round_id)
    data, path = merged.consolidation, merged.path
    return data.summary(path), path


def test_a_companion_that_fails_leaves_no_workbook_and_says_so(
    ws: Path, forms: dict[str, Path], monkeypatch: Any
) -> None:
    """What goes wrong in the companion is raised here, as it would be in one process; no
    workbook is left half written, the scratch folder goes, and the next merge runs (a
    companion that dies: the next test)."""
    consolidate = _consolidate_module()

    _round_with_returns(ws, forms)
    outbox = ws / "outbox" / DEFAULT_ROUND
    monkeypatch.setattr(consolidate, "LAY_OUT_APART_ABOVE", 0)
    monkeypatch.setattr(consolidate, "STREAM_ABOVE", 0)  # rows in files of the scratch folder

    # the companion breaks in its own process, forked (Linux) or spawned (Windows)
    with monkeypatch.context() as m:
        m.setattr(
            _passes_module(), "start_companion", companions.starting(companions.counts_nothing)
        )
        with pytest.raises(ValueError, match="cannot count 1"):
            _merge_of(ws, DEFAULT_ROUND)
    with monkeypatch.context() as m:
        m.setattr(
            _passes_module(),
            "start_companion",
            companions.starting(companions.raises_what_pickle_cannot_name),
        )
        with pytest.raises(RuntimeError, match="Unpicklable: lost in transit"):
            _merge_of(ws, DEFAULT_ROUND)
    # nothing of the folder is left open (Windows could not remove the scratch folder)
    root = str(ws.resolve())
    assert not [f.path for f in psutil.Process().open_files() if f.path.startswith(root)]
    assert not list(outbox.glob("*汇总*")) and not list(outbox.glob(".*"))
    assert not list((ws / ".xlflow").glob(".merge-*"))
    _, path = _merge_of(ws, DEFAULT_ROUND)
    assert path.exists()


@pytest.mark.isolation
def test_a_companion_that_dies_is_named_with_its_exit_code(
    ws: Path, forms: dict[str, Path], monkeypatch: Any
) -> None:
    consolidate = _consolidate_module()
    from xlflow.errors import WorkspaceError

    _round_with_returns(ws, forms)
    outbox = ws / "outbox" / DEFAULT_ROUND
    monkeypatch.setattr(consolidate, "LAY_OUT_APART_ABOVE", 0)
    with monkeypatch.context() as m:
        m.setattr(_passes_module(), "start_companion", companions.starting(companions.exits_with_3))
        with pytest.raises(WorkspaceError, match=r"辅助进程意外退出（代码 3）"):
            _merge_of(ws, DEFAULT_ROUND)
        result = run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND], expect=None)
        assert result.exit_code != 0 and "代码 3" in result.output
        assert "Traceback" not in result.output
    assert not list(outbox.glob("*汇总*")) and not list(outbox.glob(".*"))
    assert not list((ws / ".xlflow").glob(".merge-*"))
    _, path = _merge_of(ws, DEFAULT_ROUND)
    assert path.exists()


def test_a_round_everybody_returned_says_so_on_the_missing_sheet(
    ws: Path, forms: dict[str, Path]
) -> None:
    for division, form in forms.items():
        fill(form, ws / "inbox" / f"{division}.xlsx", complete_values(form), GOOD_CONTACT)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    _, path = _merge_of(ws, DEFAULT_ROUND)
    wb = openpyxl.load_workbook(path)
    (sheet,) = [s for s in wb.worksheets if s["A1"].value == "未报送单位及待报任务"]
    assert sheet["A4"].value == "全部处室均已报送并通过核验。"
    assert "A4:D4" in {str(r) for r in sheet.merged_cells.ranges}
