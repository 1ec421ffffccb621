"""The reader's defences one by one, below collect: what a file really is, what is wrong
with a package, and the parts a crafted file can break. Each hostile shape has its own
answer; none raises anything but xlflow's `Malformed`, and nothing is guessed."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

from xlflow.cells import col_letter
from xlflow.config.model import Limits
from xlflow.issues import IssueCode
from xlflow.reading import biff, ods, ooxml, package, reader, workbook

from .conftest import TASK_SHEET

LIMITS = Limits()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "empty"),
        (b"PK\x05\x06" + b"\0" * 18, "zip"),
        (b"\xef\xbb\xbf<html><body>", "html"),
        (b"MIME-Version: 1.0\r\n", "html"),
        (b"{\\rtf1\\ansi", "rtf"),
        ("序号,任务\n1,甲\n".encode(), "text"),
        ("甲乙".encode()[:-1], "text"),  # UTF-8 cut in the middle of the last character
        ("序号,任务\n".encode("gb18030"), "text"),
        (bytes(range(128, 256)) * 8, "unknown"),
    ],
)
def test_sniff_tells_the_real_type(data: bytes, kind: str) -> None:
    assert package.sniff(data) == kind


@pytest.mark.parametrize(
    ("stream", "kind"),
    [
        ("EncryptedPackage", "encrypted"),
        ("EncryptionInfo", "encrypted"),
        ("Workbook", "xls"),
        ("Book", "xls"),
        ("WordDocument", "doc"),
        ("PowerPoint Document", "ppt"),
        ("Root Entry", "ole"),
    ],
)
def test_an_ole_file_is_told_by_its_streams(stream: str, kind: str) -> None:
    data = package.OLE_MAGIC + b"\0" * 100 + stream.encode("utf-16-le") + b"\0" * 100
    assert package._ole_kind(data) == kind


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in parts.items():
            # a fixed time: the bytes name parametrized tests, which every xdist worker
            # must collect alike
            zf.writestr(zipfile.ZipInfo(name, (2019, 7, 1, 0, 0, 0)), data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (["xl/workbook.xml", "xl/vbaProject.bin"], "xlsm"),
        (["xl/workbook.xml"], "xlsx"),
        (["xl/workbook.bin"], "xlsb"),
        (["mimetype", "content.xml"], "ods"),
        (["word/document.xml"], "docx"),
        (["ppt/presentation.xml"], "pptx"),
        (["readme.txt"], "zip"),
    ],
)
def test_a_package_is_told_by_its_parts(names: list[str], kind: str) -> None:
    with zipfile.ZipFile(io.BytesIO(_zip(dict.fromkeys(names, b"<x/>")))) as zf:
        assert package._check_zip(zf, LIMITS) == ([], kind)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not a zip", "不是 Office 文档"),
        (package.ZIP_MAGIC + b"\0" * 40, "已损坏"),
        (_zip({"../evil.xml": b"<x/>"}), "不安全的路径"),
        (_zip({"word/document.xml": b'<!DOCTYPE x [<!ENTITY a "b">]><x/>'}), "DTD"),
    ],
)
def test_check_package_names_what_is_wrong(data: bytes, says: str) -> None:
    problem = package.check_package(data, LIMITS)
    assert problem is not None and says in problem


def test_check_package_passes_a_plain_package() -> None:
    assert package.check_package(_zip({"word/document.xml": b"<w:document/>"}), LIMITS) is None


@pytest.mark.parametrize(
    ("styles", "says"),
    [
        (b"<styleSheet><cellXfs><xf numFmtId='9'", "XML 格式错误"),
        (b'<!DOCTYPE s [<!ENTITY a "b">]><styleSheet/>', "DTD"),
        (b"<styleSheet><cellXfs><xf numFmtId='x9'/></cellXfs></styleSheet>", "不是编号"),
        (b"<?xml version='1.0' encoding='no-such'?><styleSheet/>", "XML 格式错误"),
    ],
)
def test_a_broken_styles_part_is_malformed(styles: bytes, says: str) -> None:
    with pytest.raises(workbook.Malformed) as caught:
        ooxml._percent_styles(styles)
    assert says in caught.value.issue.message


def test_percent_styles_are_found_by_format() -> None:
    styles = (
        b'<styleSheet><numFmts><numFmt numFmtId="170" formatCode="0.0%"/>'
        b'<numFmt numFmtId="171" formatCode="0.00"/></numFmts>'
        b'<cellXfs><xf numFmtId="0"/><xf numFmtId="170"/><xf numFmtId="171"/><xf numFmtId="9"/>'
        b'<xf numFmtId=""/></cellXfs><cellStyleXfs><xf numFmtId="10"/></cellStyleXfs></styleSheet>'
    )
    assert ooxml._percent_styles(styles) == frozenset({1, 3})
    assert ooxml._percent_styles(None) == frozenset()


def test_an_undecodable_cell_is_named() -> None:
    assert reader._undecodable([["甲", 1], [None, "乱\ufffd码"]]) == "B2"
    assert reader._undecodable([["甲"]]) is None


@pytest.mark.parametrize(
    ("data", "suffix", "code"),
    [
        (package.OLE_MAGIC + "WordDocument".encode("utf-16-le"), ".xls", IssueCode.NOT_A_WORKBOOK),
        (
            package.OLE_MAGIC + "PowerPoint Document".encode("utf-16-le"),
            ".xls",
            IssueCode.NOT_A_WORKBOOK,
        ),
        (package.OLE_MAGIC + "EncryptedPackage".encode("utf-16-le"), ".xlsx", IssueCode.ENCRYPTED),
    ],
)
def test_an_office_file_that_is_no_workbook_is_named(
    data: bytes, suffix: str, code: IssueCode
) -> None:
    result = reader.read_workbook(data + b"\0" * 512, suffix, LIMITS)
    assert result.workbook is None and [i.code for i in result.issues] == [code]


def test_a_file_over_the_size_limit_is_not_read() -> None:
    small = Limits(max_file_mb=0.001)
    result = reader.read_workbook(package.ZIP_MAGIC + b"\0" * 2000, ".xlsx", small)
    assert result.workbook is None
    assert [i.code for i in result.issues] == [IssueCode.LIMIT_EXCEEDED]
    assert "max_file_mb" in result.issues[0].message
    # the limit is in MiB: 0.001 of one is 1,048.576 bytes
    assert reader.read_workbook(b"\0" * 1048, ".xlsx", small).issues[0].code is not (
        IssueCode.LIMIT_EXCEEDED
    )
    assert reader.read_workbook(b"\0" * 1049, ".xlsx", small).issues[0].code is (
        IssueCode.LIMIT_EXCEEDED
    )


class _Meta:
    def __init__(self, name: str) -> None:
        self.name, self.visible = name, "SheetVisibleEnum.Visible"


class _Sheet:
    end = (0, 0)

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.merged_cell_ranges: list[object] = []

    def to_python(self, skip_empty_area: bool = True) -> list[list[object]]:
        if self.fail:
            raise reader.CalamineError("row 3: bad cell")
        return [["读到了"]]


class _Book:
    """A workbook whose first sheet calamine cannot open and whose second it cannot read:
    python-calamine meets such files, but the reader's own checks stop every one we can
    make first, so this is the calamine side alone."""

    def __init__(self) -> None:
        self.sheets_metadata = [_Meta("打不开"), _Meta("读不了"), _Meta("好")]

    def get_sheet_by_name(self, name: str) -> _Sheet:
        if name == "打不开":
            raise reader.CalamineError("sheet part missing: xl/worksheets/sheet9.xml")
        return _Sheet(fail=name == "读不了")


def test_a_sheet_calamine_cannot_read_is_named_and_the_others_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader.CalamineWorkbook, "from_filelike", lambda _: _Book())
    raw = workbook.RawWorkbook(format="ods")
    issues = reader._calamine_sheets(b"", LIMITS, raw, ())
    assert [i.code for i in issues] == [IssueCode.CORRUPT_FILE] * 2
    # the sheet is named; calamine's own words are not a person's
    assert "“打不开”" in issues[0].message and "“读不了”" in issues[1].message
    assert [i.sheet for i in issues] == ["打不开", "读不了"]
    assert not any("sheet9" in i.message or "bad cell" in i.message for i in issues)
    assert all(i.message.startswith("文件已损坏或不完整，无法读取（") for i in issues)
    assert [(s.name, s.rows) for s in raw.sheets] == [("好", [["读到了"]])]


# --- BIFF8 records (.xls), one at a time ---


def _u16(*values: int) -> bytes:
    return b"".join(v.to_bytes(2, "little") for v in values)


@pytest.mark.parametrize(
    ("kind", "body", "says"),
    [
        (0x0004, b"\0" * 8, "不属于 Excel 97-2003"),  # a BIFF2 LABEL
        (0x0203, b"\0" * 13, "应为 14"),  # NUMBER one byte short
        (0x00BD, b"\0" * 7, "长度 7 不对"),  # MULRK too short
        (0x00BD, b"\0" * 13, "长度 13 不对"),  # MULRK not whole cells
        (0x0200, b"\0" * 14 + b"\0", "应为 14"),  # DIMENSIONS too long
        (
            0x0200,
            (5).to_bytes(4, "little") + (2).to_bytes(4, "little") + _u16(0, 3, 0),
            "起始行列大于结束行列",
        ),
        (0x0201, _u16(1, 1, 99), "单元格格式编号不存在"),  # BLANK with an XF past the table
        (0x00FD, _u16(0, 0, 0) + (7).to_bytes(4, "little"), "共享字符串"),  # LABELSST past the SST
    ],
)
def test_a_broken_biff_record_is_malformed(kind: int, body: bytes, says: str) -> None:
    with pytest.raises(workbook.Malformed) as caught:
        biff._check_biff_record("填报", kind, body, shared=3, styles=20, limits=LIMITS)
    assert says in caught.value.issue.message, caught.value.issue.message


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        # DIMENSIONS past what an .xls can hold
        (0x0200, (0).to_bytes(4, "little") + (70000).to_bytes(4, "little") + _u16(0, 3, 0)),
        (0x0203, _u16(20000, 0, 0) + b"\0" * 8),  # NUMBER far below the limit
        (0x0203, _u16(1, 500, 0) + b"\0" * 8),  # NUMBER far right of it
        (0x00BD, _u16(1, 0) + b"\0" * 6 + _u16(600)),  # MULRK whose last column is too far
    ],
)
def test_a_biff_sheet_too_large_is_refused_before_calamine(kind: int, body: bytes) -> None:
    with pytest.raises(workbook.Malformed) as caught:
        biff._check_biff_record("填报", kind, body, shared=3, styles=20, limits=LIMITS)
    assert caught.value.issue.code is IssueCode.LIMIT_EXCEEDED


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (0x0200, (0).to_bytes(4, "little") + (65536).to_bytes(4, "little") + _u16(0, 256, 0)),
        (0x0208, _u16(20000, 0, 256) + b"\0" * 10),  # ROW: a formatted row, far down and wide
        (0x0201, _u16(20000, 255, 0)),  # BLANK: a styled empty cell
        (0x00BE, _u16(1, 0) + _u16(0) * 250 + _u16(250)),  # MULBLANK to the last column
    ],
)
def test_biff_formatting_to_the_sheets_edge_is_no_refusal(kind: int, body: bytes) -> None:
    """WPS formats whole rows and columns of an .xls or .et: DIMENSIONS, ROW, BLANK and
    MULBLANK then reach the sheet's edge, and hold nothing python-calamine allocates for."""
    biff._check_biff_record("填报", kind, body, shared=3, styles=20, limits=LIMITS)


