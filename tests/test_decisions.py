"""The coordinator's last word: accept, exclude and undo, by content, never touching inbox/,
kept through re-runs and renames, and shown in status, the receipt and the 汇总表."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from .conftest import run, run_json, tree_digest

R = "2019-H1"
RES = "资源配置与诚信建设处"
WRONG = f"{RES}.xlsx"  # the demo's return with errors
FIXED = f"{RES}（修改稿）.xlsx"  # and its correction
FOREIGN = "外国专家局"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    run(["demo", str(root), "--no-office"])
    return root


def _status(root: Path) -> dict[str, dict[str, Any]]:
    data = run_json(["status", "-w", str(root), "--round", R])
    return {d["division"]: d for d in data["divisions"]}


def _decide(root: Path, action: str, file: str, *extra: str) -> dict[str, Any]:
    return run_json([action, "-w", str(root), "--round", R, file, *extra])


def _merged(root: Path) -> Any:
    run(["merge", "-w", str(root), "--round", R])
    (path,) = (root / "outbox" / R).glob("*-汇总-*.xlsx")
    return openpyxl.load_workbook(path)


def _rows(sheet: Any, header: str) -> list[dict[str, Any]]:
    rows = list(sheet.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if header in r)
    return [dict(zip(rows[at], r, strict=False)) for r in rows[at + 1 :] if any(r)]


def test_accepting_a_rejected_return_lasts_and_shows_everywhere(demo: Path) -> None:
    inbox = tree_digest(demo / "inbox")
    # the correction goes (a wrong attachment, say), so the first return counts: rejected
    _decide(demo, "exclude", FIXED, "--reason", "发错的附件")
    assert _status(demo)[RES]["state"] == "rejected"
    result = _decide(
        demo, "accept", WRONG, "--reason", "处长电话确认，联系电话稍后补报", "--by", "王五"
    )
    assert result["decision"]["by"] == "王五" and result["file"]["verdict"] == "accepted"
    assert result["division"]["state"] == "accepted"
    mine = _status(demo)[RES]
    assert mine["state"] == "accepted" and mine["accepted_by_coordinator"] and mine["errors"] > 0
    text = run(["status", "-w", str(demo), "--round", R]).output
    assert "已采用（协调确认）" in text

    # a re-run of collect, and a rename of the file, change nothing: it is the content
    (demo / "inbox" / WRONG).rename(demo / "inbox" / "资源处-改名.xlsx")
    run(["collect", "-w", str(demo), "--round", R])
    mine = _status(demo)[RES]
    assert mine["state"] == "accepted" and mine["file"] == "资源处-改名.xlsx"
    assert mine["accepted_by_coordinator"]

    # the receipt says who let it in, and why
    receipt = openpyxl.load_workbook(demo / "outbox" / R / "receipts" / f"{RES}-回执.xlsx")
    said = [c.value for row in receipt.worksheets[0].iter_rows() for c in row if c.value]
    assert any(
        isinstance(t, str)
        and t.startswith("经联系人确认后采用（处长电话确认，联系电话稍后补报；王五")
        for t in said
    )

    # the 汇总表: its answers count, the cells in error are marked, the decision is in 来源
    wb = _merged(demo)
    detail = _rows(wb["任务明细"], "序号")
    noted = [r for r in detail if "经协调办公室确认采用" in str(r["备注"] or "")]
    assert noted and all(RES in str(r["备注"]) for r in noted)
    assert all(r["牵头处室"] and RES in r["牵头处室"] for r in noted)
    sources = {r["文件"]: r for r in _rows(wb["来源"], "文件")}
    assert "处长电话确认" in sources["资源处-改名.xlsx"]["协调办公室决定"]
    assert sources[FIXED]["结论"] == "不采用（协调办公室决定）"
    assert "发错的附件" in sources[FIXED]["协调办公室决定"]
    problems = [str(c.value) for row in wb["校验问题"].iter_rows() for c in row if c.value]
    assert any("经联系人确认后采用" in p for p in problems)
    # the inbox: renamed by the test itself, never touched by xlflow
    inbox.pop(WRONG)
    after = tree_digest(demo / "inbox")
    after.pop("资源处-改名.xlsx")
    assert after == inbox


def test_exclude_and_undo(demo: Path) -> None:
    before = _status(demo)[FOREIGN]
    assert before["state"] == "accepted"
    out = _decide(demo, "exclude", before["file"], "--reason", "测试文件")
    assert out["file"]["verdict"] == "excluded" and out["division"]["state"] == "missing"
    assert FOREIGN in run_json(["status", "-w", str(demo), "--round", R])["missing"]
    run(["collect", "-w", str(demo), "--round", R])  # still excluded
    assert _status(demo)[FOREIGN]["state"] == "missing"
    undone = run_json(["undo", "-w", str(demo), "--round", R, before["file"]])
    assert undone["undone"] and undone["file"]["verdict"] == "accepted"
    assert _status(demo)[FOREIGN] == before
    # nothing left to undo
    result = run(["undo", "-w", str(demo), "--round", R, before["file"]], expect=3)
    assert "没有生效中的决定" in result.output


def test_a_file_that_left_the_inbox_shows_and_can_be_ended(demo: Path) -> None:
    counted = _status(demo)[FOREIGN]["file"]
    (demo / "inbox" / counted).unlink()
    run(["collect", "-w", str(demo), "--round", R])
    mine = _status(demo)[FOREIGN]
    assert mine["state"] == "accepted" and mine["in_inbox"] is False
    assert "（已不在 inbox 中）" in run(["status", "-w", str(demo), "--round", R]).output
    out = _decide(demo, "exclude", counted, "--reason", "处室撤回")
    assert out["file"]["in_inbox"] is False and out["division"]["state"] == "missing"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["accept", "政策规划处.xlsx", "--reason", "x"], "本来就已采用"),
        (["accept", "没有这个文件.xlsx", "--reason", "x"], "没有收到过"),
        (["exclude", "政策规划处.xlsx", "--reason", "  "], "写明理由"),
    ],
)
def test_decisions_that_cannot_be_made_say_why(demo: Path, args: list[str], message: str) -> None:
    result = run([args[0], "-w", str(demo), "--round", R, *args[1:]], expect=3)
    assert message in result.output and "Traceback" not in result.output
    assert run([args[0], "-w", str(demo), "--round", R, args[1]], expect=2).exit_code == 2


def test_a_decision_finds_a_file_by_its_path_on_disk_or_its_sha256(demo: Path) -> None:
    copy = demo.parent / "拷贝.xlsx"
    shutil.copy(demo / "inbox" / "政策规划处.xlsx", copy)
    out = _decide(demo, "exclude", str(copy), "--reason", "重复")
    sha = out["file"]["sha256"]
    assert out["file"]["path"] in ("政策规划处.xlsx", "转发/政策规划处.xlsx")
    undone = run_json(["undo", "-w", str(demo), "--round", R, sha[:12]])
    assert undone["file"]["sha256"] == sha
