"""Rounds over time: pre-filled forms, reminders and the history of every task."""

from __future__ import annotations

import hashlib
import time
from contextlib import closing
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xlflow.register.init import init_workspace

from .conftest import (
    GOOD_CONTACT,
    complete_values,
    edit_directory,
    fill,
    header_columns,
    run,
    run_json,
    set_mtime,
    task_rows,
)

R1, R2, R3 = "2019-H1", "2019-H2", "2020-H1"
FUTURE = "2099-12-31"
PLAN = "政策规划处"
FOREIGN = "外国专家局"
RES = "资源配置与诚信建设处"


def _generate(ws: Path, round_id: str, *extra: str) -> dict[str, Path]:
    data = run_json(["generate", "-w", str(ws), "--round", round_id, "--deadline", FUTURE, *extra])
    return {f["division"]: Path(f["path"]) for f in data["forms"]}


def _answers(form: Path, round_id: str, status: str, percent: int) -> dict[str, dict[str, Any]]:
    values = complete_values(form, status=status, percent=percent)
    for tid in values:
        values[tid]["进展情况"] = f"{round_id} 任务{tid}的进展"
    return values


def _collect(ws: Path, round_id: str) -> dict[str, Any]:
    return run_json(["collect", "-w", str(ws), "--round", round_id])


def _contacts(ws: Path) -> None:
    import openpyxl

    units = [
        row[0]
        for row in openpyxl.load_workbook(ws / "templates" / "单位名录.xlsx")["单位名录"].iter_rows(
            min_row=2, values_only=True
        )
        if row[0]
    ]
    edit_directory(
        ws,
        {
            unit: {
                "联系人": f"{unit}联络员",
                "电子邮箱": f"{hashlib.md5(unit.encode()).hexdigest()[:8]}@example.gov.cn",
                "联系电话": "0574-8700000",
            }
            for unit in units
        },
    )