def test_biff_strings_of_every_shape() -> None:
    wide = "甲乙".encode("utf-16-le")
    assert biff._biff_string(_u16(2) + b"\x01" + wide, 0, 2) == "甲乙"
    assert biff._biff_string(b"\x03\x00" + b"abc", 0, 1) == "abc"
    # rich text (a run count) and phonetic data (a size) come before the characters
    assert biff._biff_string(_u16(2) + b"\x09" + _u16(1) + wide, 0, 2) == "甲乙"
    assert biff._biff_string(_u16(2) + b"\x05" + b"\0" * 4 + wide, 0, 2) == "甲乙"


def _record(kind: int, body: bytes) -> bytes:
    return _u16(kind, len(body)) + body


_BOF = _record(0x0809, _u16(0x0600, 0x0010) + b"\0" * 12)
_EOF = _record(0x000A, b"")


def _biff_book(*sheet_records: bytes) -> bytes:
    """Workbook globals (a percent format on XF 1, one sheet) and the sheet's records."""
    percent = _record(0x041E, _u16(164) + _u16(2) + b"\0" + b"0%")
    xfs = _record(0x00E0, _u16(0, 0) + b"\0" * 16) + _record(0x00E0, _u16(0, 164) + b"\0" * 16)
    name = b"\x02\x01" + "填报".encode("utf-16-le")  # 2 characters, UTF-16
    head = _BOF + percent + xfs
    offset = len(head) + len(_record(0x0085, b"\0" * 6 + name)) + len(_EOF)
    bound = _record(0x0085, offset.to_bytes(4, "little") + _u16(0) + name)
    return head + bound + _EOF + b"".join(sheet_records)


