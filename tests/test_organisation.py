"""The organisation as it is: a unit directory (单位名录) whose aliases fold one unit's
names into one form, and whose collectives (各街道) answer member by member, each member
counted and rolled up in the consolidated workbook."""

from __future__ import annotations

import email
import email.header
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xlflow.config.model import Field
from xlflow.ledger.book import Ledger
from xlflow.model import Role
from xlflow.register.directory import suggest_duplicates
from xlflow.relay.rollup import combine
from xlflow.reporting.tasks import roll_up

from .conftest import (
    DEADLINE,
    GOOD_CONTACT,
    complete_values,
    edit_directory,
    fill,
    run,
    run_json,
)

DATA = Path(__file__).parent / "data" / "organisation"
ROUND = "2025-H1"
STREETS = ("东湖街道", "西山街道", "南岭街道")
DISTRICTS = ("甲区人民政府", "乙县人民政府")


def make_folder(root: Path, directory: str | None = "单位名录.csv") -> Path:
    """A working folder on the organisation register, with its directory in place."""
    run(["init", str(root), "--register", str(DATA / "任务清单.csv"), "--office", "市政府督查室"])
    if directory is not None:
        (root / "templates" / "单位名录.xlsx").unlink()
        shutil.copy(DATA / directory, root / "templates" / directory)
    return root


@pytest.fixture(scope="module")
def organised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The organisation's round: generated, two streets and the bureau answering."""
    root = make_folder(tmp_path_factory.mktemp("org") / "w")
    run(["generate", "-w", str(root), "--round", ROUND, "--deadline", DEADLINE])
    forms = root / "outbox" / ROUND / "forms"
    answers = {
        "市发改委": ("按计划推进", 60),
        "东湖街道": ("按计划推进", 80),
        "西山街道": ("进度滞后", 40),
    }
    for unit, (status, percent) in answers.items():
        form = forms / f"{unit}_{ROUND}_填报表.xlsx"
        fill(form, root / "inbox" / form.name, complete_values(form, status, percent), GOOD_CONTACT)
    run(["collect", "-w", str(root), "--round", ROUND])
    run(["merge", "-w", str(root), "--round", ROUND])
    return root


def test_each_member_gets_a_form_and_three_names_of_one_unit_get_one(organised: Path) -> None:
    forms = sorted(p.name for p in (organised / "outbox" / ROUND / "forms").iterdir())
    units = [name.split("_")[0] for name in forms]
    # 市发改委, 发改委 and 市发展改革委 are one unit: one form, with all three names' tasks
    assert units.count("市发改委") == 1
    assert not any(u in units for u in ("发改委", "市发展改革委", "科技局", "各街道"))
    assert set(STREETS + DISTRICTS) <= set(units)
    # a collective without members keeps one form, as before the directory
    assert "市直有关单位" in units
    data = run_json(["register", "-w", str(organised)])
    by_unit = {d["division"]: d for d in data["divisions"]}
    assert by_unit["市发改委"]["task_ids"] == ["1", "2", "4"]
    assert (by_unit["市发改委"]["lead"], by_unit["市发改委"]["cooperating"]) == (2, 1)
    # each member holds the collective's tasks, with the collective's role on each
    for street in STREETS:
        assert by_unit[street]["task_ids"] == ["1", "5"]
        assert (by_unit[street]["lead"], by_unit[street]["cooperating"]) == (1, 1)
        assert by_unit[street]["member_of"] == ["各街道"]
    assert {(f["name"], f["unit"]) for f in data["folded"]} == {
        ("市发展改革委", "市发改委"),
        ("发改委", "市发改委"),
        ("科技局", "市科技局"),
    }
    assert {c["collective"]: c["members"] for c in data["collectives"]} == {
        "各街道": list(STREETS),
        "各区县（市）人民政府": list(DISTRICTS),
    }
    text = run(["register", "-w", str(organised)]).output
    assert "市发展改革委、发改委 → 市发改委" in text and "各街道（3 个成员）" in text


