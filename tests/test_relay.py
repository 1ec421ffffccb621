"""Forwarding down a level and rolling back up: a district that must ask its own units
forwards the form it received, collects their answers as any round, and rolls them up
into the received form, which the level above accepts with its provenance."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from .conftest import (
    DEADLINE,
    GOOD_CONTACT,
    complete_values,
    fill,
    run,
    run_json,
    set_mtime,
    stored,
)
from .office import Job, needs_office, run_batch
from .test_audit import AUDIT
from .test_organisation import DATA, ROUND, make_folder

DISTRICT = "甲区人民政府"
SUB_UNITS = ("甲区科技局", "甲区发改局", "甲区住建局")
CHILD_DEADLINE = dt.date.today() + dt.timedelta(days=10)


def _district_form(parent: Path) -> Path:
    return parent / "outbox" / ROUND / "forms" / f"{DISTRICT}_{ROUND}_填报表.xlsx"


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole relay: the parent generates; the district forwards its form to three
    sub-units; two answer (one of them after the child deadline), one never; the district
    rolls up; the parent collects and merges."""
    base = tmp_path_factory.mktemp("relay")
    parent = make_folder(base / "city")
    run(["generate", "-w", str(parent), "--round", ROUND, "--deadline", DEADLINE])
    child = base / "district"
    received = base / "mail" / _district_form(parent).name
    received.parent.mkdir()
    shutil.copy(_district_form(parent), received)  # what the district got by mail
    forwarded = run_json(
        [
            "forward", str(received), "--to", str(DATA / "甲区单位名录.csv"), "-w", str(child),
            "--deadline", CHILD_DEADLINE.isoformat(),
        ]
    )  # fmt: skip
    forms = {f["division"]: Path(f["path"]) for f in forwarded["forms"]}
    answers = {"甲区科技局": ("按计划推进", 80), "甲区发改局": ("进度滞后", 45)}
    returned = {}
    for unit, (status, percent) in answers.items():
        values = complete_values(forms[unit], status, percent)
        for row in values.values():
            row["进展情况"] = f"{unit}：本期认定高新技术企业 {percent // 5} 家。"
        returned[unit] = fill(forms[unit], child / "inbox" / forms[unit].name, values, GOOD_CONTACT)
    late = dt.datetime.combine(CHILD_DEADLINE + dt.timedelta(days=2), dt.time(9))
    set_mtime(returned["甲区发改局"], late.timestamp())
    collected = run_json(["collect", "-w", str(child), "--round", ROUND])
    settings = child / "xlflow.toml"
    text = settings.read_text("utf-8")
    text = text.replace('contact = ""', 'contact = "郑洁"').replace(
        'phone = ""', 'phone = "0574-83000001"'
    )
    settings.write_text(text, "utf-8")
    rolled = run_json(["roll-up", "-w", str(child)])
    sent = parent / "inbox" / Path(rolled["path"]).name
    shutil.copy(rolled["path"], sent)
    parent_collect = run_json(["collect", "-w", str(parent), "--round", ROUND])
    merged = run_json(["merge", "-w", str(parent), "--round", ROUND])
    return {
        "parent": parent,
        "child": child,
        "received": received,
        "forwarded": forwarded,
        "child_forms": forms,
        "child_collect": collected,
        "rolled": rolled,
        "sent": sent,
        "parent_collect": parent_collect,
        "merged": merged,
    }