_NUMBER = _record(0x0203, _u16(1, 1, 1) + b"\0" * 8)  # B2 with the percent XF


def test_a_biff_sheet_is_checked_from_bof_to_eof_when_limits_are_given() -> None:
    good = _biff_book(_BOF, _NUMBER, _EOF)
    for limits in (LIMITS, None):
        raw = workbook.RawWorkbook(format="xls")
        biff.scan_biff(good, raw, limits)
        assert raw.percent_cells == {"填报": {"B2"}}
    broken = {
        "工作表的记录没有以 EOF 结束": _biff_book(_BOF, _NUMBER),
        "工作表的记录不是从 BOF 开始": _biff_book(_NUMBER, _EOF),
        "应为 14": _biff_book(_BOF, _record(0x0203, _u16(1, 1, 1) + b"\0" * 7), _EOF),
    }
    for says, stream in broken.items():
        with pytest.raises(workbook.Malformed) as caught:
            biff.scan_biff(stream, workbook.RawWorkbook(format="xls"), LIMITS)
        assert says in caught.value.issue.message, caught.value.issue.message
        biff.scan_biff(stream, workbook.RawWorkbook(format="xls"))  # without limits: notes only


@pytest.mark.parametrize(
    ("table", "start", "sectors", "ok"),
    [
        ([1, 2, 0xFFFFFFFE], 0, 3, True),
        ([1, 2, 0xFFFFFFFE], 0, 4, False),  # shorter than the stream
        ([1, 0], 0, 1, False),  # a loop
        ([5], 0, 1, False),  # out of the table
    ],
)
def test_a_sector_chain_must_end_within_the_table(
    table: list[int], start: int, sectors: int, ok: bool
) -> None:
    assert biff._chain_ok(table, start, sectors) is ok