def test_the_ledger_keeps_the_rounds_mapping(organised: Path) -> None:
    with Ledger(organised / ".xlflow" / "ledger.sqlite") as ledger:
        units = ledger.round_units(ROUND)
    assert ("发改委", "市发改委") in units["alias"]
    assert [m for c, m in units["member"] if c == "各街道"] == list(STREETS)


def test_a_members_form_says_whose_task_it_answers(organised: Path) -> None:
    form = organised / "outbox" / ROUND / "forms" / f"南岭街道_{ROUND}_填报表.xlsx"
    notes = openpyxl.load_workbook(form)["填报说明"]
    steps = next(r[1] for r in notes.iter_rows(values_only=True) if r[0] == "填报步骤")
    assert "“各街道”的任务由各成员单位分别填报" in steps


def test_status_counts_members_not_the_collective(organised: Path) -> None:
    data = run_json(["status", "-w", str(organised), "--round", ROUND])
    listed = [d["division"] for d in data["divisions"]]
    assert set(STREETS + DISTRICTS) <= set(listed) and "各街道" not in listed
    state = {d["division"]: d["state"] for d in data["divisions"]}
    assert state["东湖街道"] == state["西山街道"] == "accepted"
    assert state["南岭街道"] == "missing"
    streets = next(c for c in data["collectives"] if c["collective"] == "各街道")
    assert streets == {
        "collective": "各街道",
        "members": list(STREETS),
        "reported": ["东湖街道", "西山街道"],
        "missing": ["南岭街道"],
    }
    text = run(["status", "-w", str(organised), "--round", ROUND]).output
    assert "各街道：2/3 个成员已报，未报：南岭街道" in text


def test_the_consolidated_workbook_rolls_each_collective_up(organised: Path) -> None:
    path = next((organised / "outbox" / ROUND).glob("*-汇总-*.xlsx"))
    wb = openpyxl.load_workbook(path)
    overview = [c for row in wb["总览"].iter_rows(values_only=True) for c in row if c]
    assert "各街道：2/3 个成员已报，未报：南岭街道" in overview
    assert "各区县（市）人民政府：0/2 个成员已报，未报：甲区人民政府、乙县人民政府" in overview
    sheet = wb["集体汇总"]
    rows = {(r[0], r[1]): r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0]}
    street_lead = rows[("各街道", "5")]
    # 各街道 leads task 5: three members, two reported, the least advanced is 西山街道
    assert street_lead[3:10] == ("牵头", 3, 2, "南岭街道", "西山街道", "进度滞后", 40)
    assert "东湖街道：按计划推进 80%" in street_lead[10] and "南岭街道：未报送" in street_lead[10]
    detail = {r[1]: r for r in wb["任务明细"].iter_rows(min_row=5, values_only=True) if r[1]}
    heads = [c.value for c in wb["任务明细"][4]]
    task5 = dict(zip(heads, detail["5"], strict=False))
    # the collective's row shows its least advanced member's status and percent
    assert (task5["完成状态"], task5["完成进度(%)"]) == ("进度滞后", 40)
    assert task5["牵头处室"] == "各街道（3 个成员）"
    assert "各街道（牵头）：已报 2/3，未报：南岭街道" in task5["备注"]
    assert "西山街道 进度滞后 40%" in task5["备注"]
    assert "【东湖街道】" in task5["进展情况"] and "【西山街道】" in task5["进展情况"]


def test_a_collective_leading_with_no_member_reported_is_not_invented() -> None:
    rolled = roll_up("各街道", Role.LEAD, STREETS, {}, {"按计划推进": 0}, "未报送")
    assert (rolled.status, rolled.percent, rolled.slowest) == ("未报送", None, "")
    assert rolled.missing == STREETS
    said = {"东湖街道": ("按计划推进", 90), "西山街道": ("按计划推进", 70)}
    rolled = roll_up("各街道", Role.LEAD, STREETS, said, {"按计划推进": 0}, "未报送")
    # the same status: the lower percent is the less advanced
    assert (rolled.slowest, rolled.percent, rolled.reported) == ("西山街道", 70, STREETS[:2])


