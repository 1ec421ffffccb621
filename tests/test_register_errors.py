"""A register that cannot be read is a message naming the file and what to do, never a
traceback; and what a register's cells hold is read as a person sees it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from xlflow.config.model import RegisterSettings
from xlflow.errors import RegisterError
from xlflow.register.parse import read_register

SETTINGS = RegisterSettings(
    id_column="序号",
    group_column="",
    name_column="任务",
    lead_column="牵头单位",
    cooperating_column="",
    readonly_columns=("任务",),
    targets=((2020, "2020年目标"),),
)
HEADER = ["序号", "任务", "牵头单位", "2020年目标"]


def _xlsx(path: Path, rows: list[list[object]], edit: object = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    if callable(edit):
        edit(ws)
    wb.save(path)
    return path


def _refused(path: Path, says: str, settings: RegisterSettings = SETTINGS) -> None:
    with pytest.raises(RegisterError) as caught:
        read_register(path, settings)
    assert says in str(caught.value), str(caught.value)
    assert str(path.name) in str(caught.value) or "找不到" in str(caught.value)


def test_a_missing_file_and_wrong_kinds_are_named(tmp_path: Path) -> None:
    _refused(tmp_path / "没有.xlsx", "找不到任务清单文件")
    for suffix, says in ((".doc", "另存为"), (".wps", "另存为"), (".pdf", "不支持的任务清单格式")):
        path = tmp_path / f"清单{suffix}"
        path.write_bytes(b"x")
        _refused(path, says)


def test_a_register_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "大.csv"
    with open(path, "wb") as fh:
        fh.truncate(51 * 1024 * 1024)
    _refused(path, "超过任务清单的上限 50 MB")


def test_a_csv_in_neither_encoding_is_a_message(tmp_path: Path) -> None:
    path = tmp_path / "乱码.csv"
    path.write_bytes(b"\xff\xff\xfe\x80" * 10)
    _refused(path, "既不是 UTF-8、UTF-16 也不是 GBK")


def test_a_csv_of_one_column_is_read_without_a_dialect(tmp_path: Path) -> None:
    path = tmp_path / "单列.csv"
    path.write_text("序号\n1\n", encoding="utf-8")
    _refused(path, "牵头单位")  # read, then the missing column is named


def test_a_damaged_word_file_is_a_message(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("word/document.xml", b"<not-word/>")
    path = tmp_path / "坏.docx"
    path.write_bytes(buffer.getvalue())
    _refused(path, "无法作为 Word 文件打开")


def test_the_paragraph_layout_is_only_for_word(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "表.xlsx", [HEADER, ["1", "甲", "办公室", "目标"]])
    settings = RegisterSettings(**{**SETTINGS.__dict__, "layout": "paragraphs"})
    _refused(path, "只适用于 Word 文档", settings)


def test_a_header_with_no_tasks_under_it(tmp_path: Path) -> None:
    _refused(_xlsx(tmp_path / "空.xlsx", [HEADER]), "表头下面没有任何任务行")


def test_a_header_row_beyond_the_sheet_is_not_a_header(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "短.xlsx", [HEADER, ["1", "甲", "办公室", "目标"]])
    settings = RegisterSettings(**{**SETTINGS.__dict__, "header_row": 9})
    with pytest.raises(RegisterError):
        read_register(path, settings)


def test_a_sheet_named_but_absent(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "表.xlsx", [HEADER, ["1", "甲", "办公室", "目标"]])
    _refused(
        path, "没有名为 '清单' 的工作表", RegisterSettings(**{**SETTINGS.__dict__, "sheet": "清单"})
    )


def test_a_formula_without_its_saved_result_is_refused(tmp_path: Path) -> None:
    """openpyxl writes a formula with no cached value, as a generator script would."""
    path = _xlsx(tmp_path / "公式.xlsx", [HEADER, ["1", '=CONCAT("甲","乙")', "办公室", "目标"]])
    _refused(path, "没有保存计算结果")


def test_a_percent_cell_reads_as_the_percent_shown(tmp_path: Path) -> None:
    def percent(ws: object) -> None:
        ws["D2"].number_format = "0%"  # type: ignore[index]

    path = _xlsx(tmp_path / "百分比.xlsx", [HEADER, ["1", "甲", "办公室", 0.25]], percent)
    (task,) = read_register(path, SETTINGS).tasks
    assert task.targets == ((2020, "25%"),)


Merges = list[tuple[int, int, int, int]]


def _word_tables(path: Path, *tables: tuple[list[list[str]], Merges]) -> Path:
    """A Word register of one or more tables, each on its own page (a table split across
    pages comes out of Word as several tables)."""
    import docx

    document = docx.Document()
    document.add_paragraph("重点任务清单")
    for n, (rows, merges) in enumerate(tables):
        if n:
            document.add_page_break()
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                if text:
                    table.cell(r, c).text = text
        for r0, c0, r1, c1 in merges:
            table.cell(r0, c0).merge(table.cell(r1, c1))
    document.save(str(path))
    return path


def _word(path: Path, rows: list[list[str]], merges: Merges | None = None) -> Path:
    return _word_tables(path, (rows, merges or []))


def test_a_two_level_word_header_names_lead_and_cooperating(tmp_path: Path) -> None:
    """责任单位 merged across 牵头 and 配合 below it; 序号 and 任务 merged down."""
    path = _word(
        tmp_path / "两级表头.docx",
        [
            ["序号", "任务", "责任单位", "", "2020年目标"],
            ["", "", "牵头", "配合", ""],
            ["1", "建设研究院", "办公室", "政策规划处", "建成"],
            ["2", "培育企业", "政策规划处", "", "新增100家"],
        ],
        [(0, 0, 1, 0), (0, 1, 1, 1), (0, 2, 0, 3), (0, 4, 1, 4)],
    )
    settings = RegisterSettings(
        **{**SETTINGS.__dict__, "lead_column": "牵头单位", "cooperating_column": "配合单位"}
    )
    first, second = read_register(path, settings).tasks
    assert (first.id, first.lead, first.cooperating) == ("1", ("办公室",), ("政策规划处",))
    assert (second.lead, second.cooperating) == (("政策规划处",), ())
    assert first.targets == ((2020, "建成"),)


def test_a_word_row_without_an_id_is_named_by_table_and_row(tmp_path: Path) -> None:
    path = _word(
        tmp_path / "缺序号.docx",
        [HEADER, ["", "乙", "政策规划处", "目标"], ["1", "甲", "办公室", "目标"]],
    )
    _refused(path, "缺序号.docx（表格1） 第 2 行有内容但没有序号")


def test_formulas_saved_with_their_results_are_read_and_noted() -> None:
    """A register whose cells are formulas, saved by LibreOffice with their results
    (tests/data/cells/register-formulas.xlsx)."""
    path = Path(__file__).parent / "data" / "cells" / "register-formulas.xlsx"
    register = read_register(path, SETTINGS)
    first, second = register.tasks
    assert first.column("任务") == "建设研究院" and second.targets == ((2020, "新增100家"),)
    assert register.notes == ("工作表“清单”的单元格 B2、D3 是公式，已按文件中保存的计算结果读取。",)


def test_a_tab_separated_register(tmp_path: Path) -> None:
    path = tmp_path / "清单.tsv"
    path.write_text("序号\t任务\t牵头单位\t2020年目标\n1\t甲\t办公室\t建成\n", encoding="utf-8")
    (task,) = read_register(path, SETTINGS).tasks
    assert (task.id, task.lead, task.targets) == ("1", ("办公室",), ((2020, "建成"),))


def test_a_missing_column_names_its_setting(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "表.xlsx", [HEADER, ["1", "甲", "办公室", "目标"]])
    for key in ("lead_column", "divisions_column"):
        # with header_row the header is taken as given, and each column looked up in it
        settings = RegisterSettings(
            **{**SETTINGS.__dict__, key: "责任处室（不存在）", "header_row": 1}
        )
        with pytest.raises(RegisterError) as caught:
            read_register(path, settings)
        assert f"'责任处室（不存在）'（register.{key}）" in str(caught.value), str(caught.value)


def test_a_formula_without_result_message_in_full(tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "公式.xlsx", [HEADER, ["1", '=CONCAT("甲","乙")', "办公室", "目标"]])
    with pytest.raises(RegisterError) as caught:
        read_register(path, SETTINGS)
    assert str(caught.value) == (
        f"{path}（Sheet）: 单元格 B2 是公式，但文件中没有保存计算结果，xlflow 不计算公式。"
        "请在 Excel/WPS 中打开后保存一次，或把公式复制后“选择性粘贴 → 数值”。"
    )


def test_every_reason_a_workbook_cannot_be_read_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sheets python-calamine cannot read (tests/test_reader.py's fake): both named."""
    from xlflow.reading import reader

    from .test_reader import _Book

    monkeypatch.setattr(reader.CalamineWorkbook, "from_filelike", lambda _: _Book())
    path = tmp_path / "清单.ods"
    path.write_bytes((Path(__file__).parent / "data" / "cells" / "cells.ods").read_bytes())
    with pytest.raises(RegisterError) as caught:
        read_register(path, SETTINGS)
    said = str(caught.value)
    assert said.startswith(f"{path}: 无法作为表格文件读取。文件已损坏或不完整")
    assert "（工作表“打不开”结构已损坏）" in said
    assert "重新发送。文件已损坏或不完整，无法读取（工作表“读不了”结构已损坏）" in said


