"""The parts of an .xlsx read by xlflow itself before python-calamine reads them: each
worksheet scanned for its used range and the values calamine would read wrong, the
shared strings, the percent styles, the workbook's sheets."""

from __future__ import annotations

import functools
import html
import pyexpat
import re
import zipfile
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet

from ..cells import col_number
from ..config.model import Limits
from ..issues import Issue
from ..text import CELL_TEXT_LIMIT, cell_length, decode_ooxml_escapes
from .package import well_formed
from .workbook import (
    RawWorkbook,
    _invalid_cell,
    _malformed,
    _percent_format,
    _too_large,
    wps_name,
)

# a cell with nothing in it but its address, style and type, self-closed
_EMPTY_CELL = re.compile(
    rb'<c r="[A-Z]{1,3}[0-9]{1,7}"(?: s="[0-9]{1,6}")?(?: t="[a-zA-Z]{1,9}")?/>'
)
_FORMULA_TAG = re.compile(rb"<f[ >/]")
_CACHED = re.compile(rb"<v>[^<]+</v>|<is>", re.S)


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
    if wps := wps_name(raw.properties.get("KSOProductBuildVer", "")):
        raw.application = wps
    percent = _percent_styles(parts.get("xl/styles.xml"))
    strings = parts.get("xl/sharedStrings.xml")
    shared = 0
    if strings is not None:
        strings = _spreadsheetml("xl/sharedStrings.xml", strings, b"sst", _SST_ELEMENTS)
        shared = _shared_strings(strings)
        _declared_strings(strings, shared)
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
    well_formed(part, data)
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


_UNIQUE_COUNT = re.compile(rb'<sst\b[^>]*?\suniqueCount="([^"]*)"')
# how far the declared number of strings may pass the strings there (a writer's slip);
# python-calamine reserves room for the declared number before it reads one, and aborts
# the process when that is 2**31
_STRINGS_SLACK = 1000


def _declared_strings(part: bytes, items: int) -> None:
    """The table's uniqueCount, against the strings it holds."""
    m = _UNIQUE_COUNT.search(part, 0, 4096)
    if m is None:
        return
    text = m.group(1).decode("ascii", "replace")
    if not text.isdigit() or int(text) > items + _STRINGS_SLACK:
        raise _malformed(
            "xl/sharedStrings.xml", f"声明有 {text[:20]} 个共享字符串，实际只有 {items} 个"
        )


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

    The used range counts every cell that holds a value, a formula or text, not the
    <dimension>, <row r> or styled empty cells (WPS writes those to the sheet's edge), so
    a far cell with content cannot make the reader build an enormous range, and
    formatting cannot refuse an honest return. A shared-string cell must
    hold a valid index: python-calamine reads `abc`, `-1` or `1.5` as string 0 and never
    says so. Formula cells, those without a usable cached value, and percent-formatted
    cells are noted for validation.
    """
    max_row = max_col = 0
    # Only cells that hold something count: WPS keeps a formatted row or column's cells
    # out to the sheet's edge (`<dimension ref="A1:XFD14"/>`, spans="1:16384", thousands
    # of `<c r="X5" s="3"/>`), and python-calamine, which builds its range from the cells
    # with a value, ignores them as Excel does. They are dropped before the scan, so they
    # cost neither a refusal nor memory in proportion to their width.
    if b"/>" in data:
        data = _EMPTY_CELL.sub(b"", data)
    plain = _scan_plain(data, shared, percent_styles)
    if plain is not None and plain[0] <= limits.max_rows and plain[1] <= limits.max_columns:
        raw.note_cells(sheet, plain[2], plain[3], plain[4])
        return None
    formulas: set[str] = set()
    missing: set[str] = set()
    percent: set[str] = set()
    seen: set[bytes] = set()
    for m in _CELL_XML.finditer(data):
        attrs, inner = m.group(1), m.group(3) or b""
        found = _ATTR_R.search(attrs)
        if found is None:
            # The schema lets a cell take the next position; readers disagree on which,
            # and no office program writes one, so its value cannot be trusted.
            near = max(seen, key=len, default=b"A1").decode()
            return _invalid_cell(sheet, f"{near} 之后", "单元格没有有效的地址")
        letters, digits = found.groups()
        if not inner.strip():
            continue  # a cell with a style and nothing in it (`<c r="X5" s="3"></c>`)
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
        rows, cols, far = _furthest(data, limits)
        return _too_large(sheet, rows, cols, limits, far)
    raw.note_cells(sheet, formulas, missing, percent)
    return None


_VALUED_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*?(?<!/)>\s*<(?:v|f|is)\b')


def _furthest(data: bytes, limits: Limits) -> tuple[int, int, str]:
    """How far a refused sheet's content reaches: (last row, last column, the first cell
    past the limits), for the message; one pass of a pattern, no cell kept."""
    max_row = max_col = 0
    far = ""
    for m in _VALUED_CELL.finditer(data):
        letters, digits = m.groups()
        row, col = int(digits), col_number(letters)
        max_row, max_col = max(max_row, row), max(max_col, col)
        if not far and (row > limits.max_rows or col > limits.max_columns):
            far = (letters + digits).decode()
    return max_row, max_col, far


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