def test_the_history_sheet_shows_each_members_answers(organised: Path, tmp_path: Path) -> None:
    root = tmp_path / "w"
    shutil.copytree(organised, root)
    run(["generate", "-w", str(root), "--round", "2025-H2", "--prefill-from", ROUND])
    form = root / "outbox" / "2025-H2" / "forms" / "南岭街道_2025-H2_填报表.xlsx"
    fill(
        form, root / "inbox" / "h2" / form.name, complete_values(form, "已完成", 100), GOOD_CONTACT
    )
    run(["collect", "-w", str(root), "--round", "2025-H2"])
    run(["merge", "-w", str(root), "--round", "2025-H2"])
    path = next((root / "outbox" / "2025-H2").glob("*-汇总-*.xlsx"))
    history = openpyxl.load_workbook(path)["历次进展"]
    rows = [r for r in history.iter_rows(min_row=5, values_only=True)]
    members = {str(r[1]).strip("　└ ").split("（")[0]: r for r in rows if r[1] and "└" in str(r[1])}
    assert set(STREETS) <= set(members)
    assert members["西山街道"][2:6] == ("进度滞后", 40, "未报送", None)
    assert members["南岭街道"][2:6] == ("未报送", None, "已完成", 100)


def test_reminders_are_addressed_from_the_directory(organised: Path) -> None:
    data = run_json(["remind", "-w", str(organised), "--round", ROUND])
    to = {r["division"]: r["to"] for r in data["reminders"]}
    assert to["南岭街道"] == "wugang@nl.example.gov.cn"
    assert to["市直有关单位"] == ""  # no address: the draft leaves it to the coordinator
    draft = organised / "outbox" / ROUND / "reminders" / "南岭街道.eml"
    message = email.message_from_bytes(draft.read_bytes())
    assert "吴刚" in str(email.header.make_header(email.header.decode_header(message["To"])))
    body = message.get_payload(0).get_payload(decode=True).decode("utf-8")
    assert "各街道各成员分别填报" in body


def test_directory_check_names_each_problem_with_its_row(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "w", directory=None)
    rows = {
        "市发改委": {"简称/别名": "发改委、市发展改革委", "电子邮箱": "fgw@example.gov.cn"},
        "市科技局": {"简称/别名": "发改委", "电子邮箱": "kjj at example"},
        "东湖街道": {"所属集体": "各街首"},
    }
    path = edit_directory(root, rows)
    wb = openpyxl.load_workbook(path)
    wb["单位名录"].append(["市发改委"])  # the same unit a second time
    wb.save(path)
    result = run(["directory", "-w", str(root), "--check"], expect=1)
    text = result.output
    assert "directory-" not in text  # codes are for the JSON; people read words
    data = run_json(["directory", "-w", str(root)])
    codes = {p["code"] for p in data["problems"]}
    assert codes == {
        "directory-alias-conflict",
        "directory-duplicate-unit",
        "directory-email-invalid",
        "directory-unknown-collective",
    }
    conflicts = [p["message"] for p in data["problems"] if p["code"] == "directory-alias-conflict"]
    # 发改委 is an alias of 市发改委 and of 市科技局, and a row of its own (drafted by init)
    assert any("同时写给了 市发改委" in m and "市科技局" in m for m in conflicts)
    assert any("“发改委”是另一个单位" in m for m in conflicts)
    by_code = {p["code"]: p for p in data["problems"]}
    last = wb["单位名录"].max_row
    assert f"第 {last} 行的单位 市发改委 与第 " in by_code["directory-duplicate-unit"]["message"]
    assert by_code["directory-duplicate-unit"]["cell"] == f"A{last}"
    assert "“各街首”" in by_code["directory-unknown-collective"]["message"]
    assert by_code["directory-email-invalid"]["cell"].startswith("E")
    for p in data["problems"]:
        assert p["message"] in text
    # an error stops every command that reads the register, naming the file
    stopped = run(["generate", "-w", str(root), "--round", ROUND], expect=3)
    assert "单位名录" in stopped.output and "需要改正" in stopped.output
    assert not (root / "outbox" / ROUND).exists()


