"""A return rewritten as WPS表格 saves a workbook, for the tests: what public WPS-saved files
show (issue #40). Neither WPS nor Excel runs here; these are the shapes they write.

- the task sheet's formatting kept out to the sheet's edge: `<dimension ref="A1:XFD…"/>`,
  `spans="1:16384"` and value-less styled cells to XFD on formatted rows, and a `<col>` to
  column 16384;
- a list validation's quotes written `&quot;`;
- folders as entries of their own in the zip;
- WPS's custom properties (`KSOProductBuildVer`, `ICV`) added, the existing ones rewritten
  with WPS's numbering;
- `calcId` and `rupBuild` as WPS writes them, `Application` kept as the opened file had it.
"""

from __future__ import annotations

import io
import re
import zipfile

from xlflow.cells import col_letter

BUILD = "2052-12.1.0.25225"  # 2052: zh-CN


def _task_sheet(parts: dict[str, bytes]) -> str:
    """The worksheet part of the 填报 sheet, found by its name (the first sheet whose name
    holds 填报 but not 说明), or the sheet with the most cells."""
    book = parts.get("xl/workbook.xml", b"").decode("utf-8")
    rels = parts.get("xl/_rels/workbook.xml.rels", b"").decode("utf-8")
    for tag in re.findall(r"<sheet [^>]*>", book):
        name, rid = re.search(r'name="([^"]*)"', tag), re.search(r'r:id="([^"]*)"', tag)
        if name and rid and "填报" in name.group(1) and "说明" not in name.group(1):
            rel = re.search(r'<Relationship [^>]*Id="' + rid.group(1) + r'"[^>]*>', rels)
            target = re.search(r'Target="([^"]*)"', rel.group(0)) if rel else None
            if target:
                part = target.group(1).lstrip("/")
                part = part if part.startswith("xl/") else "xl/" + part
                if part in parts:
                    return part
    sheets = [n for n in parts if n.startswith("xl/worksheets/sheet")]
    return max(sheets, key=lambda n: parts[n].count(b"<c "))


def _to_the_edge(sheet: bytes) -> bytes:
    rows = [int(r) for r in re.findall(rb'<row r="(\d+)"', sheet)]
    last = max(rows, default=1)
    sheet = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="A1:XFD{last}"/>'.encode(), sheet)

    def formatted(m: re.Match[bytes]) -> bytes:
        r, head, body = m.group(1), re.sub(rb'\sspans="[^"]*"', b"", m.group(2)), m.group(3)
        used = [c for c in re.findall(rb'<c r="([A-Z]+)\d+"', body)]
        first_free = max((_number(c) for c in used), default=0) + 1
        styled = b"".join(
            b'<c r="' + col_letter(c - 1).encode() + r + b'" s="1"/>'
            for c in range(first_free, 16385)
        )
        return b'<row r="' + r + b'"' + head + b' spans="1:16384">' + body + styled + b"</row>"

    # the header row and the first task row are formatted whole, as a person does in WPS
    sheet = re.sub(rb'<row r="(\d+)"([^>]*)>(.*?)</row>', formatted, sheet, count=2, flags=re.S)
    edge = b'<col min="100" max="16384" width="9" style="1" customWidth="1"/>'
    if b"</cols>" in sheet:
        sheet = sheet.replace(b"</cols>", edge + b"</cols>", 1)
    # a list validation's quotes as WPS writes them
    return re.sub(
        rb"<formula1>\"([^<\"]*)\"</formula1>", rb"<formula1>&quot;\1&quot;</formula1>", sheet
    )


def _number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _custom(xml: bytes | None) -> bytes:
    """WPS's two properties added, and every property renumbered from pid 2 as WPS writes."""
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
        b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    )
    found = re.findall(rb'<property name="([^"]*)"[^>]*>(.*?)</property>', xml or b"", re.S)
    props = [(n, re.sub(rb"xmlns:vt=\"[^\"]*\"", b"", v)) for n, v in found]
    props += [
        (b"KSOProductBuildVer", b"<vt:lpwstr>" + BUILD.encode() + b"</vt:lpwstr>"),
        (b"ICV", b"<vt:lpwstr>8A0C2E7B1F3D4E5A9B6C7D8E9F0A1B2C</vt:lpwstr>"),
    ]
    body = b"".join(
        b'<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="'
        + str(k).encode() + b'" name="' + n + b'">' + v.replace(b"<vt:lpwstr >", b"<vt:lpwstr>") + b"</property>"
        for k, (n, v) in enumerate(props, start=2)
    )  # fmt: skip
    return head + body + b"</Properties>"


