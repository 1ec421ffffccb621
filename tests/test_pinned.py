"""Behaviour pinned where a one-line change would otherwise pass unnoticed: the signature
verified end to end, the edges of every range and date, and what leadership reads."""

from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xlflow.config.load import load_settings

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    complete_values,
    fill,
    fill_complete,
    header_columns,
    run,
    run_json,
    set_identity,
    stored,
    task_rows,
)

PLAN = "政策规划处"
CO = "创新平台与合作处"
SETTINGS = load_settings(Path(__file__).resolve().parents[1] / "templates" / "xlflow.toml")


def _collect(ws: Path, round_id: str = DEFAULT_ROUND) -> dict[str, dict[str, Any]]:
    report = run_json(["collect", "-w", str(ws), "--round", round_id])
    return {f["path"]: f for f in report["files"]}


def _codes(entry: dict[str, Any]) -> list[str]:
    return [i["code"] for i in entry["issues"]]


# --- the signature, end to end ---


def test_a_form_signed_by_another_working_folder_is_refused(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    """Same register, same round, same division: only the secret differs."""
    other = tmp_path / "other"
    run(["init", str(other)])
    data = run_json(["generate", "-w", str(other), "--round", DEFAULT_ROUND, "--division", PLAN])
    foreign = Path(data["forms"][0]["path"])
    assert task_rows(foreign) == task_rows(forms[PLAN])  # the same form, but for its signature
    fill_complete(foreign, ws / "inbox" / "别的文件夹.xlsx")
    fill_complete(forms[PLAN], ws / "inbox" / "本文件夹.xlsx")
    files = _collect(ws)
    assert files["别的文件夹.xlsx"]["verdict"] == "rejected"
    assert _codes(files["别的文件夹.xlsx"]) == ["signature-invalid"]
    assert files["本文件夹.xlsx"]["verdict"] == "accepted"


def _flip_signature_everywhere(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    signature = next(r[1].value for r in wb["_xlflow"].iter_rows() if r[0].value == "signature")
    set_identity(wb, "signature", signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    wb.save(path)


def test_one_hex_digit_of_the_signature_changed_is_refused(
    ws: Path, forms: dict[str, Path]
) -> None:
    target = fill_complete(forms[PLAN], ws / "inbox" / "改签名.xlsx")
    _flip_signature_everywhere(target)
    entry = _collect(ws)["改签名.xlsx"]
    assert entry["verdict"] == "rejected" and _codes(entry) == ["signature-invalid"]


# --- edges ---


def _two_tasks(
    ws: Path, forms: dict[str, Path], name: str, first: tuple[str, int], second: tuple[str, int]
) -> tuple[dict[str, Any], str, str]:
    """CO's return with its first two tasks given (status, percent); its collected entry."""
    values = complete_values(forms[CO])
    one, two = list(values)[:2]
    for task, (status, percent) in ((one, first), (two, second)):
        values[task].update({"完成状态": status, "完成进度(%)": percent})
    fill(forms[CO], ws / "inbox" / name, values, GOOD_CONTACT)
    return _collect(ws)[name], one, two


def test_the_ends_of_the_percent_range_are_accepted(ws: Path, forms: dict[str, Path]) -> None:
    entry, _, _ = _two_tasks(ws, forms, "边界.xlsx", ("未启动", 0), ("已完成", 100))
    assert entry["verdict"] == "accepted", entry["issues"]
    status = run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])
    assert CO not in status["missing"]


@pytest.mark.parametrize(
    ("when", "late"),
    [(dt.datetime(2019, 7, 10, 23, 50), False), (dt.datetime(2019, 7, 11, 0, 10), True)],
)
def test_the_deadline_day_is_on_time_until_midnight(
    ws: Path, when: dt.datetime, late: bool
) -> None:
    data = run_json(
        ["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", "2019-07-10"]
    )
    form = next(Path(f["path"]) for f in data["forms"] if f["division"] == PLAN)
    target = fill_complete(form, ws / "inbox" / "时限.xlsx")
    stamp = when.timestamp()
    os.utime(target, (stamp, stamp))
    entry = _collect(ws)["时限.xlsx"]
    assert entry["verdict"] == "accepted"
    assert ("late-return" in _codes(entry)) is late
    state = {
        d["division"]: d
        for d in run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])["divisions"]
    }
    assert state[PLAN]["late"] is late


