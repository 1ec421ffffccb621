"""Reading registers as people really keep them."""

from __future__ import annotations

import csv
from pathlib import Path

import docx
import openpyxl
import pytest

from xlflow.config.load import load_settings
from xlflow.config.model import RegisterSettings
from xlflow.errors import RegisterError
from xlflow.register.detect import detect_layout
from xlflow.register.init import init_workspace
from xlflow.register.load import load_register
from xlflow.register.parse import read_register
from xlflow.workspace import Workspace

from .conftest import BUNDLED_XLSX, REPO, SEEDS, run, run_json

BUNDLED = load_settings(REPO / "templates" / "xlflow.toml").register
DATA = Path(__file__).parent / "data"
DIVISIONS = (
    "高新技术及产业化处",
    "资源配置与诚信建设处",
    "政策规划处",
    "创新平台与合作处",
    "农村与社会发展科技处",
    "外国专家局",
    "办公室",
)


def test_bundled_register_counts() -> None:
    reg = read_register(BUNDLED_XLSX, BUNDLED)
    assert len(reg.tasks) == 24
    assert len(reg.groups) == 6
    assert reg.divisions == DIVISIONS
    assert len(reg.assignments) == 31
    assert reg.groups[0] == "实施研发大投入"  # the line break in the merged cell is layout
    t5 = reg.task("5")
    assert t5 is not None
    assert t5.lead == ("政策规划处",) and t5.cooperating == ("创新平台与合作处",)
    assert t5.group == "建设创新大机构"
    # a merged category belongs to every row it spans
    assert [t.group for t in reg.tasks[:4]] == ["实施研发大投入"] * 4
    assert reg.task("18") is not None
    assert reg.task("18").targets[-1][1].endswith("每年新增省领军型创新创业团队2家以上。")  # type: ignore[union-attr]


def test_docx_register_equals_xlsx() -> None:
    # the same register as the Word attachment it usually comes as (a copy of the seed)
    from_xlsx = read_register(BUNDLED_XLSX, BUNDLED)
    from_docx = read_register(DATA / "key-task-list.docx", BUNDLED)
    assert len(from_docx.tasks) == 24 and len(from_docx.assignments) == 31
    for a, b in zip(from_xlsx.tasks, from_docx.tasks, strict=True):
        assert (a.id, a.group, a.columns, a.lead, a.cooperating, a.targets) == (
            b.id,
            b.group,
            b.columns,
            b.lead,
            b.cooperating,
            b.targets,
        )


def test_repository_register_is_the_seed() -> None:
    if SEEDS.is_dir():  # beside the repository on the development machines
        assert BUNDLED_XLSX.read_bytes() == (SEEDS / "key-task-list.xlsx").read_bytes()
        assert (DATA / "key-task-list.docx").read_bytes() == (
            SEEDS / "key-task-list.docx"
        ).read_bytes()
    bundled = REPO / "xlflow" / "bundled"
    assert (bundled / "key-task-list.xlsx").read_bytes() == BUNDLED_XLSX.read_bytes()
    assert (bundled / "xlflow.toml").read_bytes() == (
        REPO / "templates" / "xlflow.toml"
    ).read_bytes()


def _xlsx(path: Path, rows: list[list[object]], merges: list[str] = ()) -> Path:  # type: ignore[assignment]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "清单"
    for row in rows:
        ws.append(row)
    for m in merges:
        ws.merge_cells(m)
    wb.save(path)
    return path


SEPARATE = RegisterSettings(
    id_column="序号",
    group_column="",
    name_column="工作任务",
    lead_column="牵头单位",
    cooperating_column="责任单位",
    readonly_columns=("工作任务",),
    targets=((2020, "2020年目标"),),
)

# a category column and one column of the divisions responsible, the first leading
CATEGORY = RegisterSettings(
    id_column="序号",
    group_column="类别",
    name_column="工作任务",
    divisions_column="责任处室",
    readonly_columns=("工作任务",),
    targets=((2020, "2020年目标"),),
)