def test_forward_makes_a_child_round_with_a_form_per_sub_unit(relay: dict[str, Any]) -> None:
    data = relay["forwarded"]
    assert data["created"] and data["round"] == ROUND
    assert data["units"] == list(SUB_UNITS)
    assert data["received"]["division"] == DISTRICT and data["received"]["tasks"] == ["3"]
    assert sorted(relay["child_forms"]) == sorted(SUB_UNITS)
    register = openpyxl.load_workbook(relay["child"] / "templates" / "任务清单.xlsx")["任务清单"]
    rows = list(register.iter_rows(values_only=True))
    heads = rows[1]
    assert heads[-2:] == ("上级分工", "分解到")
    task = dict(zip(heads, rows[2], strict=True))
    # the received row as it was, the district's role above, and every sub-unit by default
    assert (task["序号"], task["主要内容"], task["2025年目标"]) == (
        "3",
        "培育高新技术企业",
        "高新技术企业数量翻一番",
    )
    assert task["上级分工"] == "配合" and task["分解到"] == "、".join(SUB_UNITS)
    # a child form shows the same read-only text, and is signed with the child's own secret
    form = openpyxl.load_workbook(relay["child_forms"]["甲区住建局"])
    sheet = form["填报"]
    texts = [c.value for row in sheet.iter_rows() for c in row if c.value]
    assert "培育高新技术企业" in texts and "高新技术企业数量翻一番" in texts
    meta = {r[0]: r[1] for r in form["_xlflow"].iter_rows(values_only=True) if r[0]}
    parent_meta = {
        r[0]: r[1]
        for r in openpyxl.load_workbook(relay["received"])["_xlflow"].iter_rows(values_only=True)
        if r[0]
    }
    assert meta["round"] == ROUND and meta["division"] == "甲区住建局"
    assert meta["signature"] != parent_meta["signature"]


def test_children_are_collected_as_any_round(relay: dict[str, Any]) -> None:
    files = {f["division"]: f for f in relay["child_collect"]["files"]}
    assert files["甲区科技局"]["verdict"] == "accepted"
    assert files["甲区发改局"]["verdict"] == "accepted"
    late = [
        f["division"]
        for f in relay["child_collect"]["files"]
        if any(i["code"] == "late-return" for i in f["issues"])
    ]
    assert late == ["甲区发改局"]
    assert "甲区住建局" not in files
    status = run_json(["status", "-w", str(relay["child"]), "--round", ROUND])
    state = {d["division"]: (d["state"], d["late"]) for d in status["divisions"]}
    assert state == {
        "甲区科技局": ("accepted", False),
        "甲区发改局": ("accepted", True),
        "甲区住建局": ("missing", False),
    }


def test_roll_up_takes_each_field_by_its_rule_and_invents_nothing(relay: dict[str, Any]) -> None:
    rolled = relay["rolled"]
    assert rolled["answered"] == ["甲区科技局", "甲区发改局"] and rolled["missing"] == [
        "甲区住建局"
    ]
    assert any("甲区住建局" in n for n in rolled["notes"])
    wb = openpyxl.load_workbook(rolled["path"])
    sheet = wb["填报"]
    row = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "3")
    heads = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "序号")
    answer = dict(zip(heads, row, strict=True))
    assert answer["完成状态"] == "进度滞后"  # the least advanced
    assert answer["完成进度(%)"] == 45  # the minimum
    assert answer["进展情况"] == (
        "【甲区科技局】甲区科技局：本期认定高新技术企业 16 家。\n"
        "【甲区发改局】甲区发改局：本期认定高新技术企业 9 家。"
    )
    assert "甲区住建局" not in answer["进展情况"]
    line = sheet["A4"].value
    assert line.startswith("据甲区科技局、甲区发改局报送；甲区住建局未报送")
    provenance = wb["_xlflow_rollup"]
    assert provenance.sheet_state == "veryHidden"
    cells = [c for r in provenance.iter_rows(values_only=True) for c in r if c]
    child = relay["child"]
    for unit in ("甲区科技局", "甲区发改局"):
        record = stored(child, ROUND, f"{unit}_{ROUND}_填报表.xlsx")
        assert record.sha256 in cells
    assert ("3", "完成进度(%)", "甲区发改局", "45") in [
        tuple(r[:4]) for r in provenance.iter_rows(values_only=True)
    ]


def test_only_input_cells_change(relay: dict[str, Any]) -> None:
    """Every cell but the answers, the contact and the hint line is the received form's."""
    original = openpyxl.load_workbook(relay["received"])
    rolled = openpyxl.load_workbook(relay["rolled"]["path"])
    assert rolled.sheetnames == [*original.sheetnames, "_xlflow_rollup"]
    changed: list[str] = []
    for name in original.sheetnames:
        a, b = original[name], rolled[name]
        for r in range(1, max(a.max_row, b.max_row) + 1):
            for c in range(1, max(a.max_column, b.max_column) + 1):
                if a.cell(r, c).value != b.cell(r, c).value:
                    assert a.cell(r, c).protection.locked is False or (name, r) == ("填报", 4), (
                        name,
                        r,
                        c,
                    )
                    changed.append(f"{name}!{a.cell(r, c).coordinate}")
    assert "填报!A4" in changed and len(changed) > 3


