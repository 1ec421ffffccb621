"""Reading one returned file safely: cheap checks first, then python-calamine.

Everything here runs inside a worker process (see `xlflow.pool`), so a crash, hang
or runaway allocation in a native reader costs only the file being read. Before any
parser sees the bytes, the file type is decided by its content, zip archives are
checked for bombs and unsafe names without inflating them, and XML parts are checked
for DTDs (billion laughs, external entities). Macros are never run, formulas never
evaluated and links never followed: only cached values are read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import io
import itertools
import os
import pyexpat
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Container, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError

import olefile
from defusedxml import ElementTree
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from ..cells import cell_ref, col_number
from ..config import Limits
from ..issues import Issue, IssueCode, damage_words, error, warning
from ..text import CELL_TEXT_LIMIT, cell_length, decode_ooxml_escapes
from .zipnames import first_problem, visible

Cell = Any  # int | float | str | bool | date | datetime | time | timedelta

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".et")
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)
_ROW_REF = re.compile(rb'<row\s[^>]*?r="(\d{1,8})"')
_DIMENSION = re.compile(rb'<dimension\s+ref="([A-Z]{1,4})?(\d{1,8})?(?::([A-Z]{1,4})(\d{1,8}))?"')
_FORMULA_TAG = re.compile(rb"<f[ >/]")
_CACHED = re.compile(rb"<v>[^<]+</v>|<is>", re.S)
_CHUNK = 1 << 16


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


def sniff(data: bytes) -> str:
    """The real type of a file, from its first bytes: zip, ole, html, text, empty, unknown."""
    if not data:
        return "empty"
    if data.startswith(ZIP_MAGIC) or data.startswith(b"PK\x05\x06"):
        return "zip"
    if data.startswith(OLE_MAGIC):
        return "ole"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml", b"mime-version")):
        return "html"
    if b"{\\rtf" in head[:10]:
        return "rtf"
    sample = data[:4096]
    try:
        sample.decode("utf-8")
        return "text"
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4:
            return "text"
    try:
        sample.decode("gb18030")
        return "text"
    except UnicodeDecodeError:
        return "unknown"


_KIND_WORDS = {
    "empty": "空文件（0 字节）",
    "html": "网页（HTML）或 XML 文本，不是 Excel 表格（有些系统导出的“xls”其实是网页）",
    "text": "纯文本（可能是 CSV 或 TXT 改了扩展名），不是 Excel 表格",
    "rtf": "RTF 文档，不是 Excel 表格",
    "unknown": "无法识别的格式，不是 Excel 表格",
}
REFILL = "请用下发的 Excel 填报表填写后直接保存（.xlsx 或 .xls），不要另存为其他格式。"


def _ole_kind(data: bytes) -> str:
    """xls, encrypted (an OOXML workbook behind a password) or doc, from the stream names."""
    names = data[: 1 << 20]

    def has(name: str) -> bool:
        return name.encode("utf-16-le") in names

    if has("EncryptedPackage") or has("EncryptionInfo"):
        return "encrypted"
    if has("Workbook") or has("Book"):
        return "xls"
    if has("WordDocument"):
        return "doc"
    if has("PowerPoint Document"):
        return "ppt"
    return "ole"


def _check_zip(zf: zipfile.ZipFile, limits: Limits) -> tuple[list[Issue], str]:
    """Bomb, name and DTD checks on a zip; returns the issues and the package kind."""
    infos = zf.infolist()
    names = {i.filename for i in infos}
    if len(infos) > limits.max_zip_members:
        return [
            error(
                IssueCode.LIMIT_EXCEEDED,
                f"文件内含 {len(infos)} 个部件，超过上限 max_zip_members = {limits.max_zip_members}；"
                "这不像是正常的填报表。" + REFILL,
            )
        ], ""
    bad = first_problem(infos)
    if bad is not None:
        if bad.code is IssueCode.UNSAFE_ZIP_MEMBER:
            said = f"文件内含不安全的路径“{bad.shown}”（{bad.what}），已拒收，未解压。"
        else:
            said = (
                f"文件内的部件“{bad.shown}”{bad.what}，正常保存的文件不会这样，"
                "文件已损坏或是特意构造的；已拒收，未解压。"
            )
        return [error(bad.code, said + REFILL)], ""
    for info in infos:
        if ":" in info.filename:
            return [
                error(
                    IssueCode.UNSAFE_ZIP_MEMBER,
                    f"文件内含不安全的路径“{visible(info.filename)}”，已拒收，未解压。" + REFILL,
                )
            ], ""
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_mb * 1024 * 1024:
        return [
            error(
                IssueCode.LIMIT_EXCEEDED,
                f"文件解压后声明的大小为 {total / 1048576:.0f} MB，超过上限 max_uncompressed_mb = "
                f"{limits.max_uncompressed_mb:g}（疑似压缩炸弹），已拒收，未解压。" + REFILL,
            )
        ], ""
    for info in infos:
        if info.compress_size and info.file_size > 1 << 20:
            ratio = info.file_size / info.compress_size
            if ratio > limits.max_compression_ratio:
                return [
                    error(
                        IssueCode.LIMIT_EXCEEDED,
                        f"部件 {info.filename} 的压缩比为 {ratio:.0f}，超过上限 max_compression_ratio = "
                        f"{limits.max_compression_ratio:g}（疑似压缩炸弹），已拒收，未解压。"
                        + REFILL,
                    )
                ], ""
    if "xl/workbook.xml" in names:
        kind = "xlsm" if any(n.lower().endswith("vbaproject.bin") for n in names) else "xlsx"
    elif "xl/workbook.bin" in names:
        kind = "xlsb"
    elif "content.xml" in names and "mimetype" in names:
        kind = "ods"
    elif "word/document.xml" in names:
        kind = "docx"
    elif "ppt/presentation.xml" in names:
        kind = "pptx"
    else:
        kind = "zip"
    return [], kind


# what zipfile raises on a damaged archive, and on one it cannot read at all
# (NotImplementedError: a version or method; RuntimeError: an encrypted member)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error)
_ZIP_UNSUPPORTED = (NotImplementedError, RuntimeError)


def check_package(data: bytes, limits: Limits) -> str | None:
    """What is wrong with an Office package (a .docx, say) before any parser sees it:
    not a zip, a bomb, an unsafe member name, or a DTD in an XML part. None if fine."""
    if not data.startswith(ZIP_MAGIC):
        return "文件内容不是 Office 文档（.docx/.xlsx 是 zip 格式）"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            issues, _ = _check_zip(zf, limits)
            if issues:  # without the advice to a division: a package is not always a form
                return issues[0].message.replace(REFILL, "").rstrip("。")
            for name, head in _members(zf, lambda _: False):
                if _DTD.search(head):
                    return f"部件 {name} 含有 DTD/实体声明（正常的 Office 文件不会有），可能是恶意构造的文件"
    except (*_ZIP_ERRORS, *_ZIP_UNSUPPORTED) as exc:
        return f"文件已损坏或不完整（{damage_words(exc)}）"
    return None


def _members(
    zf: zipfile.ZipFile, wanted: Callable[[str], bool], done: Container[str] = ()
) -> Iterator[tuple[str, bytes]]:
    """The parts xlflow parses in full (their CRC is checked on the way), and the head of
    every other XML part, where a DTD would have to be; none of those `done` already.
    Sizes are already bounded."""
    for info in zf.infolist():
        if info.is_dir() or info.filename in done:
            continue
        name = info.filename
        if wanted(name):
            with zf.open(info) as fh:
                parts = []
                while chunk := fh.read(_CHUNK):
                    parts.append(chunk)
            yield name, b"".join(parts)
        elif name.endswith((".xml", ".rels", ".vml")):
            with zf.open(info) as fh:
                yield name, fh.read(4096)


def _xml(data: bytes, part: str) -> Any:
    """A small OpenDocument part, parsed with DTDs refused; one that does not parse (or
    declares an encoding nobody knows) is malformed, said by name."""
    try:
        return ElementTree.fromstring(data, forbid_dtd=True)
    except (ParseError, LookupError, ValueError) as exc:  # an unknown encoding
        raise _malformed(part, f"XML 格式错误：{str(exc)[:80]}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


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


def _read_ooxml_parts(
    parts: dict[str, bytes], raw: RawWorkbook, limits: Limits, sheets: Sequence[str] = ()
) -> list[Issue]:
    """Names, properties, application, and every sheet's cells checked against what the
    reader will make of them: used range, shared-string indexes, formulas, percent formats."""
    # These parts are small and regular, and a DTD in any of them was refused already, so
    # regular expressions read them at a tenth of the cost of a parser; entities are
    # then only the five predefined ones and character references.
    issues: list[Issue] = []
    wb = parts.get("xl/workbook.xml") or b""
    sheet_targets = _sheet_targets(wb, parts.get("xl/_rels/workbook.xml.rels"))
    for m in _DEFINED_NAME.finditer(wb):
        raw.defined_names[_attrs(m.group(1)).get("name", "")] = _text(m.group(2))
    for m in _PROPERTY.finditer(parts.get("docProps/custom.xml") or b""):
        name = _attrs(m.group(1)).get("name", "")
        # a property is an ST_Xstring: _xHHHH_ escapes stand for characters
        raw.properties[name] = decode_ooxml_escapes(_text(re.sub(rb"<[^>]*>", b"", m.group(2))))
    app = _APPLICATION.search(parts.get("docProps/app.xml") or b"")
    if app:
        raw.application = _text(app.group(1)).strip()
    percent = _percent_styles(parts.get("xl/styles.xml"))
    strings = parts.get("xl/sharedStrings.xml")
    shared = 0
    if strings is not None:
        strings = _spreadsheetml("xl/sharedStrings.xml", strings, b"sst", _SST_ELEMENTS)
        shared = _shared_strings(strings)
    for target, name in sheet_targets.items():
        data = parts.get(target)
        if data is not None:
            data = _spreadsheetml(target, data, b"worksheet", _SHEET_ELEMENTS)
            issue = _scan_sheet(name, data, shared, percent, limits, raw)
            if issue:
                issues.append(issue)
    return issues


_MAIN_NAMESPACES = (
    b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    b"http://purl.oclc.org/ooxml/spreadsheetml/main",  # Strict Open XML
)
_RICH = {b"rFont", b"charset", b"family", b"b", b"i", b"strike", b"outline", b"shadow",
         b"condense", b"extend", b"color", b"sz", b"u", b"vertAlign", b"scheme"}  # fmt: skip
_STRING_ELEMENTS = {b"t", b"r", b"rPr", b"rPh", b"phoneticPr", b"extLst", b"ext"} | _RICH
_SST_ELEMENTS = frozenset({b"sst", b"si"} | _STRING_ELEMENTS)
_SHEET_ELEMENTS = frozenset({b"row", b"c", b"f", b"v", b"is"} | _STRING_ELEMENTS)  # in <sheetData>
_ROOT = re.compile(rb"<(?![?!])(?:([\w.-]+):)?([\w.-]+)\b([^>]*)>")
_NAMES = re.compile(rb"<([A-Za-z_][\w.-]*)(?=[\s/>])")
_UNKNOWN_NAME: dict[frozenset[bytes], re.Pattern[bytes]] = {}


def _spreadsheetml(part: str, data: bytes, root: bytes, known: frozenset[bytes]) -> bytes:
    """The part, checked to be well-formed XML in the SpreadsheetML namespace holding only
    elements a reader knows; a namespace prefix on its elements (<x:c>) is taken off, so
    that the checks after this one see every cell.

    python-calamine reads leniently: a cell element renamed, junk in the prolog or a
    missing namespace can still give values, which no other reader would give.
    """
    parser = pyexpat.ParserCreate()

    def refuse(*_: object) -> None:
        raise _malformed(part, "含有 DTD 声明")

    parser.StartDoctypeDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except (pyexpat.ExpatError, LookupError, ValueError) as exc:  # an unknown encoding
        raise _malformed(part, f"XML 格式错误：{exc}") from None
    head = _ROOT.search(data, 0, 8192)
    if head is None or head.group(2) != root:
        raise _malformed(part, f"根元素不是 <{root.decode()}>")
    prefix = head.group(1)
    declared = re.findall(rb'xmlns(?::([\w.-]+))?="([^"]*)"', head.group(3))
    if not any(p == (prefix or b"") and ns in _MAIN_NAMESPACES for p, ns in declared):
        raise _malformed(part, "不是 SpreadsheetML 命名空间中的内容")
    if prefix:
        data = re.sub(rb"<(/?)" + re.escape(prefix) + rb":", rb"<\1", data)
    scope = data
    if root == b"worksheet":
        start, end = data.find(b"<sheetData"), data.rfind(b"</sheetData>")
        scope = data[start:end] if 0 <= start < end else b""
    # one search for the first element not known (the usual answer is none)
    pattern = _UNKNOWN_NAME.get(known)
    if pattern is None:
        names = b"|".join(
            re.escape(n) for n in sorted(known | {b"sheetData"}, key=len, reverse=True)
        )
        pattern = _UNKNOWN_NAME[known] = re.compile(rb"<(?!(?:" + names + rb")[\s/>])[A-Za-z_]")
    unknown = set()
    if pattern.search(scope):
        unknown = {n for n in _NAMES.findall(scope) if n not in known and n != b"sheetData"}
    if unknown:
        shown = "、".join(sorted(f"<{n.decode('utf-8', 'replace')}>" for n in unknown)[:3])
        raise _malformed(part, f"含有不认识的元素 {shown}")
    return data


_CELL_XML = re.compile(rb"<c\b([^>]*?)(/>|>(.*?)</c>)", re.S)
_ATTR_R = re.compile(rb'\br="([A-Z]{1,4})(\d{1,8})"')
_ATTR_T = re.compile(rb'\bt="([^"]*)"')
_ATTR_S = re.compile(rb'\bs="(\d+)"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")
_CELL_TYPES = frozenset((b"b", b"d", b"e", b"inlineStr", b"n", b"s", b"str"))
_INLINE = re.compile(rb"^\s*<is>(.*)</is>\s*$", re.S)
_SHARED = re.compile(rb"<si>(.*?)</si>|<si/>", re.S)
# A string item is one <t>, or rich-text runs each with one <t>; phonetic runs (<rPh>) and
# properties may follow. Text holds no elements: a reader would join or drop their text.
_PLAIN_ITEM = re.compile(rb"\s*<t(?:\s[^>]*)?>[^<]*</t>\s*|\s*<t(?:\s[^>]*)?/>\s*")
_RUN = re.compile(
    rb"\s*<r>\s*(?:<rPr>(?:\s*<[^<>]+/>)*\s*</rPr>|<rPr/>)?\s*<t(?:\s[^>]*)?>[^<]*</t>\s*</r>"
)
_PHONETIC = re.compile(rb"<rPh\b.*?</rPh>|<phoneticPr\b[^>]*/>", re.S)


def _string_item_ok(item: bytes) -> bool:
    if b"<rPh" in item or b"<phoneticPr" in item:
        item = _PHONETIC.sub(b"", item)
    if _PLAIN_ITEM.fullmatch(item):
        return True
    return bool(item.strip()) and _RUN.sub(b"", item).strip() == b""


def _shared_strings(part: bytes) -> int:
    """How many shared strings there are, each checked to hold plain text or text runs."""
    count = 0
    for m in _SHARED.finditer(part):
        if m.group(1) is not None and not _string_item_ok(m.group(1)):
            raise _malformed("xl/sharedStrings.xml", f"第 {count + 1} 个共享字符串的结构不对")
        count += 1
    return count


# A cell as office programs and openpyxl write it: r, then s and t, then perhaps a formula
# (its text escaped, so without "<"), then a value, plain inline text or nothing. A sheet
# holding only such cells is checked by _scan_plain in one pass of this pattern; any other
# cell sends it to the full scan.
_PLAIN_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"(?: s="([0-9]{1,6})")?'
    rb'(?: t="(s|n|b|e|d|str|inlineStr)")?'
    rb"(?:/>|>(<f(?:\s[^<>]*)?(?:/>|>[^<]*</f>))?"
    rb'(?:(<v>)([^<]*)</v>|(<is>)<t(?: xml:space="preserve")?>[^<]*</t></is>)?</c>)'
)
_CELL_START = re.compile(rb"<c[\s>/]")


def _scan_plain(
    data: bytes, shared: int, percent_styles: AbstractSet[int]
) -> tuple[int, int, set[str], set[str], set[str]] | None:
    """(last row, last column, formula cells, those without a usable value, and
    percent-formatted cells) of a sheet whose every cell is a plain one that the full scan
    would pass, or None to have the full scan decide."""
    cells = _PLAIN_CELL.findall(data)
    if len(cells) != len(_CELL_START.findall(data)):
        return None
    # (letters, digits, style, type, <f>, <v>, value, <is>); whole-list passes run in C
    if len({c[0] + c[1] for c in cells}) != len(cells):
        return None  # a cell twice
    if any((c[3] != b"inlineStr") if c[7] else (c[3] == b"inlineStr" and c[5]) for c in cells):
        return None  # inline text in a cell not typed for it, or a value in one that is
    indexes = [c[6] for c in cells if c[3] == b"s" and c[5]]
    if indexes and not (all(map(bytes.isdigit, indexes)) and max(map(int, indexes)) < shared):
        return None
    formulas: set[str] = set()
    missing: set[str] = set()
    for c in cells:
        if c[4]:
            ref = (c[0] + c[1]).decode()
            formulas.add(ref)
            # as the full scan: an empty <v></v> (openpyxl's) or an error is no usable value
            if not (c[6] or c[7]) or c[3] == b"e":
                missing.add(ref)
    percent: set[str] = set()
    if percent_styles:
        percent = {(c[0] + c[1]).decode() for c in cells if c[2] and int(c[2]) in percent_styles}
    max_row = max((int(c[1]) for c in cells), default=0)
    last_col = max(map(col_number, {c[0] for c in cells}), default=0)
    return max_row, last_col, formulas, missing, percent


def _scan_sheet(  # noqa: C901 (a hot loop; see pyproject.toml)
    sheet: str,
    data: bytes,
    shared: int,
    percent_styles: AbstractSet[int],
    limits: Limits,
    raw: RawWorkbook,
) -> Issue | None:
    """One pass over a sheet's cells before python-calamine reads it.

    The used range counts every cell reference, not only <dimension> and <row r>, so a
    far cell cannot make the reader build an enormous range. A shared-string cell must
    hold a valid index: python-calamine reads `abc`, `-1` or `1.5` as string 0 and never
    says so. Formula cells, those without a usable cached value, and percent-formatted
    cells are noted for validation.
    """
    max_row = max_col = 0
    dim = _DIMENSION.search(data[:4096])
    if dim:
        for letters, digits in ((dim.group(1), dim.group(2)), (dim.group(3), dim.group(4))):
            if letters:
                max_col = max(max_col, col_number(letters))
            if digits:
                max_row = max(max_row, int(digits))
    max_row = max(max_row, *map(int, _ROW_REF.findall(data)), 0)
    if max_row <= limits.max_rows and max_col <= limits.max_columns:
        plain = _scan_plain(data, shared, percent_styles)
        if plain is not None and plain[0] <= limits.max_rows and plain[1] <= limits.max_columns:
            raw.note_cells(sheet, plain[2], plain[3], plain[4])
            return None
    formulas: set[str] = set()
    missing: set[str] = set()
    percent: set[str] = set()
    seen: set[bytes] = set()
    if max_row <= limits.max_rows and max_col <= limits.max_columns:
        for m in _CELL_XML.finditer(data):
            attrs, inner = m.group(1), m.group(3) or b""
            found = _ATTR_R.search(attrs)
            if found is None:
                # The schema lets a cell take the next position; readers disagree on which,
                # and no office program writes one, so its value cannot be trusted.
                near = max(seen, key=len, default=b"A1").decode()
                return _invalid_cell(sheet, f"{near} 之后", "单元格没有有效的地址")
            letters, digits = found.groups()
            max_col = max(max_col, col_number(letters))
            max_row = max(max_row, int(digits))
            if max_row > limits.max_rows or max_col > limits.max_columns:
                break
            key = letters + digits
            ref = key.decode()
            if key in seen:
                return _invalid_cell(sheet, ref, "同一个单元格在文件中出现了两次")
            seen.add(key)
            kind = b""
            if b"t=" in attrs:
                t = _ATTR_T.search(attrs)
                kind = t.group(1) if t else b""
                if kind not in _CELL_TYPES:
                    shown = kind.decode("utf-8", "replace")[:20]
                    return _invalid_cell(sheet, ref, f"类型“{shown}”不存在")
            if b"<is" in inner:
                if kind != b"inlineStr":
                    return _invalid_cell(sheet, ref, "有内嵌文字，却没有标为文字单元格")
                body = _INLINE.search(inner)
                if body is None or not _string_item_ok(body.group(1)):
                    return _invalid_cell(sheet, ref, "内嵌文字的结构不对")
            if kind == b"s":
                v = _VALUE.search(inner)
                if v is not None:
                    index = v.group(1)
                    if not index.isdigit() or int(index) >= shared:
                        shown = index.decode("utf-8", "replace")[:20]
                        return _invalid_cell(
                            sheet, ref, f"共享字符串编号“{shown}”不存在（共 {shared} 个）"
                        )
            elif kind == b"inlineStr" and b"<is" not in inner and b"<v" in inner:
                return _invalid_cell(sheet, ref, "标为内嵌文字，却没有文字内容")
            if b"<f" in inner:
                formulas.add(ref)
                # openpyxl writes an empty <v></v> for a formula it never calculated; an
                # error such as #VALUE! (t="e") is no usable value either
                if not _CACHED.search(inner) or kind == b"e":
                    missing.add(ref)
            if percent_styles and b"s=" in attrs:
                style = _ATTR_S.search(attrs)
                if style and int(style.group(1)) in percent_styles:
                    percent.add(ref)
    if max_row > limits.max_rows or max_col > limits.max_columns:
        return _too_large(sheet, max_row, max_col, limits)
    raw.note_cells(sheet, formulas, missing, percent)
    return None


def _too_large(sheet: str, rows: int, cols: int, limits: Limits) -> Issue:
    """A sheet whose used range passes the limits, in any format: one message for all."""
    return error(
        IssueCode.LIMIT_EXCEEDED,
        f"工作表“{sheet}”的使用范围达 {rows} 行 × {cols} 列，超过上限（max_rows = "
        f"{limits.max_rows}，max_columns = {limits.max_columns}），未读取。请删除表格下方或右侧"
        "多余的行列（或直接使用下发的原表重新填写）后再报送。",
        sheet=sheet,
    )


def _percent_styles(styles: bytes | None) -> frozenset[int]:
    """The cell styles (cellXfs indexes) with a percent number format, from one expat pass;
    a styles part that is not well-formed XML is an error, not a guess."""
    return _percent_styles_of(styles) if styles else frozenset()


# The returns of a round mostly carry the styles part of the form sent, byte for byte.
@functools.lru_cache(maxsize=16)
def _percent_styles_of(styles: bytes) -> frozenset[int]:
    percent_ids = {9, 10}
    formats: list[int] = []
    inside = [False]

    def start(tag: str, attrs: dict[str, str]) -> None:
        local = tag.rsplit(":", 1)[-1]
        if local == "numFmt":
            if _percent_format(attrs.get("formatCode", "")):
                percent_ids.add(_int_attr(attrs, "numFmtId"))
        elif local == "cellXfs":
            inside[0] = True
        elif local == "xf" and inside[0]:
            formats.append(_int_attr(attrs, "numFmtId"))

    def end(tag: str) -> None:
        if tag.rsplit(":", 1)[-1] == "cellXfs":
            inside[0] = False

    def refuse(*_: object) -> None:
        raise _malformed("xl/styles.xml", "含有 DTD 声明")

    parser = pyexpat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(styles, True)
    except (pyexpat.ExpatError, LookupError, ValueError) as exc:  # an unknown encoding
        raise _malformed("xl/styles.xml", f"XML 格式错误：{exc}") from None
    return frozenset(i for i, fmt in enumerate(formats) if fmt in percent_ids)


def _int_attr(attrs: dict[str, str], name: str) -> int:
    value = attrs.get(name, "0") or "0"
    if not value.isdigit():
        raise _malformed("xl/styles.xml", f"{name}=“{value[:20]}”不是编号")
    return int(value)


_ATTR = re.compile(rb'([\w:.-]+)\s*=\s*"([^"]*)"')
_DEFINED_NAME = re.compile(rb"<(?:\w+:)?definedName\b([^>]*)>(.*?)</(?:\w+:)?definedName>", re.S)
_PROPERTY = re.compile(rb"<(?:\w+:)?property\b([^>]*)>(.*?)</(?:\w+:)?property>", re.S)
_APPLICATION = re.compile(rb"<(?:\w+:)?Application>(.*?)</(?:\w+:)?Application>", re.S)


def _text(data: bytes) -> str:
    return html.unescape(data.decode("utf-8", "replace"))


def _attrs(data: bytes) -> dict[str, str]:
    return {k.decode(): _text(v) for k, v in _ATTR.findall(data)}


def _tags(data: bytes | None, name: bytes) -> Iterator[dict[str, str]]:
    """The attributes of every <name ...> element (with or without a namespace prefix)."""
    if not data:
        return
    for m in re.finditer(rb"<(?:\w+:)?" + name + rb"\b([^>]*?)/?>", data):
        yield _attrs(m.group(1))


_VISIBILITY = {"Visible": "visible", "Hidden": "hidden", "VeryHidden": "veryhidden"}


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Send file descriptor 2 to the null device while native code runs.

    A Rust panic in python-calamine prints its message and, with RUST_BACKTRACE set, a
    backtrace straight to the process's stderr, even when Python catches the panic; an
    allocation failure prints before it aborts. None of that is for the person at the
    terminal: the file's verdict says what happened.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _calamine(
    data: bytes, limits: Limits, raw: RawWorkbook, sheets: Sequence[str] = ()
) -> list[Issue]:
    with quiet_native():
        try:
            return _calamine_sheets(data, limits, raw, sheets)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # pyo3's PanicException derives from BaseException
            return [
                error(
                    IssueCode.READER_CRASHED,
                    "读取程序在这个文件上出了内部错误，"
                    "文件的结构不正常，已拒收；其他文件不受影响。请用 Excel/WPS 打开确认后另存，"
                    "或用下发的原表重新填写后报送。",
                )
            ]


def _calamine_sheets(
    data: bytes, limits: Limits, raw: RawWorkbook, sheets: Sequence[str]
) -> list[Issue]:
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError:
        return [_encrypted()]
    except (CalamineError, ValueError, OSError) as exc:
        return [_corrupt(exc)]
    issues: list[Issue] = []
    everything = wb.sheets_metadata
    chosen = [m for m in everything if m.name in sheets]
    for meta in chosen if sheets and len(chosen) == len(set(sheets)) else everything:
        try:
            ws = wb.get_sheet_by_name(meta.name)
        except CalamineError as exc:
            issues.append(_corrupt(f"工作表“{meta.name}”{damage_words(exc)}", meta.name))
            continue
        end = ws.end
        if end is not None and (end[0] + 1 > limits.max_rows or end[1] + 1 > limits.max_columns):
            issues.append(_too_large(meta.name, end[0] + 1, end[1] + 1, limits))
            continue
        try:
            rows = ws.to_python(skip_empty_area=False)
        except CalamineError as exc:
            issues.append(_corrupt(f"工作表“{meta.name}”{damage_words(exc)}", meta.name))
            continue
        if raw.format == "xls":
            broken = _undecodable(rows)
            if broken is not None:
                return [
                    *issues,
                    _invalid_cell(meta.name, broken, "文字的编码已损坏，读出的是替代字符 �"),
                ]
        merged = ws.merged_cell_ranges or raw.spans.get(meta.name, [])
        raw.sheets.append(
            RawSheet(
                name=meta.name,
                visibility=_VISIBILITY.get(str(meta.visible).rsplit(".", 1)[-1], "visible"),
                rows=[list(r) for r in rows],
                merged=[((a, b), (c, d)) for (a, b), (c, d) in merged],
            )
        )
    return issues


def _undecodable(rows: list[list[Cell]]) -> str | None:
    """The first cell whose text python-calamine decoded with a replacement character: in
    an .xls, a string's UTF-16 that is not valid (a lone surrogate) reads as U+FFFD."""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str) and "\ufffd" in value:
                return cell_ref(r, c)
    return None


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