def test_title_rows_line_break_headers_and_merged_groups(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "r.xlsx",
        [
            ["附件2"],
            ["2020年重点工作任务分解表"],
            [None],
            ["序号", "类别", "工作任务", "责任\n处室", "2020年\n目标"],
            [1, "改革", "任务甲", "办公室\n\n", "目标甲"],
            [2, None, "任务乙", " 人事处 、 财务处 ", "目标乙"],
            [3, "开放", "任务丙", "财务处；办公室;人事处", "目标丙"],
        ],
        merges=["B5:B6"],
    )
    reg = read_register(path, CATEGORY)
    assert [t.id for t in reg.tasks] == ["1", "2", "3"]
    assert [t.group for t in reg.tasks] == ["改革", "改革", "开放"]
    assert reg.tasks[0].lead == ("办公室",) and reg.tasks[0].cooperating == ()
    assert reg.tasks[1].lead == ("人事处",) and reg.tasks[1].cooperating == ("财务处",)
    assert reg.tasks[2].lead == ("财务处",) and reg.tasks[2].cooperating == ("办公室", "人事处")
    assert reg.tasks[1].targets == ((2020, "目标乙"),)


def test_section_heading_rows_and_separate_lead_columns(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "r.xlsx",
        [
            ["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"],
            ["一、深化改革"],
            [1, "任务甲", "办公室、人事处", "财务处/办公室", "目标甲"],
            [2, "任务乙", "财务处", "", "目标乙"],
            ["二、扩大开放", None, None, None, None],
            ["3", "任务丙", "人事处", "财务处，办公室", "目标丙"],
        ],
        merges=["A2:E2", "A5:E5"],
    )
    reg = read_register(path, SEPARATE)
    assert reg.groups == ("一、深化改革", "二、扩大开放")
    assert reg.tasks[0].lead == ("办公室", "人事处")
    # a unit named as lead is not also a co-operating unit
    assert reg.tasks[0].cooperating == ("财务处",)
    assert reg.tasks[2].cooperating == ("财务处", "办公室")
    assert len(reg.assignments) == 3 + 1 + 3