# --- OpenDocument content ---

_ODS_HEAD = (
    b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    b' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body>'
    b'<office:spreadsheet><table:table table:name="S">'
)
_ODS_TAIL = b"</table:table></office:spreadsheet></office:body></office:document-content>"


@pytest.mark.parametrize(
    ("row", "says"),
    [
        (
            b'<table:table-row table:number-rows-repeated="0"><table:table-cell/></table:table-row>',
            "应为正整数",
        ),
        (
            b'<table:table-row><table:table-cell table:number-columns-repeated="x"/></table:table-row>',
            "应为正整数",
        ),
        (
            b'<table:table-row><table:table-cell office:value-type="money"/></table:table-row>',
            "不存在",
        ),
        (
            b'<table:table-row><table:table-cell office:value="3"/></table:table-row>',
            "没有数值类型",
        ),
        (
            b'<table:table-row table:number-rows-repeated="20000">'
            b'<table:table-cell office:value-type="float" office:value="1"/></table:table-row>',
            "超过上限",
        ),
    ],
)
def test_a_broken_ods_table_is_malformed(row: bytes, says: str) -> None:
    with pytest.raises(workbook.Malformed) as caught:
        ods._scan_ods(_ODS_HEAD + row + _ODS_TAIL, workbook.RawWorkbook(format="ods"), LIMITS)
    assert says in caught.value.issue.message, caught.value.issue.message


def test_ods_formulas_percentages_and_spans_are_noted() -> None:
    row = (
        b'<table:table-row><table:table-cell table:formula="of:=1+1"/>'
        b'<table:table-cell office:value-type="percentage" office:value="0.5"/>'
        b'<table:table-cell table:number-columns-spanned="2" office:value-type="string"/>'
        b"<table:covered-table-cell/></table:table-row>"
    )
    raw = workbook.RawWorkbook(format="ods")
    ods._scan_ods(_ODS_HEAD + row + _ODS_TAIL, raw, LIMITS)
    ods._scan_ods(None, raw, LIMITS)
    assert raw.formulas["S"] == {"A1"} and raw.formulas_without_value["S"] == {"A1"}
    assert raw.percent_cells["S"] == {"B1"}
    assert raw.spans["S"] == [((0, 2), (0, 3))]