def test_a_section_heading_typed_in_the_id_column(tmp_path: Path) -> None:
    """Not numbered (一、) and not merged across: one cell alone in the 序号 column."""
    path = _xlsx(
        tmp_path / "分节.xlsx",
        [
            HEADER,
            ["科技创新", "", "", ""],
            ["1", "甲", "办公室", "目标"],
            ["营商环境", "", "", ""],
            ["2", "乙", "办公室", "目标"],
        ],
    )
    assert [(t.id, t.group) for t in read_register(path, SETTINGS).tasks] == [
        ("1", "科技创新"),
        ("2", "营商环境"),
    ]


def _two_level(path: Path) -> Path:
    """A title, then 责任单位 merged across 牵头单位 and 配合单位; 序号, 任务 and the target
    are typed once and not merged down (the cells under them are just empty)."""
    rows: list[list[object]] = [
        ["重点任务清单", "", "", "", ""],
        ["序号", "任务", "责任单位", "", "2020年目标"],
        ["", "", "牵头单位", "配合单位", ""],
        ["1", "甲", "办公室", "政策规划处", "目标"],
    ]
    return _xlsx(path, rows, lambda ws: ws.merge_cells("C2:D2"))


def test_a_two_level_header_whose_other_cells_are_empty(tmp_path: Path) -> None:
    path = _two_level(tmp_path / "两级.xlsx")
    settings = RegisterSettings(
        **{**SETTINGS.__dict__, "lead_column": "牵头单位", "cooperating_column": "配合单位"}
    )
    (task,) = read_register(path, settings).tasks
    assert (task.id, task.lead, task.cooperating) == ("1", ("办公室",), ("政策规划处",))
    assert task.targets == ((2020, "目标"),)


