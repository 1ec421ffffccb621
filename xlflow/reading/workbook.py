"""What reading a returned file gives (`RawWorkbook`, `ReadResult`), and the problems every
part of the reader names the same way (damage, an encrypted file, a sheet too large)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config.model import Limits
from ..issues import Issue, IssueCode, damage_words, error, warning
from ..text import CELL_TEXT_LIMIT, cell_length

Cell = Any  # int | float | str | bool | date | datetime | time | timedelta


@dataclass
class RawSheet:
    name: str
    visibility: str  # visible | hidden | veryhidden
    rows: list[list[Cell]]  # absolute: rows[0][0] is A1
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)

    def cell(self, row: int, col: int) -> Cell:
        if 0 <= row < len(self.rows) and 0 <= col < len(self.rows[row]):
            return self.rows[row][col]
        return ""


@dataclass
class RawWorkbook:
    """What a returned file holds, as plain data that can cross a process boundary."""

    format: str  # xlsx | xlsm | xls | ods
    sheets: list[RawSheet] = field(default_factory=list)
    defined_names: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    application: str = ""
    # sheet name -> cell refs ("H7")
    formulas: dict[str, set[str]] = field(default_factory=dict)
    formulas_without_value: dict[str, set[str]] = field(default_factory=dict)
    percent_cells: dict[str, set[str]] = field(default_factory=dict)
    truncation_check: Callable[[str], bool] | None = None
    formula_texts: dict[str, dict[tuple[int, int], str]] = field(default_factory=dict)
    has_macros: bool = False
    # merged ranges python-calamine does not report (.ods), by sheet
    spans: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = field(default_factory=dict)

    def sheet(self, name: str) -> RawSheet | None:
        for s in self.sheets:
            if s.name == name:
                return s
        return None

    def note_cells(
        self, sheet: str, formulas: set[str], without_value: set[str], percent: set[str]
    ) -> None:
        """Remember a sheet's formula cells, those with no usable value, and percent cells."""
        for found, store in (
            (formulas, self.formulas),
            (without_value, self.formulas_without_value),
            (percent, self.percent_cells),
        ):
            if found:
                store[sheet] = found

    def was_cut(self, value: Cell) -> bool:
        """Whether the reader shortened this text at the cell limit (see _TruncationCheck)."""
        if not isinstance(value, str) or len(value) * 2 < CELL_TEXT_LIMIT - 1:
            return False
        if cell_length(value) < CELL_TEXT_LIMIT - 1 or self.truncation_check is None:
            return False
        return self.truncation_check(value)

    def is_percent(self, sheet: str, ref: str) -> bool:
        """Whether a cell carries a percent number format (80% typed is stored as 0.8)."""
        return ref in self.percent_cells.get(sheet, ())


@dataclass
class ReadResult:
    workbook: RawWorkbook | None
    issues: list[Issue]


REFILL = "请用下发的 Excel 填报表填写后直接保存（.xlsx 或 .xls），不要另存为其他格式。"


class Malformed(Exception):
    """A part of a returned file that does not say what it claims to (a shared-string
    index that is not one, a styles part that is not well-formed, a negative repeat)."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def _malformed(part: str, what: str) -> Malformed:
    """`part` is a zip member (xl/styles.xml) or, for an .xls, a sheet's records."""
    where = f"中{part}" if part.startswith("工作表") else f"的 {part} 部件"
    return Malformed(
        error(
            IssueCode.MALFORMED_PART,
            f"文件{where}已损坏（{what}）。这不是 Excel、WPS 或 LibreOffice 保存的正常文件；"
            "请用 Excel/WPS 打开确认内容后另存，或用下发的原表重新填写后报送。",
        )
    )


def _invalid_cell(sheet: str, ref: str, what: str) -> Issue:
    return error(
        IssueCode.CELL_VALUE_INVALID,
        f"工作表“{sheet}”的单元格 {ref} 在文件中的记录无效（{what}），读出的内容不可信，未采用。"
        "文件可能被其他软件改坏了；请用 Excel/WPS 打开该文件，核对内容后另存再报送，或用下发的原表重新填写。",
        sheet=sheet,
        cell=ref,
    )


# WPS Office's language ids in KSOProductBuildVer ("2052-12.1.0.25225": 2052 is zh-CN)
_WPS_LANGUAGES = {"2052": "中文版", "1028": "繁体中文版", "3076": "繁体中文版", "1033": "英文版"}


def wps_name(build: str) -> str:
    """ "WPS表格 12.1.0.25225（中文版）" from WPS's own property, or "" for none. WPS keeps
    the Application name of the file it opened ("Microsoft Excel"), so this property is
    how a return filled in WPS is known."""
    build = build.strip()
    if not build:
        return ""
    language, _, version = build.partition("-")
    if not version:
        return f"WPS表格 {build}"
    said = _WPS_LANGUAGES.get(language, f"语言 {language}")
    return f"WPS表格 {version}（{said}）"


def _too_large(sheet: str, rows: int, cols: int, limits: Limits, far: str = "") -> Issue:
    """A sheet whose content reaches past the limits, in any format: one message for all.
    It names the content (cells with a value, a formula or text), never formatting."""
    where = f"（从 {far} 起超出）" if far else ""
    return error(
        IssueCode.LIMIT_EXCEEDED,
        f"工作表“{sheet}”中有内容的单元格到了第 {rows} 行、第 {cols} 列{where}，超过上限（max_rows = "
        f"{limits.max_rows}，max_columns = {limits.max_columns}），未读取。请删除表格下方或右侧"
        "多余的内容（或直接使用下发的原表重新填写）后再报送。",
        sheet=sheet,
        cell=far,
    )


def _encrypted() -> Issue:
    return error(
        IssueCode.ENCRYPTED,
        "文件设置了打开密码，xlflow 无法读取。请在 Excel/WPS 中“文件 → 信息 → 保护工作簿 → 用密码进行加密”"
        "里清空密码（WPS：“文件 → 文档加密”），保存后重新报送。",
    )


def _corrupt(exc: object, sheet: str = "") -> Issue:
    return error(
        IssueCode.CORRUPT_FILE,
        f"文件已损坏或不完整，无法读取（{damage_words(exc)}）。可能是邮件附件没有下载完整；"
        "请重新保存附件，或请报送单位用 Excel/WPS 打开确认后重新发送。",
        sheet=sheet,
    )


def _refused(code: IssueCode, message: str) -> ReadResult:
    return ReadResult(None, [error(code, message)])


def _mismatch(suffix: str, fmt: str, expected: tuple[str, ...]) -> list[Issue]:
    if suffix in expected:
        return []
    return [
        warning(
            IssueCode.EXTENSION_MISMATCH,
            f"文件扩展名是 {suffix or '（无）'}，但内容是 .{fmt} 格式；已按 .{fmt} 读取。",
        )
    ]


def _unsupported_zip(exc: object) -> Issue:
    return error(
        IssueCode.ZIP_UNSUPPORTED,
        f"文件的压缩格式 xlflow 读不了（{damage_words(exc)}）。Excel、WPS 和 LibreOffice 保存的文件不会这样；"
        "请用 Excel/WPS 打开后另存为 .xlsx 再报送。",
    )


def text_of(value: Cell) -> str:
    """A cell value as the text a person sees (for read-only comparisons and messages)."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _percent_format(code: str) -> bool:
    return "%" in re.sub(r'"[^"]*"|\\.', "", code)
