"""Registers as offices publish them: every layout reads exactly, or says what to do.

Each file in tests/data/registers/ has its truth beside it (`<file>.json`, written by hand
in make_registers.py): tasks with their groups, leads and co-operating units, the groups,
the units and the office. The files are read as a new coordinator would read them, by
`init --register`, with nothing configured.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from contextlib import closing
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest

from xlflow.errors import RegisterError
from xlflow.model import Register
from xlflow.pool import IN_PROCESS_VARIABLE
from xlflow.register.detect import detect_layout
from xlflow.register.load import load_register
from xlflow.workspace import Workspace

from .conftest import REPO, SHARED, run, run_json

CORPUS = Path(__file__).parent / "data" / "registers"
FILES = sorted(p for p in CORPUS.iterdir() if (CORPUS / f"{p.name}.json").is_file())


def _truth(path: Path) -> dict[str, Any]:
    return json.loads((CORPUS / f"{path.name}.json").read_text("utf-8"))


def test_the_corpus_has_every_layout() -> None:
    suffixes = {p.suffix for p in FILES}
    assert len(FILES) >= 12
    assert {".xlsx", ".xls", ".ods", ".docx", ".csv"} <= suffixes
    names = {p.name for p in FILES}
    assert "guofa-2019-3-zongbao.docx" in names and "bundled-key-task-list.xlsx" in names
    shared = SHARED / "registers" / "guofa-2019-3-zongbao.docx"
    if shared.is_file():  # beside the repository on the development machines
        assert (CORPUS / shared.name).read_bytes() == shared.read_bytes()
    assert (CORPUS / "bundled-key-task-list.xlsx").read_bytes() == (
        REPO / "templates" / "key-task-list.xlsx"
    ).read_bytes()


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_register_reads_exactly(path: Path) -> None:
    truth = _truth(path)
    found = detect_layout(path)
    reg = found.register
    got = [
        {"id": t.id, "group": t.group, "lead": list(t.lead), "cooperating": list(t.cooperating)}
        for t in reg.tasks
    ]
    assert got == truth["tasks"]
    assert list(reg.groups) == truth["groups"]
    assert list(reg.divisions) == truth["units"]
    assert sorted({u for t in reg.tasks for u in t.lead}) == truth["leads"]
    assert found.office == truth["office"]
    for key, value in truth["settings"].items():
        assert getattr(found.settings, key) == value, key
    # every text the truth names is in its task, where a division will read it
    for task_id, texts in truth["texts"].items():
        task = reg.task(task_id)
        assert task is not None
        shown = "\n".join(task.column(c) for c in found.settings.readonly_columns)
        for text in texts:
            assert text in shown, (task_id, text)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_init_writes_settings_that_read_the_same(tmp_path: Path, path: Path) -> None:
    """What init shows is what every later command reads: the written xlflow.toml gives
    the same register."""
    truth = _truth(path)
    run(["init", str(tmp_path / "w"), "--register", str(path)])
    ws = Workspace.open(tmp_path / "w")
    reg = load_register(ws)
    assert [(t.id, list(t.lead), list(t.cooperating)) for t in reg.tasks] == [
        (t["id"], t["lead"], t["cooperating"]) for t in truth["tasks"]
    ]
    assert ws.settings.office.name == truth["office"]
    if truth["office"] != "市科技局":
        # the bundled office's contact never carries over to another office
        assert ws.settings.office.contact == "" and ws.settings.office.phone == ""


def _form_texts(path: Path) -> str:
    with closing(openpyxl.load_workbook(path, read_only=True)) as wb:
        return "\n".join(
            str(v) for v in (c for row in wb["填报"].iter_rows(values_only=True) for c in row) if v
        )


@pytest.mark.parametrize(
    "name", ["county-minsheng.xlsx", "minsheng-table.docx", "street-projects-gbk.csv"]
)
def test_every_sub_row_is_on_the_right_forms(tmp_path: Path, name: str) -> None:
    path = CORPUS / name
    truth = _truth(path)
    root = tmp_path / "w"
    run(["init", str(root), "--register", str(path)])
    data = run_json(["generate", "-w", str(root), "--round", "2024-H1"])
    forms = {f["division"]: Path(f["path"]) for f in data["forms"]}
    texts = {d: _form_texts(p) for d, p in forms.items()}
    for task in truth["tasks"]:
        units = task["lead"] + task["cooperating"]
        for unit in units:
            assert task["id"] in data_ids(data, unit), (unit, task["id"])
        for text in truth["texts"].get(task["id"], []):
            for unit in units:
                assert text in texts[unit], (unit, task["id"], text)
        others = [d for d in forms if d not in units]
        for text in truth["texts"].get(task["id"], []):
            # the sub-row's own measure is on no other unit's form
            assert all(text not in texts[d] for d in others if text.endswith("。")), text


def data_ids(data: dict[str, Any], unit: str) -> list[str]:
    return next(f["task_ids"] for f in data["forms"] if f["division"] == unit)


def test_init_shows_what_it_guessed_and_why(tmp_path: Path) -> None:
    result = run(["init", str(tmp_path / "w"), "--register", str(CORPUS / "county-minsheng.xlsx")])
    out = result.output
    # a preview of the tasks, every unit with its counts, each column with its evidence
    assert "前 8 项任务" in out and "1-1" in out and "新建改扩建中小学校" in out
    assert "县教育局" in out and "各乡镇人民政府（集体名称）" in out
    assert "责任领导：责任领导（表头含“领导/责任人”" in out
    assert "序号 1 下有 3 行（第 5–7 行）：读作 1-1、1-2、1-3" in out
    assert "单位名称（填报表标题）：XX县——取自标题" in out
    # the open list is said plainly
    assert "序号 3-1、3-2 的责任单位写有“等部门”" in out


def test_init_says_how_a_paragraph_register_was_read(tmp_path: Path) -> None:
    out = run(
        ["init", str(tmp_path / "w"), "--register", str(CORPUS / "guofa-2019-3-zongbao.docx")]
    ).output
    assert "Word 文件没有表格：21 个编号段落写明了责任单位，按段落读作任务" in out
    assert "国务院——取自标题" in out
    assert "13 个单位" in out


def test_a_text_over_two_rows_is_said(tmp_path: Path) -> None:
    found = detect_layout(CORPUS / "devzone-list.xlsx")
    assert any("看作序号 1 跨行的同一段文字" in n for n in found.register.notes)
    assert found.settings.targets == ((2024, "2024年目标"), (2025, "2025年目标"))
    assert found.settings.lead_column == "牵头单位"
    assert found.settings.cooperating_column == "配合单位"
    assert "责任领导" in found.settings.readonly_columns


def test_a_register_column_named_like_a_field_is_not_shown() -> None:
    found = detect_layout(CORPUS / "monthly-extract.xlsx")
    assert "进展情况" not in found.settings.readonly_columns
    assert "备注" not in found.settings.readonly_columns
    assert any("进展情况" in w and "同名" in w for w in found.warnings)
    assert any("没有找到单位名称" in w for w in found.warnings)


def test_unsure_guesses_are_said_plainly(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [
        ["序号", "板块名", "说明", "责任单位"],
        [1, "甲", "推进甲工作", "A局"],
        [2, "甲", "推进乙工作", "B局"],
        [3, "乙", "推进丙工作", "A局"],
        [4, "乙", "推进丁工作", "C局"],
    ]:
        ws.append(row)
    wb.save(path)
    found = detect_layout(path)
    assert found.settings.group_column == "板块名"
    assert any(w.startswith("不太确定：分组") for w in found.warnings)
    assert any(w.startswith("不太确定：任务名称") for w in found.warnings)
    out = run(["register", "--check", str(path)]).output
    assert "← 不太确定，请核对" in out


def test_check_and_dry_run_create_nothing(tmp_path: Path) -> None:
    before = sorted(tmp_path.iterdir())
    data = run_json(["register", "--check", str(CORPUS / "district-gzbg.xlsx")])
    assert data["office"] == "XX区发展和改革局"
    assert data["register"]["counts"]["tasks"] == 7
    assert any(g["what"] == "配合单位" and g["column"] == "协同配合单位" for g in data["guesses"])
    out = run(["init", "--dry-run", "--register", str(CORPUS / "district-gzbg.xlsx")]).output
    assert "读到 7 项任务" in out
    assert sorted(tmp_path.iterdir()) == before


def test_office_option_wins(tmp_path: Path) -> None:
    run(
        [
            "init",
            str(tmp_path / "w"),
            "--register",
            str(CORPUS / "monthly-extract.xlsx"),
            "--office",
            "XX市政府督查室",
        ]
    )
    assert Workspace.open(tmp_path / "w").settings.office.name == "XX市政府督查室"


# --- what cannot be read says what was seen and what to do ---


def test_a_word_file_without_tasks_says_what_it_saw(tmp_path: Path) -> None:
    document = docx.Document()
    for line in ["关于做好年度总结的通知", "1.总结工作成绩。", "2.查找存在问题。"]:
        document.add_paragraph(line)
    path = tmp_path / "notice.docx"
    document.save(str(path))
    with pytest.raises(
        RegisterError, match="没有表格，也没有写明责任单位的编号段落（找到 2 个编号段落"
    ):
        detect_layout(path)


def test_a_numbered_task_without_units_among_tasks_is_named(tmp_path: Path) -> None:
    document = docx.Document()
    for line in [
        "一、重点任务",
        "1.推进甲。（A局负责）",
        "2.推进乙。",
        "3.推进丙。（B局负责）",
    ]:
        document.add_paragraph(line)
    path = tmp_path / "r.docx"
    document.save(str(path))
    with pytest.raises(
        RegisterError, match=re.escape("第 3 段“2.推进乙。”编号与任务相同，但没有写责任单位")
    ):
        detect_layout(path)


def test_a_sheet_without_a_header_says_what_it_saw(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["名单"])
    wb.active.append(["张三", "李四"])
    wb.save(path)
    result = run(["init", str(tmp_path / "w"), "--register", str(path)], expect=3)
    assert "没有找到任务清单的表头行" in result.output and "“名单”" in result.output
    assert not (tmp_path / "w" / "xlflow.toml").exists()


def test_an_old_word_file_is_told_to_save_as_docx(tmp_path: Path) -> None:
    path = tmp_path / "r.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    result = run(["register", "--check", str(path)], expect=3)
    assert "另存为 → Word 文档（*.docx）" in result.output


# --- register text is data from outside ---


def test_a_formula_without_a_value_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "任务", "责任单位"])
    ws.append([1, '=CONCATENATE("推进","甲")', "A局"])
    wb.save(path)  # openpyxl stores no computed value
    with pytest.raises(RegisterError, match="B2 是公式，但文件中没有保存计算结果"):
        detect_layout(path)


def test_a_huge_register_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "任务", "责任单位"])
    ws.cell(row=1_000_000, column=1, value=1)
    wb.save(path)
    with pytest.raises(RegisterError, match="超过上限"):
        detect_layout(path)


def test_deeply_nested_word_tables_are_refused(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    for i, text in enumerate(["序号", "任务", "责任单位"]):
        table.cell(0, i).text = text
    table.cell(1, 0).text = "1"
    table.cell(1, 2).text = "A局"
    cell = table.cell(1, 1)
    for _ in range(8):
        cell = cell.add_table(rows=1, cols=1).cell(0, 0)
    cell.text = "深处的文字"
    path = tmp_path / "nested.docx"
    document.save(str(path))
    with pytest.raises(RegisterError, match=r"嵌套了 .* 层以上的表格"):
        detect_layout(path)


def test_a_nested_table_is_read_not_lost(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    for i, text in enumerate(["序号", "任务", "责任单位"]):
        table.cell(0, i).text = text
    table.cell(1, 0).text = "1"
    table.cell(1, 2).text = "A局"
    inner = table.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "指标"
    inner.cell(0, 1).text = "增长5%"
    path = tmp_path / "nested.docx"
    document.save(str(path))
    task = detect_layout(path).register.tasks[0]
    assert "指标 增长5%" in task.column("任务")


def test_a_docx_with_a_dtd_is_refused(tmp_path: Path) -> None:
    good = CORPUS / "city-fengong.docx"
    path = tmp_path / "evil.docx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"?>", b'?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>', 1)
            dst.writestr(item, data)
    with pytest.raises(RegisterError, match="DTD"):
        detect_layout(path)


@pytest.mark.parametrize("name", ["guofa-2019-3-zongbao.docx", "county-minsheng.xlsx"])
def test_a_whole_round_on_a_published_register(tmp_path: Path, name: str) -> None:
    """Paragraph tasks and sub-row tasks go through generate, collect and merge."""
    from .conftest import fill_complete

    root = tmp_path / "w"
    run(["init", str(root), "--register", str(CORPUS / name)])
    data = run_json(["generate", "-w", str(root), "--round", "2024-H1"])
    for form in data["forms"]:
        path = Path(form["path"])
        fill_complete(path, root / "inbox" / path.name)
    report = run_json(["collect", "-w", str(root), "--round", "2024-H1"])
    assert {f["verdict"] for f in report["files"]} == {"accepted"}
    assert report["missing"] == []
    merged = run_json(["merge", "-w", str(root), "--round", "2024-H1"])
    with closing(openpyxl.load_workbook(merged["path"], read_only=True)) as wb:
        detail = list(wb["任务明细"].iter_rows(values_only=True))
    ids = [str(r[1]) for r in detail[4:] if r[1] is not None]
    assert ids == [t["id"] for t in _truth(CORPUS / name)["tasks"]]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_the_register_kept_in_the_ledger_is_the_one_read(path: Path, tmp_path: Path) -> None:
    from xlflow.ledger.book import Ledger

    reg = detect_layout(path).register
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.cache_register("k", reg)
        assert ledger.cached_register("k") == reg
        head = ledger.register_head("k")
    assert head is not None and head.divisions == reg.divisions and head.groups == reg.groups
    assert sum(n for _, n in head.group_runs) == len(reg.tasks)


def test_the_register_is_read_back_packed_and_from_its_rows_alike(tmp_path: Path) -> None:
    """The packed copy of the tasks is what a command reads; without it (a ledger of an
    earlier release), or with one it cannot take (another Python's, or damaged), the JSON
    rows say the same and it is packed again. Repeated texts stay one string each."""
    from xlflow.ledger.book import Ledger
    from xlflow.ledger.registers import PACKING

    reg = detect_layout(CORPUS / "bundled-key-task-list.xlsx").register
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.cache_register("k", reg)
        db = ledger.db
        (packing,) = db.execute("SELECT python FROM register_packed WHERE key='k'").fetchone()
        assert packing == PACKING
        _one_string_each(ledger.cached_register("k"))
        for damage in (
            "DELETE FROM register_packed",
            "UPDATE register_packed SET python='cpython-27/marshal2'",
            "UPDATE register_packed SET tasks=x'deadbeef'",
            "UPDATE register_packed SET tasks=x'a900'",  # no task at all: ()
            "UPDATE register_packed SET tasks=x'a901a901e901000000'",  # no task's shape: ((1,),)
        ):
            db.execute(damage)
            assert ledger.cached_register("k") == reg, damage
            # and packed again, as this Python reads it
            row = db.execute("SELECT python, tasks FROM register_packed WHERE key='k'").fetchone()
            assert row[0] == PACKING and len(row[1]) > 100, damage
        _one_string_each(ledger.cached_register("k"))


def _one_string_each(reg: Register | None) -> None:
    """The same division, group or header on many tasks is one string in memory."""
    assert reg is not None
    seen: dict[str, str] = {}
    shared = 0
    for task in reg.tasks:
        for text in (task.group, *task.lead, *task.cooperating, *(h for h, _ in task.columns)):
            assert seen.setdefault(text, text) is text, text
            shared += 1
    assert shared > 2 * len(seen)


def test_the_register_is_parsed_again_only_when_something_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xlflow.register.parse as register

    root = tmp_path / "w"
    run(["init", str(root)])
    parsed: list[Path] = []
    real = register.read_register

    def counting(path: Path, settings: Any) -> Any:
        parsed.append(path)
        return real(path, settings)

    monkeypatch.setattr(register, "read_register", counting)
    # the register is parsed in a worker; counted here, the calls must stay here
    monkeypatch.setenv(IN_PROCESS_VARIABLE, "1")
    first = load_register(Workspace.open(root))
    assert load_register(Workspace.open(root)) == first and len(parsed) <= 1
    before = len(parsed)
    book = root / "templates" / "key-task-list.xlsx"
    wb = openpyxl.load_workbook(book)
    sheet = wb.worksheets[0]
    cell = next(c for row in sheet.iter_rows() for c in row if "政策规划处" in str(c.value))
    cell.value = str(cell.value).replace("政策规划处", "政策法规处")
    wb.save(book)
    changed = load_register(Workspace.open(root))
    assert len(parsed) == before + 1 and "政策法规处" in changed.divisions
    settings = root / "xlflow.toml"
    settings.write_text(
        settings.read_text("utf-8").replace(
            'lead_rule = "first_unit"', 'lead_rule = "first_group"'
        ),
        "utf-8",
    )
    load_register(Workspace.open(root))
    assert len(parsed) == before + 2


def test_the_register_s_content_key_is_kept_and_no_later_command_hashes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The content key a register version is known by is kept beside the parsed register
    when it is parsed: later commands that find a round's version (generate, history,
    export) do not hash every task again (0.1-0.3 s at 12,000 tasks), and what is kept is
    what hashing gives."""
    import xlflow.model as model
    from xlflow.generate.forms import generate_forms
    from xlflow.ledger.book import Ledger
    from xlflow.model import parse_round
    from xlflow.reporting.data import answers

    root = tmp_path / "w"
    run(["init", str(root)])
    run(["generate", "-w", str(root), "--round", "2019-H1"])  # parses and keeps it
    ws = Workspace.open(root)
    register = load_register(ws)
    with Ledger(ws.ledger_path) as ledger:
        head = ledger.register_head(ws.parsed_register[0])  # type: ignore[index]
        version = ledger.round_version("2019-H1")
    assert head is not None and head.content == model.hash_tasks(register.tasks)
    hashed: list[int] = []
    real = model.hash_tasks
    monkeypatch.setattr(model, "hash_tasks", lambda tasks: hashed.append(1) or real(tasks))
    again = generate_forms(Workspace.open(root), parse_round("2019-H2"))
    assert len(again.forms) > 1
    answers(Workspace.open(root))
    run(["history", "-w", str(root)])
    assert hashed == []
    with Ledger(ws.ledger_path) as ledger:
        assert ledger.round_version("2019-H2") == version
    # a register parsed anew is hashed, once, however often its key is asked
    parsed = dataclasses.replace(register, source="x")
    assert model.content_key(parsed) == model.content_key(parsed) == head.content
    assert hashed == [1]


def test_status_reads_the_ledger_not_the_register(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status` needs the round's divisions alone, in the register's order: they come from
    the ledger, which keeps the register last parsed. No task is read (a second at 12,000
    tasks), the register file is not opened, and one locked, broken or gone since the
    forms were made never stops a look at the round."""
    from xlflow.ledger.book import Ledger
    from xlflow.reporting.status import all_rounds, round_status

    root = tmp_path / "w"
    run(["init", str(root)])
    run(["generate", "-w", str(root), "--round", "2019-H1"])
    ws = Workspace.open(root)
    whole = load_register(ws)
    ws.register_path.write_bytes(b"PK\x03\x04 not a workbook any more")

    def refused(self: Any, key: str) -> Any:
        raise AssertionError("a task was read")

    monkeypatch.setattr(Ledger, "register_tasks", refused)
    state = round_status(Workspace.open(root), "2019-H1").state
    assert [d.division for d in state.divisions] == list(whole.divisions)
    assert len(all_rounds(Workspace.open(root))) == 1
    said = run(["status", "-w", str(root), "--round", "2019-H1"]).output
    places = [said.index(d) for d in whole.divisions]
    assert places == sorted(places), said
    ws.register_path.unlink()
    assert run(["status", "-w", str(root), "--round", "2019-H1"]).output == said