@pytest.fixture(scope="module")
def three_rounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three rounds played once for the module; the tests read them (and rewrite outputs
    that a re-run gives again byte for byte)."""
    ws = tmp_path_factory.mktemp("rounds") / "work"
    init_workspace(ws)
    _contacts(ws)
    # R1: everybody answers, all on plan at 40%
    forms1 = _generate(ws, R1)
    for division, form in forms1.items():
        fill(
            form,
            ws / "inbox" / R1 / f"{division}.xlsx",
            _answers(form, R1, "按计划推进", 40),
            GOOD_CONTACT,
        )
    r1 = _collect(ws, R1)
    # R2: pre-filled from R1; 外国专家局 never answers, 政策规划处 sends R1's text again,
    # 资源配置 is rejected.
    forms2 = _generate(ws, R2, "--prefill-from", R1)
    for division, form in forms2.items():
        if division == FOREIGN:
            continue
        values = _answers(form, R2, "按计划推进", 70)
        if division == PLAN:
            for v in values.values():
                del v["进展情况"]  # keep what was carried over from R1
        if division == RES:
            values["2"]["完成状态"] = "不知道"
        fill(form, ws / "inbox" / R2 / f"{division}.xlsx", values, {})
    r2 = _collect(ws, R2)
    # R3: changes. 政策规划处's task 5 is done; 高新技术 task 13 falls behind.
    forms3 = _generate(ws, R3)
    for division, form in forms3.items():
        values = _answers(form, R3, "按计划推进", 80)
        if division == PLAN:
            values["5"]["完成状态"], values["5"]["完成进度(%)"] = "已完成", 100
        if division == "高新技术及产业化处":
            values["13"]["完成状态"] = "进度滞后"
            values["13"]["存在问题"] = "资金未到位"
        fill(form, ws / "inbox" / R3 / f"{division}.xlsx", values, GOOD_CONTACT)
    r3 = _collect(ws, R3)
    return {
        "ws": ws,
        "forms1": forms1,
        "forms2": forms2,
        "forms3": forms3,
        "r1": r1,
        "r2": r2,
        "r3": r3,
    }


def test_prefilled_form_carries_last_accepted_values(three_rounds: dict[str, Any]) -> None:
    form = three_rounds["forms2"][PLAN]
    wb = openpyxl.load_workbook(form)
    sheet = wb["填报"]
    header = header_columns(sheet)
    r = task_rows(form)["5"]
    status = sheet.cell(r, header["完成状态"])
    assert status.value == "按计划推进" and status.fill.fgColor.rgb.endswith("DDEBF7")
    assert sheet.cell(r, header["完成进度(%)"]).value == 40
    assert sheet.cell(r, header["进展情况"]).value == f"{R1} 任务5的进展"
    assert "2019-H1" in sheet["A4"].value  # the hint names the round it came from
    texts = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert GOOD_CONTACT["填报人"] in texts  # the contact details are carried too
    # a form of a round without pre-filling has empty inputs
    fresh = openpyxl.load_workbook(three_rounds["forms3"][PLAN])["填报"]
    assert (
        fresh.cell(task_rows(three_rounds["forms3"][PLAN])["5"], header["完成状态"]).value is None
    )


def test_copied_progress_is_warned(three_rounds: dict[str, Any]) -> None:
    files = {f["division"]: f for f in three_rounds["r2"]["files"] if f["path"].startswith(R2)}
    plan = files[PLAN]
    assert plan["verdict"] == "accepted"
    copied = [i for i in plan["issues"] if i.get("rule") == "progress_copied"]
    assert {i["code"] for i in copied} == {"needs-explanation"}
    assert {i["task_id"] for i in copied} == {"5", "6", "22"}
    # each points at the 说明 cell of its own row, and names the progress cell
    rows = task_rows(three_rounds["forms2"][PLAN])
    heads = header_columns(openpyxl.load_workbook(three_rounds["forms2"][PLAN])["填报"])
    progress = openpyxl.utils.get_column_letter(heads["进展情况"])
    note = openpyxl.utils.get_column_letter(heads["说明"])
    assert {(i["task_id"], i["sheet"], i["cell"]) for i in copied} == {
        (t, "填报", f"{note}{rows[t]}") for t in ("5", "6", "22")
    }
    assert all(f"（{progress}{rows[i['task_id']]}）" in i["message"] for i in copied)
    assert all("2019年上半年" in i["message"] for i in copied)
    others = [f for d, f in files.items() if d != PLAN]
    assert not any(i.get("rule") == "progress_copied" for f in others for i in f["issues"])
    # files of R1 still in the inbox are noted, not re-judged
    old = [f for f in three_rounds["r2"]["files"] if f["path"].startswith(R1)]
    assert {f["verdict"] for f in old} == {"skipped"}


def _eml(path: Path) -> Any:
    return BytesParser(policy=policy.default).parsebytes(path.read_bytes())


def test_reminders_for_missing_and_rejected(
    three_rounds: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlflow.ledger.book import Ledger

    ws = three_rounds["ws"]
    # who answered and what was wrong, never what they answered (all of it, in a large round)
    asked: list[bool] = []
    real = Ledger.files
    monkeypatch.setattr(
        Ledger,
        "files",
        lambda self, r, with_values=True: asked.append(with_values) or real(self, r, with_values),
    )
    data = run_json(["remind", "-w", str(ws), "--round", R2])
    assert asked and not any(asked)
    by = {r["division"]: r for r in data["reminders"]}
    assert set(by) == {FOREIGN, RES}
    msg = _eml(Path(by[FOREIGN]["path"]))
    assert msg["X-Unsent"] == "1"
    assert msg["To"].addresses[0].display_name == f"{FOREIGN}联络员"
    assert "@example.gov.cn" in str(msg["To"]) and "市科技局" in str(msg["From"])
    assert "【催报】" in msg["Subject"] and "2019年下半年" in msg["Subject"]
    body = msg.get_body(preferencelist=("plain",)).get_content()
    for line in (
        "17. 实施顶尖人才计划（牵头）",
        "18. 培养高端创新人才（牵头）",
        "21. 创新开放协同机制（配合）",
    ):
        assert line in body
    assert "尚未收到" in body and "距报送时限还有" in body
    (attachment,) = list(msg.iter_attachments())
    form = three_rounds["forms2"][FOREIGN]
    assert attachment.get_filename() == form.name
    payload = attachment.get_payload(decode=True)
    assert hashlib.sha256(payload).hexdigest() == hashlib.sha256(form.read_bytes()).hexdigest()

    rejected = _eml(Path(by[RES]["path"]))
    body = rejected.get_body(preferencelist=("plain",)).get_content()
    assert "经核验需要修改" in body and "不知道" in body
    (attachment,) = list(rejected.iter_attachments())
    assert attachment.get_filename() == f"{RES}-回执.xlsx"
    receipt = ws / "outbox" / R2 / "receipts" / f"{RES}-回执.xlsx"
    assert attachment.get_payload(decode=True) == receipt.read_bytes()
    # the same state writes the same bytes
    before = Path(by[FOREIGN]["path"]).read_bytes()
    run(["remind", "-w", str(ws), "--round", R2])
    assert Path(by[FOREIGN]["path"]).read_bytes() == before


def test_no_reminders_when_everyone_answered(three_rounds: dict[str, Any]) -> None:
    ws = three_rounds["ws"]
    data = run_json(["remind", "-w", str(ws), "--round", R1])
    assert data["reminders"] == []
    assert "无需催报" in run(["remind", "-w", str(ws), "--round", R1]).output


def test_history_sheet_and_change_counts(three_rounds: dict[str, Any]) -> None:
    ws = three_rounds["ws"]
    merged = Path(run_json(["merge", "-w", str(ws), "--round", R3])["path"])
    wb = openpyxl.load_workbook(merged)
    sheet = wb["历次进展"]
    titles = [c.value for c in sheet[3] if c.value]
    assert titles == ["序号", "任务", "2019年上半年", "2019年下半年", "2020年上半年"]
    rows = {str(r[0]): r for r in sheet.iter_rows(min_row=5, values_only=True) if r[0]}
    assert rows["5"][2:8] == ("按计划推进", 40, "按计划推进", 70, "已完成", 100)
    assert rows["17"][2:8] == ("按计划推进", 40, "未报送", None, "按计划推进", 80)
    assert rows["2"][4] == "未报送"  # 资源配置 was rejected in R2
    assert sheet.conditional_formatting  # status colours
    overview = " ".join(str(c) for row in wb["总览"].iter_rows(values_only=True) for c in row if c)
    # R2 -> R3: task 5 improved, 13 worsened; 2, 3, 4, 10, 17-19, 21, 23 were 未报送 in R2
    assert "状态改善 1 项，变差 1 项，持平 13 项" in overview


def test_history_sheet_layout(three_rounds: dict[str, Any]) -> None:
    """Each round's title over its own status and percent pair; the header's second row
    styled as its first, under the merged 序号 and 任务."""
    ws = three_rounds["ws"]
    merged = Path(run_json(["merge", "-w", str(ws), "--round", R3])["path"])
    sheet = openpyxl.load_workbook(merged)["历次进展"]
    assert sorted(str(m) for m in sheet.merged_cells.ranges) == [
        "A1:H1", "A3:A4", "B3:B4", "C3:D3", "E3:F3", "G3:H3",
    ]  # fmt: skip
    assert [sheet.cell(3, c).value for c in (3, 5, 7)] == [
        "2019年上半年", "2019年下半年", "2020年上半年",
    ]  # fmt: skip
    assert [c.value for c in sheet[4]][2:8] == ["完成状态", "进度(%)"] * 3
    # read-only: each cell of a merged range with its own style, as Excel shows the borders
    # closed before the test ends: on Windows an open reader stops the next merge
    with closing(openpyxl.load_workbook(merged, read_only=True)) as book:
        cells = book["历次进展"]
        header = cells["A3"]
        for ref in ("A4", "B4", "C4", "D4", "H4"):
            cell = cells[ref]
            assert (cell.fill.fgColor.rgb, cell.font.b, cell.border.bottom.style) == (
                header.fill.fgColor.rgb,
                header.font.b,
                header.border.bottom.style,
            ), ref
        assert header.fill.fgColor.rgb not in (None, "00000000")
    name = sheet["B5"]
    assert name.value and name.alignment.wrap_text and name.border.left.style == "thin"
    assert sheet["A5"].alignment.horizontal == "center"
    assert sheet.freeze_panes == "C5"


def test_history_json_against_what_was_filled(three_rounds: dict[str, Any]) -> None:
    ws = three_rounds["ws"]
    data = run_json(["history", "-w", str(ws), "--task", "5"])
    assert data["rounds"] == [R1, R2, R3]
    (task,) = data["tasks"]
    assert [(r["round"], r["status"], r["percent"]) for r in task["rounds"]] == [
        (R1, "按计划推进", 40),
        (R2, "按计划推进", 70),
        (R3, "已完成", 100),
    ]
    r3 = task["rounds"][2]
    by = {rep["division"]: rep for rep in r3["reports"]}
    assert by[PLAN]["role"] == "lead" and by[PLAN]["values"]["progress"] == f"{R3} 任务5的进展"
    assert by["创新平台与合作处"]["role"] == "cooperating"
    assert r3["conflict"] is True  # the co-operating division still says 按计划推进
    text = run(["history", "-w", str(ws), "--task", "5"]).output
    assert "2020年上半年（2020-H1）：已完成 100%" in text
    everything = run_json(["history", "-w", str(ws)])
    assert len(everything["tasks"]) == 24
    assert run(["history", "-w", str(ws), "--task", "99"], expect=3).output.count("没有序号") == 1


def test_prefill_from_unknown_round(ws: Path) -> None:
    result = run(["generate", "-w", str(ws), "--round", R2, "--prefill-from", "2018-H1"], expect=3)
    assert "没有轮次" in result.output


def test_receipts_and_reminders_keep_inbox_unchanged(three_rounds: dict[str, Any]) -> None:
    ws = three_rounds["ws"]
    from .conftest import tree_digest

    before = tree_digest(ws / "inbox")
    run(["remind", "-w", str(ws), "--round", R2])
    run(["merge", "-w", str(ws), "--round", R2])
    run(["collect", "-w", str(ws), "--round", R3])
    assert tree_digest(ws / "inbox") == before
    set_mtime(ws / "inbox", time.time())
