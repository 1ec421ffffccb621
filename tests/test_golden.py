"""What leadership sees, pinned cell by cell: the demo round's consolidated workbook as a
fingerprint of every sheet (values, fonts, fills, alignment, number formats, borders,
widths, merges, frozen panes, filters, print settings) and of its charts' XML.

A change to how the 汇总表 looks fails here until the fingerprint is written again, on
purpose, after looking at the workbook:

    XLFLOW_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xlflow.demo import DemoResult, run_demo
from xlflow.intake.collect import collect
from xlflow.workspace import Workspace

from .test_damage import zipfile_refuses_overlaps

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden" / "demo-汇总表.json"
VERDICTS = DATA / "golden" / "demo-收集结果.json"

# what differs from run to run: the time of the merge, file hashes, the openpyxl version
_VARYING = [
    (re.compile(r"\b20\d\d-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?"), "<time>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"Openpyxl \d+(\.\d+)*"), "Openpyxl <version>"),
]


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, stand_in in _VARYING:
            value = pattern.sub(stand_in, value)
        return value
    if value is None or isinstance(value, int | float | bool):
        return value
    return str(value)


def _color(color: Any) -> str | None:
    if color is None:
        return None
    value = color.rgb if color.type == "rgb" else f"{color.type}:{getattr(color, color.type)}"
    return str(value)


def _style(cell: Any) -> list[Any]:
    f, a, b = cell.font, cell.alignment, cell.border
    fill = _color(cell.fill.fgColor) if cell.fill and cell.fill.fill_type else None
    return [
        f.name, f.sz, bool(f.b), _color(f.color),
        fill, a.horizontal, a.vertical, bool(a.wrap_text), cell.number_format,
        [s.style for s in (b.left, b.right, b.top, b.bottom)],
    ]  # fmt: skip


def fingerprint(path: Path) -> dict[str, Any]:
    wb = openpyxl.load_workbook(path)
    out: dict[str, Any] = {"sheets": [ws.title for ws in wb.worksheets]}
    for ws in wb.worksheets:
        cells = {
            c.coordinate: [_plain(c.value), *_style(c)]
            for row in ws.iter_rows()
            for c in row
            if c.value is not None or c.has_style
        }
        out[ws.title] = {
            "freeze": ws.freeze_panes,
            "filter": ws.auto_filter.ref,
            "print_area": ws.print_area,
            "print_titles": ws.print_title_rows,
            "orientation": ws.page_setup.orientation,
            "fit": [ws.page_setup.fitToWidth, ws.page_setup.fitToHeight],
            "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "widths": {k: round(v.width, 2) for k, v in sorted(ws.column_dimensions.items())},
            "heights": {
                str(k): round(v.height, 2) for k, v in sorted(ws.row_dimensions.items()) if v.height
            },
            "conditional": [
                [str(r.sqref), [rule.formula for rule in r.rules]]
                for r in ws.conditional_formatting
            ],
            "cells": cells,
        }
    with zipfile.ZipFile(path) as zf:
        out["drawings"] = {
            # XlsxWriter writes its chart parts in text mode: line ends are the system's
            # (\r\n on Windows), the same XML to every reader
            name: zf.read(name).decode("utf-8").replace("\r\n", "\n")
            for name in sorted(zf.namelist())
            if name.startswith(("xl/charts/", "xl/drawings/")) and name.endswith(".xml")
        }
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("golden") / "demo", None)


@pytest.fixture(scope="module")
def demo_workbook(demo: DemoResult) -> Path:
    return demo.consolidated


def _matches(found: Any, golden: Path) -> Any:
    """The pinned value; written first when XLFLOW_UPDATE_GOLDEN=1."""
    if os.environ.get("XLFLOW_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(found, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    return json.loads(golden.read_text("utf-8"))


def test_the_consolidated_workbook_looks_as_pinned(demo_workbook: Path) -> None:
    found = fingerprint(demo_workbook)
    pinned = _matches(found, GOLDEN)
    assert found["sheets"] == pinned["sheets"]
    for name in found["sheets"]:
        mine, theirs = found[name], pinned[name]
        for key in theirs:
            if key == "cells":
                continue
            assert mine[key] == theirs[key], f"{name}: {key}"
        differ = {
            ref: (mine["cells"].get(ref), theirs["cells"].get(ref))
            for ref in set(mine["cells"]) | set(theirs["cells"])
            if mine["cells"].get(ref) != theirs["cells"].get(ref)
        }
        assert not differ, f"{name}: {len(differ)} cells differ, e.g. {sorted(differ.items())[:3]}"
    assert found["drawings"] == pinned["drawings"]


def test_every_verdict_and_message_of_a_mixed_inbox_is_pinned(
    demo: DemoResult, tmp_path: Path
) -> None:
    """The demo's returns (late, renamed, sent twice, wrong, corrected) beside every file the
    fuzzers found and every fuzz seed (forms of another working folder): each file's
    verdict, division, and each issue's code, place and exact words, as the division reads
    them in its receipt."""
    root = tmp_path / "work"
    shutil.copytree(demo.root, root)
    strays = root / "inbox" / "外来"
    for folder in (DATA / "fuzz-finds", DATA / "fuzz" / "seeds"):
        (strays / folder.name).mkdir(parents=True)
        # the finds of the later run (more/) too, containers among them
        found_here = [*folder.iterdir(), *(folder / "more").glob("*.*")]
        for path in sorted(found_here):
            if path.is_file() and path.suffix != ".md":
                shutil.copy(path, strays / folder.name / path.name)
    report = collect(Workspace.open(root), demo.round_id)
    found = {
        f.path: {
            "verdict": str(f.verdict),
            "division": f.division,
            "superseded_by": f.superseded_by,
            "late": f.late,
            "issues": [
                [
                    str(i.code),
                    str(i.severity),
                    i.sheet,
                    i.cell,
                    i.task_id,
                    i.field,
                    _plain(i.message),
                ]
                for i in f.issues
            ],
        }
        for f in report.files
    }
    pinned = _matches(found, VERDICTS)
    c6 = "外来/fuzz-finds/C6_zip_60x25MB_lying_compress_size_memory.zip"
    if zipfile_refuses_overlaps():  # Python >= 3.11.8: refused before the budget is reached
        (issue,) = found[c6]["issues"]
        assert issue[0] == "container-damaged" and "互相重叠" in issue[-1]
        found[c6] = pinned[c6]
    assert sorted(found) == sorted(pinned)
    differ = {p: (found[p], pinned[p]) for p in found if found[p] != pinned[p]}
    assert not differ, f"{len(differ)} files differ, e.g. {sorted(differ.items())[:2]}"


def test_the_time_of_a_consolidation_is_the_ledgers_not_the_clocks(
    demo: DemoResult, tmp_path: Path
) -> None:
    """The 汇总时间 is when the newest file was first seen, so the same ledger gives the
    same workbook at any hour; a round with no file yet takes the round's creation."""
    import sqlite3

    from xlflow.reporting.workbook.book import merge

    root = tmp_path / "work"
    shutil.copytree(demo.root, root)
    with sqlite3.connect(root / ".xlflow" / "ledger.sqlite") as db:
        db.execute("UPDATE files SET first_seen = '2019-07-08T09:00:00'")
        db.execute(
            "UPDATE files SET first_seen = '2019-07-11T16:45:00' WHERE rowid = (SELECT MIN(rowid) FROM files)"
        )
        db.execute("UPDATE rounds SET created_at = '2019-06-20T08:00:00'")
    path = merge(Workspace.open(root), demo.round_id).path
    heading = openpyxl.load_workbook(path)["总览"]["A2"].value
    assert "汇总时间：2019-07-11 16:45" in heading
    with sqlite3.connect(root / ".xlflow" / "ledger.sqlite") as db:
        db.execute("UPDATE files SET first_seen = ''")
    path = merge(Workspace.open(root), demo.round_id).path
    assert "汇总时间：2019-06-20 08:00" in openpyxl.load_workbook(path)["总览"]["A2"].value


