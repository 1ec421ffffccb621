"""A register that cannot be read is a message naming the file and what to do, never a
traceback; and what a register's cells hold is read as a person sees it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from xlflow.config import RegisterSettings
from xlflow.errors import RegisterError
from xlflow.register import read_register

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
    _refused(path, "既不是 UTF-8 也不是 GBK")


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