def test_the_parent_accepts_the_rolled_up_form_with_its_provenance(relay: dict[str, Any]) -> None:
    files = {f["division"]: f for f in relay["parent_collect"]["files"]}
    district = files[DISTRICT]
    assert district["verdict"] == "accepted", district
    notes = [i for i in district["issues"] if i["code"] == "rolled-up"]
    assert len(notes) == 1
    assert (
        "据甲区科技局、甲区发改局报送" in notes[0]["message"]
        and "甲区住建局未报送" in notes[0]["message"]
    )
    record = stored(relay["parent"], ROUND, relay["sent"].name)
    assert record.values["3"]["status"] == "进度滞后" and record.values["3"]["percent"] == 45
    status = run_json(["status", "-w", str(relay["parent"]), "--round", ROUND])
    assert {d["division"]: d["state"] for d in status["divisions"]}[DISTRICT] == "accepted"


def test_the_parents_workbook_shows_the_answer_and_the_names_it_rests_on(
    relay: dict[str, Any],
) -> None:
    wb = openpyxl.load_workbook(relay["merged"]["path"])
    detail = wb["任务明细"]
    heads = [c.value for c in detail[4]]
    row = next(
        dict(zip(heads, r, strict=False))
        for r in detail.iter_rows(min_row=5, values_only=True)
        if r[1] == "3"
    )
    assert (
        "【甲区人民政府】【甲区科技局】甲区科技局：本期认定高新技术企业 16 家。" in row["进展情况"]
    )
    assert "甲区人民政府 进度滞后 45%" in row["备注"]
    sources = wb["来源"]
    heads = [c.value for c in sources[3]]
    line = next(
        dict(zip(heads, r, strict=False))
        for r in sources.iter_rows(min_row=4, values_only=True)
        if r[2] == DISTRICT
    )
    assert "据甲区科技局、甲区发改局报送" in line["汇总来源"]
    assert "甲区科技局_2025-H1_填报表.xlsx" in line["汇总来源"]


def test_the_console_shows_the_provenance(relay: dict[str, Any]) -> None:
    from urllib.parse import quote

    from .test_web import Console

    record = stored(relay["parent"], ROUND, relay["sent"].name)
    console = Console(relay["parent"])
    try:
        status, page, _ = console.request("GET", f"/r/{ROUND}/f/{record.sha256}")
        assert status == 200
        assert "据甲区科技局、甲区发改局报送" in page and "甲区住建局未报送" in page
        status, page, _ = console.request("GET", f"/r/{ROUND}/d/{quote(DISTRICT)}")
        assert status == 200 and "据甲区科技局、甲区发改局报送" in page
    finally:
        console.stop()


def test_a_tampered_rolled_up_form_is_rejected(relay: dict[str, Any], tmp_path: Path) -> None:
    parent = tmp_path / "city"
    shutil.copytree(relay["parent"], parent)
    for f in (parent / "inbox").iterdir():
        f.unlink()

    def edit(wb: Any) -> None:
        sheet = wb["填报"]
        cell = next(
            c for row in sheet.iter_rows() for c in row if c.value == "高新技术企业数量翻一番"
        )
        cell.value = "高新技术企业数量增长一成"

    tampered = fill(relay["sent"], parent / "inbox" / "甲区上报（改）.xlsx", {}, None, edit)
    data = run_json(["collect", "-w", str(parent), "--round", ROUND])
    record = next(f for f in data["files"] if f["path"] == tampered.name)
    assert record["verdict"] == "rejected"
    assert "readonly-edited" in {i["code"] for i in record["issues"]}


