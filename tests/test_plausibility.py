"""Explain, don't reject: values that may be true and need a word of explanation.

Each default rule has a one-change case, judged three ways as the self-check tests judge
errors: by `collect` (needs-explanation / explained, by task and rule), by the form's
formulas as LibreOffice recalculates them (the row's hit: a bit for each rule, negative
while the row wants its explanation; and the check line, read back from the saved file), and by the Python twin
(`plausibility.hits`, over the values written and the previous answers the form carries).
All three agree on the flagged case, the explained case and the clean case.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xlflow.config.load import load_settings
from xlflow.generate.selfcheck import CHECK_SHEET, COMPLETE, remaining
from xlflow.ledger.book import Ledger
from xlflow.ledger.readers import FormStore
from xlflow.plausibility import hits, parse_deadline, task_deadline
from xlflow.signing import META_SHEET

from .conftest import GOOD_CONTACT, TASK_SHEET, fill, run, run_json, task_rows
from .office import Job, artifacts_dir, needs_office, run_batch, to_png

CO = "创新平台与合作处"
R1, R2 = "2019-Q2", "2019-Q3"
LATE = "2026-Q1"  # a round after every task's last milestone (2025): all are past due
CONTACT = {**GOOD_CONTACT, "填报日期": "2019-10-08"}
EXPLAINED = "统计口径调整，按新口径重算"
CODES = {"needs-explanation", "explained"}


def _first(root: Path, rnd: str) -> str:
    return next(iter(task_rows(_form(root, rnd))))


def _form(root: Path, rnd: str) -> Path:
    return next((root / "outbox" / rnd / "forms").glob(f"{CO}_*.xlsx"))


def _values(form: Path, round_no: int, **first: Any) -> dict[str, dict[str, Any]]:
    """A clean answer for every task: round 1 at 30 %, round 2 at 35 % with new words."""
    out = {
        tid: {
            "完成状态": "按计划推进",
            "完成进度(%)": 25 + 5 * round_no if round_no < 3 else 100,
            "进展情况": f"任务{tid}：第{round_no}轮的进展。",
            "存在问题": None,
            "下步打算": "继续推进",
            "说明": None,
        }
        for tid in task_rows(form)
    }
    if round_no == 3:  # past due: only done tasks are clean
        for answer in out.values():
            answer["完成状态"] = "已完成"
    out[next(iter(out))].update(first)
    return out


# name, the change to the first task, the rule it breaks (None: clean)
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("clean", {}, None),
    ("percent fell", {"完成进度(%)": 20}, "percent_fell"),
    ("percent jumped", {"完成进度(%)": 95}, "percent_jump"),
    ("done below full", {"完成状态": "已完成"}, "done_below_full"),
    ("progress copied", {"进展情况": "{copied}"}, "progress_copied"),
    ("lagging without a reason", {"完成状态": "进度滞后"}, "lagging_without_problems"),
]
OVERDUE = ("past its deadline", {"完成状态": "按计划推进"}, "overdue")


def _two_rounds(root: Path, toml: str = "") -> Path:
    """A working folder where CO answered R1 (30 %), and R2's form for CO."""
    run(["init", str(root)])
    if toml:
        settings = root / "xlflow.toml"
        settings.write_text(toml_edit(settings.read_text("utf-8"), toml), "utf-8")
    run(["generate", "-w", str(root), "--round", R1, "--division", CO])
    first = _form(root, R1)
    fill(first, root / "inbox" / "r1.xlsx", _values(first, 1), CONTACT)
    run(["collect", "-w", str(root), "--round", R1])
    run(["generate", "-w", str(root), "--round", R2, "--division", CO])
    return _form(root, R2)


def toml_edit(text: str, line: str) -> str:
    """xlflow.toml with one [plausibility] rule line replaced."""
    key = line.split("=")[0].strip()
    return re.sub(rf"(?m)^{key} = .*$", line, text, count=1)


def _late_round(root: Path) -> Path:
    run(["init", str(root)])
    run(["generate", "-w", str(root), "--round", LATE, "--deadline", "2026-03-31",
         "--division", CO])  # fmt: skip
    return _form(root, LATE)


def _case(form: Path, change: dict[str, Any], explained: bool, round_no: int) -> Any:
    copied = f"任务{next(iter(task_rows(form)))}：第1轮的进展。"
    change = {k: (copied if v == "{copied}" else v) for k, v in change.items()}
    if explained:
        change = {**change, "说明": EXPLAINED}
    return _values(form, round_no, **change)