def test_docx_with_section_rows_and_full_width_separators(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("附件")
    table = document.add_table(rows=5, cols=5)
    header = ["序号", "工作任务", "牵头单位", "责任单位", "2020年\n目标"]
    for i, text in enumerate(header):
        table.cell(0, i).text = text
    heading = table.cell(1, 0).merge(table.cell(1, 4))
    heading.text = "一、深化改革"
    for r, row in enumerate(
        [
            ["1", "任务甲", "办公室", "财务处，人事处\n", "目标甲"],
            ["2", "任务乙", "人事处", "", "目标乙"],
        ],
        start=2,
    ):
        for i, text in enumerate(row):
            table.cell(r, i).text = text
    table.cell(4, 0).merge(table.cell(4, 4)).text = "注：本表由办公室负责解释"
    path = tmp_path / "r.docx"
    document.save(str(path))
    reg = read_register(path, SEPARATE)
    assert [t.id for t in reg.tasks] == ["1", "2"]
    assert reg.tasks[0].group == "一、深化改革"
    assert reg.tasks[0].cooperating == ("财务处", "人事处")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_register(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "r.csv"
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"])
        writer.writerow([1, "任务甲", "办公室", "财务处；人事处", "目标甲"])
        writer.writerow([2, "任务乙", "人事处", "", "目标乙"])
    reg = read_register(path, SEPARATE)
    assert reg.tasks[0].cooperating == ("财务处", "人事处")
    assert reg.divisions == ("办公室", "财务处", "人事处")


def test_duplicate_id_names_both_rows(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "r.xlsx",
        [
            ["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"],
            [1, "任务甲", "办公室", "", "x"],
            [2, "任务乙", "办公室", "", "y"],
            [1, "任务丙", "办公室", "", "z"],
        ],
    )
    with pytest.raises(RegisterError, match=r"第 4 行.*'1'.*第 2 行重复"):
        read_register(path, SEPARATE)


def test_the_same_id_on_consecutive_rows_gives_sub_tasks(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "r.xlsx",
        [
            ["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"],
            [1, "任务甲", "办公室", "", "x"],
            [1, "任务乙", "人事处", "", "y"],
            [2, "任务丙", "办公室", "", "z"],
        ],
    )
    reg = read_register(path, SEPARATE)
    assert [(t.id, t.lead) for t in reg.tasks] == [
        ("1-1", ("办公室",)),
        ("1-2", ("人事处",)),
        ("2", ("办公室",)),
    ]
    assert any("读作 1-1、1-2" in n for n in reg.notes)


def test_task_without_division_names_the_row(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "r.xlsx",
        [
            ["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"],
            [1, "任务甲", "办公室", "", "x"],
            [2, "任务乙", "  ", "财务处", "y"],
        ],
    )
    with pytest.raises(RegisterError, match=r"第 3 行（序号 2）没有责任处室"):
        read_register(path, SEPARATE)


def test_missing_header_is_a_clear_error(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "r.xlsx", [["名单"], ["张三", "李四"]])
    with pytest.raises(RegisterError, match="找不到同时含有"):
        read_register(path, SEPARATE)


def test_missing_configured_column_lists_the_headers(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "r.xlsx", [["序号", "工作任务", "牵头单位"], [1, "甲", "办公室"]])
    pattern = r"没有这些列：'责任单位'（register.cooperating_column）、'2020年目标'.*表头有：序号、工作任务、牵头单位"
    with pytest.raises(RegisterError, match=pattern):
        read_register(path, SEPARATE)


def test_detect_layout_on_separate_columns(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "r.xlsx",
        [
            ["2021年工作要点分解"],
            ["编号", "重点工作", "具体措施", "牵头单位", "配合单位", "2021年目标", "备注"],
            [1, "甲", "措施甲", "办公室", "财务处", "目标", ""],
            [2, "乙", "措施乙", "人事处", "", "目标", ""],
        ],
    )
    found = detect_layout(path)
    s = found.settings
    assert (s.id_column, s.lead_column, s.cooperating_column) == ("编号", "牵头单位", "配合单位")
    assert s.targets == ((2021, "2021年目标"),)
    # 重点工作 names each task (its values never repeat): the task's name, never its group
    assert s.group_column == "" and s.name_column == "重点工作"
    assert "备注" not in s.readonly_columns
    assert any("读到 2 项任务" in n for n in found.notes)


def test_init_with_foreign_register_writes_matching_settings(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "我的清单.xlsx",
        [
            ["序号", "工作任务", "主要措施", "责任单位", "2020年目标", "2021年目标"],
            [1, "甲", "措施甲", "办公室\n财务处", "a", "b"],
            [2, "乙", "措施乙", "人事处", "c", "d"],
        ],
    )
    result = run(["init", str(tmp_path / "w"), "--register", str(path)])
    assert "各列的用途及依据" in result.output and "责任单位" in result.output
    ws = Workspace.open(tmp_path / "w")
    assert ws.settings.register.divisions_column == "责任单位"
    assert ws.settings.register.targets == ((2020, "2020年目标"), (2021, "2021年目标"))
    assert load_register(ws).divisions == ("办公室", "财务处", "人事处")
    drafted = openpyxl.load_workbook(tmp_path / "w" / "templates" / "单位名录.xlsx")["单位名录"]
    assert [row[:3] for row in drafted.iter_rows(values_only=True)] == [
        ("单位", "简称/别名", "所属集体"),
        ("办公室", None, None),
        ("财务处", None, None),
        ("人事处", None, None),
    ]
    data = run_json(["register", "-w", str(tmp_path / "w")])
    assert data["counts"] == {"tasks": 2, "groups": 1, "divisions": 3, "assignments": 3}


def test_init_refuses_an_existing_working_folder(tmp_path: Path) -> None:
    init_workspace(tmp_path / "w")
    result = run(["init", str(tmp_path / "w")], expect=3)
    assert "已经是 xlflow 工作文件夹" in result.output


def test_register_command_on_bundled(ws: Path) -> None:
    data = run_json(["register", "-w", str(ws)])
    assert data["counts"] == {"tasks": 24, "groups": 6, "divisions": 7, "assignments": 31}
    by_name = {d["division"]: d for d in data["divisions"]}
    assert (
        by_name["创新平台与合作处"]["lead"] == 7 and by_name["创新平台与合作处"]["cooperating"] == 1
    )
    assert sum(d["lead"] + d["cooperating"] for d in data["divisions"]) == 31
    text = run(["register", "-w", str(ws)]).output
    assert "24 项任务，6 个分组，7 个单位，31 项分工" in text


def test_unreadable_register_is_exit_3(ws: Path) -> None:
    (ws / "templates" / "key-task-list.xlsx").write_bytes(b"not a workbook")
    result = run(["register", "-w", str(ws)], expect=3)
    assert "key-task-list.xlsx" in result.output and "Traceback" not in result.output


def test_a_word_table_split_across_pages_is_read_as_one(tmp_path: Path) -> None:
    """Word breaks a long table at a page into two tables, the header repeated on top of
    the second; the tasks of both are one register, in order, with their roles."""
    document = docx.Document()
    header = ["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"]
    parts = [
        [["1", "任务甲", "办公室", "财务处", "目标甲"], ["2", "任务乙", "人事处", "", "目标乙"]],
        [["3", "任务丙", "财务处", "办公室、人事处", "目标丙"]],
    ]
    for rows in parts:
        table = document.add_table(rows=1 + len(rows), cols=len(header))
        for r, row in enumerate([header, *rows]):
            for c, text in enumerate(row):
                table.cell(r, c).text = text
        document.add_page_break()
    path = tmp_path / "分页.docx"
    document.save(str(path))
    reg = read_register(path, SEPARATE)
    assert [t.id for t in reg.tasks] == ["1", "2", "3"]
    assert reg.tasks[2].lead == ("财务处",) and reg.tasks[2].cooperating == ("办公室", "人事处")
    assert [t.column("工作任务") for t in reg.tasks] == ["任务甲", "任务乙", "任务丙"]


def test_the_header_row_setting_is_the_header_whatever_is_above(tmp_path: Path) -> None:
    """A row above that looks like a header (it has 序号 and 牵头单位): the automatic search
    passes over it, and header_row, when set, is obeyed even where it is wrong."""
    rows: list[list[object]] = [
        ["序号", "文件名称", "牵头单位", "印发日期"],  # the cover's list of documents
        [None],
        ["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"],
        [1, "任务甲", "办公室", "财务处", "目标甲"],
        [2, "任务乙", "人事处", "", "目标乙"],
    ]
    path = _xlsx(tmp_path / "r.xlsx", rows)
    found = read_register(path, SEPARATE)
    chosen = read_register(path, RegisterSettings(**{**SEPARATE.__dict__, "header_row": 3}))
    assert [t.id for t in found.tasks] == [t.id for t in chosen.tasks] == ["1", "2"]
    assert chosen.tasks[0].lead == ("办公室",)
    with pytest.raises(RegisterError, match="工作任务"):  # the cover's row has no such column
        read_register(path, RegisterSettings(**{**SEPARATE.__dict__, "header_row": 1}))


def test_a_header_repeated_in_the_body_is_not_a_task(tmp_path: Path) -> None:
    """A register printed over several pages repeats its header row; it is skipped, with a
    note, not read as a task 序号 led by 牵头单位."""
    header: list[object] = ["序号", "工作任务", "牵头单位", "责任单位", "2020年目标"]
    rows = [
        header,
        [1, "任务甲", "办公室", "财务处", "目标甲"],
        header,
        [2, "任务乙", "人事处", "", "目标乙"],
    ]
    path = _xlsx(tmp_path / "r.xlsx", rows)
    reg = read_register(path, SEPARATE)
    assert [t.id for t in reg.tasks] == ["1", "2"]
    assert reg.divisions == ("办公室", "财务处", "人事处")
    assert any("重复了表头" in n for n in reg.notes)


def test_a_row_that_is_only_merged_cells_does_not_end_the_register(tmp_path: Path) -> None:
    """A task drawn two rows high, every cell merged down: its second row adds nothing,
    and the tasks after it are still read."""
    path = _xlsx(
        tmp_path / "r.xlsx",
        [
            ["序号", "类别", "工作任务", "责任\n处室", "2020年\n目标"],
            [1, "改革", "任务甲", "办公室", "目标甲"],
            [None, None, None, None, None],
            [2, "改革", "任务乙", "人事处", "目标乙"],
        ],
        merges=["A2:A3", "B2:B3", "C2:C3", "D2:D3", "E2:E3"],
    )
    reg = read_register(path, CATEGORY)
    assert [(t.id, t.column("工作任务")) for t in reg.tasks] == [("1", "任务甲"), ("2", "任务乙")]
    assert reg.tasks[1].lead == ("人事处",)