def test_a_date_typed_in_chinese_is_read(ws: Path, forms: dict[str, Path]) -> None:
    fill(
        forms[PLAN],
        ws / "inbox" / "日期.xlsx",
        complete_values(forms[PLAN]),
        {**GOOD_CONTACT, "填报日期": "2019年7月1日"},
    )
    entry = _collect(ws)["日期.xlsx"]
    assert entry["verdict"] == "accepted", entry["issues"]
    from .conftest import stored

    assert stored(ws, DEFAULT_ROUND, "日期.xlsx").contact["report_date"] == "2019-07-01"


def test_an_emptied_read_only_cell_is_an_edit(ws: Path, forms: dict[str, Path]) -> None:
    def empty_target(wb: Any) -> None:
        sheet = wb["填报"]
        cols = header_columns(sheet)
        sheet.cell(task_rows(forms[PLAN])["5"], cols["2019年目标"]).value = None

    fill_complete(forms[PLAN], ws / "inbox" / "清空.xlsx", edit=empty_target)
    entry = _collect(ws)["清空.xlsx"]
    assert entry["verdict"] == "rejected"
    (issue,) = [i for i in entry["issues"] if i["code"] == "readonly-edited"]
    assert issue["task_id"] == "5"


def test_status_names_the_newest_rejected_file(ws: Path, forms: dict[str, Path]) -> None:
    for n, name in enumerate(("旧.xlsx", "新.xlsx")):
        values = complete_values(forms[PLAN])
        first = next(iter(values))
        values[first]["完成状态"] = "不知道"
        values[first]["进展情况"] = f"第 {n + 1} 稿"  # two different files, not a duplicate
        target = fill(forms[PLAN], ws / "inbox" / name, values, GOOD_CONTACT)
        stamp = dt.datetime(2019, 7, 1 + n, 9).timestamp()
        os.utime(target, (stamp, stamp))
    _collect(ws)
    mine = next(
        d
        for d in run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])["divisions"]
        if d["division"] == PLAN
    )
    assert mine["state"] == "rejected" and mine["file"] == "新.xlsx"


# --- what leadership reads ---


def _merged(ws: Path, round_id: str = DEFAULT_ROUND) -> Path:
    return Path(run_json(["merge", "-w", str(ws), "--round", round_id])["path"])


def test_each_status_has_its_colour_in_the_detail_sheet_and_the_chart(
    ws: Path, forms: dict[str, Path]
) -> None:
    for division, form in forms.items():
        fill_complete(form, ws / "inbox" / f"{division}.xlsx")
    _collect(ws)
    path = _merged(ws)
    colours = {s: c.lstrip("#").upper() for s, c in SETTINGS.status.colours}
    assert len(set(colours.values())) == len(colours)  # not vacuous: all different
    with zipfile.ZipFile(path) as zf:
        styles = zf.read("xl/styles.xml").decode()
        dxfs = re.findall(r"<dxf>(.*?)</dxf>", styles, re.S)
        wb = openpyxl.load_workbook(path)
        detail = wb["任务明细"]
        seen = {}
        for rng in detail.conditional_formatting:
            for rule in rng.rules:
                if rule.type == "cellIs" and rule.formula:
                    status = rule.formula[0].strip('"')
                    fill = re.search(r'bgColor rgb="FF([0-9A-F]{6})"', dxfs[rule.dxfId])
                    if status in colours and fill:
                        seen[status] = fill.group(1)
        assert seen == colours
        charts = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/charts/chart")]
    # the status chart: one point per status, each in its own colour, in the order shown
    pie = next(c for c in charts if "<c:dPt>" in c)
    points = re.findall(r'<c:dPt>.*?<a:srgbClr val="([0-9A-F]{6})"', pie, re.S)
    assert points[: len(colours)] == list(colours.values())


