"""Names from outside never act on the reader: a file name or a mail's subject holding C0,
C1 or bidirectional controls reaches no terminal, receipt, workbook or console page raw.

Windows forbids C0 controls in file names (NTFS), so there the inbox names carry only the C1
and bidirectional ones; the mail's headers carry every kind on both systems.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from .archives import mail
from .conftest import DEFAULT_ROUND, fill_complete, run

PLAN = "政策规划处"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

C0 = [chr(c) for c in range(1, 0x20)]  # NUL cannot be in a file name anywhere
C1 = [chr(0x7F), *(chr(c) for c in range(0x80, 0xA0))]
BIDI = [chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))]
CONTROLS = frozenset(C0 + C1 + BIDI) | {"\0"}
IN_FILE_NAMES = (C1 + BIDI) if sys.platform == "win32" else (C0 + C1 + BIDI)


def _raw(text: str) -> set[str]:
    """The controls in a text, but the line ends and tabs a text is made of."""
    return {ch for ch in text if ch in CONTROLS and ch not in "\n\t\r"}


def _cells(path: Path) -> list[str]:
    with CalamineWorkbook.from_path(str(path)) as book:
        return [
            str(v) for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python()
            for v in row
        ]  # fmt: skip


def test_no_control_character_reaches_a_terminal_a_workbook_or_a_page(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    inbox = ws / "inbox"
    source = fill_complete(forms[PLAN], tmp_path / "return.xlsx")
    names = []
    for k in range(0, len(IN_FILE_NAMES), 8):
        name = f"报送{''.join(IN_FILE_NAMES[k : k + 8])}{k}.xlsx"
        (inbox / name).write_bytes(source.read_bytes())
        names.append(name)
    # a header cannot hold what Python takes for a line end (LF, CR, FS, GS, RS, NEL)
    headers = "".join(c for c in C0 + C1 + BIDI if len(f"a{c}b".splitlines()) == 1)
    (inbox / "回复.eml").write_bytes(
        mail(
            [("附件.xlsx", source.read_bytes(), XLSX)],
            dt.datetime(2019, 7, 5, 9, 0),
            sender=f"高新处{headers} <gx@example.gov.cn>",
            subject=f"回复{headers}",
        )
    )
    outputs = {
        "collect": run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND]).output,
        "collect --json": run(
            ["collect", "-w", str(ws), "--round", DEFAULT_ROUND, "--json"]
        ).output,
        "status": run(["status", "-w", str(ws), "--round", DEFAULT_ROUND]).output,
        "status --json": run(["status", "-w", str(ws), "--round", DEFAULT_ROUND, "--json"]).output,
    }
    for what, text in outputs.items():
        assert not _raw(text), (what, sorted(map(hex, map(ord, _raw(text)))))
    # every name is there, shown: --json reads back to the names as stored
    stored = {f["path"] for f in json.loads(outputs["collect --json"])["files"]}
    assert len(stored) == len(names) + 1 and not any(_raw(p) for p in stored)
    assert "␛" in outputs["status"] or sys.platform == "win32"
    run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    books = list((ws / "outbox" / DEFAULT_ROUND).rglob("*.xlsx"))
    receipts = [b for b in books if "receipts" in b.parts]
    assert receipts and any("汇总" in b.name for b in books)
    for book in books:
        if "forms" not in book.parts:  # the forms were made before any return came
            assert not any(_raw(c) for c in _cells(book)), book
    for page in _console_pages(ws):
        assert not _raw(page)


def _console_pages(ws: Path) -> list[str]:
    from xlflow.web.app import create_app
    from xlflow.web.console import WebConfig

    app = create_app(WebConfig(ws, "127.0.0.1", 8765, None))
    client: Any = app.test_client()
    base = "http://127.0.0.1:8765"
    pages = []
    for path in ("/", f"/r/{DEFAULT_ROUND}", f"/r/{DEFAULT_ROUND}/d/{PLAN}"):
        response = client.get(path, base_url=base)
        assert response.status_code == 200, (path, response.status_code)
        pages.append(response.get_data(as_text=True))
    return pages
