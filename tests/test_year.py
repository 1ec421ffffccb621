"""A year of rounds: four quarters over one register revised after the first, an
extension, a division that sends three returns, one that copies last round's text, and
the scorecard at the end, every figure recounted here from the ledger by another route.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from xlflow.issues import Verdict
from xlflow.ledger.book import Ledger
from xlflow.register.detect import detect_layout
from xlflow.register.revise import revise
from xlflow.register.words import likeness, words_of

from .conftest import GOOD_CONTACT, complete_values, fill, run, run_json, set_mtime
from .office import Job, needs_office, run_batch
from .test_registers_corpus import FILES

DATA = Path(__file__).parent / "data" / "rounds"
Q = ("2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4")
DEADLINES = {
    "2025-Q1": dt.date(2025, 3, 31),
    "2025-Q2": dt.date(2025, 6, 30),
    "2025-Q3": dt.date(2025, 9, 30),
    "2025-Q4": dt.date(2025, 12, 31),
}
UNITS = ("高新处", "规划处", "财务处", "办公室")


def _when(round_id: str, days: int) -> float:
    """A time `days` after the round's deadline (before it, when negative), at 10:00."""
    day = DEADLINES[round_id] + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(10)).timestamp()


def _form(root: Path, round_id: str, unit: str) -> Path:
    return root / "outbox" / round_id / "forms" / f"{unit}_{round_id}_填报表.xlsx"


def _return(
    root: Path,
    round_id: str,
    unit: str,
    days: int,
    status: str = "按计划推进",
    percent: int = 50,
    name: str = "",
    edit: Any = None,
) -> Path:
    form = _form(root, round_id, unit)
    values = complete_values(form, status, percent)
    for tid, row in values.items():
        row["进展情况"] = f"{round_id} {unit} 序号{tid}：完成{percent}%。"
        if edit:
            edit(tid, row)
    out = fill(form, root / "inbox" / round_id / (name or form.name), values, GOOD_CONTACT)
    set_mtime(out, _when(round_id, days))
    return out


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_year(tmp_path_factory.mktemp("year") / "w")


def _init(root: Path) -> None:
    """A working folder on the first quarter's register."""
    run(
        [
            "init",
            str(root),
            "--register",
            str(DATA / "清单-2025-一季度.csv"),
            "--office",
            "市科技局",
        ]
    )


def run_year(root: Path) -> dict[str, Any]:
    """The year's four rounds in a new working folder `root`; what each step said."""
    _init(root)
    out: dict[str, Any] = {"root": root}

    def generate(round_id: str) -> None:
        run(
            [
                "generate",
                "-w",
                str(root),
                "--round",
                round_id,
                "--deadline",
                DEADLINES[round_id].isoformat(),
            ]
        )

    # Q1: everyone on time but 财务处, one day late
    generate("2025-Q1")
    for unit, days in (("高新处", -2), ("规划处", -1), ("财务处", 1), ("办公室", -3)):
        _return(root, "2025-Q1", unit, days, percent=40)
    run(["collect", "-w", str(root), "--round", "2025-Q1"])
    # between Q1 and Q2 the register is revised
    revised = DATA / "清单-2025-二季度.csv"
    out["preview"] = run_json(["register", "-w", str(root), "--update", str(revised)])
    out["applied"] = run_json(["register", "-w", str(root), "--update", str(revised), "--apply"])
    # Q2: 办公室 never; 财务处 on an old Q1 form made from version 1
    generate("2025-Q2")
    for unit, days in (("高新处", -1), ("规划处", 0), ("财务处", -2)):
        _return(root, "2025-Q2", unit, days, percent=60)
    q1_form = _form(root, "2025-Q1", "高新处")
    stale = fill(
        q1_form,
        root / "inbox" / "2025-Q2" / "高新处-旧表.xlsx",
        complete_values(q1_form),
        GOOD_CONTACT,
    )
    set_mtime(stale, _when("2025-Q2", -5))
    out["Q2"] = run_json(["collect", "-w", str(root), "--round", "2025-Q2"])
    # Q3: 办公室 is given five more days and returns on the third; 规划处 sends three
    # returns (sent back, accepted, then one cell changed); 高新处 lags
    generate("2025-Q3")
    out["extended"] = run_json(
        ["extend", "-w", str(root), "--round", "2025-Q3", "--division", "办公室",
         "--until", (DEADLINES["2025-Q3"] + dt.timedelta(days=5)).isoformat(), "--reason", "处长出差"]
    )  # fmt: skip
    _return(root, "2025-Q3", "办公室", 3, percent=70)
    _return(root, "2025-Q3", "高新处", -1, "进度滞后", 55)

    def blank(tid: str, row: dict[str, Any]) -> None:
        row["进展情况"] = None

    _return(root, "2025-Q3", "规划处", -4, percent=70, name="规划处-1.xlsx", edit=blank)
    _return(root, "2025-Q3", "规划处", -3, percent=70, name="规划处-2.xlsx")

    def more(tid: str, row: dict[str, Any]) -> None:
        if tid == "4":
            row["完成进度(%)"] = 75

    _return(root, "2025-Q3", "规划处", -2, percent=70, name="规划处-3.xlsx", edit=more)
    _return(root, "2025-Q3", "财务处", -1, percent=50)
    out["Q3"] = run_json(["collect", "-w", str(root), "--round", "2025-Q3"])
    # Q4: 财务处 copies Q3's progress text word for word; 高新处 lags again, percent down
    generate("2025-Q4")
    for unit, days in (("高新处", 0), ("规划处", -1), ("办公室", -1)):
        _return(
            root,
            "2025-Q4",
            unit,
            days,
            "进度滞后" if unit == "高新处" else "按计划推进",
            50 if unit == "高新处" else 90,
        )

    def copied(tid: str, row: dict[str, Any]) -> None:
        row["进展情况"] = f"2025-Q3 财务处 序号{tid}：完成50%。"

    _return(root, "2025-Q4", "财务处", -1, percent=80, edit=copied)
    out["Q4"] = run_json(["collect", "-w", str(root), "--round", "2025-Q4"])
    out["merged"] = run_json(["merge", "-w", str(root), "--round", "2025-Q4"])
    out["scorecard"] = run_json(["scorecard", "-w", str(root), "--year", "2025"])
    return out