def test_improved_and_worsened_are_counted_apart(ws: Path, tmp_path: Path) -> None:
    """Round 2: two tasks better, one worse, the rest the same."""
    r1, r2 = "2019-H1", "2019-H2"
    # 创新平台与合作处 leads tasks 6, 7 and 8, so their statuses are its own
    for round_id, changes in ((r1, {}), (r2, {"6": "已完成", "7": "已完成", "8": "进度滞后"})):
        data = run_json(["generate", "-w", str(ws), "--round", round_id, "--division", CO])
        form = Path(data["forms"][0]["path"])
        values = complete_values(form)
        for tid, status in changes.items():
            values[tid]["完成状态"] = status
            if status == "进度滞后":
                values[tid]["存在问题"] = "资金未到位"
        fill(form, ws / "inbox" / round_id / f"{CO}.xlsx", values, GOOD_CONTACT)
        _collect(ws, round_id)
    wb = openpyxl.load_workbook(_merged(ws, r2))
    line = next(
        str(c.value) for row in wb["总览"].iter_rows() for c in row if "与上一轮次" in str(c.value)
    )
    assert "状态改善 2 项，变差 1 项" in line


def test_a_register_column_is_as_wide_in_the_detail_sheet_as_its_text_needs(ws: Path) -> None:
    """Up to 40 display units of text (20 Chinese characters) a column is narrow (16), from
    40 on wide (34): 主要内容's widest is exactly 40, 责任处室's 20."""
    toml = ws / "xlflow.toml"
    text = toml.read_text(encoding="utf-8")
    line = 'readonly_columns = ["重点任务", "主要内容", "主要任务"]'
    assert line in text
    toml.write_text(
        text.replace(line, 'readonly_columns = ["重点任务", "主要内容", "主要任务", "责任处室"]'),
        encoding="utf-8",
    )
    run(["generate", "-w", str(ws), "--round", DEFAULT_ROUND])
    detail = openpyxl.load_workbook(_merged(ws))["任务明细"]
    header = next(r for r in detail.iter_rows() if any(c.value == "序号" for c in r))
    # openpyxl keeps a run of equal widths under its first column
    widths = {
        i: dim.width
        for dim in detail.column_dimensions.values()
        for i in range(dim.min, dim.max + 1)
    }
    width = {c.value: widths[c.column] for c in header if c.value}
    assert (width["主要内容"], width["主要任务"]) == pytest.approx((34, 34), abs=1)
    assert width["责任处室"] == pytest.approx(16, abs=1)


def test_last_rounds_file_left_in_the_inbox_is_skipped_and_a_new_one_refused(ws: Path) -> None:
    """A form of 2019-H1 already collected there is only skipped in 2019-H2; one that was
    never collected is a wrong-round form the division must send again."""
    r1, r2 = "2019-H1", "2019-H2"
    data = run_json(["generate", "-w", str(ws), "--round", r1, "--division", PLAN])
    form = Path(data["forms"][0]["path"])
    run(["generate", "-w", str(ws), "--round", r2, "--division", PLAN])
    fill_complete(form, ws / "inbox" / f"{PLAN}.xlsx")
    assert _collect(ws, r1)[f"{PLAN}.xlsx"]["verdict"] == "accepted"
    fill_complete(form, ws / "inbox" / "上一轮的表.xlsx", status="已完成")
    files = _collect(ws, r2)
    kept, new = files[f"{PLAN}.xlsx"], files["上一轮的表.xlsx"]
    assert (kept["verdict"], _codes(kept)) == ("skipped", ["other-round-file"])
    assert "已在该轮次登记，本轮次不重复处理" in kept["issues"][0]["message"]
    assert (new["verdict"], _codes(new)) == ("rejected", ["wrong-round"])


