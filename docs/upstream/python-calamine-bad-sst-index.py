"""Minimal reproducer for python-calamine: a shared-string index that is not a valid number
reads as shared string 0, with no error.

    pip install python-calamine xlsxwriter
    python python-calamine-bad-sst-index.py

Observed with python-calamine 0.9.1 (calamine 0.3x): for `<v>abc</v>`, `<v>-1</v>`,
`<v>1.5</v>`, `<v>#DIV/0!</v>`, `<v> 1</v>` or `<v>1e0</v>` in a `t="s"` cell, the cell reads
as "zero" (the first shared string). An index past the end (`<v>99</v>`) raises
"Cell string index not found in shared strings table", which is what every invalid
index should do. Expected: an error (or at least not another cell's text).

The same lenient parsing reads `<v>1e400</v>` and `<v>NaN</v>` in a number cell as inf and
nan, an inline string whose `t` attribute is unknown or missing as text, and the text of
an element placed inside a `<t>` as part of the string.
"""

from __future__ import annotations

import io
import zipfile

import xlsxwriter
from python_calamine import CalamineWorkbook


def workbook() -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("S")
    ws.write_string(0, 0, "zero")
    ws.write_string(1, 0, "one")
    wb.close()
    return buf.getvalue()


def with_index(data: bytes, index: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            body = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(
                    b'<c r="A2" t="s"><v>1</v>', f'<c r="A2" t="s"><v>{index}</v>'.encode()
                )
            zout.writestr(item, body)
    return out.getvalue()


if __name__ == "__main__":
    base = workbook()
    for index in ("1", "abc", "-1", "1.5", "#DIV/0!", " 1", "1e0", "99"):
        try:
            rows = CalamineWorkbook.from_filelike(io.BytesIO(with_index(base, index)))
            value = rows.get_sheet_by_name("S").to_python()[1][0]
            print(f"A2 index {index!r:>10}: reads {value!r}")
        except Exception as exc:
            print(f"A2 index {index!r:>10}: {type(exc).__name__}: {exc}")