def test_the_revision_is_shown_before_it_is_applied(year: dict[str, Any]) -> None:
    preview = year["preview"]
    assert not preview["applied"] and preview["version"] is None
    kinds = {(c["kind"], tuple(c["old"]), tuple(c["new"])) for c in preview["changes"]}
    assert ("retired", ("3",), ()) in kinds
    assert ("added", (), ("8",)) in kinds
    assert ("split", ("5",), ("5-1", "5-2")) in kinds
    assert ("renamed", ("4",), ("4",)) in kinds
    assert ("renamed", ("6",), ("7",)) in kinds  # renumbered, 83 % alike: not retired + added
    assert ("handed", ("2",), ("2",)) in kinds
    assert ("units", ("5",), ("5-2",)) in kinds
    assert not any(c["kind"] == "retired" and c["old"] == ["6"] for c in preview["changes"])
    assert year["applied"]["applied"] and year["applied"]["version"] == 2


def test_history_follows_every_task_through_the_revision(year: dict[str, Any]) -> None:
    root = year["root"]
    data = run_json(["history", "-w", str(root)])
    assert data["rounds"] == list(Q)
    by_id = {t["id"]: t for t in data["tasks"]}
    assert sorted(by_id) == ["1", "2", "4", "5-1", "5-2", "7", "8"]
    then = {tid: [r["task_ids"] for r in t["rounds"]] for tid, t in by_id.items()}
    assert then["7"] == [["6"], ["7"], ["7"], ["7"]]
    assert then["5-1"] == [["5"], ["5-1"], ["5-1"], ["5-1"]]
    assert then["8"][0] == []  # added by the revision
    q1 = {tid: t["rounds"][0] for tid, t in by_id.items()}
    assert q1["7"]["status"] == "按计划推进" and q1["7"]["percent"] == 40
    assert q1["5-2"]["percent"] == 40 and q1["8"]["event"] == "本轮次尚无此任务"
    q2 = {tid: t["rounds"][1] for tid, t in by_id.items()}
    assert "拆分自 5" in q2["5-1"]["event"] and "原序号 6" in q2["7"]["event"]
    assert "由 高新处 改为 规划处 牵头" in q2["2"]["event"]
    assert q2["8"]["event"] == "新增"
    text = run(["history", "-w", str(root), "--task", "7"]).output
    assert "［当时序号 6］" in text and "〔原序号 6" in text
    # the consolidated workbook's 历次进展 follows them too
    wb = openpyxl.load_workbook(year["merged"]["path"])
    rows = {r[0]: r for r in wb["历次进展"].iter_rows(min_row=5, values_only=True) if r[0]}
    assert rows["7"][2:4] == ("按计划推进", 40) and rows["5-1"][2:4] == ("按计划推进", 40)
    assert rows["8"][2] == "尚无此项"


def test_each_part_of_a_split_task_is_checked_against_the_task_before(
    year: dict[str, Any],
) -> None:
    """Task 5 was split into 5-1 and 5-2: 财务处's Q2 form carries its Q1 answer to 5 for
    both parts, so a fall in either is asked about (a merged task has no one answer)."""
    from xlflow.ledger.book import Ledger
    from xlflow.ledger.readers import FormStore

    root = year["root"]
    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        q2 = ledger.load_round("2025-Q2")
    spec = FormStore(root / ".xlflow" / "ledger.sqlite", q2)["财务处"]
    before = {row.task_id: dict(row.before) for row in spec.rows}
    assert before["5-1"].get("percent") == 40 and before["5-2"].get("percent") == 40
    assert spec.before_round == "2025年第一季度"


def test_a_round_one_form_in_round_two_names_both_versions(year: dict[str, Any]) -> None:
    stale = next(f for f in year["Q2"]["files"] if f["path"].endswith("高新处-旧表.xlsx"))
    assert stale["verdict"] == "rejected"
    message = next(i["message"] for i in stale["issues"] if i["code"] == "wrong-round")
    assert "按任务清单第 1 版生成" in message and "使用第 2 版" in message
    assert "序号 2（由 高新处 改为 规划处 牵头）" in message and "文字有修改" in message


