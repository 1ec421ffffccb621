"""The data beyond the workbook: `answers()` and `tasks()` against the consolidated
workbook read back by openpyxl, every export read back by an independent reader, the
same ledger giving the same bytes, and the console's live feed."""

from __future__ import annotations

import io
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from xlflow.demo import run_demo
from xlflow.reporting.data import ANSWER_COLUMNS, TASK_COLUMNS, answers, tasks
from xlflow.workspace import Workspace

from .conftest import GOOD_CONTACT, complete_values, fill, run, run_json

H1, H2 = "2019-H1", "2019-H2"


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_round_demo(tmp_path_factory.mktemp("data") / "demo")


def two_round_demo(target: Path) -> Path:
    """The demo round, and a second one carried over from it with new answers."""
    root = run_demo(target, soffice=None).root
    data = run_json(
        [
            "generate",
            "-w",
            str(root),
            "--round",
            H2,
            "--prefill-from",
            H1,
            "--deadline",
            "2099-12-31",
        ]
    )
    for n, form in enumerate(Path(f["path"]) for f in data["forms"][:5]):
        values = complete_values(form, ("已完成", "按计划推进", "进度滞后")[n % 3], 70 + n)
        for tid, row in values.items():
            row["进展情况"] = f"下半年：任务{tid}完成{70 + n}%"
        fill(form, root / "inbox" / "H2" / form.name, values, GOOD_CONTACT)
    run(["collect", "-w", str(root), "--round", H2])
    run(["merge", "-w", str(root), "--round", H1])
    run(["merge", "-w", str(root), "--round", H2])
    return root


def _detail(root: Path, round_id: str) -> list[dict[str, Any]]:
    path = next((root / "outbox" / round_id).glob("*-汇总-*.xlsx"))
    sheet = openpyxl.load_workbook(path)["任务明细"]
    heads = [c.value for c in sheet[4]]
    return [
        dict(zip(heads, r, strict=False))
        for r in sheet.iter_rows(min_row=5, values_only=True)
        if r[1]
    ]


@pytest.mark.parametrize("round_id", [H1, H2])
def test_answers_are_the_detail_sheets_values(two_rounds: Path, round_id: str) -> None:
    ws = Workspace.open(two_rounds)
    frame = answers(ws, [round_id])
    assert set(frame["round"]) == {round_id}
    register = run_json(["register", "-w", str(two_rounds)])
    lead_of = {t["id"]: t["lead"] for t in register["tasks"]}
    units_of = {t["id"]: t["lead"] + t["cooperating"] for t in register["tasks"]}
    compared = 0
    for row in _detail(two_rounds, round_id):
        tid = row["序号"]
        mine = frame[frame["task_id"] == tid]
        lead = mine[mine["division"].astype(str).isin(lead_of[tid])]
        if len(lead):
            status = lead[lead["field"] == "status"]["value"].iloc[0]
            percent = lead[lead["field"] == "percent"]["number"].iloc[0]
            assert row["完成状态"] == status
            assert row["完成进度(%)"] == (None if pd.isna(percent) else percent)
            compared += 1
        else:
            assert row["完成状态"] == "未报送"
        # each text field: every division's words, labelled where several answer
        said = mine[mine["field"] == "progress"]
        parts = [
            (f"【{d}】{t}" if len(units_of[tid]) > 1 else t)
            for d, t in zip(said["division"].astype(str), said["text"], strict=True)
            if t is not pd.NA and t
        ]
        assert (row["进展情况"] or "") == "\n".join(parts)
    assert compared >= 10