def as_wps_saves(data: bytes) -> bytes:
    """`data` (an .xlsx) as WPS表格 saves it after a person opened, filled and saved it."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    task = _task_sheet(parts)
    parts[task] = _to_the_edge(parts[task])
    parts["docProps/custom.xml"] = _custom(parts.get("docProps/custom.xml"))
    types = parts["[Content_Types].xml"]
    if b"/docProps/custom.xml" not in types:
        parts["[Content_Types].xml"] = types.replace(
            b"</Types>",
            b'<Override PartName="/docProps/custom.xml" ContentType='
            b'"application/vnd.openxmlformats-officedocument.custom-properties+xml"/></Types>',
        )
        rels = parts["_rels/.rels"]
        parts["_rels/.rels"] = rels.replace(
            b"</Relationships>",
            b'<Relationship Id="rIdWps" Type="http://schemas.openxmlformats.org/officeDocument/'
            b'2006/relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>',
        )
    book = parts["xl/workbook.xml"]
    book = re.sub(rb"<calcPr[^>]*/>", b'<calcPr calcId="144525"/>', book)
    book = re.sub(
        rb"<fileVersion[^>]*/>",
        b'<fileVersion appName="xl" lastEdited="3" lowestEdited="5" rupBuild="9302"/>',
        book,
    )
    if b"<fileVersion" not in book:
        book = re.sub(
            rb"(<workbook[^>]*>)",
            rb'\1<fileVersion appName="xl" lastEdited="3" lowestEdited="5" rupBuild="9302"/>',
            book,
            count=1,
        )
    parts["xl/workbook.xml"] = book
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in sorted({n.rsplit("/", 1)[0] + "/" for n in parts if "/" in n}):
            zf.writestr(zipfile.ZipInfo(folder), b"")  # WPS lists folders as entries
        for name, body in parts.items():
            zf.writestr(name, body)
    return out.getvalue()


# --- Excel's own shapes, where they differ from what xlflow and openpyxl write ---

_CELL_FORMULA = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*)><f>([^<]*)</f>')
_REFERENCE = re.compile(r"(?<![A-Za-z_\d$'])(\$?[A-Z]{1,3})(\d+)(?![\d(])")


def _relative(formula: str, row: int) -> str:
    """The formula with each row-relative reference written as an offset from `row`: two
    cells whose formulas differ only by their row give the same text."""
    return _REFERENCE.sub(lambda m: f"{m.group(1)}R[{int(m.group(2)) - row}]", formula)


def _shared_formulas(sheet: bytes) -> tuple[bytes, list[str]]:
    """Runs of cells down a column whose formulas differ only by their row, written as
    Excel saves them: the first `<f t="shared" ref=… si=…>` with the text, the others
    `<f t="shared" si=…/>` with none. Also every formula cell, for the calcChain."""
    cells = [
        (m.group(1).decode(), int(m.group(2)), m.group(4).decode("utf-8"))
        for m in _CELL_FORMULA.finditer(sheet)
    ]
    runs: dict[tuple[str, int], tuple[int, int]] = {}  # (col, first row) -> (last row, si)
    by_cell = {(c, r): f for c, r, f in cells}
    shared_id = 0
    for col, row, formula in sorted(cells):
        if (col, row - 1) in by_cell and _relative(by_cell[(col, row - 1)], row - 1) == _relative(formula, row):  # fmt: skip
            continue  # inside a run started above
        last = row
        while (col, last + 1) in by_cell and _relative(by_cell[(col, last + 1)], last + 1) == _relative(formula, row):  # fmt: skip
            last += 1
        if last > row:
            runs[(col, row)] = (last, shared_id)
            shared_id += 1
    member: dict[tuple[str, int], tuple[int, int, bool]] = {}
    for (col, first), (last, si) in runs.items():
        for r in range(first, last + 1):
            member[(col, r)] = (si, last, r == first)

    def rewrite(m: re.Match[bytes]) -> bytes:
        col, row = m.group(1).decode(), int(m.group(2))
        if (col, row) not in member:
            return m.group(0)
        si, last, first = member[(col, row)]
        head = b'<c r="' + m.group(1) + m.group(2) + b'"' + m.group(3) + b">"
        if first:
            ref = f"{col}{row}:{col}{last}".encode()
            return head + b'<f t="shared" ref="' + ref + b'" si="' + str(si).encode() + b'">' + m.group(4) + b"</f>"  # fmt: skip
        return head + b'<f t="shared" si="' + str(si).encode() + b'"/>'

    return _CELL_FORMULA.sub(rewrite, sheet), [f"{c}{r}" for c, r, _ in cells]


_X14_CONDITIONAL = (
    b'<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" '
    b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    b"<x14:conditionalFormattings><x14:conditionalFormatting "
    b'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    b'<x14:cfRule type="expression" priority="99" id="{7F3A2C10-1B2D-4E5F-8A9B-0C1D2E3F4A5B}">'
    b'<xm:f>LEN($A$1)&gt;0</xm:f><x14:dxf><fill><patternFill><bgColor rgb="FFFFEB9C"/>'
    b"</patternFill></fill></x14:dxf></x14:cfRule><xm:sqref>A1</xm:sqref>"
    b"</x14:conditionalFormatting></x14:conditionalFormattings></ext></extLst>"
)


def as_excel_saves(data: bytes) -> bytes:
    """`data` (an .xlsx) as Excel saves it: runs of formulas down a column shared, a
    calcChain listing every formula cell, and a conditional format in the x14 extension
    list (as Excel 2010 and later keep the ones its 2007 schema cannot say)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    sheets = sorted(
        (n for n in parts if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
        key=lambda n: int(re.findall(r"\d+", n)[0]),
    )
    chain = []
    for index, name in enumerate(sheets, start=1):
        parts[name], formula_cells = _shared_formulas(parts[name])
        chain += [f'<c r="{ref}" i="{index}"/>' for ref in formula_cells]
    task = _task_sheet(parts)
    if b"<extLst>" not in parts[task]:
        parts[task] = parts[task].replace(b"</worksheet>", _X14_CONDITIONAL + b"</worksheet>")
    if chain:
        parts["xl/calcChain.xml"] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + "".join(chain)
            + "</calcChain>"
        ).encode()
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"</Types>",
            b'<Override PartName="/xl/calcChain.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/></Types>',
        )
        rels = "xl/_rels/workbook.xml.rels"
        parts[rels] = parts[rels].replace(
            b"</Relationships>",
            b'<Relationship Id="rIdCalc" Type="http://schemas.openxmlformats.org/officeDocument/'
            b'2006/relationships/calcChain" Target="calcChain.xml"/></Relationships>',
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in parts.items():
            zf.writestr(name, body)
    return out.getvalue()