def read_workbook(
    data: bytes, suffix: str, limits: Limits, sheets: Sequence[str] = ()
) -> ReadResult:
    """Check and read one returned file. Never raises on bad data: problems are Issues.

    With `sheets`, only those sheets are checked and read, if the file has them all (a
    renamed one means reading every sheet, so that it can be found by its content).
    """
    if len(data) > limits.max_file_mb * 1024 * 1024:
        return _refused(
            IssueCode.LIMIT_EXCEEDED,
            f"文件大小 {len(data) / 1048576:.1f} MB，超过上限 max_file_mb = "
            f"{limits.max_file_mb:g}，未读取。填报表通常不到 1 MB；" + REFILL,
        )
    kind = sniff(data)
    if kind == "empty":
        return _refused(IssueCode.EMPTY_FILE, "文件是空的（0 字节）。" + REFILL)
    if kind == "ole":
        return _read_ole(data, suffix.lower(), limits, sheets)
    if kind == "zip":
        return _read_zip(data, suffix.lower(), limits, sheets)
    return _refused(IssueCode.NOT_A_WORKBOOK, f"文件内容是{_KIND_WORDS[kind]}。" + REFILL)


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


def _read_ole(data: bytes, suffix: str, limits: Limits, sheets: Sequence[str]) -> ReadResult:
    """An OLE2 file: an .xls (or .et), read after its container and records are checked;
    an encrypted workbook or an Office document of another kind is refused by name."""
    ole = _ole_kind(data)
    if ole == "encrypted":
        return ReadResult(None, [_encrypted()])
    if ole in ("doc", "ppt"):
        what = "Word 文档" if ole == "doc" else "PowerPoint 文档"
        return _refused(IssueCode.NOT_A_WORKBOOK, f"文件内容是{what}，不是 Excel 表格。" + REFILL)
    issues = _mismatch(suffix, "xls", (".xls", ".et"))
    raw = RawWorkbook(format="xls")
    try:
        _scan_xls(data, raw, limits)
    except Malformed as exc:
        return ReadResult(None, [*issues, exc.issue])
    issues += _calamine(data, limits, raw, sheets)
    _apply_formula_texts(raw)
    return ReadResult(None if _fatal(issues) else raw, issues)