def test_the_district_can_split_tasks_and_forward_again(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    child = tmp_path / "district"
    shutil.copytree(relay["child"], child)
    path = child / "templates" / "任务清单.xlsx"
    wb = openpyxl.load_workbook(path)
    sheet = wb["任务清单"]
    sheet.cell(3, sheet.max_column).value = "甲区发改局、甲区科技局"
    wb.save(path)
    data = run_json(["forward", str(relay["received"]), "-w", str(child)])
    assert not data["created"]
    assert sorted(f["division"] for f in data["forms"]) == ["甲区发改局", "甲区科技局"]
    assert any("沿用" in n for n in data["notes"])
    assert (
        openpyxl.load_workbook(path)["任务清单"].cell(3, sheet.max_column).value
        == "甲区发改局、甲区科技局"
    )
    # the other sub-unit's answer still stands, and the roll-up now rests on the lead's
    reg = run_json(["register", "-w", str(child)])
    assert reg["tasks"][0]["lead"] == ["甲区发改局"]


def test_every_workbook_of_the_relay_opens_clean(relay: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    child = relay["child"]
    for n, path in enumerate(
        [
            relay["rolled"]["path"],
            child / "templates" / "任务清单.xlsx",
            *relay["child_forms"].values(),
        ]
    ):
        if str(path).endswith(".xlsx"):
            shutil.copy(path, folder / f"{n}.xlsx")
    drafted = tmp_path / "draft"
    run(["init", str(drafted), "--register", str(DATA / "任务清单.csv")])
    shutil.copy(drafted / "templates" / "单位名录.xlsx", folder / "draft.xlsx")
    done = subprocess.run(
        [*AUDIT, "-f", "microsoft365", "-r", "-o", "json", "-m", "0", str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads(done.stdout)
    assert len(results) == 6
    for result in results:
        assert result["error_count"] == 0 and result["warning_count"] == 0, (
            result["file"],
            result["errors"][:3],
        )


# --- bad input: each a message, and nothing written half ---


def test_a_file_that_is_no_xlflow_form_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "通知附件.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["序号", "任务", "进展"])
    wb.save(plain)
    result = run(["forward", str(plain), "--to", "甲、乙", "-w", str(tmp_path / "d")], expect=3)
    assert "不是 xlflow 生成的填报表" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "d").exists()


def test_a_rolled_up_form_is_not_forwarded_again(relay: dict[str, Any], tmp_path: Path) -> None:
    result = run(
        ["forward", relay["rolled"]["path"], "--to", "甲、乙", "-w", str(tmp_path / "d")], expect=3
    )
    assert "已经汇总过的表格" in result.output
    assert not (tmp_path / "d").exists()


def test_a_form_edited_in_its_read_only_cells_is_not_forwarded(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    def edit(wb: Any) -> None:
        sheet = wb["填报"]
        cell = next(c for row in sheet.iter_rows() for c in row if c.value == "培育高新技术企业")
        cell.value = "培育科技型企业"

    edited = fill(relay["received"], tmp_path / "edited.xlsx", {}, None, edit)
    result = run(["forward", str(edited), "--to", "甲、乙", "-w", str(tmp_path / "d")], expect=3)
    assert "序号 3" in result.output and "可能被改动过" in result.output
    assert not (tmp_path / "d").exists()


def test_a_directory_naming_a_unit_twice_writes_nothing(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    twice = tmp_path / "名录.csv"
    twice.write_text("单位,联系人\n甲区科技局,甲\n甲区发改局,乙\n甲区科技局,丙\n", "utf-8-sig")
    result = run(
        ["forward", str(relay["received"]), "--to", str(twice), "-w", str(tmp_path / "d")], expect=3
    )
    assert (
        "第 4 行的单位 甲区科技局 与第 2 行重复" in result.output
        and "未做任何改动" in result.output
    )
    assert not (tmp_path / "d").exists()
    result = run(
        ["forward", str(relay["received"]), "--to", "甲、乙、甲", "-w", str(tmp_path / "d")],
        expect=3,
    )
    assert "写了两次" in result.output and not (tmp_path / "d").exists()


def test_a_folder_of_another_unit_or_round_keeps_its_own(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    other = tmp_path / "w"
    run(["init", str(other)])
    before = sorted(p.name for p in other.rglob("*"))
    result = run(["forward", str(relay["received"]), "--to", "甲、乙", "-w", str(other)], expect=3)
    assert "不是由 xlflow forward 建立的" in result.output
    assert sorted(p.name for p in other.rglob("*")) == before
    streets = relay["parent"] / "outbox" / ROUND / "forms" / f"东湖街道_{ROUND}_填报表.xlsx"
    result = run(["forward", str(streets), "--to", "甲、乙", "-w", str(relay["child"])], expect=3)
    assert "是发给 东湖街道 的" in result.output
    result = run(["roll-up", "-w", str(other)], expect=3)
    assert "不是由 xlflow forward 建立的" in result.output


def test_a_child_form_of_another_round_is_not_counted(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    """The next round forwarded into the same folder: a sub-unit that sends last round's
    form is told so, and its answers are not rolled up into this round's."""
    parent = tmp_path / "city"
    shutil.copytree(relay["parent"], parent)
    child = tmp_path / "district"
    shutil.copytree(relay["child"], child)
    run(["generate", "-w", str(parent), "--round", "2025-H2", "--deadline", DEADLINE])
    h2 = parent / "outbox" / "2025-H2" / "forms" / f"{DISTRICT}_2025-H2_填报表.xlsx"
    data = run_json(["forward", str(h2), "-w", str(child)])
    assert data["round"] == "2025-H2" and not data["created"]
    old = next((child / "inbox").glob("甲区科技局_*.xlsx"))
    shutil.copy(old, child / "inbox" / "h2-甲区科技局.xlsx")
    collected = run_json(["collect", "-w", str(child), "--round", "2025-H2"])
    record = next(f for f in collected["files"] if f["path"] == "h2-甲区科技局.xlsx")
    assert record["verdict"] != "accepted"
    result = run(["roll-up", "-w", str(child)], expect=3)
    assert "请用 --round 指明" in result.output
    rolled = run_json(["roll-up", "-w", str(child), "--round", "2025-H2"])
    assert rolled["answered"] == [] and rolled["filled"] == 0


@needs_office[0]
@needs_office[1]
def test_a_child_form_filled_and_saved_in_libreoffice_reads_back_exactly(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    child = tmp_path / "district"
    shutil.copytree(relay["child"], child)
    form = relay["child_forms"]["甲区住建局"]
    wb = openpyxl.load_workbook(form)
    sheet = wb["填报"]
    header = next(
        r for r in sheet.iter_rows(min_row=1, max_row=10) if any(c.value == "序号" for c in r)
    )
    cols = {c.value: c.column_letter for c in header if c.value}
    row = next(c.row for c in sheet["A"] if c.value == "3")
    contact = {
        cell.value.split("：")[0]: next(
            n.coordinate for n in r[cell.column :] if n.protection.locked is False
        )
        for r in sheet.iter_rows(min_row=row + 1)
        for cell in r
        if isinstance(cell.value, str) and "：" in cell.value
    }
    progress = "住建局：完成孵化器选址 3 处，\n签约入驻企业 12 家。"
    cells = {
        f"{cols['完成状态']}{row}": "已完成",
        f"{cols['完成进度(%)']}{row}": {"typed": "100%"},
        f"{cols['进展情况']}{row}": progress,
        contact["填报人"]: "王五",
        contact["联系电话"]: "0574-83000009",
    }
    saved = tmp_path / "住建局回复.xlsx"
    results = run_batch([Job(form, saved, [{"sheet": "填报", "cells": cells}])])
    assert results[0]["ok"], results
    shutil.copy(saved, child / "inbox" / saved.name)
    data = run_json(["collect", "-w", str(child), "--round", ROUND])
    record = next(f for f in data["files"] if f["path"] == saved.name)
    assert record["verdict"] == "accepted" and record["division"] == "甲区住建局"
    full = stored(child, ROUND, saved.name)
    assert full.values["3"]["status"] == "已完成" and full.values["3"]["percent"] == 100
    assert full.values["3"]["progress"] == progress
    assert full.contact["reporter"] == "王五" and full.contact["phone"] == "0574-83000009"
    rolled = run_json(["roll-up", "-w", str(child)])
    assert rolled["answered"] == list(SUB_UNITS) and rolled["missing"] == []


@needs_office[0]
@needs_office[1]
def test_a_form_resaved_as_xls_on_the_way_forwards_and_rolls_up(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    """The district's office re-saved the city's form as .xls before forwarding it: it is
    read as any return is, and the rolled-up form goes back as .xlsx (its content)."""
    resaved = tmp_path / "收到的表.xls"
    results = run_batch([Job(relay["received"], resaved)])
    assert results[0]["ok"], results
    child = tmp_path / "d"
    data = run_json(["forward", str(resaved), "--to", "甲区科技局、甲区发改局", "-w", str(child)])
    assert data["received"]["tasks"] == ["3"] and len(data["forms"]) == 2
    rolled = run_json(["roll-up", "-w", str(child)])
    assert Path(rolled["path"]).name == "收到的表.xlsx"


def test_a_roll_up_its_parent_would_refuse_is_named_not_written(
    relay: dict[str, Any], tmp_path: Path
) -> None:
    """F3 of the s4 finds: two sub-units each wrote 1,200 characters of 进展情况 (the limit
    is 2,000); roll-up joined them into 2,413 and exited 0, and the parent refused it."""
    child = tmp_path / "district"
    shutil.copytree(relay["child"], child)
    forms = relay["child_forms"]
    for unit in ("甲区科技局", "甲区发改局"):
        values = complete_values(forms[unit], "按计划推进", 60)
        for row in values.values():
            row["进展情况"] = "本期推进高新技术企业认定。" * 92  # 1,196 characters each
        sent = fill(forms[unit], child / "inbox" / f"更正-{unit}.xlsx", values, GOOD_CONTACT)
        later = dt.datetime.combine(CHILD_DEADLINE + dt.timedelta(days=3), dt.time(9))
        set_mtime(sent, later.timestamp())  # after the fixture's late return
    run(["collect", "-w", str(child), "--round", ROUND])
    outbox = child / "outbox" / ROUND / "上报"
    shutil.rmtree(outbox, ignore_errors=True)
    result = run(["roll-up", "-w", str(child)], expect=1)
    assert "进展情况" in result.output and "甲区科技局、甲区发改局" in result.output
    assert "超过上级规定的 2000 字" in result.output and "--anyway" in result.output
    assert not outbox.exists() or not any(outbox.iterdir())  # nothing the parent would refuse
    data = json.loads(run(["roll-up", "-w", str(child), "--json"], expect=1).output)
    assert data["written"] is False and data["refused"]
    anyway = run_json(["roll-up", "-w", str(child), "--anyway"])
    assert anyway["written"] is True and Path(anyway["path"]).is_file()


def test_forward_again_changes_everything_or_nothing(
    relay: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forward into the folder it made before (a corrected directory, a new deadline): each
    file it writes fails in turn, and the folder is then exactly as it was and still works."""
    import hashlib

    import xlflow.relay.forward as forward

    child = tmp_path / "district"
    shutil.copytree(relay["child"], child)

    def state() -> dict[str, str]:
        keep = [*(child / "templates").iterdir(), child / "xlflow.toml", *(child / ".xlflow").rglob("*.json"), *(child / ".xlflow").rglob("*.xlsx")]  # fmt: skip
        return {str(p.relative_to(child)): hashlib.sha256(p.read_bytes()).hexdigest() for p in keep if p.is_file()}  # fmt: skip

    before = state()
    real = forward.atomic_write
    args = ["forward", str(relay["received"]), "--to", str(DATA / "甲区单位名录.csv"), "-w", str(child)]  # fmt: skip
    for n in range(1, 4):
        calls = {"n": 0}

        def failing(*a: Any, n: int = n, calls: dict[str, int] = calls, **kw: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == n:
                raise OSError(28, "No space left on device")
            return real(*a, **kw)

        monkeypatch.setattr(forward, "atomic_write", failing)
        result = run(args, expect=None)
        monkeypatch.setattr(forward, "atomic_write", real)
        if calls["n"] < n:
            break  # no write left to fail
        assert result.exit_code == 3 and "Traceback" not in result.output, result.output
        assert state() == before, f"write {n} failed and left the folder changed"
        run(["status", "-w", str(child), "--round", ROUND])
    run(args)  # and with nothing failing, it goes through
