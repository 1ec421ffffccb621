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
    """The worksheet part with the most cells: the 填报 sheet."""
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