def test_ods_formula_results_without_a_value_are_noted() -> None:
    """An error result (LibreOffice: an empty string typed calcext:value-type="error") and
    an empty-string result (no value type at all) are no usable value; text is one."""
    calc = (
        b'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" '
        b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    )
    row = (
        b'<table:table-row><table:table-cell table:formula="of:=1/0" office:value-type="string"'
        b' office:string-value="" calcext:value-type="error"><text:p>#DIV/0!</text:p>'
        b"</table:table-cell>"
        b'<table:table-cell table:formula="of:=&quot;&quot;"><text:p/></table:table-cell>'
        b'<table:table-cell table:formula="of:=&quot;a&quot;" office:value-type="string"'
        b' office:string-value="a" calcext:value-type="string"><text:p>a</text:p>'
        b"</table:table-cell></table:table-row>"
    )
    raw = workbook.RawWorkbook(format="ods")
    head = _ODS_HEAD.replace(b"<office:document-content ", b"<office:document-content " + calc)
    ods._scan_ods(head + row + _ODS_TAIL, raw, LIMITS)
    assert raw.formulas["S"] == {"A1", "B1", "C1"}
    assert raw.formulas_without_value["S"] == {"A1", "B1"}


def _formula(row: int, col: int, result: bytes) -> bytes:
    """A BIFF FORMULA record with this cached result and the formula =1 (a ptgInt)."""
    return _record(
        0x0006, _u16(row, col, 0) + result + _u16(0) + b"\0" * 4 + _u16(3) + b"\x1e\x01\x00"
    )


def test_biff_formula_results_without_a_value_are_noted() -> None:
    """An error (type 2), an empty string (type 3, or a STRING record with no text, as
    Excel writes it) is no usable value; a number and a text are."""
    text = _u16(1) + b"\x00" + b"a"
    stream = _biff_book(
        _BOF,
        _formula(0, 0, b"\x02\x00\x07\x00\x00\x00\xff\xff"),  # #DIV/0!
        _formula(0, 1, b"\x03\x00\x00\x00\x00\x00\xff\xff"),  # empty string
        _formula(0, 2, b"\x00" * 6 + b"\xff\xff"),  # text, in the STRING record after it
        _record(0x0207, _u16(0) + b"\x00"),
        _formula(0, 3, b"\x00" * 6 + b"\xff\xff"),
        _record(0x0207, text),
        _formula(0, 4, struct.pack("<d", 2.5)),
        _EOF,
    )
    raw = workbook.RawWorkbook(format="xls")
    biff.scan_biff(stream, raw, LIMITS)
    assert raw.formulas["填报"] == {"A1", "B1", "C1", "D1", "E1"}
    assert raw.formulas_without_value["填报"] == {"A1", "B1", "C1"}
    assert raw.formula_texts["填报"] == {(0, 1): "", (0, 2): "", (0, 3): "a"}


def test_ods_meta_gives_the_properties_and_the_program() -> None:
    meta = (
        b'<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        b' xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"><office:meta>'
        b"<meta:generator>LibreOffice/7.4</meta:generator>"
        b'<meta:user-defined meta:name="xlflow.round">2019-H1</meta:user-defined>'
        b'<meta:user-defined meta:name="xlflow.empty"/>'
        b"</office:meta></office:document-meta>"
    )
    raw = workbook.RawWorkbook(format="ods")
    ods._read_ods_meta(meta, raw)
    ods._read_ods_meta(None, raw)
    assert raw.application == "LibreOffice/7.4"
    assert raw.properties == {"xlflow.round": "2019-H1", "xlflow.empty": ""}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("", ""),
        (True, "TRUE"),
        (False, "FALSE"),
        (3.0, "3"),
        (2.5, "2.5"),
        (__import__("datetime").datetime(2019, 7, 1, 8, 30), "2019-07-01 08:30:00"),
        (__import__("datetime").datetime(2019, 7, 1), "2019-07-01"),
        (__import__("datetime").date(2019, 7, 1), "2019-07-01"),
        ("甲", "甲"),
    ],
)
def test_text_of_is_what_a_person_sees(value: object, text: str) -> None:
    assert workbook.text_of(value) == text  # type: ignore[arg-type]