def test_a_parent_header_set_as_the_column_shows_the_columns_under_it(tmp_path: Path) -> None:
    """divisions_column = "责任单位", the parent: the header row is still found by it, and
    the message lists the columns the two rows make, so the setting can be corrected."""
    path = _two_level(tmp_path / "两级.xlsx")
    settings = RegisterSettings(
        **{**SETTINGS.__dict__, "lead_column": "", "divisions_column": "责任单位"}
    )
    with pytest.raises(RegisterError) as caught:
        read_register(path, settings)
    assert (
        "第 3 行表头中没有这些列：'责任单位'（register.divisions_column）；"
        "表头有：序号、任务、牵头单位、配合单位、2020年目标"
    ) in str(caught.value)


def test_a_row_merged_whole_on_the_second_page_is_one_task(tmp_path: Path) -> None:
    """A Word table split across pages comes as two tables; in the second, a task's row is
    two rows with every cell merged down: one task, not 3-1 and 3-2."""
    whole_row = [(1, c, 2, c) for c in range(len(HEADER))]
    path = _word_tables(
        tmp_path / "分页.docx",
        ([HEADER, ["1", "甲", "办公室", "目标一"], ["2", "乙", "办公室", "目标二"]], []),
        ([HEADER, ["3", "丙", "政策规划处", "全年完成"], ["", "", "", ""]], whole_row),
    )
    register = read_register(path, SETTINGS)
    assert [(t.id, t.lead, t.targets) for t in register.tasks] == [
        ("1", ("办公室",), ((2020, "目标一"),)),
        ("2", ("办公室",), ((2020, "目标二"),)),
        ("3", ("政策规划处",), ((2020, "全年完成"),)),
    ]
    assert register.notes == ()