def test_answers_gathered_in_batches_of_any_size_are_the_same_frame(
    two_rounds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """answers() keeps its rows as columns, a batch at a time (a year of a province has
    millions): a batch boundary anywhere, or none, gives the same frame, and a round with
    no answer gives an empty frame of the documented columns."""
    from xlflow.reporting import data

    ws = Workspace.open(two_rounds)
    whole = answers(ws)
    assert len(whole) > 100
    for size in (1, 7, len(whole) - 1, len(whole) + 1):
        monkeypatch.setattr(data, "_BATCH", size)
        pd.testing.assert_frame_equal(answers(ws), whole, check_exact=True)
    monkeypatch.setattr(data, "_rounds", lambda ws, rounds: iter(()))
    empty = answers(ws)
    assert len(empty) == 0 and list(empty.columns) == list(ANSWER_COLUMNS)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_the_csv_written_a_batch_at_a_time_is_the_whole_table_s(
    two_rounds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """`export --format csv` writes the answers as they are made (a province's year does
    not fit in memory as one table): the bytes are those of the whole frame's to_csv, for
    any batch size, with one BOM (UTF-8) and one header; no answer, the header alone."""
    from xlflow.reporting import data
    from xlflow.reporting.data import csv_bytes, export

    ws = Workspace.open(two_rounds)
    whole = csv_bytes(answers(ws), encoding)
    assert whole.count(b"task_id") == 1
    for size in (1, 7, 5000):
        monkeypatch.setattr(data, "_BATCH", size)
        out = tmp_path / f"a{size}.csv"
        result = export(ws, "csv", out, encoding=encoding)
        assert out.read_bytes() == whole and result.rows == len(answers(ws))
    monkeypatch.setattr(data, "_rounds", lambda ws, rounds: iter(()))
    assert export(ws, "csv", tmp_path / "none.csv", encoding=encoding).rows == 0
    assert (tmp_path / "none.csv").read_bytes() == csv_bytes(answers(ws), encoding)


def test_a_task_is_read_from_its_own_divisions_files_alone(two_rounds: Path) -> None:
    """task_states looks up each task's divisions among the accepted files, never scans
    every file for every task: at 10,000 returns that scan was 400 million lookups and
    most of `history`'s 74 s."""
    from xlflow.ledger.book import Ledger
    from xlflow.register.load import load_register
    from xlflow.reporting.tasks import task_states
    from xlflow.standing import round_state

    class Unscannable(dict[str, Any]):
        def items(self) -> Any:
            raise AssertionError("every accepted file scanned for a task")

    ws = Workspace.open(two_rounds)
    register = load_register(ws)
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.find_round(H1)
        assert rnd is not None
        accepted = round_state(ledger, rnd, register.divisions).accepted
    states, _ = task_states(register, ws.settings, rnd, Unscannable(accepted))
    assert states == task_states(register, ws.settings, rnd, dict(accepted))[0]
    assert sum(len(s.answers) for s in states) > 24


def test_the_dtypes_are_as_documented(two_rounds: Path) -> None:
    ws = Workspace.open(two_rounds)
    frame = answers(ws)
    assert [str(frame[c].dtype) for c in ANSWER_COLUMNS] == list(ANSWER_COLUMNS.values())
    assert list(frame["round"].cat.categories) == [H1, H2]
    assert list(frame["status"].cat.categories)[:4] == [
        "已完成",
        "按计划推进",
        "进度滞后",
        "未启动",
    ]
    numbers = frame[frame["field"] == "percent"]
    assert (
        numbers["number"].notna().all()
        and (numbers["number"] == numbers["value"].astype(float)).all()
    )
    choices = frame[frame["field"] == "status"]
    assert choices["choice"].notna().all() and choices["text"].isna().all()
    wide = tasks(ws)
    assert [str(wide[c].dtype) for c in TASK_COLUMNS] == list(TASK_COLUMNS.values())
    assert len(wide) == 2 * 24 and str(wide["进展情况"].dtype) == "string"
    assert wide["conflict"].dtype == bool


def test_tasks_is_the_detail_sheet(two_rounds: Path) -> None:
    wide = tasks(Workspace.open(two_rounds), [H2])
    for row, mine in zip(_detail(two_rounds, H2), wide.to_dict("records"), strict=True):
        assert (row["序号"], row["完成状态"]) == (mine["task_id"], mine["status"])
        assert row["完成进度(%)"] == (None if pd.isna(mine["percent"]) else mine["percent"])
        assert (row["进展情况"] or None) == (
            None if mine["进展情况"] is pd.NA else mine["进展情况"]
        )


def _exported(root: Path, fmt: str, out: Path, *extra: str) -> Path:
    run(["export", "-w", str(root), "--format", fmt, "-o", str(out), *extra])
    return out


def _plain(frame: pd.DataFrame) -> list[list[str]]:
    """Every cell as text, for comparing what different readers make of one table."""

    def text(v: Any) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
            return ""
        if isinstance(v, pd.Timestamp):
            return "" if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(v, bool):
            return str(int(v))
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if str(v) == "NaT":  # numpy's missing time
            return ""
        if v in ("True", "False"):  # CSV's text of a boolean
            return str(int(v == "True"))
        if isinstance(v, str) and re.fullmatch(r"-?\d+\.0", v):  # CSV's text of a whole float
            return v[:-2]
        return str(v)

    return [[text(v) for v in row] for row in frame.itertuples(index=False, name=None)]


def test_every_export_reads_back_as_answers(two_rounds: Path, tmp_path: Path) -> None:
    ws = Workspace.open(two_rounds)
    frame = answers(ws)
    expected = _plain(frame.drop(columns=["value"]))
    columns = [c for c in ANSWER_COLUMNS if c != "value"]
    # CSV, by pandas: UTF-8 with a BOM
    csv = _exported(two_rounds, "csv", tmp_path / "a.csv")
    assert csv.read_bytes()[:3] == b"\xef\xbb\xbf"
    back = pd.read_csv(csv, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert _plain(back[columns].replace("", None)) == expected
    # and GBK on request
    gbk = _exported(two_rounds, "csv", tmp_path / "g.csv", "--encoding", "gbk")
    assert (
        pd.read_csv(gbk, encoding="gb18030", dtype=str, keep_default_na=False).shape == frame.shape
    )
    # Parquet, by pandas (pyarrow)
    parquet = _exported(two_rounds, "parquet", tmp_path / "a.parquet")
    back = pd.read_parquet(parquet)
    assert _plain(back[columns]) == expected
    assert str(back["number"].dtype) == "Float64" and str(back["received"].dtype).startswith(
        "datetime64"
    )
    # SQLite, by sqlite3
    db = sqlite3.connect(_exported(two_rounds, "sqlite", tmp_path / "a.sqlite"))
    rows = db.execute(
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in columns)} FROM answers"
    ).fetchall()
    assert _plain(pd.DataFrame(rows, columns=columns).replace({None: None})) == expected
    by_group = db.execute("SELECT round, COUNT(*) FROM progress_by_group GROUP BY round").fetchall()
    assert by_group == [(H1, 6), (H2, 6)]
    assert db.execute("SELECT COUNT(*) FROM tasks").fetchone() == (48,)
    db.close()
    # xlsx, by openpyxl
    sheet = openpyxl.load_workbook(_exported(two_rounds, "xlsx", tmp_path / "a.xlsx"))["answers"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == list(ANSWER_COLUMNS)
    got = pd.DataFrame([list(r) for r in rows[1:]], columns=list(ANSWER_COLUMNS))
    assert _plain(got[columns]) == expected
    # the wide form too
    wide = _exported(two_rounds, "json", tmp_path / "t.json", "--wide")
    assert len(pd.read_json(wide)) == 48


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "parquet", "sqlite"])
def test_the_same_ledger_gives_the_same_bytes(two_rounds: Path, tmp_path: Path, fmt: str) -> None:
    first = _exported(two_rounds, fmt, tmp_path / f"1.{fmt}")
    again = _exported(two_rounds, fmt, tmp_path / f"2.{fmt}")
    assert first.read_bytes() == again.read_bytes()