# --- .xls and .ods written by LibreOffice, committed (tests/data/cells/, from cells.xlsx) ---

CELLS = __import__("pathlib").Path(__file__).parent / "data" / "cells"
FORMULAS = {"A3", "B3", "C3", "D3", "E3", "F3"}
PERCENT = {"B1", "C1", "A2", "C2", "E2", "F3", "G1"}  # G1 is no RK number: a NUMBER record


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_libreoffice_files_give_values_formulas_and_percent_cells(suffix: str) -> None:
    """Percent formats (on NUMBER, RK and MULRK records in the .xls), formula cells with a
    number, text, error, empty or boolean result, and the text of a formula's STRING record."""
    result = reader.read_workbook((CELLS / f"cells{suffix}").read_bytes(), suffix, LIMITS)
    assert result.issues == [] and result.workbook is not None
    raw = result.workbook
    (sheet,) = raw.sheets
    assert sheet.name == "数据"
    assert sheet.rows[0][:7] == ["文字", 0.25, 0.5, 3, 4.5, "", 0.123456789]
    assert sheet.rows[1][:7] == [0.1, 0.2, 0.3, 0.4, 0.5, "", 1234.5678]
    assert sheet.rows[2][0] == 2 and sheet.rows[2][1] == "甲乙" and sheet.rows[2][5] == 0.5
    assert raw.formulas["数据"] == FORMULAS
    assert raw.percent_cells["数据"] == PERCENT
    # #DIV/0! (C3) and an empty-string result (D3) are no usable value in either format,
    # as in .xlsx: LibreOffice marks the error only by calcext:value-type in the .ods
    assert raw.formulas_without_value["数据"] == {"C3", "D3"}
    if suffix == ".xls":
        assert sheet.rows[2][4] is True
        assert raw.formula_texts["数据"] == {(2, 1): "甲乙", (2, 3): ""}
    else:
        assert raw.application.startswith("LibreOffice/")


# --- a worksheet and its shared strings, read by the reader's own pass ---

_MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _parts(sheet: bytes, strings: bytes | None = None) -> dict[str, bytes]:
    parts = {
        "xl/workbook.xml": b'<workbook><sheets><sheet name="S" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    return parts


def _sheet(cells: bytes, head: bytes = b"", prefix: bytes = b"") -> bytes:
    p = prefix + b":" if prefix else b""
    ns = b"xmlns" + (b":" + prefix if prefix else b"") + b'="' + _MAIN + b'"'
    return (
        b"<" + p + b"worksheet " + ns + b">" + head + b"<" + p + b"sheetData>"
        + cells + b"</" + p + b"sheetData></" + p + b"worksheet>"
    )  # fmt: skip


def _scan(parts: dict[str, bytes]) -> list[object]:
    raw = workbook.RawWorkbook(format="xlsx")
    return list(ooxml._read_ooxml_parts(parts, raw, LIMITS) or [])


def _refusal(parts: dict[str, bytes]) -> object:
    try:
        found = _scan(parts)
    except workbook.Malformed as exc:
        return exc.issue
    assert found, "no issue"
    return found[0]


_SST = b'<sst xmlns="' + _MAIN + b'" count="1" uniqueCount="1"><si><t>A</t></si></sst>'


def test_a_shared_string_index_past_the_table_is_named() -> None:
    issue = _refusal(_parts(_sheet(b'<row r="3"><c r="B3" t="s"><v>1</v></c></row>'), _SST))
    assert issue.code is IssueCode.CELL_VALUE_INVALID and (issue.sheet, issue.cell) == ("S", "B3")  # type: ignore[attr-defined]
    assert "共享字符串编号“1”不存在（共 1 个）" in issue.message  # type: ignore[attr-defined]
    assert _scan(_parts(_sheet(b'<row r="3"><c r="B3" t="s"><v>0</v></c></row>'), _SST)) == []


def test_an_unknown_cell_type_is_named_with_its_cell() -> None:
    issue = _refusal(_parts(_sheet(b'<row r="4"><c r="C4" t="zz"><v>1</v></c></row>')))
    assert (issue.sheet, issue.cell) == ("S", "C4")  # type: ignore[attr-defined]
    assert "类型“zz”不存在" in issue.message  # type: ignore[attr-defined]


def test_a_declared_range_is_formatting_and_only_content_counts() -> None:
    """WPS declares a formatted row or column out to the sheet's edge, with styled empty
    cells all the way: that is no refusal. A cell with something in it that far is."""
    for ref in (b"AAA1:A2", b"A1:AAA2", b"A1:XFD1048576"):
        head = b'<dimension ref="' + ref + b'"/>'
        assert _scan(_parts(_sheet(b'<row r="1"><c r="A1"><v>1</v></c></row>', head))) == []
    styled = b"".join(b'<c r="' + col_letter(c).encode() + b'1" s="1"/>' for c in range(1, 16384))
    row = b'<row r="1" spans="1:16384"><c r="A1"><v>1</v></c>' + styled + b"</row>"
    assert _scan(_parts(_sheet(row + b'<row r="1048576" s="1"/>'))) == []
    for cell in (b'<c r="AAA1"><v>1</v></c>', b'<c r="AAA1"><f>1+1</f><v>2</v></c>',
                 b'<c r="AAA1" t="inlineStr"><is><t>x</t></is></c>'):  # fmt: skip
        issue = _refusal(_parts(_sheet(b'<row r="1"><c r="A1"><v>1</v></c>' + cell + b"</row>")))
        assert issue.code is IssueCode.LIMIT_EXCEEDED, cell  # type: ignore[attr-defined]
        assert "AAA1" in issue.message  # type: ignore[attr-defined]


def test_a_prefixed_sheet_is_read_like_a_plain_one() -> None:
    cells = b'<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>'
    assert _scan(_parts(_sheet(cells, prefix=b"x"))) == []
    unknown = _refusal(_parts(_sheet(b'<row r="1"><c r="A1"><v>1</v></c><foo/><bar/></row>')))
    assert "<bar>、<foo>" in unknown.message  # type: ignore[attr-defined]


def test_an_empty_sheets_dimensions_are_no_error() -> None:
    """LibreOffice writes DIMENSIONS 0, 0, 0, 0 for a sheet with nothing in it."""
    empty = (0).to_bytes(4, "little") * 2 + _u16(0, 0, 0)
    biff._check_biff_record("说明", 0x0200, empty, shared=0, styles=20, limits=LIMITS)
    one_cell = (0).to_bytes(4, "little") + (1).to_bytes(4, "little") + _u16(0, 1, 0)
    biff._check_biff_record("说明", 0x0200, one_cell, shared=0, styles=20, limits=LIMITS)


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        (b'<c r="D2" t="inlineStr"><v></v></c>', "标为内嵌文字，却没有文字内容"),
        (b'<c r="D2" t="inlineStr"><v>5</v></c>', "标为内嵌文字，却没有文字内容"),
        (b'<c r="D2" t="inlineStr"><is></is></c>', "内嵌文字的结构不对"),
        (b'<c r="D2" t="n"><is><t>5</t></is></c>', "有内嵌文字，却没有标为文字单元格"),
    ],
)
def test_an_inline_string_cell_without_its_text_is_named(cell: bytes, says: str) -> None:
    """Each passes the one-pattern plain scan's shape test only if that test is wrong."""
    issue = _refusal(_parts(_sheet(b'<row r="2">' + cell + b"</row>")))
    assert issue.code is IssueCode.CELL_VALUE_INVALID  # type: ignore[attr-defined]
    assert (issue.sheet, issue.cell) == ("S", "D2")  # type: ignore[attr-defined]
    assert f"（{says}）" in issue.message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("where", "element"),
    [
        ("sheet", b"<x/>"),
        ("sheet", b"<Note>1</Note>"),
        ("sheet", b"<_hidden/>"),
        ("sheet", b"<row2/>"),  # a known name's prefix is no known name
        ("strings", b"<note>1</note>"),
    ],
)
def test_an_element_no_reader_knows_is_refused_by_name(where: str, element: bytes) -> None:
    name = element[1:].split(b">")[0].rstrip(b"/").decode()
    if where == "sheet":
        parts = _parts(_sheet(b'<row r="1"><c r="A1"><v>1</v></c>' + element + b"</row>"))
    else:
        sst = _SST.replace(b"<si><t>A</t></si>", b"<si><t>A</t>" + element + b"</si>")
        parts = _parts(_sheet(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), sst)
    issue = _refusal(parts)
    assert issue.code is IssueCode.MALFORMED_PART  # type: ignore[attr-defined]
    assert f"含有不认识的元素 <{name}>" in issue.message  # type: ignore[attr-defined]
    # the same part without it is read
    assert _scan({k: v.replace(element, b"") for k, v in parts.items()}) == []