def test_what_the_workbook_says_of_rejected_late_and_archived_files(
    demo: DemoResult, tmp_path: Path
) -> None:
    """The demo, changed: 资源配置's correction excluded (so its first return, sent back,
    counts), 外国专家局's return made late too, and 政策规划处's return taken out of the inbox
    (its archived copy counts)."""
    import datetime as dt

    from xlflow.intake.decisions import decide
    from xlflow.reporting.workbook.book import merge

    root = tmp_path / "work"
    shutil.copytree(demo.root, root)
    ws = Workspace.open(root)
    late = dt.datetime(2019, 7, 12, 9, 0).timestamp()
    os.utime(root / "inbox" / "外国专家局-2019上半年.xlsx", (late, late))
    (root / "inbox" / "转发" / "政策规划处.xlsx").unlink()
    (root / "inbox" / "政策规划处.xlsx").unlink()
    collect(ws, demo.round_id)
    decide(ws, demo.round_id, "资源配置与诚信建设处（修改稿）.xlsx", "exclude", "测试", "测试")
    path = merge(ws, demo.round_id).path
    wb = openpyxl.load_workbook(path)
    overview = [[c for c in row] for row in wb["总览"].iter_rows(values_only=True)]
    header = next(i for i, row in enumerate(overview) if row[0] == "应报处室")
    counts = dict(zip(overview[header][:5], overview[header + 1][:5], strict=True))
    assert counts == {"应报处室": 7, "已采用": 5, "退回修改": 1, "未报送": 1, "逾期报送": 2}
    text = " ".join(str(c) for row in overview for c in row if c)
    assert (
        "逾期报送：外国专家局、农村与社会发展科技处" in text
        or "逾期报送：农村与社会发展科技处、外国专家局" in text
    )
    sources = {row[0]: row for row in wb["来源"].iter_rows(min_row=4, values_only=True) if row[0]}
    assert sources["政策规划处.xlsx"][6] == "否（已存档）"
    assert sources["创新平台与合作处.xlsx"][6] == "是"