_PACKAGE_WORDS = {
    "docx": "Word 文档（.docx）",
    "pptx": "PowerPoint 文档（.pptx）",
    "zip": "压缩包或其他文件",
    "xlsb": "Excel 二进制工作簿（.xlsb），xlflow 不读取此格式",
}


def _read_zip(data: bytes, suffix: str, limits: Limits, sheets: Sequence[str]) -> ReadResult:
    """A zip package: an .xlsx, .xlsm or .ods, whose parts are checked before any parser or
    python-calamine reads them."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_UNSUPPORTED as exc:
        return ReadResult(None, [_unsupported_zip(exc)])
    except _ZIP_ERRORS as exc:
        return ReadResult(None, [_corrupt(exc)])
    with zf:
        zip_issues, fmt = _check_zip(zf, limits)
        if zip_issues:
            return ReadResult(None, zip_issues)
        if fmt in _PACKAGE_WORDS:
            return _refused(
                IssueCode.NOT_A_WORKBOOK,
                f"文件内容是{_PACKAGE_WORDS[fmt]}，不是可读取的填报表。" + REFILL,
            )
        try:
            parts = _parts(zf, fmt, sheets)
        except Malformed as exc:
            return ReadResult(None, [exc.issue])
        except _ZIP_UNSUPPORTED as exc:
            return ReadResult(None, [_unsupported_zip(exc)])
        except _ZIP_ERRORS as exc:
            return ReadResult(None, [_corrupt(exc)])
    issues = _mismatch(
        suffix, fmt, {"xlsx": (".xlsx",), "xlsm": (".xlsm", ".xlsx")}.get(fmt, (".ods",))
    )
    raw = RawWorkbook(format=fmt, has_macros=fmt == "xlsm")
    try:
        if fmt in ("xlsx", "xlsm"):
            issues += _read_ooxml_parts(parts, raw, limits, sheets)
        else:
            _read_ods_meta(parts.get("meta.xml"), raw)
            _scan_ods(parts.get("content.xml"), raw, limits)
    except Malformed as exc:
        return ReadResult(None, [*issues, exc.issue])
    except Exception as exc:  # defusedxml refuses a DTD by raising its own types
        if type(exc).__name__ in (
            "DTDForbidden",
            "EntitiesForbidden",
            "ExternalReferenceForbidden",
        ):
            return _refused(
                IssueCode.UNSAFE_XML,
                "文件含有 DTD/实体声明，可能是恶意构造的文件，已拒收。" + REFILL,
            )
        return ReadResult(None, [_corrupt(exc)])
    if _fatal(issues):
        return ReadResult(None, issues)
    if raw.has_macros:
        issues.append(
            warning(
                IssueCode.MACROS_PRESENT,
                "文件含有宏（VBA），xlflow 只读取单元格内容，不会运行宏。今后请保存为 .xlsx 格式。",
            )
        )
    issues += _calamine(data, limits, raw, sheets)
    raw.truncation_check = _TruncationCheck(parts)
    return ReadResult(None if _fatal(issues) else raw, issues)


def _parts(zf: zipfile.ZipFile, fmt: str, sheets: Sequence[str]) -> dict[str, bytes]:
    """The parts xlflow reads itself, inflated once: of the worksheets, only those asked
    for (when the file has them all). A DTD in any XML part refuses the file."""
    # which worksheets to inflate is known from the workbook part and its relationships,
    # so those two are read first, and only once
    first = _sheet_index(zf) if fmt != "ods" and sheets else {}
    only = _sheet_parts(first, sheets) if first else None

    def parsed(name: str) -> bool:
        if fmt == "ods":
            return name in ("meta.xml", "content.xml")
        if name.startswith("xl/worksheets/"):
            return only is None or name in only
        return name in _OOXML_PARTS or name.startswith("docProps/")

    wanted: dict[str, bytes] = {}
    members = _members(zf, parsed, first)
    for name, part in itertools.chain(first.items(), members):
        if name.endswith((".xml", ".rels", ".vml")) and _DTD.search(part[:4096]):
            raise Malformed(
                error(
                    IssueCode.UNSAFE_XML,
                    f"文件的 {name} 部件含有 DTD/实体声明（正常的 Excel 文件不会有），"
                    "可能是恶意构造的文件，已拒收。" + REFILL,
                )
            )
        if parsed(name):
            wanted[name] = part
    return wanted


_INDEX_PARTS = ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")


def _sheet_index(zf: zipfile.ZipFile) -> dict[str, bytes]:
    """The workbook part and its relationships, inflated (their CRC checked), or nothing
    when either is missing."""
    try:
        return {name: zf.read(name) for name in _INDEX_PARTS}
    except KeyError:
        return {}


def _sheet_parts(index: dict[str, bytes], sheets: Sequence[str]) -> set[str] | None:
    """The worksheet parts of the named sheets, or None if any of them is not in the file."""
    names = _sheet_targets(*(index[name] for name in _INDEX_PARTS))
    found = {target for target, name in names.items() if name in sheets}
    return found if len(found) == len(set(sheets)) else None


def _sheet_targets(workbook: bytes | None, rels_part: bytes | None) -> dict[str, str]:
    """Worksheet part -> sheet name, from workbook.xml and its relationships."""
    rels: dict[str, str] = {}
    for attrs in _tags(rels_part, b"Relationship"):
        target = attrs.get("Target", "").lstrip("/")
        rels[attrs.get("Id", "")] = target if target.startswith("xl/") else "xl/" + target
    targets: dict[str, str] = {}
    for attrs in _tags(workbook, b"sheet"):
        rid = next((v for k, v in attrs.items() if k.endswith(":id") or k == "id"), "")
        if rid in rels:
            targets[rels[rid]] = attrs.get("name", "")
    return targets


_OOXML_PARTS = frozenset(
    ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/sharedStrings.xml")
)


def _unsupported_zip(exc: object) -> Issue:
    return error(
        IssueCode.ZIP_UNSUPPORTED,
        f"文件的压缩格式 xlflow 读不了（{damage_words(exc)}）。Excel、WPS 和 LibreOffice 保存的文件不会这样；"
        "请用 Excel/WPS 打开后另存为 .xlsx 再报送。",
    )


_LONG_TEXT = re.compile(
    rb"<(?:t|text:p|text:span)(?:\s[^>]*)?>([^<]{%d,})<" % (CELL_TEXT_LIMIT + 1)
)


class _TruncationCheck:
    """Whether python-calamine cut a cell's text: it returns at most 32,767 UTF-16 units of a
    longer string, while the XML still holds all of it. Asked only for a text that long."""

    def __init__(self, parts: dict[str, bytes]) -> None:
        self.parts = parts
        self.longer: list[str] | None = None

    def __call__(self, value: str) -> bool:
        if self.longer is None:
            self.longer = []
            for data in self.parts.values():
                for m in _LONG_TEXT.finditer(data):
                    text = html.unescape(m.group(1).decode("utf-8", "replace"))
                    if cell_length(text) > CELL_TEXT_LIMIT:
                        self.longer.append(text)
        return any(text.startswith(value) for text in self.longer)


def _fatal(issues: list[Issue]) -> bool:
    fatal = {
        IssueCode.CORRUPT_FILE,
        IssueCode.ENCRYPTED,
        IssueCode.LIMIT_EXCEEDED,
        IssueCode.UNSAFE_XML,
        IssueCode.NOT_A_WORKBOOK,
        IssueCode.ZIP_UNSUPPORTED,
        IssueCode.MALFORMED_PART,
        IssueCode.CELL_VALUE_INVALID,
        IssueCode.READER_CRASHED,
    }
    return any(i.code in fatal for i in issues)


def _read_ods_meta(meta: bytes | None, raw: RawWorkbook) -> None:
    if meta is None:
        return
    root = _xml(meta, "meta.xml")
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "user-defined":
            name = next((v for k, v in el.attrib.items() if _local(k) == "name"), "")
            raw.properties[name] = el.text or ""
        elif tag == "generator":
            raw.application = (el.text or "").strip()


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


# --- what python-calamine does not expose: formulas and percent formats in .ods and .xls ---

_T = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_O = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
# LibreOffice marks a formula whose result is an error (#DIV/0!, #N/A) here, and stores it
# as an empty string value: office:value-type="string" office:string-value=""
_CALC_VALUE_TYPE = (
    "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}value-type"
)


_ODS_VALUES = ("value", "date-value", "time-value", "boolean-value", "string-value")
_ODS_TYPES = frozenset(
    ("float", "percentage", "currency", "date", "time", "boolean", "string", "void")
)


def _count(element: Any, attribute: str) -> int:
    """A repeat or span count of an OpenDocument table element: a whole number from 1."""
    value = element.get(f"{_T}{attribute}", "1")
    if not value.isdigit() or int(value) < 1:
        raise _malformed("content.xml", f"table:{attribute}=“{value[:20]}”，应为正整数")
    return int(value)


# a hot loop (see pyproject.toml)
def _scan_ods(content: bytes | None, raw: RawWorkbook, limits: Limits) -> None:  # noqa: C901
    """Formula and percentage cells of an OpenDocument spreadsheet, by position, and its
    used range counting repeated cells, before python-calamine builds it."""
    if content is None:
        return
    root = _xml(content, "content.xml")
    for table in root.iter(f"{_T}table"):
        name = table.get(f"{_T}name", "")
        formulas: set[str] = set()
        missing: set[str] = set()
        percent: set[str] = set()
        spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
        r = 0
        last_row = last_col = 0
        for row in table.iter(f"{_T}table-row"):
            rows = _count(row, "number-rows-repeated")
            c = 0
            for cell in row:
                if _local(cell.tag) not in ("table-cell", "covered-table-cell"):
                    continue
                cols = _count(cell, "number-columns-repeated")
                down = _count(cell, "number-rows-spanned")
                across = _count(cell, "number-columns-spanned")
                if down > 1 or across > 1:
                    spans.append(((r, c), (r + down - 1, c + across - 1)))
                kind = cell.get(f"{_O}value-type")
                if kind is not None and kind not in _ODS_TYPES:
                    raise _malformed("content.xml", f"单元格的数值类型“{kind[:20]}”不存在")
                if kind is None and any(cell.get(f"{_O}{a}") is not None for a in _ODS_VALUES):
                    raise _malformed(
                        "content.xml", "单元格有数值却没有数值类型（office:value-type）"
                    )
                if kind is not None or len(cell):
                    last_row, last_col = max(last_row, r + rows), max(last_col, c + cols)
                if rows == 1 and cols == 1:
                    ref = cell_ref(r, c)
                    kind = cell.get(f"{_O}value-type")
                    if cell.get(f"{_T}formula") is not None:
                        formulas.add(ref)
                        # no value type: an empty-string result, as in .xlsx an empty <v>
                        if kind is None or cell.get(_CALC_VALUE_TYPE) == "error":
                            missing.add(ref)
                    if kind == "percentage":
                        percent.add(ref)
                c += cols
            r += rows
        if last_row > limits.max_rows or last_col > limits.max_columns:
            raise Malformed(_too_large(name, last_row, last_col, limits))
        raw.note_cells(name, formulas, missing, percent)
        if spans:
            raw.spans[name] = spans


class _Biff:
    """Just enough of the BIFF8 record stream of an .xls workbook."""

    def __init__(self, stream: bytes) -> None:
        self.data = stream

    def records(self, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
        """The records of the substream at `start`, to its EOF; an embedded chart's own
        BOF … EOF inside it is walked through, not taken for the end."""
        pos, data, depth = start, self.data, 0
        self.end = len(data)
        while pos + 4 <= len(data):
            kind, size = (
                int.from_bytes(data[pos : pos + 2], "little"),
                int.from_bytes(data[pos + 2 : pos + 4], "little"),
            )
            yield pos, kind, data[pos + 4 : pos + 4 + size]
            pos += 4 + size
            if kind == 0x0809:
                depth += 1
            elif kind == 0x000A:  # EOF of this substream, or of one inside it
                depth -= 1
                if depth <= 0:
                    self.end = pos
                    return


def _biff_string(body: bytes, offset: int, length_bytes: int) -> str:
    """An XLUnicodeString (length_bytes = 2) or ShortXLUnicodeString (1) at `offset`."""
    count = int.from_bytes(body[offset : offset + length_bytes], "little")
    flags = body[offset + length_bytes]
    pos = offset + length_bytes + 1
    if flags & 0x08:  # rich text: run count
        pos += 2
    if flags & 0x04:  # phonetic data size
        pos += 4
    if flags & 0x01:
        return body[pos : pos + 2 * count].decode("utf-16-le", "replace")
    return body[pos : pos + count].decode("latin-1")


def _percent_format(code: str) -> bool:
    return "%" in re.sub(r'"[^"]*"|\\.', "", code)


def _scan_xls(data: bytes, raw: RawWorkbook, limits: Limits) -> None:
    """Check an .xls before python-calamine reads it, and note what calamine does not say:
    its OLE container must hold a workbook stream, and its BIFF records a used range within
    the limits and shared-string indexes that exist."""
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        broken = _broken_chain(ole)
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        stream = ole.openstream(name).read() if name else None
    except Exception:  # olefile raises several types on a damaged container
        raise Malformed(_corrupt("OLE 复合文档结构已损坏")) from None
    if broken:
        raise Malformed(_corrupt(f"OLE 结构损坏：{broken}的扇区链断开或循环"))
    if stream is None:
        raise Malformed(_corrupt("OLE 文件中没有工作簿数据流（Workbook）"))
    scan_biff(stream, raw, limits)


_END_OF_CHAIN = 0xFFFFFFFE


def _chain_ok(table: Sequence[int], start: int, sectors: int) -> bool:
    """A sector chain ends, within the table, after at least `sectors` sectors, and
    visits none twice: olefile stops reading at a stream's size, but python-calamine
    follows a chain to its end, and a looping one grows its buffer until memory runs out."""
    seen: set[int] = set()
    at = start
    while at != _END_OF_CHAIN:
        if at >= len(table) or at in seen:
            return False
        seen.add(at)
        at = table[at]
    return len(seen) >= sectors


def _broken_chain(ole: olefile.OleFileIO) -> str:
    """The first part of an OLE container whose sector chain is broken, or ""."""
    if not _chain_ok(ole.fat, ole.first_dir_sector, 1):
        return "目录"
    cutoff, size = ole.minisectorcutoff, ole.sectorsize
    root = ole.root
    if (
        root is not None
        and root.size
        and not _chain_ok(ole.fat, root.isectStart, -(-root.size // size))
    ):
        return "根存储"
    mini = [
        e for e in ole.direntries if e is not None and e.entry_type == 2 and 0 < e.size < cutoff
    ]
    if mini:
        if not _chain_ok(ole.fat, ole.first_mini_fat_sector, 1):
            return "小扇区分配表"
        ole.loadminifat()
    for entry in ole.direntries:
        if entry is None or entry.entry_type != 2 or not entry.size:  # a stream
            continue
        big = entry.size >= cutoff
        table = ole.fat if big else ole.minifat
        unit = size if big else ole.minisectorsize
        if not _chain_ok(table, entry.isectStart, -(-entry.size // unit)):
            return f"数据流“{entry.name}”"
    return ""


def scan_biff(stream: bytes, raw: RawWorkbook, limits: Limits | None = None) -> None:
    """Formulas (and their cached text or error), and percent-formatted numbers, from BIFF8.

    With `limits`, a sheet whose DIMENSIONS record claims more than the limits, a LABELSST
    cell whose shared-string index does not exist, and a damaged record order
    (`_SheetWalk`) raise Malformed.
    """
    biff = _Biff(stream)
    book = _biff_globals(biff)
    for sheet_name, offset in book.sheets:
        cells = _SheetCells()
        kind = -1
        walk = _SheetWalk(sheet_name, book, limits) if limits is not None else None
        for n, (pos, kind, body) in enumerate(biff.records(offset)):
            if walk is not None and walk.step(n, pos, kind, body, cells.pending is not None):
                continue  # inside an embedded chart's own records
            cells.take(kind, body, book.is_percent)
        if walk is not None:
            walk.finish(kind, biff)
        raw.note_cells(sheet_name, cells.formulas, cells.errors, cells.percent)
        if cells.texts:
            raw.formula_texts[sheet_name] = cells.texts


@dataclass
class _BiffBook:
    """What the workbook globals say that the sheets need."""

    formats: set[int] = field(default_factory=lambda: {9, 10})  # percent number formats
    xf_percent: list[bool] = field(default_factory=list)  # by style index
    sheets: list[tuple[str, int]] = field(default_factory=list)  # name, stream offset
    shared: int = -1  # shared strings, -1 where there is no SST

    def is_percent(self, ixfe: int) -> bool:
        return 0 <= ixfe < len(self.xf_percent) and self.xf_percent[ixfe]


def _biff_globals(biff: _Biff) -> _BiffBook:
    book = _BiffBook()
    for _, kind, body in biff.records():
        if kind == 0x00FC and len(body) >= 8:  # SST: total, unique
            book.shared = int.from_bytes(body[4:8], "little")
        elif kind == 0x041E and len(body) > 4:  # FORMAT
            if _percent_format(_biff_string(body, 2, 2)):
                book.formats.add(int.from_bytes(body[0:2], "little"))
        elif kind == 0x00E0 and len(body) >= 4:  # XF
            book.xf_percent.append(int.from_bytes(body[2:4], "little") in book.formats)
        elif kind == 0x0085 and len(body) > 8:  # BOUNDSHEET
            book.sheets.append((_biff_string(body, 6, 1), int.from_bytes(body[0:4], "little")))
    return book


@dataclass
class _SheetCells:
    """What one sheet's cell records say that python-calamine does not."""

    formulas: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    percent: set[str] = field(default_factory=set)
    texts: dict[tuple[int, int], str] = field(default_factory=dict)
    pending: tuple[int, int] | None = None  # a text formula whose STRING comes next

    def take(self, kind: int, body: bytes, is_percent: Callable[[int], bool]) -> None:
        if kind in (0x0203, 0x027E) and len(body) >= 6:  # NUMBER, RK
            r, c, ixfe = (int.from_bytes(body[i : i + 2], "little") for i in (0, 2, 4))
            if is_percent(ixfe):
                self.percent.add(cell_ref(r, c))
        elif kind == 0x00BD and len(body) >= 6:  # MULRK
            r = int.from_bytes(body[0:2], "little")
            first = int.from_bytes(body[2:4], "little")
            for k in range((len(body) - 6) // 6):
                if is_percent(int.from_bytes(body[4 + 6 * k : 6 + 6 * k], "little")):
                    self.percent.add(cell_ref(r, first + k))
        elif kind == 0x0006 and len(body) >= 14:  # FORMULA
            self._formula(body, is_percent)
        elif kind == 0x0207 and self.pending is not None and len(body) >= 3:  # STRING
            text = self.texts[self.pending] = _biff_string(body, 0, 2)
            if text == "":  # as Excel stores an empty-string result
                self.errors.add(cell_ref(*self.pending))
            self.pending = None
        elif kind in _CELL_RECORDS:
            self.pending = None

    def _formula(self, body: bytes, is_percent: Callable[[int], bool]) -> None:
        r, c, ixfe = (int.from_bytes(body[i : i + 2], "little") for i in (0, 2, 4))
        self.formulas.add(cell_ref(r, c))
        self.pending = None
        result = body[6:14]
        if result[6:8] != b"\xff\xff":
            if is_percent(ixfe):
                self.percent.add(cell_ref(r, c))
        elif result[0] == 0:
            self.pending = (r, c)  # the text follows in a STRING record
        elif result[0] == 2:
            self.errors.add(cell_ref(r, c))  # #VALUE! and the like: no usable value
        elif result[0] == 3:
            # an empty-string result: no usable value, as in .xlsx and .ods
            self.texts[(r, c)] = ""
            self.errors.add(cell_ref(r, c))


# Records that may stand between a FORMULA and the STRING that holds its text result
_FORMULA_COMPANIONS = frozenset((0x04BC, 0x0221, 0x0236))  # SHRFMLA, ARRAY, TABLE
# Cell records a CONTINUE never follows: one there is a cell record whose type was damaged
# (python-calamine appends it to the record before it, and the cell vanishes)
_UNCONTINUED = frozenset((0x0201, 0x0203, 0x027E, 0x00FD, 0x0205, 0x00BD, 0x00BE, 0x0204, 0x00D6))
_CHART = 0x0020  # a BOF's substream type: an embedded chart


class _SheetWalk:
    """The order of one sheet's records, as python-calamine depends on it: it stops at the
    first BOF or EOF inside the sheet, and writes a STRING record's text to the cell of
    the last FORMULA it saw (A1 when there was none). Damage that would make it drop the
    rest of the sheet, or put a value in another cell, is refused here, naming where."""

    def __init__(self, sheet: str, book: _BiffBook, limits: Limits) -> None:
        self.sheet = sheet
        self.book = book
        self.limits = limits
        self.last_cell = ""  # the last cell read before a damaged record
        self.previous = -1  # the last record's type, FORMULA companions skipped
        self.previous_body = b""
        self.chart_depth = 0
        self.after_chart = False

    def _damaged(self, pos: int, what: str, body: bytes = b"") -> Malformed:
        where = f"单元格 {self.last_cell} 之后" if self.last_cell else "开头"
        guess = _cell_guess(body)
        seems = f"（看来原是单元格 {guess} 的记录）" if guess else ""
        return Malformed(
            error(
                IssueCode.BIFF_RECORD_DAMAGED,
                f"工作表“{self.sheet}”在{where}（数据流偏移 0x{pos:X}）{what}{seems}。"
                "按这样的记录读，后面的单元格会丢失或错位，读出的内容不可信，未采用。"
                "请用 Excel/WPS 打开该文件，核对内容后另存再报送，或用下发的原表重新填写。",
                sheet=self.sheet,
                cell=guess,
            )
        )

    def step(self, n: int, pos: int, kind: int, body: bytes, text_pending: bool) -> bool:
        """Check one record; True while inside an embedded chart (its records are the
        chart's, not the sheet's)."""
        if n == 0 and kind != 0x0809:
            raise _malformed(f"工作表“{self.sheet}”的记录", "工作表的记录不是从 BOF 开始")
        if self._order(n, pos, kind, body, text_pending):
            return True
        book = self.book
        _check_biff_record(self.sheet, kind, body, book.shared, len(book.xf_percent), self.limits)
        return False

    def _order(self, n: int, pos: int, kind: int, body: bytes, text_pending: bool) -> bool:
        if self.chart_depth:
            if kind == 0x0809:
                self.chart_depth += 1
            elif kind == 0x000A:
                self.chart_depth -= 1
            return True
        if kind == 0x0809 and n > 0:
            if len(body) >= 4 and int.from_bytes(body[2:4], "little") == _CHART:
                self.chart_depth, self.after_chart = 1, True
                return True
            raise self._damaged(pos, "出现了不应有的 BOF 记录（工作表开始标记）", body)
        if kind == 0x0207 and not (text_pending and self.previous == 0x0006):
            raise self._damaged(
                pos,
                f"有一条 STRING 记录（公式的文本结果）前面不是文本公式（前一条记录类型 0x{self.previous:04X}），"
                "公式记录已损坏",
                self.previous_body,
            )
        if kind == 0x003C and self.previous in _UNCONTINUED:
            raise self._damaged(pos, "有一条单元格记录被改成了 CONTINUE 记录", body)
        if kind in _CELL_RECORDS or kind in (0x0204, 0x0207):
            if self.after_chart:
                raise self._damaged(pos, "在嵌入的图表之后还有单元格记录", body)
            if kind != 0x0207 and len(body) >= 4:
                self.last_cell = cell_ref(
                    int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
                )
        if kind not in _FORMULA_COMPANIONS:
            self.previous, self.previous_body = kind, body
        return False

    def finish(self, last: int, biff: _Biff) -> None:
        """The sheet ends with its EOF, and no cell record follows it: a record whose
        length was changed throws every record after it out of step, and an EOF with cells
        after it was a damaged record, where python-calamine would stop."""
        if last != 0x000A:
            raise _malformed(
                f"工作表“{self.sheet}”的记录", "工作表的记录没有以 EOF 结束，记录长度不一致"
            )
        data, pos = biff.data, biff.end
        if pos + 4 <= len(data):
            kind = int.from_bytes(data[pos : pos + 2], "little")
            if kind in _CELL_RECORDS or kind in (0x0204, 0x0207):
                size = int.from_bytes(data[pos + 2 : pos + 4], "little")
                raise self._damaged(
                    pos - 4,
                    "出现了提前的 EOF 记录（工作表结束标记），其后还有单元格记录",
                    data[pos + 4 : pos + 4 + size],
                )


def _cell_guess(body: bytes) -> str:
    """The cell a damaged record seems to have been, when its body starts as a cell's."""
    if len(body) < 6:
        return ""
    row, col = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
    return cell_ref(row, col) if col < 256 else ""


# BIFF8 records of one fixed size: BLANK, NUMBER, RK, LABELSST, BOOLERR, ROW, DIMENSIONS
_BIFF_SIZES = {0x0201: 6, 0x0203: 14, 0x027E: 10, 0x00FD: 10, 0x0205: 8, 0x0208: 16, 0x0200: 14}
# BIFF8 records that start with a cell's row and column; the MUL* ones end with the last column
_CELL_RECORDS = frozenset(
    (0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E)
)


# Record types of Excel 2.x–4.x (dimensions, cells, row, beginning of file) that are not
# records of an .xls (BIFF8) at all. One in a sheet is a damaged record: python-calamine
# skips it, so a cell would go missing without a word, while another reader takes it for
# an old cell or a dimension and fails.
_LEGACY_RECORDS = frozenset(
    (0x0000, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0007, 0x0008, 0x0009, 0x0206, 0x0209, 0x0406, 0x0409)
)  # fmt: skip


def _check_biff_record(
    sheet: str, kind: int, body: bytes, shared: int, styles: int, limits: Limits
) -> None:
    if kind in _LEGACY_RECORDS:
        raise _malformed(
            f"工作表“{sheet}”的记录", f"记录类型 0x{kind:04X} 不属于 Excel 97-2003 格式"
        )
    size = _BIFF_SIZES.get(kind)
    if size is not None and len(body) != size:
        raise _malformed(
            f"工作表“{sheet}”的记录", f"记录 0x{kind:04X} 长 {len(body)} 字节，应为 {size}"
        )
    if kind in (0x00BD, 0x00BE) and (
        len(body) < 8 or (len(body) - 6) % (6 if kind == 0x00BD else 2)
    ):
        raise _malformed(f"工作表“{sheet}”的记录", f"记录 0x{kind:04X} 的长度 {len(body)} 不对")
    rows = cols = 0
    if kind == 0x0200:  # DIMENSIONS: first row, last row + 1, first col, last col + 1
        if len(body) != 14:
            raise _malformed(
                f"工作表“{sheet}”的记录", f"DIMENSIONS 记录长 {len(body)} 字节，应为 14"
            )
        first_row, rows = int.from_bytes(body[0:4], "little"), int.from_bytes(body[4:8], "little")
        first_col, cols = (
            int.from_bytes(body[8:10], "little"),
            int.from_bytes(body[10:12], "little"),
        )
        if first_row > rows or first_col > cols:
            raise _malformed(f"工作表“{sheet}”的记录", "DIMENSIONS 记录的起始行列大于结束行列")
    elif kind in _CELL_RECORDS and len(body) >= 4:
        # python-calamine sizes the sheet by every cell, whatever DIMENSIONS says
        rows = int.from_bytes(body[0:2], "little") + 1
        cols = int.from_bytes(body[2:4], "little") + 1
        if kind in (0x00BD, 0x00BE) and len(body) >= 6:
            cols = max(cols, int.from_bytes(body[-2:], "little") + 1)
        elif len(body) >= 6 and int.from_bytes(body[4:6], "little") >= styles:
            row, col = rows - 1, cols - 1
            raise Malformed(_invalid_cell(sheet, cell_ref(row, col), "单元格格式编号不存在"))
    elif kind == 0x0208 and len(body) >= 6:  # ROW: row, first column, last column + 1
        rows = int.from_bytes(body[0:2], "little") + 1
        cols = int.from_bytes(body[4:6], "little")
    if rows > limits.max_rows or cols > limits.max_columns:
        raise Malformed(_too_large(sheet, rows, cols, limits))
    if kind == 0x00FD and len(body) >= 10:  # LABELSST: row, col, xf, string index
        index = int.from_bytes(body[6:10], "little")
        if index >= max(shared, 0):
            row, col = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
            raise Malformed(
                _invalid_cell(
                    sheet,
                    cell_ref(row, col),
                    f"共享字符串编号 {index} 不存在（共 {max(shared, 0)} 个）",
                )
            )


def _apply_formula_texts(raw: RawWorkbook) -> None:
    """python-calamine reads an .xls formula's text result as 0; use the cached text."""
    for name, texts in raw.formula_texts.items():
        sheet = raw.sheet(name)
        if sheet is None:
            continue
        for (r, c), text in texts.items():
            if r < len(sheet.rows) and c < len(sheet.rows[r]):
                sheet.rows[r][c] = text


__all__ = [
    "CELL_TEXT_LIMIT",
    "REFILL",
    "SPREADSHEET_SUFFIXES",
    "RawSheet",
    "RawWorkbook",
    "check_package",
    "read_workbook",
]