def test_each_part_of_a_form_is_inflated_once(
    forms: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No part is read twice (the workbook part, which says where the sheets are, was)."""
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def counting(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", counting)
    data = next(iter(forms.values())).read_bytes()
    result = reader.read_workbook(data, ".xlsx", LIMITS, (TASK_SHEET, "_xlflow"))
    assert result.workbook is not None and result.workbook.sheet(TASK_SHEET) is not None
    assert "xl/workbook.xml" in opened
    assert len(opened) == len(set(opened)), sorted(opened)


def test_a_formula_cached_as_an_error_has_no_usable_value_in_both_scans() -> None:
    """`=1/0` saved with its result: t="e", the value #DIV/0!. The plain scan (cells as
    office programs write them) and the full scan (here a cell whose attributes come in
    another order) both say it has no usable value, so the error text is never an answer."""
    plain = b'<row r="7"><c r="H7" s="1" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
    other = b'<row r="7"><c t="e" r="H7" s="1"><f>1/0</f><v>#DIV/0!</v></c></row>'
    for cells in (plain, other):
        raw = workbook.RawWorkbook(format="xlsx")
        assert list(ooxml._read_ooxml_parts(_parts(_sheet(cells)), raw, LIMITS)) == []
        assert raw.formulas == {"S": {"H7"}} and raw.formulas_without_value == {"S": {"H7"}}
    assert ooxml._scan_plain(_sheet(plain), 0, frozenset()) is not None  # the plain path ran


def test_a_shared_string_with_a_phonetic_run_is_read() -> None:
    """Excel and WPS keep a reading guide (<rPh>, <phoneticPr>) after a string's text."""
    guides = (
        b'<rPh sb="0" eb="1"><t>wen</t></rPh>',
        b'<phoneticPr fontId="1" type="noConversion"/>',
        b'<rPh sb="0" eb="1"><t>wen</t></rPh><phoneticPr fontId="1"/>',
    )
    for guide in guides:
        sst = b'<sst xmlns="' + _MAIN + b'"><si><t>\xe6\x96\x87</t>' + guide + b"</si></sst>"
        assert _scan(_parts(_sheet(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'), sst)) == []


def test_an_unexpected_failure_in_the_part_checks_is_a_corrupt_file(
    forms: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> list[object]:
        raise ValueError("unexpected")

    monkeypatch.setattr(reader, "_read_ooxml_parts", broken)
    data = next(iter(forms.values())).read_bytes()
    result = reader.read_workbook(data, ".xlsx", LIMITS, (TASK_SHEET, "_xlflow"))
    assert result.workbook is None
    assert [i.code for i in result.issues] == [IssueCode.CORRUPT_FILE]


def test_a_part_whose_root_is_not_a_worksheet_is_named() -> None:
    sheet = b'<sst xmlns="' + _MAIN + b'"><si><t>A</t></si></sst>'
    issue = _refusal(_parts(sheet))
    assert issue.code is IssueCode.MALFORMED_PART  # type: ignore[attr-defined]
    assert "根元素不是 <worksheet>" in issue.message  # type: ignore[attr-defined]


def test_the_full_scan_takes_a_sheet_exactly_as_wide_as_the_limit() -> None:
    """Cells written with their attributes in another order go to the full scan."""
    narrow = Limits(max_columns=3, max_rows=5)
    for ref, too_large in ((b"C5", False), (b"D5", True), (b"C6", True)):
        cells = b'<row r="' + ref[1:] + b'"><c s="0" r="' + ref + b'"><v>1</v></c></row>'
        raw = workbook.RawWorkbook(format="xlsx")
        found = list(ooxml._read_ooxml_parts(_parts(_sheet(cells)), raw, narrow))
        assert [i.code for i in found] == ([IssueCode.LIMIT_EXCEEDED] if too_large else []), ref