def test_an_older_form_can_give_its_unchanged_answers(year: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "w"
    shutil.copytree(year["root"], root)
    settings = root / "xlflow.toml"
    settings.write_text(
        settings.read_text("utf-8").replace(
            'older_forms = "refuse"', 'older_forms = "take_unchanged"'
        ),
        "utf-8",
    )
    data = run_json(["collect", "-w", str(root), "--round", "2025-Q2"])
    stale = next(f for f in data["files"] if f["path"].endswith("高新处-旧表.xlsx"))
    note = next(i["message"] for i in stale["issues"] if i["code"] == "older-form-taken")
    # of 高新处's tasks only 1 is the very same task; 2 and 4 changed
    assert "采用其中未变化的序号 1 的" in note and "序号 2、4 有变化或为新增" in note
    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        record = next(f for f in ledger.files("2025-Q2") if f.path.endswith("高新处-旧表.xlsx"))
    assert set(record.values) == {"1"}


def test_the_extended_division_is_not_late(year: dict[str, Any]) -> None:
    root = year["root"]
    assert year["extended"]["extension"]["until"] == "2025-10-05"
    status = run_json(["status", "-w", str(root), "--round", "2025-Q3"])
    office = next(d for d in status["divisions"] if d["division"] == "办公室")
    assert office["late"] is False and office["overdue"] is False
    assert office["extension"]["reason"] == "处长出差"
    files = [f for f in year["Q3"]["files"] if f["division"] == "办公室"]
    assert not any(i["code"] == "late-return" for f in files for i in f["issues"])
    # without the extension, the same return is late
    other = root.parent / "w2"
    shutil.copytree(root, other)
    run(["extend", "-w", str(other), "--round", "2025-Q3", "--division", "办公室", "--undo"])
    status = run_json(["status", "-w", str(other), "--round", "2025-Q3"])
    assert next(d for d in status["divisions"] if d["division"] == "办公室")["late"] is True


def test_other_rounds_files_stay_out_on_every_collect(year: dict[str, Any]) -> None:
    """Q3 was collected twice (extend collects too): its inbox's Q1 and Q2 files, read
    before, stay other rounds' files, and never count for Q3."""
    earlier = [
        f
        for f in year["Q3"]["files"]
        if not f["path"].startswith("2025-Q3/") and "旧表" not in f["path"]
    ]
    assert earlier and {f["verdict"] for f in earlier} == {"skipped"}
    assert all(i["code"] == "other-round-file" for f in earlier for i in f["issues"])


def test_the_receipts_state_exactly_the_changed_cells(year: dict[str, Any]) -> None:
    files = {f["path"].rsplit("/", 1)[-1]: f for f in year["Q3"]["files"]}
    second = files["规划处-2.xlsx"]
    changed = next(
        i["message"] for i in second["issues"] if i["code"] == "changed-since-last-return"
    )
    assert "进展情况：（空） → “2025-Q3 规划处 序号" in changed
    third = files["规划处-3.xlsx"]
    changed = next(
        i["message"] for i in third["issues"] if i["code"] == "changed-since-last-return"
    )
    assert "相比改动了 1 处：序号 4 完成进度(%)：“70” → “75”。" in changed
    receipt = year["root"] / "outbox" / "2025-Q3" / "receipts"
    texts = [
        c
        for path in receipt.glob("规划处*")
        for sheet in openpyxl.load_workbook(path).worksheets
        for row in sheet.iter_rows(values_only=True)
        for c in row
        if isinstance(c, str)
    ]
    assert any("序号 4 完成进度(%)：“70” → “75”" in t for t in texts)


def test_a_copied_progress_text_is_flagged(year: dict[str, Any]) -> None:
    finance = next(
        f
        for f in year["Q4"]["files"]
        if f["division"] == "财务处" and f["path"].startswith("2025-Q4/")
    )
    assert ("needs-explanation", "progress_copied") in {
        (i["code"], i.get("rule")) for i in finance["issues"]
    }


def test_the_scorecard_reads_a_return_s_values_only_to_compare_them(
    year: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A year of 10,000 returns once held every answer of every round at once (80 MiB a
    round, merge's peak at 10,000 returns went from 86 to 164 MiB): the values are now
    read a file at a time, and only for a division with two answers to compare."""
    from xlflow.reporting.scorecard import scorecard
    from xlflow.workspace import Workspace

    asked: list[tuple[str, str]] = []
    said = Ledger.said

    def counting(self: Ledger, round_id: str, path: str, sha: str, fields: Any) -> Any:
        asked.append((round_id, path))
        return said(self, round_id, path, sha, fields)

    monkeypatch.setattr(Ledger, "said", counting)
    ws = Workspace.open(year["root"])
    first = scorecard(ws, 2025, Q[0])
    assert first.divisions and not asked  # one round: nothing to compare, nothing read
    whole = scorecard(ws, 2025)
    accepted = {d.division: d.on_time + d.late for d in whole.divisions}
    assert len(asked) == len(set(asked)) == sum(n for n in accepted.values() if n > 1)
    by_unit = {d.division: d for d in whole.divisions}
    assert sorted(by_unit["高新处"].lagging) == ["1", "2", "4"]


def test_the_scorecard_is_what_the_ledger_says(year: dict[str, Any]) -> None:
    """Each figure recounted from the recorded files, by another route than scorecard's."""
    root = year["root"]
    card = {d["division"]: d for d in year["scorecard"]["divisions"]}
    assert [r["id"] for r in year["scorecard"]["rounds"]] == list(Q)
    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        extensions = {r: ledger.extensions(r) for r in Q}
        files = {r: ledger.files(r) for r in Q}
        sent = {r: ledger.form_divisions(r) for r in Q}
    for unit in UNITS:
        expected = {
            "rounds": 0,
            "on_time": 0,
            "late": 0,
            "never": 0,
            "first_time": 0,
            "after_rework": 0,
            "rework_returns": 0,
        }
        days: list[int] = []
        said: list[dict[str, Any]] = []
        for r in Q:
            if unit not in sent[r]:
                continue
            expected["rounds"] += 1
            mine = sorted(
                (
                    f
                    for f in files[r]
                    if f.division == unit and f.verdict not in (Verdict.SKIPPED, Verdict.DUPLICATE)
                ),
                key=lambda f: f.mtime,
            )
            accepted = [f for f in mine if f.verdict is Verdict.ACCEPTED]
            rejected = [k for k, f in enumerate(mine) if f.verdict is Verdict.REJECTED]
            if rejected:
                expected["rework_returns"] += len(mine) - rejected[0] - 1
            if not accepted:
                expected["never"] += 1
                said.append({})
                continue
            counted = accepted[-1]
            due = extensions[r][unit].until if unit in extensions[r] else DEADLINES[r]
            got = dt.datetime.fromtimestamp(counted.mtime).date()
            expected["late" if got > due else "on_time"] += 1
            expected[
                "after_rework" if rejected and mine.index(counted) > rejected[0] else "first_time"
            ] += 1
            days.append((due - got).days)
            said.append(counted.values)
        mine_card = card[unit]
        for key, value in expected.items():
            assert mine_card[key] == value, (unit, key)
        assert mine_card["average_days"] == (round(sum(days) / len(days), 1) if days else None)
    # 高新处 lagged in Q3 and Q4 on its tasks; its percent fell from Q3 to Q4 (55 → 50)
    assert sorted(card["高新处"]["lagging"]) == ["1", "2", "4"]
    assert any(x.startswith("2025年第四季度") for x in card["高新处"]["fell"])
    assert card["规划处"]["after_rework"] == 1 and card["规划处"]["rework_returns"] == 2
    assert card["办公室"]["never"] == 1 and card["财务处"]["late"] == 1
    # the consolidated workbook's 考核情况 holds the same figures
    sheet = openpyxl.load_workbook(year["merged"]["path"])["考核情况"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0] in UNITS}
    for unit in UNITS:
        assert rows[unit][1:5] == (
            card[unit]["rounds"],
            card[unit]["on_time"],
            card[unit]["late"],
            card[unit]["never"],
        )
    report = run_json(["report", "-w", str(root), "--round", "2025-Q4"])
    listed = {d["division"]: d for d in report["scorecard"]["divisions"]}
    assert {u: listed[u]["late"] for u in UNITS} == {u: card[u]["late"] for u in UNITS}
    assert "2025年以来共4个轮次" in report["scorecard"]["sentence"]


# --- every register of the corpus, revised by a script ---


def _revised(register: Any) -> tuple[Any, dict[str, Any]]:
    """The register with its second task dropped, its longest task renamed (at least 80 %
    alike), another split in two, and everything in reverse order."""
    tasks = list(register.tasks)
    dropped = tasks[1]
    rest = [t for t in tasks if t is not dropped]
    longest = max(rest, key=lambda t: len(words_of(t, ("序号",))))
    split = next(t for t in rest if t is not longest)

    def reworded(t: Any) -> Any:
        columns = []
        done = False
        for header, text in t.columns:
            if not done and len(text) >= 8 and text != t.id:
                text, done = text[:-2] + "（修订）", True
            columns.append((header, text))
        return replace(t, columns=tuple(columns))

    out = []
    for t in rest:
        if t is longest:
            out.append(reworded(t))
        elif t is split:
            out += [replace(t, id=f"{t.id}-1"), replace(t, id=f"{t.id}-2")]
        else:
            out.append(t)
    out.reverse()
    return replace(register, tasks=tuple(out)), {
        "dropped": dropped.id, "renamed": longest.id, "split": split.id,
        "alike": likeness(words_of(longest, ("序号",)), words_of(reworded(longest), ("序号",))),
    }  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_revision_of_every_corpus_register_is_found(path: Path) -> None:
    found = detect_layout(path)
    old = found.register
    new, did = _revised(old)
    skip = (
        found.settings.id_column,
        found.settings.divisions_column,
        found.settings.lead_column,
        found.settings.cooperating_column,
    )
    revision = revise(old, new, skip)
    kinds: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for c in revision.changes:
        kinds.setdefault(c.kind, []).append((c.old_ids, c.new_ids))
    assert kinds.get("retired") == [((did["dropped"],), ())]
    assert kinds.get("split") == [((did["split"],), (f"{did['split']}-1", f"{did['split']}-2"))]
    assert "added" not in kinds
    if did["alike"] >= 0.8:
        assert kinds.get("renamed") == [((did["renamed"],), (did["renamed"],))]
        assert not revision.uncertain
    # the reverse order is no change at all
    assert set(kinds) <= {"retired", "split", "renamed", "targets", "units", "handed"}


def test_the_console_gives_extensions_and_shows_the_year(
    year: dict[str, Any], tmp_path: Path
) -> None:
    from urllib.parse import quote, urlencode

    from .test_web import Console

    root = tmp_path / "w"
    shutil.copytree(year["root"], root)
    console = Console(root)
    try:
        fields = urlencode(
            {
                "csrf_token": console.csrf(),
                "division": "财务处",
                "until": "2026-01-05",
                "reason": "年底决算",
                "action": "extend",
            }
        )
        status, _, _ = console.post_form("/r/2025-Q4/extend", fields)
        assert status == 303
        status, page, _ = console.request("GET", f"/r/2025-Q4/d/{quote('财务处')}")
        assert status == 200 and "延期至 2026-01-05" in page and "年底决算" in page
        status, page, _ = console.request("GET", "/r/2025-Q4")
        assert "延期至 01-05" in page
        status, page, _ = console.request("GET", "/scorecard?year=2025")
        assert status == 200 and "2025年度考核情况" in page and 'data-division="规划处"' in page
        status, page, _ = console.request("GET", "/register/7")
        assert "［当时序号 6］" in page and "原序号 6" in page
    finally:
        console.stop()
    data = run_json(["status", "-w", str(root), "--round", "2025-Q4"])
    assert (
        next(d for d in data["divisions"] if d["division"] == "财务处")["extension"]["until"]
        == "2026-01-05"
    )


def _register(rows: list[tuple[str, str, str]]) -> Any:
    from xlflow.model import Register, Task

    return Register(
        "x",
        ("序号", "主要内容", "责任处室"),
        tuple(
            Task(
                tid,
                "g",
                (("序号", tid), ("主要内容", text), ("责任处室", unit)),
                (unit,),
                (),
                (),
                n,
            )
            for n, (tid, text, unit) in enumerate(rows)
        ),
    )


def test_a_merge_is_found_and_an_unshared_word_is_not() -> None:
    old = _register(
        [
            ("1", "建设产业技术研究院，引进高端研发团队", "规划处"),
            ("2", "推进省级重点实验室建设和运行评估", "规划处"),
            ("3", "开展科普宣传活动", "办公室"),
        ]
    )
    new = _register(
        [
            (
                "1",
                "建设产业技术研究院，引进高端研发团队；推进省级重点实验室建设和运行评估",
                "规划处",
            ),
            ("3", "开展科普宣传活动", "办公室"),
        ]
    )
    revision = revise(old, new, ("序号", "责任处室"))
    kinds = {(c.kind, c.old_ids, c.new_ids) for c in revision.changes}
    assert ("merged", ("2",), ("1",)) in kinds
    assert not any(c.kind == "retired" for c in revision.changes)
    lineage = {(x.old_id, x.new_id, x.kind) for x in revision.lineage}
    assert ("2", "1", "merged") in lineage and ("3", "3", "same") in lineage


def _mapping_rows(path: Path) -> list[list[str]]:
    with closing(openpyxl.load_workbook(path, read_only=True)) as wb:
        return [
            ["" if v is None else str(v) for v in r]
            for r in wb["对照表"].iter_rows(values_only=True)
        ]


def _write_mapping_rows(path: Path, rows: list[list[str]]) -> None:
    """The mapping file as the coordinator saves it after editing it in Excel."""
    wb = openpyxl.load_workbook(path)
    ws = wb["对照表"]
    ws.delete_rows(1, ws.max_row)
    for row in rows:
        ws.append(row)
    wb.save(path)


def test_an_uncertain_match_waits_for_the_coordinator(tmp_path: Path) -> None:
    """A proposed pair is confirmed in the mapping workbook, a pair xlflow could not see
    is added there with its handover, the output then shows the coordinator's pairs, and
    history follows them."""
    root = tmp_path / "w"
    _init(root)
    run(["generate", "-w", str(root), "--round", "2025-Q1"])
    revised = tmp_path / "修订.csv"
    text = (DATA / "清单-2025-一季度.csv").read_text("utf-8")
    # task 6 renumbered to 9 and reworded well beyond a rewording (proposed); task 3
    # rewritten and handed to 高新处 (no word in common: retired and added, to xlflow)
    text = text.replace(
        "6,创新生态,开展科普宣传活动", "9,创新生态,组织开展全民科学素质提升科普宣传周活动"
    ).replace("3,创新平台,建设产业技术研究院,规划处", "10,创新平台,组建新型研发机构,高新处")
    revised.write_text(text, "utf-8")
    shown = run_json(["register", "-w", str(root), "--update", str(revised)])
    assert [(x["old"], x["new"]) for x in shown["uncertain"]] == [("6", "9")]
    assert "不足 80%" in shown["uncertain"][0]["why"]
    said = run(["register", "-w", str(root), "--update", str(revised)]).output
    assert "不确定，请确认" in said and "--accept-uncertain" not in said
    refused = run(["register", "-w", str(root), "--update", str(revised), "--apply"], expect=3)
    assert "对应不确定" in refused.output and "未做任何改动" in refused.output
    assert "--accept-uncertain" not in refused.output
    assert 'path = "templates/清单-2025-一季度.csv"' in (root / "xlflow.toml").read_text("utf-8")
    mapping = tmp_path / "对照.xlsx"
    update = ["register", "-w", str(root), "--update", str(revised)]
    run([*update, "--write-mapping", str(mapping)])
    rows = _mapping_rows(mapping)
    assert rows[0] == [
        "原序号",
        "原任务",
        "新序号",
        "新任务",
        "关系",
        "相似度",
        "其他变化",
        "待确认的原因",
        "确认",
    ]
    six = next(r for r in rows if r[0] == "6")
    # both texts side by side, the likeness, why it is unsure, and 确认 left to decide
    assert "开展科普宣传活动" in six[1] and "科普宣传周" in six[3] and six[5] and six[7]
    assert six[8] == ""
    assert any(r[0] == "3" and r[4] == "撤销" for r in rows)
    # the coordinator confirms 6 → 9 and says 3 is new 10, without a note of their own
    rows = [[*r[:8], "是"] if r[0] == "6" else r for r in rows]
    rows = [r for r in rows if r[0] != "3" and r[2] != "10"]
    rows.append(["3", "", "10", "", "改号或文字修改", "", "", "", "是"])
    _write_mapping_rows(mapping, rows)
    theirs = run([*update, "--mapping", str(mapping)]).output
    assert "对照表确定的对应关系" in theirs and "不确定" not in theirs
    assert "（对照表确认）" in theirs and "由 规划处 改为 高新处 牵头" in theirs
    assert "撤销：序号 3" not in theirs and "新增：序号 10" not in theirs
    applied = run_json([*update, "--mapping", str(mapping), "--apply"])
    assert applied["applied"] and applied["version"] == 2 and applied["by"] == "mapping"
    run(["generate", "-w", str(root), "--round", "2025-Q2"])
    history = run_json(["history", "-w", str(root), "--task", "9"])
    assert history["tasks"][0]["rounds"][0]["task_ids"] == ["6"]
    handed = run_json(["history", "-w", str(root), "--task", "10"])["tasks"][0]["rounds"]
    assert handed[0]["task_ids"] == ["3"]
    assert "由 规划处 改为 高新处 牵头" in handed[1]["event"]  # said where the version changed
    # a mapping that names a task that is not there is refused, naming its row
    bad = tmp_path / "错.csv"
    bad.write_text("原序号,新序号,关系,相似度,确认\n6,99,改名或改号,0.5,是\n", "utf-8-sig")
    wrong = run([*update, "--mapping", str(bad)], expect=3)
    assert "第 2 行" in wrong.output


def _six_reworded_as_nine(tmp_path: Path) -> tuple[Path, list[str]]:
    """A folder on the first quarter's register, and the command that compares it with a
    revision where task 6 is renumbered 9 and reworded beyond a sure pair (proposed)."""
    root = tmp_path / "w"
    _init(root)
    revised = tmp_path / "修订.csv"
    text = (DATA / "清单-2025-一季度.csv").read_text("utf-8")
    revised.write_text(
        text.replace(
            "6,创新生态,开展科普宣传活动", "9,创新生态,组织开展全民科学素质提升科普宣传周活动"
        ),
        "utf-8",
    )
    return root, ["register", "-w", str(root), "--update", str(revised)]


def test_a_mapping_csv_saved_by_excel_on_chinese_windows_is_read(tmp_path: Path) -> None:
    """The CSV for scripts, saved back by Excel in GBK with CRLF: read, not refused."""
    _, update = _six_reworded_as_nine(tmp_path)
    mapping = tmp_path / "对照.csv"
    run([*update, "--write-mapping", str(mapping)])
    lines = mapping.read_text("utf-8-sig").splitlines()
    assert lines[0].startswith("原序号,原任务,新序号,新任务,")
    fixed = [ln + "是" if ln.startswith("6,") and ln.endswith(",") else ln for ln in lines]
    mapping.write_bytes(("\r\n".join(fixed) + "\r\n").encode("gbk"))
    theirs = run_json([*update, "--mapping", str(mapping)])
    assert theirs["by"] == "mapping" and not theirs["uncertain"]
    assert {"old": "6", "new": "9"}.items() <= next(
        x for x in theirs["lineage"] if x["old"] == "6"
    ).items()


def test_a_wrong_pair_confirmed_by_mistake_is_undone_and_history_follows(tmp_path: Path) -> None:
    """Task 3 was confirmed as new 10 by mistake; the same register given again with a
    corrected mapping puts the right pairs in the ledger, and history follows them."""
    root = tmp_path / "w"
    _init(root)
    run(["generate", "-w", str(root), "--round", "2025-Q1"])
    revised = tmp_path / "修订.csv"
    text = (DATA / "清单-2025-一季度.csv").read_text("utf-8")
    text = text.replace(
        "3,创新平台,建设产业技术研究院,规划处", "10,创新平台,组建新型研发机构,高新处"
    )
    revised.write_text(text, "utf-8")
    update = ["register", "-w", str(root), "--update", str(revised)]
    mapping = tmp_path / "对照.xlsx"
    run([*update, "--write-mapping", str(mapping)])
    rows = [r for r in _mapping_rows(mapping) if r[0] not in ("3", "4") and r[2] != "10"]
    rows.append(["4", "", "10", "", "改号或文字修改", "", "", "", "是"])  # the mistake
    rows.append(["3", "", "4", "", "同一任务", "", "", "", "是"])
    _write_mapping_rows(mapping, rows)
    run_json([*update, "--mapping", str(mapping), "--apply"])
    run(["generate", "-w", str(root), "--round", "2025-Q2"])
    wrong = run_json(["history", "-w", str(root), "--task", "10"])["tasks"][0]["rounds"][0]
    assert wrong["task_ids"] == ["4"]
    # the register now in use, given again: compared with the version before it
    again = ["register", "-w", str(root), "--update", str(root / "templates" / revised.name)]
    fixed = tmp_path / "更正.xlsx"
    run([*again, "--write-mapping", str(fixed)])
    rows = [r for r in _mapping_rows(fixed) if r[0] not in ("3", "4") and r[2] not in ("4", "10")]
    rows.append(["3", "", "10", "", "改号或文字修改", "", "", "", "是"])
    rows.append(["4", "", "4", "", "同一任务", "", "", "", "是"])
    _write_mapping_rows(fixed, rows)
    shown = run([*again, "--mapping", str(fixed)]).output
    assert "更正第 2 版" in shown
    done = run_json([*again, "--mapping", str(fixed), "--apply"])
    assert done["applied"] and done["corrects"] == 2 and done["version"] == 2
    right = run_json(["history", "-w", str(root), "--task", "10"])["tasks"][0]["rounds"][0]
    assert right["task_ids"] == ["3"]
    four = run_json(["history", "-w", str(root), "--task", "4"])["tasks"][0]["rounds"][0]
    assert four["task_ids"] == ["4"]
    # and no new version was recorded: the register in use is still version 2
    assert run_json(["register", "-w", str(root), "--json"]).get("version", 2) == 2


def test_a_second_return_with_the_same_values_says_so(tmp_path: Path) -> None:
    root = tmp_path / "w"
    _init(root)
    run(["generate", "-w", str(root), "--round", "2025-Q1", "--deadline", "2099-12-31"])
    form = _form(root, "2025-Q1", "规划处")
    values = complete_values(form)
    first = fill(form, root / "inbox" / "规划处.xlsx", values, GOOD_CONTACT)
    set_mtime(first, 1_700_000_000)
    again = fill(
        form,
        root / "inbox" / "规划处（再报）.xlsx",
        values,
        GOOD_CONTACT,
        edit=lambda wb: wb.create_sheet("备注"),
    )
    set_mtime(again, 1_700_000_100)
    data = run_json(["collect", "-w", str(root), "--round", "2025-Q1"])
    second = next(f for f in data["files"] if f["path"] == "规划处（再报）.xlsx")
    notes = [i["message"] for i in second["issues"] if i["code"] == "same-as-last-return"]
    assert notes == [
        "同上次报送，无变化：与 11-15 06:13 收到的“规划处.xlsx”所填内容完全相同。"
    ] or (len(notes) == 1 and notes[0].startswith("同上次报送，无变化：与 "))


# --- revise() on registers made up by hypothesis ---

_WORDS = "培育建设推进完善开展实施组织引导加强深化健全优化打造创新产业科技人才平台金融服务园区企业项目成果转化标准数字"


@given(
    texts=st.lists(
        st.text(alphabet=_WORDS, min_size=12, max_size=30), min_size=4, max_size=12, unique=True
    ),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_revise_finds_what_was_done_to_a_made_up_register(texts: list[str], data: Any) -> None:
    """Drop one task, reword another a little, split a third, shuffle: exactly that."""
    # texts that are too alike are not two tasks an office would write
    assume(all(likeness(a, b) < 0.5 for i, a in enumerate(texts) for b in texts[i + 1 :]))
    old = _register([(str(n + 1), text, "办公室") for n, text in enumerate(texts)])
    ids = [t.id for t in old.tasks]
    dropped, reworded, split = data.draw(st.permutations(ids))[:3]
    tasks = []
    for t in old.tasks:
        if t.id == dropped:
            continue
        if t.id == split:
            tasks += [replace(t, id=f"{t.id}-1"), replace(t, id=f"{t.id}-2")]
            continue
        if t.id == reworded:
            text = t.column("主要内容")
            t = replace(
                t, columns=(("序号", t.id), ("主要内容", text[:-1] + "等"), ("责任处室", "办公室"))
            )
        tasks.append(t)
    new = replace(old, tasks=tuple(data.draw(st.permutations(tasks))))
    revision = revise(old, new, ("序号", "责任处室"))
    kinds = sorted((c.kind, c.old_ids, c.new_ids) for c in revision.changes)
    assert kinds == sorted(
        [
            ("retired", (dropped,), ()),
            ("renamed", (reworded,), (reworded,)),
            ("split", (split,), (f"{split}-1", f"{split}-2")),
        ]
    )
    assert not revision.uncertain


def test_an_earlier_round_is_read_from_whoever_led_the_task_then(tmp_path: Path) -> None:
    """Task 2 is handed from 高新处 to 规划处 by the revision: its Q1 status is 高新处's."""
    root = tmp_path / "w"
    _init(root)
    run(["generate", "-w", str(root), "--round", "2025-Q1", "--deadline", "2025-03-31"])

    def behind(tid: str, row: dict[str, Any]) -> None:
        if tid == "2":
            row["完成状态"], row["完成进度(%)"], row["存在问题"] = "进度滞后", 20, "选址未定"

    _return(root, "2025-Q1", "高新处", -1, percent=40)
    _return(root, "2025-Q1", "规划处", -1, percent=40, edit=behind)
    run(["collect", "-w", str(root), "--round", "2025-Q1"])
    run(["register", "-w", str(root), "--update", str(DATA / "清单-2025-二季度.csv"), "--apply"])
    run(["generate", "-w", str(root), "--round", "2025-Q2", "--deadline", "2025-06-30"])
    merged = run_json(["merge", "-w", str(root), "--round", "2025-Q2"])
    rows = {
        r[0]: r
        for r in openpyxl.load_workbook(merged["path"])["历次进展"].iter_rows(
            min_row=5, values_only=True
        )
        if r[0]
    }
    assert rows["2"][2:4] == ("按计划推进", 40)  # 高新处 led task 2 in Q1
    history = run_json(["history", "-w", str(root), "--task", "2"])["tasks"][0]["rounds"][0]
    assert (history["status"], history["percent"]) == ("按计划推进", 40)


def _long_register(rows: list[tuple[str, str, str, str]]) -> Any:
    """Tasks with a deadline and units besides their words, as district registers are."""
    from xlflow.model import Register, Task

    header = ("序号", "重点工作", "牵头单位", "完成时限")
    return Register(
        "x",
        header,
        tuple(
            Task(
                tid,
                "g",
                tuple(zip(header, (tid, text, unit, due), strict=True)),
                (unit,),
                (),
                (),
                n,
            )
            for n, (tid, text, unit, due) in enumerate(rows)
        ),
    )


@given(
    texts=st.lists(st.text(alphabet=_WORDS, min_size=4, max_size=14), min_size=4, max_size=10),
    data=st.data(),
)
@settings(max_examples=80, deadline=None)
def test_no_wrong_pair_is_ever_sure(texts: list[str], data: Any) -> None:
    """Short made-up tasks, some with identical words, all with the same deadline and unit
    (what lifted unrelated pairs over the line before): retire some, add others, reword,
    renumber and shuffle; whatever is sure is true."""
    units = ["区发改局", "区财政局"]
    old = _long_register(
        [(str(n + 1), t, units[n % 2], "2024年12月底") for n, t in enumerate(texts)]
    )
    ids = [t.id for t in old.tasks]
    retired = set(data.draw(st.lists(st.sampled_from(ids), max_size=2)))
    # a task added is not word for word one already there (identical texts are within
    # each register, as tasks with the same words under two projects are)
    added = data.draw(st.lists(st.text(alphabet=_WORDS, min_size=4, max_size=14), max_size=3))
    assume(not set(added) & set(texts))
    kept = [t for t in old.tasks if t.id not in retired]
    truth: set[tuple[str, str]] = set()
    rows = []
    for t in data.draw(st.permutations(kept)):
        text = t.column("重点工作")
        if data.draw(st.booleans()):
            text = text[:-1] + data.draw(st.sampled_from("等化型"))
        rows.append((t.id, text, t.lead[0]))
    rows += [(None, text, units[0]) for text in added]
    order = data.draw(st.permutations(range(len(rows))))
    new_rows = []
    for number, i in enumerate(order, start=1):
        old_id, text, unit = rows[i]
        if old_id is not None:
            truth.add((old_id, str(number)))
        new_rows.append((str(number), text, unit, "2024年12月底"))
    new = _long_register(new_rows)
    revision = revise(old, new, ("序号", "牵头单位"))
    sure = {(x.old_id, x.new_id) for x in revision.lineage if x.kind != "retired"}
    assert sure <= truth, sorted(sure - truth)


@given(weights=st.lists(st.lists(st.floats(0, 1), min_size=1, max_size=5), min_size=1, max_size=5))
@settings(max_examples=200, deadline=None)
def test_best_pairs_is_the_best_total(weights: list[list[float]]) -> None:
    """The assignment's total is the best any pairing reaches (all tried)."""
    import itertools

    import numpy as np

    from xlflow.register.matching import best_pairs

    width = len(weights[0])
    w = np.array([row[:width] + [0.0] * (width - len(row)) for row in weights])
    pairs = best_pairs(w)
    assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})
    assert len(pairs) == min(w.shape)
    n, m = w.shape
    if n <= m:
        best = max(sum(w[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    else:
        best = max(sum(w[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))
    assert sum(w[i, j] for i, j in pairs) >= best - 1e-9


def test_the_words_that_changed_are_said() -> None:
    from xlflow.register.revise import changed_words

    assert changed_words("推进省级重点实验室建设", "推进市级重点实验室建设") == "“省”改为“市”"
    assert changed_words("开展科普宣传活动", "开展科普宣传和科学普及活动") == "增加“和科学普及”"
    assert changed_words("建设研究院，引进团队", "建设研究院") == "删去“，引进团队”"
    was = "一二三四五六七八九十甲乙丙丁戊己庚辛壬癸"
    now = "〇二三四五陆七八九十子乙丙丁戊亥庚辛壬癸"
    assert changed_words(was, now) == "多处修改（4 处）"


def test_a_renumber_a_merge_and_no_change_are_said_as_they_are(tmp_path: Path) -> None:
    old = _register(
        [("1", "建设产业技术研究院，引进高端研发团队", "规划处"),
         ("2", "推进省级重点实验室建设和运行评估", "高新处"),
         ("3", "开展科普宣传活动", "办公室")]
    )  # fmt: skip
    new = _register(
        [("1", "建设产业技术研究院，引进高端研发团队；推进省级重点实验室建设和运行评估", "规划处"),
         ("4", "开展科普宣传活动", "办公室")]
    )  # fmt: skip
    texts = [c.text for c in revise(old, new, ("序号", "责任处室")).changes]
    assert any(t.startswith("改号：序号 3 → 4") for t in texts), texts
    assert not any("改名" in t or ("序号 3" in t and "文字" in t) for t in texts), texts
    merged = [t for t in texts if "并入" in t]
    assert merged and not any("改为" in t and "牵头" in t for t in texts), texts
    assert "序号 1：并入后由 规划处 牵头" in texts
    # the register in use given to --update: nothing changed, nothing advised
    root = tmp_path / "w"
    _init(root)
    said = run(["register", "-w", str(root), "--update", str(DATA / "清单-2025-一季度.csv")])
    assert "没有变化" in said.output and "--apply" not in said.output


def test_the_console_reviews_a_revision_pair_by_pair(tmp_path: Path) -> None:
    """清单修订: upload the revised register, see both texts, decide each pair (a retired
    task named as an added one), take it; history then follows the coordinator's pairs."""
    from urllib.parse import urlencode

    from .test_web import Console, multipart

    root = tmp_path / "w"
    _init(root)
    run(["generate", "-w", str(root), "--round", "2025-Q1"])
    text = (DATA / "清单-2025-一季度.csv").read_text("utf-8")
    text = text.replace(
        "6,创新生态,开展科普宣传活动", "9,创新生态,组织开展全民科学素质提升科普宣传周活动"
    ).replace("3,创新平台,建设产业技术研究院,规划处", "10,创新平台,组建新型研发机构,高新处")
    console = Console(root)
    try:
        body, kind = multipart([("修订.csv", text.encode("utf-8"))], {"csrf_token": console.csrf()})
        body = body.replace(b'name="files"', b'name="register"')
        status, _, headers = console.request(
            "POST", "/register/revision", body, {"Content-Type": kind}
        )
        assert status == 303, headers
        status, page, _ = console.request("GET", headers["Location"])
        assert status == 200 and "组织开展全民科学素质提升科普宣传周活动" in page
        assert "不确定，请确认" in page and 'class="unsure"' in page
        pairs = dict(re.findall(r'name="(c\d+)" value="是"( checked)?', page))
        retired = re.search(
            r'<td>3</td><td class="task">[^<]*</td>\s*<td><select name="(r\d+)"', page
        )
        assert retired and "组建新型研发机构" in page
        undecided = [k for k, checked in pairs.items() if not checked]
        assert len(undecided) == 1  # 6 → 9, the one xlflow is not sure of
        fields = {"csrf_token": console.csrf(), "file": "修订.csv"}
        fields |= {k: "是" for k, checked in pairs.items() if checked}
        # one pair left undecided: refused, nothing written
        status, page, _ = console.post_form("/register/revision/apply", urlencode(fields))
        assert status == 400 and "还没有确认" in page and "未做任何改动" in page
        assert 'path = "templates/清单-2025-一季度.csv"' in (root / "xlflow.toml").read_text(
            "utf-8"
        )
        fields |= {undecided[0]: "是", retired.group(1): "10"}
        status, _, headers = console.post_form("/register/revision/apply", urlencode(fields))
        assert status == 303 and headers["Location"].endswith("/register")
        cookie = headers["Set-Cookie"].split(";", 1)[0]  # the flashed message rides in it
        status, page, _ = console.request("GET", "/register", headers={"Cookie": cookie})
        assert "已采用，记为任务清单第 2 版" in page
    finally:
        console.stop()
    run(["generate", "-w", str(root), "--round", "2025-Q2"])
    nine = run_json(["history", "-w", str(root), "--task", "9"])["tasks"][0]["rounds"]
    ten = run_json(["history", "-w", str(root), "--task", "10"])["tasks"][0]["rounds"]
    assert nine[0]["task_ids"] == ["6"] and ten[0]["task_ids"] == ["3"]
    assert "由 规划处 改为 高新处 牵头" in ten[1]["event"]


def test_the_console_takes_a_revision_reading_it_once_and_corrects_the_one_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """采用 reads the revised register and pairs its tasks once, not once more to check the
    choices against what the page showed, and the console then shows the register it took.
    The register in use, uploaded again, is set against the version before it, as a
    mapping given to `register --update` is, so that its pairs can be corrected there too."""
    from xlflow.register import update
    from xlflow.web.app import create_app
    from xlflow.web.console import WebConfig

    root = tmp_path / "w"
    _init(root)
    run(["generate", "-w", str(root), "--round", "2025-Q1"])
    text = (DATA / "清单-2025-一季度.csv").read_text("utf-8")
    text = text.replace("6,创新生态,开展科普宣传活动", "9,创新生态,开展科普宣传周活动")
    waiting = root / ".xlflow" / "revisions"
    waiting.mkdir(parents=True)
    (waiting / "修订.csv").write_text(text, "utf-8")
    client: Any = create_app(WebConfig(root, "127.0.0.1", 8765, None)).test_client()
    base = "http://127.0.0.1:8765"

    def choices(page: str) -> dict[str, str]:
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        pairs = re.findall(r'name="(c\d+)" value="是"', page)
        return {"csrf_token": token.group(1), "file": "修订.csv", **dict.fromkeys(pairs, "是")}

    page = client.get("/register/revision?file=修订.csv", base_url=base).get_data(as_text=True)
    assert "开展科普宣传周活动" in page
    fields = choices(page)
    read, compared = [], []
    check, revise_ = update.check_register, update.revise
    monkeypatch.setattr(update, "check_register", lambda *a: read.append(a) or check(*a))
    monkeypatch.setattr(update, "revise", lambda *a, **k: compared.append(a) or revise_(*a, **k))

    taken = client.post("/register/revision/apply", data=fields, base_url=base)

    assert taken.status_code == 303, taken.get_data(as_text=True)
    assert (len(read), len(compared)) == (1, 1)
    assert _latest_version(root) == 2
    # the console goes on with the register it took, without a restart
    listed = client.get("/register", base_url=base).get_data(as_text=True)
    assert "开展科普宣传周活动" in listed and "开展科普宣传活动<" not in listed

    # the register now in use, uploaded again: against version 1, to correct version 2
    shutil.copy(root / "templates" / "修订.csv", waiting / "修订.csv")
    page = client.get("/register/revision?file=修订.csv", base_url=base).get_data(as_text=True)
    assert "与现行清单相同：下面与第 1 版比对，采用即更正第 2 版记下的对应关系" in page
    assert "开展科普宣传周活动" in page and "开展科普宣传活动" in page  # both texts of 6 → 9
    fixed = client.post("/register/revision/apply", data=choices(page), base_url=base)
    assert fixed.status_code == 303, fixed.get_data(as_text=True)
    shown = client.get("/register", base_url=base).get_data(as_text=True)
    assert "已更正任务清单第 2 版的对应关系" in shown
    assert _latest_version(root) == 2  # corrected, not a new version


def _latest_version(root: Path) -> int | None:
    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        latest = ledger.latest_version()
    return latest[0] if latest else None


@needs_office[0]
@needs_office[1]
def test_the_mapping_workbook_saved_by_libreoffice_is_read(tmp_path: Path) -> None:
    """The mapping workbook, its 确认 typed and saved in LibreOffice as .xlsx, .xls and
    .ods, is read back with the coordinator's pair in each."""
    _, update = _six_reworded_as_nine(tmp_path)
    mapping = tmp_path / "对照.xlsx"
    run([*update, "--write-mapping", str(mapping)])
    row = next(n for n, r in enumerate(_mapping_rows(mapping), start=1) if r[0] == "6")
    typed = [{"sheet": "对照表", "cells": {f"I{row}": "是"}}]
    saved = [tmp_path / f"对照-LibreOffice.{fmt}" for fmt in ("xlsx", "xls", "ods")]
    results = run_batch([Job(mapping, out, typed) for out in saved])
    assert all(r["ok"] for r in results), results
    for path in saved:
        theirs = run_json([*update, "--mapping", str(path)])
        assert theirs["by"] == "mapping" and not theirs["uncertain"], path.name
        assert ("6", "9") in {(x["old"], x["new"]) for x in theirs["lineage"]}, path.name