def _spec(root: Path, rnd: str) -> Any:
    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        found = ledger.load_round(rnd)
    return FormStore(root / ".xlflow" / "ledger.sqlite", found)[CO]


def _twin(root: Path, rnd: str, values: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """task -> the rules plausibility.hits finds, over the values the form carries."""
    settings = load_settings(root / "xlflow.toml")
    by_label = {f.label: f.key for f in settings.fields}
    out: dict[str, set[str]] = {}
    for row in _spec(root, rnd).rows:
        said = {by_label[k]: v for k, v in values[row.task_id].items() if v is not None}
        found = {h.rule for h in hits(settings, said, dict(row.before), row.due)}
        if found:
            out[row.task_id] = found
    return out


def _collected(root: Path, rnd: str) -> dict[str, dict[str, dict[str, str]]]:
    """file stem -> task -> rule -> code (needs-explanation / explained), and the verdict."""
    report = run_json(["collect", "-w", str(root), "--round", rnd, "--no-receipts"])
    out: dict[str, dict[str, dict[str, str]]] = {}
    for f in report["files"]:
        got: dict[str, dict[str, str]] = {"": {"verdict": f["verdict"]}}
        for i in f["issues"]:
            if i["code"] in CODES:
                got.setdefault(i["task_id"], {})[i["rule"]] = i["code"]
        out[Path(f["path"]).stem] = got
    return out


def _held(checks: dict[str, Any], hit: Any) -> set[str]:
    """The rules a row's hit cell says hold: each rule adds its own bit (the sum negative
    while the row wants its explanation)."""
    return {name for name, bit in checks["rules"].items() if abs(int(hit or 0)) & bit}


def _checks(form: Path) -> dict[str, Any]:
    meta = {
        r[0]: r[1] for r in openpyxl.load_workbook(form)[META_SHEET].iter_rows(values_only=True)
    }
    return json.loads(meta["checks"])


# --- without an office suite: collect and the twin, and the form as generated ---


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _two_rounds(tmp_path_factory.mktemp("plausible") / "work")


def test_collect_and_the_twin_agree_on_every_rule(rounds: Path, tmp_path: Path) -> None:
    root = rounds.parents[3]
    late = _late_round(tmp_path / "late")
    expected: dict[str, tuple[Path, str | None, bool, Any]] = {}
    for form, rnd, cases, round_no in (
        (rounds, R2, CASES, 2),
        (late, LATE, [OVERDUE, ("clean", {}, None)], 3),
    ):
        home = form.parents[3]
        for name, change, rule in cases:
            for explained in (False, True) if rule else (False,):
                stem = f"{name}{' explained' if explained else ''}"
                values = _case(form, change, explained, round_no)
                fill(form, home / "inbox" / f"{stem}.xlsx", values, CONTACT)
                twin = _twin(home, rnd, values)
                first = next(iter(values))
                assert twin == ({first: {rule}} if rule else {}), (stem, twin)
                expected[f"{rnd}/{stem}"] = (home, rule, explained, first)
    got = {**{f"{R2}/{k}": v for k, v in _collected(root, R2).items()},
           **{f"{LATE}/{k}": v for k, v in _collected(late.parents[3], LATE).items()}}  # fmt: skip
    for key, (_, rule, explained, first) in expected.items():
        said = got[key]
        assert said[""]["verdict"] in ("accepted", "superseded"), key  # never refused
        flagged = {t: r for t, r in said.items() if t}
        if rule is None:
            assert flagged == {}, key
        else:
            code = "explained" if explained else "needs-explanation"
            assert flagged == {first: {rule: code}}, key


def test_the_form_carries_the_previous_answers_signed(rounds: Path) -> None:
    root = rounds.parents[3]
    spec = _spec(root, R2)
    assert spec.before_round == "2019年第二季度"
    first = spec.rows[0]
    assert dict(first.before)["percent"] == 30
    assert dict(first.before)["progress"] == f"任务{first.task_id}：第1轮的进展。"
    flags = openpyxl.load_workbook(rounds)[CHECK_SHEET]
    checks = _checks(rounds)
    row = task_rows(rounds)[first.task_id]
    assert flags[f"{checks['before']['percent']}{row}"].value == 30
    assert flags[f"{checks['before']['progress']}{row}"].value == dict(first.before)["progress"]
    meta = {
        r[0]: r[1] for r in openpyxl.load_workbook(rounds)[META_SHEET].iter_rows(values_only=True)
    }
    assert meta["before_round"] == "2019年第二季度" and len(meta["before"]) == 32
    # the signature covers them: a form whose previous values were changed is refused
    from xlflow.signing import before_digest, load_or_create_secret, sign_form, verify

    secret = load_or_create_secret(root / ".xlflow" / "secret")
    signed = dict(round_id=R2, division=CO, task_ids=spec.task_ids, row_hashes=spec.row_hashes)
    assert verify(
        secret, spec.signature, **signed, before=before_digest(spec.before_round, spec.rows)
    )
    assert not verify(secret, spec.signature, **signed, before="")
    assert sign_form(secret, before="", **signed) != spec.signature


def test_a_prefilled_form_flags_the_copied_progress_it_was_given(tmp_path: Path) -> None:
    """Prefilled with last round's words, every row unfinished is amber before anyone
    types: the cached flags and check line are the twin's."""
    root = tmp_path / "work"
    _two_rounds(root)
    run(["generate", "-w", str(root), "--round", "2019-Q4", "--prefill-from", R1,
         "--division", CO])  # fmt: skip
    form = _form(root, "2019-Q4")
    rows = task_rows(form)
    checks = _checks(form)
    cached = openpyxl.load_workbook(form, data_only=True)
    flags = cached[CHECK_SHEET]
    for tid, r in rows.items():
        assert _held(checks, flags[f"{checks['hit']}{r}"].value) == {"progress_copied"}, tid
        assert flags[f"{checks['hit']}{r}"].value < 0, tid  # wanting its explanation
    line = next(c.value for c in cached[TASK_SHEET][3] if c.value is not None)
    assert line == remaining(0, len(rows))


def test_the_generated_form_explains_the_column(rounds: Path) -> None:
    wb = openpyxl.load_workbook(rounds)
    notes = "\n".join(str(c.value) for row in wb["填报说明"].iter_rows() for c in row if c.value)
    for words in ("说明栏", "进度下降", "标为橙色", "完成时限已过"):
        assert words in notes, words
    sheet = wb[TASK_SHEET]
    heads = [c.value for c in sheet[5]]
    assert heads[-1] == "说明"
    # the row turns amber while it needs a word, green once it has one
    rules = [r for r in sheet.conditional_formatting]
    formulas = [f for r in rules for rule in r.rules for f in rule.formula]
    checks = _checks(rounds)
    assert any(f"${checks['hit']}" in f and f.endswith("<0") for f in formulas)
    assert any(f"${checks['hit']}" in f and f.endswith(">0") for f in formulas)


def test_a_rule_set_to_error_refuses_the_unexplained_return(tmp_path: Path) -> None:
    form = _two_rounds(tmp_path / "work", 'percent_fell = { severity = "error", threshold = 0 }')
    root = form.parents[3]
    fill(form, root / "inbox" / "fell.xlsx", _case(form, {"完成进度(%)": 20}, False, 2), CONTACT)
    got = _collected(root, R2)["fell"]
    assert got[""]["verdict"] == "rejected"
    report = run_json(["collect", "-w", str(root), "--round", R2, "--no-receipts"])
    issue = next(
        i for f in report["files"] for i in f["issues"] if i["code"] == "needs-explanation"
    )
    assert issue["severity"] == "error" and "不能采用" in issue["message"]
    # explained, it is taken
    fill(form, root / "inbox" / "fell.xlsx", _case(form, {"完成进度(%)": 20}, True, 2), CONTACT)
    assert _collected(root, R2)["fell"][""]["verdict"] == "accepted"


def test_a_threshold_and_off_are_obeyed(tmp_path: Path) -> None:
    form = _two_rounds(tmp_path / "work", 'percent_fell = { severity = "explain", threshold = 15 }')
    root = form.parents[3]
    fill(form, root / "inbox" / "a.xlsx", _case(form, {"完成进度(%)": 20}, False, 2), CONTACT)
    assert {t for t in _collected(root, R2)["a"] if t} == set()  # fell 10, within 15
    fill(form, root / "inbox" / "a.xlsx", _case(form, {"完成进度(%)": 10}, False, 2), CONTACT)
    assert {t for t in _collected(root, R2)["a"] if t} == {_first(root, R2)}
    settings = root / "xlflow.toml"
    settings.write_text(toml_edit(settings.read_text("utf-8"), 'percent_fell = "off"'), "utf-8")
    assert {t for t in _collected(root, R2)["a"] if t} == set()


def test_bad_plausibility_settings_are_named(tmp_path: Path) -> None:
    root = tmp_path / "work"
    run(["init", str(root)])
    settings = root / "xlflow.toml"
    text = toml_edit(
        settings.read_text("utf-8"), 'percent_jump = { severity = "maybe", threshold = -5 }'
    )
    settings.write_text(text, "utf-8")
    result = run(["status", "-w", str(root), "--round", R1], expect=None)
    assert result.exit_code != 0
    assert "plausibility.percent_jump.severity" in result.output
    assert "plausibility.percent_jump.threshold" in result.output


def test_a_task_deadline_is_read_as_offices_write_it() -> None:
    import datetime as dt

    assert parse_deadline("2019年底前") == dt.date(2019, 12, 31)
    assert parse_deadline("2020年6月底") == dt.date(2020, 6, 30)
    assert parse_deadline("2021-03-15") == dt.date(2021, 3, 15)
    assert parse_deadline("2022年2月") == dt.date(2022, 2, 28)
    assert parse_deadline("长期坚持") is None
    targets = ((2019, "a"), (2022, "b"), (2025, "c"))
    assert task_deadline("", targets, {2019: True, 2022: True, 2025: False}) == dt.date(
        2022, 12, 31
    )
    assert task_deadline("2020年底", targets, {2025: True}) == dt.date(2020, 12, 31)


# --- the two-round story, end to end: the form, collect, the receipt, the workbook ---


def test_a_fall_explained_reaches_leadership_and_the_coordinator_can_ask_again(
    tmp_path: Path,
) -> None:
    form = _two_rounds(tmp_path / "work")
    root = form.parents[3]
    first = _first(root, R2)
    # without a word: taken, with needs-explanation naming the 说明 cell
    fill(form, root / "inbox" / "q3.xlsx", _case(form, {"完成进度(%)": 20}, False, 2), CONTACT)
    report = run_json(["collect", "-w", str(root), "--round", R2])
    (counted,) = [f for f in report["files"] if f["path"] == "q3.xlsx"]
    assert counted["verdict"] == "accepted"
    found = [i for i in counted["issues"] if i["code"] == "needs-explanation"]
    assert len(found) == 1, found
    issue = found[0]
    heads = {c.value: c.column_letter for c in openpyxl.load_workbook(form)[TASK_SHEET][5]}
    assert issue["cell"] == f"{heads['说明']}{task_rows(form)[first]}"
    assert "20，上次（2019年第二季度）30，下降 10 个百分点" in issue["message"]
    receipt = openpyxl.load_workbook(next((root / "outbox" / R2 / "receipts").glob("*.xlsx")))
    texts = [str(c.value) for row in receipt.worksheets[0].iter_rows() for c in row if c.value]
    assert "需要说明" in texts and any("有 1 处需要说明" in t for t in texts)
    # with one: taken, explained, and shown beside the value
    fill(form, root / "inbox" / "q3.xlsx", _case(form, {"完成进度(%)": 20}, True, 2), CONTACT)
    report = run_json(["collect", "-w", str(root), "--round", R2])
    counted = [f for f in report["files"] if f["path"] == "q3.xlsx"][-1]  # the file now there
    assert counted["verdict"] == "accepted"
    assert [i["code"] for i in counted["issues"] if i.get("rule")] == ["explained"]
    merged = Path(run_json(["merge", "-w", str(root), "--round", R2])["path"])
    wb = openpyxl.load_workbook(merged)
    detail = wb["任务明细"]
    heads = [c.value for c in detail[4]]
    note = heads.index("说明")
    assert heads[note - 1] == "完成进度(%)"  # beside the value
    row = next(r for r in detail.iter_rows(min_row=5, values_only=True) if r[1] == first)
    assert row[note] == f"已说明（进度下降）：{EXPLAINED}"
    overview = [c.value for row in wb["总览"].iter_rows() for c in row if isinstance(c.value, str)]
    assert "需说明事项 1 处：已说明 1 处（见“需说明事项”工作表）" in overview
    listed = [r for r in wb["需说明事项"].iter_rows(min_row=4, values_only=True)]
    assert listed == [
        (CO, first, listed[0][2], "进度下降", "“完成进度(%)”（"
         + f"H{task_rows(form)[first]}）：20，上次（2019年第二季度）30，下降 10 个百分点",
         EXPLAINED, "已说明", None),
    ]  # fmt: skip
    # the 通报's field
    from xlflow.reporting.bulletin import report_context
    from xlflow.workspace import Workspace

    said = report_context(Workspace.open(str(root)), R2)["explanations"]
    assert said["sentence"] == "本轮有1处数值需要说明，已说明1处。"
    assert said["explained"][0]["explanation"] == EXPLAINED
    # the coordinator asks again: back on the division's receipt, and on the sheet
    out = run(["accept", "-w", str(root), "--round", R2, "--division", CO, "--task", first,
               "--ask-again", "--reason", "请说明口径调整的依据"]).output  # fmt: skip
    assert "已请再说明" in out
    receipt = openpyxl.load_workbook(next((root / "outbox" / R2 / "receipts").glob("*.xlsx")))
    texts = [str(c.value) for row in receipt.worksheets[0].iter_rows() for c in row if c.value]
    assert "请再说明" in texts and any("请说明口径调整的依据" in t for t in texts)
    run(["merge", "-w", str(root), "--round", R2])
    sheet = openpyxl.load_workbook(merged)["需说明事项"]
    row = next(sheet.iter_rows(min_row=4, values_only=True))
    assert row[6] == "请再说明" and "请说明口径调整的依据" in row[7]
    # a new explanation is a new one: the question is answered, to be reviewed again
    values = _case(form, {"完成进度(%)": 20}, True, 2)
    values[first]["说明"] = "依据市统计局新口径，附文号"
    fill(form, root / "inbox" / "q3.xlsx", values, CONTACT)
    report = run_json(["collect", "-w", str(root), "--round", R2])
    codes = [
        i["code"] for i in [f for f in report["files"] if f["path"] == "q3.xlsx"][-1]["issues"]
    ]
    assert "explanation-asked-again" not in codes and "explained" in codes
    run(["accept", "-w", str(root), "--round", R2, "--division", CO, "--task", first])
    run(["merge", "-w", str(root), "--round", R2])
    row = next(openpyxl.load_workbook(merged)["需说明事项"].iter_rows(min_row=4, values_only=True))
    assert row[6] == "已说明（已认可）"
    # nothing to review on a task without a 说明: named, not a traceback
    bad = run(["accept", "-w", str(root), "--round", R2, "--division", CO, "--task", "999"],
              expect=None)  # fmt: skip
    assert bad.exit_code != 0 and "没有已写说明的事项" in bad.output


def test_a_form_made_before_the_column_is_still_taken(rounds: Path, tmp_path: Path) -> None:
    """A return on a form without the 说明 column: every rule still noted, nothing refused
    for want of a column it never had."""
    root = rounds.parents[3]
    old = tmp_path / "old.xlsx"
    wb = openpyxl.load_workbook(rounds)
    sheet = wb[TASK_SHEET]
    sheet.delete_cols(sheet.max_column)  # the 说明 column, as forms had it before
    meta = wb[META_SHEET]
    for row in meta.iter_rows():
        if row[0].value == "columns":
            columns = json.loads(row[1].value)
            columns.pop("explanation")
            row[1].value = json.dumps(columns)
    wb.save(old)
    values = _case(rounds, {"完成进度(%)": 20}, False, 2)
    for answer in values.values():
        answer.pop("说明")
    fill(old, root / "inbox" / "without-column.xlsx", values, CONTACT)
    report = run_json(["collect", "-w", str(root), "--round", R2, "--no-receipts"])
    (f,) = [f for f in report["files"] if f["path"] == "without-column.xlsx"]
    codes = {i["code"] for i in f["issues"]}
    assert "column-missing" not in codes
    (issue,) = [i for i in f["issues"] if i["code"] == "needs-explanation"]
    assert "另行向汇总单位说明" in issue["message"]


# --- in LibreOffice: what the division sees while typing ---


def _office_cells(form: Path, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sheet = openpyxl.load_workbook(form)[TASK_SHEET]
    heads = {c.value: c.column_letter for c in sheet[5] if c.value}
    rows = task_rows(form)
    cells: dict[str, Any] = {}
    for tid, answers in values.items():
        for label, value in answers.items():
            cells[f"{heads[label]}{rows[tid]}"] = value
    return cells


@needs_office[0]
@needs_office[1]
def test_libreoffice_flags_what_collect_and_the_twin_say(tmp_path: Path) -> None:
    form = _two_rounds(tmp_path / "work")
    late = _late_round(tmp_path / "late")
    plans = [(form, R2, CASES, 2), (late, LATE, [OVERDUE, ("clean", {}, None)], 3)]
    jobs, expected = [], {}
    for source, rnd, cases, round_no in plans:
        home = source.parents[3]
        settings = load_settings(home / "xlflow.toml")
        meta = {
            r[0]: r[1]
            for r in openpyxl.load_workbook(source)[META_SHEET].iter_rows(values_only=True)
        }
        where = json.loads(meta["contact"])
        contact = {where[f.key]: CONTACT[f.label] for f in settings.contact if f.label in CONTACT}
        for name, change, rule in cases:
            for explained in (False, True) if rule else (False,):
                stem = f"{rnd} {name}{' explained' if explained else ''}"
                values = _case(source, change, explained, round_no)
                cells = {**_office_cells(source, values), **contact}
                job = Job(source, tmp_path / f"{stem}.xlsx", [{"sheet": TASK_SHEET, "cells": cells}],
                          recalculate=True)  # fmt: skip
                jobs.append(job)
                expected[stem] = (home, rnd, values, rule, explained)
    results = run_batch(jobs)
    assert all(r["ok"] for r in results), results
    for job in jobs:
        stem = job.out.stem
        home, rnd, values, rule, explained = expected[stem]
        source = _form(home, rnd)
        checks = _checks(source)
        saved = openpyxl.load_workbook(job.out, data_only=True)
        flags = saved[CHECK_SHEET]
        rows = task_rows(source)
        office = {tid: _held(checks, flags[f"{checks['hit']}{r}"].value) for tid, r in rows.items()}
        office = {t: r for t, r in office.items() if r}
        assert office == _twin(home, rnd, values), stem
        needs = sum((flags[f"{checks['hit']}{r}"].value or 0) < 0 for r in rows.values())
        assert needs == (1 if rule and not explained else 0), stem
        line = next(c.value for c in saved[TASK_SHEET][3] if c.value is not None)
        assert line == (remaining(0, needs) if needs else COMPLETE), stem
        shutil.copy(job.out, home / "inbox" / job.out.name)
    for home, rnd in ((form.parents[3], R2), (late.parents[3], LATE)):
        collected = _collected(home, rnd)
        for stem, (h, r, values, rule, explained) in expected.items():
            if h != home:
                continue
            flagged = {t: set(v) for t, v in collected[stem].items() if t}
            assert flagged == {t: set(v) for t, v in _twin(home, r, values).items()}, stem
            codes = {c for v in collected[stem].values() for k, c in v.items() if k != "verdict"}
            assert codes == ({"explained" if explained else "needs-explanation"} if rule else set())
    # the amber row and the check line, as a division sees them
    shown = run_batch([Job(tmp_path / f"{R2} percent fell.xlsx", tmp_path / "fell.pdf")])
    assert shown[0]["ok"]
    assert to_png(tmp_path / "fell.pdf", artifacts_dir() / "plausibility", dpi=70)


# --- the console: the board's count, the division page, accept and ask again ---


def test_the_console_shows_the_flags_and_takes_the_coordinators_word(tmp_path: Path) -> None:
    from urllib.parse import quote

    from .test_web import Console

    form = _two_rounds(tmp_path / "work")
    root = form.parents[3]
    first = _first(root, R2)
    values = _case(form, {"完成进度(%)": 20}, True, 2)
    second = list(values)[1]
    values[second]["完成状态"] = "已完成"  # 35 %: done below full, not explained
    fill(form, root / "inbox" / "q3.xlsx", values, CONTACT)
    run(["collect", "-w", str(root), "--round", R2])
    server = Console(root)
    try:
        page = server.request("GET", f"/r/{R2}")[1]
        assert "1 处待说明" in page and "1 处已说明" in page
        path = f"/r/{R2}/d/{quote(CO)}"
        page = server.request("GET", path)[1]
        assert "需说明事项" in page and EXPLAINED in page and "认可说明" in page
        token = server.csrf()
        fields = f"csrf_token={token}&division={quote(CO)}&task_id={first}&rule=percent_fell"
        # asking again needs the question
        status, page, _ = server.post_form(f"/r/{R2}/review", fields + "&action=ask_again&note=")
        assert status == 400 and "请写明还需要说明什么" in page and "Traceback" not in page
        status, _, headers = server.post_form(
            f"/r/{R2}/review", fields + f"&action=ask_again&note={quote('请附依据')}"
        )
        assert status == 303 and headers["Location"].endswith(path)
        page = server.request("GET", path)[1]
        assert "追问：请附依据" in page
        status, _, _ = server.post_form(f"/r/{R2}/review", fields + "&action=accept&note=")
        assert status == 303
        assert "已说明（已认可）" in server.request("GET", path)[1]
    finally:
        err = server.stop()
    assert "Traceback" not in err, err