def test_init_drafts_the_directory_with_its_suggestions(tmp_path: Path) -> None:
    root = tmp_path / "w"
    result = run(["init", str(root), "--register", str(DATA / "任务清单.csv")])
    assert "市发改委 / 市发展改革委：同一简称" in result.output
    assert "市科技局 / 科技局：去掉“市”“区”“县”后相同" in result.output
    assert "各街道" in result.output and "列出成员" in result.output
    draft = openpyxl.load_workbook(root / "templates" / "单位名录.xlsx")["单位名录"]
    rows = {r[0]: r for r in draft.iter_rows(min_row=2, values_only=True)}
    assert set(rows) >= {"市发改委", "发改委", "市发展改革委", "各街道", "市直有关单位"}
    assert "集体名称" in rows["各街道"][6] and "所属集体" in rows["各街道"][6]
    assert "可能与“市发展改革委”是同一单位" in rows["市发改委"][6]
    # a suggestion is only that: the draft merges nothing
    data = run_json(["register", "-w", str(root)])
    assert data["folded"] == [] and len(data["divisions"]) == 11
    data = run_json(["init", str(tmp_path / "v"), "--register", str(DATA / "任务清单.csv")])
    assert {
        "name": "市科技局",
        "other": "科技局",
        "reason": "去掉“市”“区”“县”后相同：都是“科技局”",
    } in data["suggested_duplicates"]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["市发改委", "市发展改革委"], "同一简称"),
        (["市发改委", "发改委"], "去掉“市”“区”“县”后相同"),
        (["区商务局", "商务局"], "去掉“市”“区”“县”后相同"),
        (["住建局", "市住房和城乡建设局"], "同一简称"),
        (["市政府办公室", "政府办公室"], "去掉“市”“区”“县”后相同"),
        (["政策规划处", "高新技术处"], ""),
        (["各街道", "街道"], ""),  # a collective is no one's alias
    ],
)
def test_duplicates_are_suggested_with_a_reason(names: list[str], expected: str) -> None:
    found = suggest_duplicates(names)
    if not expected:
        assert found == []
    else:
        assert len(found) == 1 and found[0].reason.startswith(expected)


def test_an_edit_to_the_directory_is_seen_by_the_next_command(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "w", directory=None)
    assert len(run_json(["register", "-w", str(root)])["divisions"]) == 11
    path = edit_directory(
        root,
        {
            "市发改委": {"简称/别名": "发改委、市发展改革委"},
            "东湖街道": {"所属集体": "各街道"},
            "西山街道": {"所属集体": "各街道"},
        },
    )
    # the aliases' own rows, drafted by init, are still there: the directory says so
    stopped = run(["register", "-w", str(root)], expect=3)
    assert "如果是同一单位，删除第" in stopped.output
    wb = openpyxl.load_workbook(path)
    sheet = wb["单位名录"]
    for r in range(sheet.max_row, 1, -1):
        if sheet.cell(r, 1).value in ("发改委", "市发展改革委"):
            sheet.delete_rows(r)
    wb.save(path)
    data = run_json(["register", "-w", str(root)])
    names = [d["division"] for d in data["divisions"]]
    assert "各街道" not in names and {"东湖街道", "西山街道"} <= set(names)
    assert "发改委" not in names and "市发展改革委" not in names


def test_an_older_folders_divisions_csv_still_gives_contacts(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "w", directory=None)
    (root / "templates" / "单位名录.xlsx").unlink()
    (root / "templates" / "divisions.csv").write_text(
        "处室,联系人,电子邮箱,联系电话\n市民政局,钱进,qianjin@mzj.example.gov.cn,\n", "utf-8-sig"
    )
    run(["generate", "-w", str(root), "--round", ROUND, "--deadline", DEADLINE])
    data = run_json(["remind", "-w", str(root), "--round", ROUND])
    assert {r["division"]: r["to"] for r in data["reminders"]}[
        "市民政局"
    ] == "qianjin@mzj.example.gov.cn"
    assert run_json(["directory", "-w", str(root)])["legacy"] is True