def test_a_contact_value_that_cannot_be_read_names_its_label_and_cell(
    ws: Path, forms: dict[str, Path]
) -> None:
    form = forms[PLAN]
    contact = {**GOOD_CONTACT, "填报日期": "2019年2月30日"}
    fill(form, ws / "inbox" / "日期.xlsx", complete_values(form), contact)
    entry = _collect(ws)["日期.xlsx"]
    (issue,) = entry["issues"]
    assert (issue["code"], issue["sheet"], issue["cell"]) == ("not-a-date", "填报", "J10")
    assert issue["message"].startswith("“填报日期”（J10）填的是“2019年2月30日”，不是日期。")


def test_a_range_open_at_one_end_says_so() -> None:
    """A number field with a minimum and no maximum (only custom fields have one)."""
    from xlflow.config.model import Field
    from xlflow.intake.validate import normalise_value

    f = Field(key="funds", label="到位资金", type="number", min=0)
    value, issues = normalise_value(f, -5, {}, "“到位资金”", lambda: False, {}, "")
    assert value is None
    assert [i.message for i in issues] == ["“到位资金”填的是 -5，超出范围（0 至 不限）。"]
    assert normalise_value(f, 1e9, {}, "“到位资金”", lambda: False, {}, "") == (1e9, [])


# --- value readers of validate that only custom fields reach ---


@pytest.mark.parametrize(
    ("value", "date"),
    [
        (43647.0, "2019-07-01"),  # an Excel serial number
        (43647, "2019-07-01"),
        ("２０１９年７月１日", "2019-07-01"),
        ("2019-02-30", None),
        (True, None),
        (150.0, None),
    ],
)
def test_dates_are_read_from_serials_and_text(value: object, date: str | None) -> None:
    from xlflow.intake.validate import _to_date

    found = _to_date(value)  # type: ignore[arg-type]
    assert (found.isoformat() if found else None) == date


def test_a_percent_of_1_means_100_only_for_a_finished_task(
    ws: Path, forms: dict[str, Path]
) -> None:
    entry, done, going = _two_tasks(ws, forms, "一.xlsx", ("已完成", 1), ("按计划推进", 1))
    assert entry["verdict"] == "accepted"
    (note,) = [i for i in entry["issues"] if i["code"] == "percent-ambiguous"]
    assert note["task_id"] == done and "已按 100% 理解" in note["message"]
    record = stored(ws, DEFAULT_ROUND, "一.xlsx")
    assert record.values[done]["percent"] == 100 and record.values[going]["percent"] == 1


def test_a_task_row_typed_twice_is_named_with_both_rows(ws: Path, forms: dict[str, Path]) -> None:
    rows = task_rows(forms[CO])
    first = min(rows, key=rows.get)

    def twice(wb: Any) -> None:
        sheet = wb["填报"]
        below = max(rows.values()) + 1
        sheet.insert_rows(below)
        for c in range(1, sheet.max_column + 1):
            sheet.cell(below, c).value = sheet.cell(rows[first], c).value

    fill(
        forms[CO], ws / "inbox" / "两行.xlsx", complete_values(forms[CO]), GOOD_CONTACT, edit=twice
    )
    entry = _collect(ws)["两行.xlsx"]
    (issue,) = [i for i in entry["issues"] if i["code"] == "task-duplicated"]
    assert issue["task_id"] == first
    assert issue["message"] == (
        f"序号 {first} 出现了两次（第 {rows[first]} 行和第 {max(rows.values()) + 1} 行）。"
        "每项任务只能填一行，请删除多余的行。"
    )


def test_status_json_names_its_keys(ws: Path, forms: dict[str, Path]) -> None:
    data = run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])
    assert set(data) == {
        "round", "title", "deadline", "today", "days_left", "last_collect", "divisions",
        "missing", "counts", "collectives",
    }  # fmt: skip
    assert data["round"] == DEFAULT_ROUND and data["last_collect"] is None
