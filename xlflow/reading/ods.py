"""The content of an .ods scanned before python-calamine reads it: repeats, types, the
used range, and the writer named in its metadata."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import ElementTree

from ..cells import cell_ref
from ..config.model import Limits
from .workbook import Malformed, RawWorkbook, _malformed, _too_large


def _xml(data: bytes, part: str) -> Any:
    """A small OpenDocument part, parsed with DTDs refused; one that does not parse (or
    declares an encoding nobody knows) is malformed, said by name."""
    try:
        return ElementTree.fromstring(data, forbid_dtd=True)
    except (ParseError, LookupError, ValueError) as exc:  # an unknown encoding
        raise _malformed(part, f"XML 格式错误：{str(exc)[:80]}") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


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