def test_an_export_is_a_workbook_that_opens_clean(two_rounds: Path, tmp_path: Path) -> None:
    import json as _json
    import subprocess

    from .test_audit import AUDIT

    folder = tmp_path / "x"
    folder.mkdir()
    _exported(two_rounds, "xlsx", folder / "answers.xlsx")
    _exported(two_rounds, "xlsx", folder / "tasks.xlsx", "--wide")
    done = subprocess.run(
        [*AUDIT, "-f", "microsoft365", "-r", "-o", "json", "-m", "0", str(folder)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    for result in _json.loads(done.stdout):
        assert result["error_count"] == 0 and result["warning_count"] == 0, result["errors"][:3]


def test_a_round_that_is_not_there_is_said(two_rounds: Path, tmp_path: Path) -> None:
    result = run(
        [
            "export",
            "-w",
            str(two_rounds),
            "--format",
            "csv",
            "--round",
            "2030-H1",
            "-o",
            str(tmp_path / "x.csv"),
        ],
        expect=3,
    )
    assert "没有轮次 2030-H1" in result.output and not (tmp_path / "x.csv").exists()


def test_the_feed_serves_what_answers_gives(two_rounds: Path, tmp_path: Path) -> None:
    from .test_web import Console

    root = tmp_path / "w"
    shutil.copytree(two_rounds, root)
    console = Console(root)
    try:
        status, body, headers = console.request("GET", f"/feed/answers.csv?round={H2}")
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        back = pd.read_csv(io.StringIO(body.lstrip("\ufeff")), dtype=str, keep_default_na=False)
        expected = answers(Workspace.open(root), [H2])
        assert len(back) == len(expected) and set(back["round"]) == {H2}
        status, body, headers = console.request("GET", "/feed/tasks.json")
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        assert len(pd.read_json(io.StringIO(body))) == 48
        assert headers["Cache-Control"] == "no-store"
        status, _, _ = console.request("GET", "/feed/answers.csv?round=2030-H1")
        assert status == 404
        status, _, _ = console.request("GET", "/feed/..%2f.xlflow%2fsecret.csv")
        assert status == 404
        status, _, _ = console.request("POST", "/feed/answers.csv")
        assert status in (400, 403, 405)
    finally:
        console.stop()


def test_the_library_takes_a_folder_path_as_pandas_users_write_it(
    ws: Path, forms: dict[str, Path]
) -> None:
    """`xlflow.answers("2019督查")`: every public function that takes a working folder takes
    its path too, and a wrong type is said in words, not AttributeError."""
    import pytest

    import xlflow

    from .conftest import DEFAULT_ROUND, fill_complete

    fill_complete(forms["政策规划处"], ws / "inbox" / "a.xlsx")
    report = xlflow.collect(str(ws), DEFAULT_ROUND)
    assert [f.verdict.value for f in report.files] == ["accepted"]
    frame = xlflow.answers(ws)  # a Path
    assert set(frame["division"]) == {"政策规划处"}
    assert xlflow.merge(str(ws), DEFAULT_ROUND).path.is_file()
    assert xlflow.round_status(str(ws), DEFAULT_ROUND) is not None
    with pytest.raises(TypeError, match="需要工作文件夹"):
        xlflow.answers(42)