_TEXT = Field("progress", "进展情况", "text")
_PERCENT = Field("percent", "完成进度(%)", "percent")
_STATUS = Field("status", "完成状态", "choice", choices=("已完成", "按计划推进", "进度滞后"))
_ORDER = ("已完成", "按计划推进", "进度滞后")


@pytest.mark.parametrize(
    ("rule", "field", "given", "expected"),
    [
        (
            "least_advanced",
            _STATUS,
            [("A", "已完成"), ("B", "进度滞后"), ("C", "按计划推进")],
            "进度滞后",
        ),
        ("min", _PERCENT, [("A", 80), ("B", 45.0)], 45),
        ("max", _PERCENT, [("A", 80), ("B", 45)], 80),
        ("mean", _PERCENT, [("A", 80), ("B", 45)], 62.5),
        ("sum", _PERCENT, [("A", 10), ("B", 5)], 15),
        ("joined", _TEXT, [("A", "甲"), ("B", "乙")], "【A】甲\n【B】乙"),
        ("lead", _TEXT, [("B", "乙")], None),  # the lead said nothing: nothing is invented
        ("lead", _TEXT, [("A", "甲"), ("B", "乙")], "甲"),
        ("min", _PERCENT, [], None),
    ],
)
def test_each_rollup_rule(
    rule: str, field: Field, given: list[tuple[str, Any]], expected: Any
) -> None:
    from xlflow.model import Task

    task = Task("1", "g", (), ("A",), ("B", "C"), (), 1)
    assert combine(rule, field, given, task, _ORDER, True) == expected


def test_a_rollup_rule_that_does_not_fit_its_field_is_a_settings_error(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "w")
    settings = root / "xlflow.toml"
    text = settings.read_text("utf-8").replace('progress = "joined"', 'progress = "min"')
    settings.write_text(text, "utf-8")
    result = run(["register", "-w", str(root)], expect=3)
    assert "rollup.progress" in result.output and "number" in result.output


def test_the_console_shows_the_directory_and_its_problems(tmp_path: Path) -> None:
    from .test_web import Console

    root = make_folder(tmp_path / "w")
    console = Console(root)
    try:
        status, page, _ = console.request("GET", "/directory")
        assert status == 200 and "名录没有发现问题" in page
        assert "东湖街道、西山街道、南岭街道" in page and "发改委 → 市发改委" in page
        status, page, _ = console.request("GET", "/register")
        assert "各街道（3 个成员）" in page
        run(["generate", "-w", str(root), "--round", ROUND, "--deadline", DEADLINE])
        status, page, _ = console.request("GET", f"/r/{ROUND}")
        assert (
            status == 200 and "各街道：0/3 个成员已报，未报：东湖街道、西山街道、南岭街道" in page
        )
        directory = root / "templates" / "单位名录.csv"
        with directory.open("a", encoding="utf-8") as fh:
            fh.write("东湖街道,,各街首,,,\n")
        status, page, _ = console.request("GET", "/directory")
        assert status == 200
        assert "第 13 行的单位 东湖街道 与第 8 行重复" in page and "“各街首”" in page
        # every page that needs the register says what to fix, never a traceback
        status, page, _ = console.request("GET", "/register")
        assert status >= 400 and "单位名录" in page and "Traceback" not in page
    finally:
        console.stop()


def test_a_damaged_directory_is_named_as_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "w"
    run(["init", str(root)])
    (root / "templates" / "单位名录.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    for args in (["directory"], ["register"], ["generate", "--round", ROUND]):
        result = run([args[0], "-w", str(root), *args[1:]], expect=3)
        assert "单位名录无法读取" in result.output and "任务清单" not in result.output
        assert "Traceback" not in result.output
    assert not (root / "outbox" / ROUND).exists()
