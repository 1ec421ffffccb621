"""Returns written by software other than office suites: forms filled and saved by two
independent JavaScript spreadsheet libraries, the kind web tools and online spreadsheets
are built on (SheetJS, which rewrites the custom properties into mojibake and `_x0022_`
escapes, and exceljs, which drops the defined names and properties).

Every such return is accepted with every value exact; a forged identity still fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xlflow.signing import META_SHEET
from xlflow.text import decode_ooxml_escapes, repair_mojibake

from .conftest import DEFAULT_ROUND, run, run_json, set_identity, stored, task_rows

WRITERS_DIR = Path(__file__).parent / "writers"
NODE = shutil.which("node")
INSTALL = (
    "apt-get install -y --no-install-recommends nodejs npm && npm install --prefix tests/writers"
)
READY = NODE is not None and all(
    (WRITERS_DIR / "node_modules" / name / "package.json").is_file() for name in ("xlsx", "exceljs")
)
needs_writers = [
    pytest.mark.writers,
    pytest.mark.skipif(not READY, reason=f"Node.js or its spreadsheet writers missing: {INSTALL}"),
]
WRITERS = ("sheetjs", "exceljs")
PLAN, FOREIGN = "政策规划处", "外国专家局"


def write_with(writer: str, source: Path, target: Path, cells: dict[str, Any]) -> None:
    """`source` read, filled and saved by a JavaScript library, as `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    spec = target.with_suffix(".json")
    spec.write_text(json.dumps({"填报": cells}, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run(
        [str(NODE), str(WRITERS_DIR / "fill.js"), writer, str(source), str(target), str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=WRITERS_DIR,
    )
    spec.unlink()
    assert done.returncode == 0, done.stderr


def _answers(form: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """Cells to type (by reference) and what collect must read: values by task, contact."""
    meta = {
        r[0]: r[1] for r in openpyxl.load_workbook(form)[META_SHEET].iter_rows(values_only=True)
    }
    columns, contact = json.loads(meta["columns"]), json.loads(meta["contact"])
    cells: dict[str, Any] = {}
    values: dict[str, dict[str, Any]] = {}
    for n, (tid, row) in enumerate(task_rows(form).items()):
        status = ("已完成", "按计划推进", "进度滞后")[n % 3]
        answer = {
            "status": status,
            "percent": (100, 65, 30)[n % 3],
            "progress": f"任务{tid}：完成“调研”与<方案>，投入 1,200 万元 &amp; 50%。",
            "problems": "资金到位慢" if status == "进度滞后" else None,
            "next_steps": "下半年\n抓紧推进",
        }
        values[tid] = {k: v for k, v in answer.items() if v is not None}
        for key, value in values[tid].items():
            cells[f"{columns[key]}{row}"] = value
    said = {"reporter": "张三", "phone": "13805740001", "head": "李四"}
    for key, value in said.items():
        cells[contact[key]] = value
    return cells, values, said


@pytest.fixture(scope="module")
def returned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not READY:
        pytest.skip(f"Node.js or its spreadsheet writers missing: {INSTALL}")
    root = tmp_path_factory.mktemp("writers") / "work"
    run(["init", str(root)])
    forms = run_json(["generate", "-w", str(root), "--round", DEFAULT_ROUND])["forms"]
    expected = {}
    for writer in WRITERS:
        for form in forms:
            path = Path(form["path"])
            cells, values, contact = _answers(path)
            write_with(writer, path, root / "inbox" / writer / path.name, cells)
            expected[f"{writer}/{path.name}"] = (form["division"], values, contact)
    report = run_json(["collect", "-w", str(root), "--round", DEFAULT_ROUND])
    return {"root": root, "report": report, "expected": expected, "forms": forms}


@pytest.mark.parametrize("writer", WRITERS)
@needs_writers[0]
@needs_writers[1]
def test_every_return_a_writer_saved_is_accepted_with_exact_values(
    returned: dict[str, Any], writer: str
) -> None:
    files = {f["path"]: f for f in returned["report"]["files"]}
    mine = {p: e for p, e in returned["expected"].items() if p.startswith(writer + "/")}
    assert len(mine) == 7
    for path, (division, values, contact) in mine.items():
        entry = files[path]
        assert entry["division"] == division, path
        assert entry["verdict"] in ("accepted", "superseded"), (path, entry["issues"])
        errors = [i for i in entry["issues"] if i["severity"] == "error"]
        assert errors == [], (path, errors)
        # only notes for the coordinator about the identity's copies, nothing for the division
        # a writer's copy of a form already returned by another writer says it holds the same
        allowed = {"metadata-copy-differs", "same-as-last-return"}
        assert {i["code"] for i in entry["issues"]} <= allowed, entry["issues"]
        record = stored(returned["root"], DEFAULT_ROUND, path)
        assert record.values == values, path
        assert record.contact == contact, path


@needs_writers[0]
@needs_writers[1]
def test_sheetjs_mangles_the_properties_and_the_signed_copy_still_decides(
    returned: dict[str, Any],
) -> None:
    """What the new user saw: the properties come back as mojibake and escapes; repaired,
    they agree with the signed copy, so there is nothing to say about them."""
    path = returned["root"] / "inbox" / "sheetjs" / f"{PLAN}_{DEFAULT_ROUND}_填报表.xlsx"
    wb = openpyxl.load_workbook(path)
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props["xlflow.division"] != PLAN  # mangled by the writer
    assert repair_mojibake(props["xlflow.division"]) == PLAN
    assert "_x0022_" in props["xlflow.tasks"]
    assert json.loads(decode_ooxml_escapes(props["xlflow.tasks"]))
    entry = next(f for f in returned["report"]["files"] if f["path"] == f"sheetjs/{path.name}")
    assert entry["issues"] == []


@needs_writers[0]
@needs_writers[1]
def test_a_forged_identity_saved_by_a_writer_still_fails(
    returned: dict[str, Any], tmp_path: Path
) -> None:
    """PLAN's return, saved by SheetJS, relabelled as FOREIGN's in every copy."""
    root = returned["root"]
    source = root / "inbox" / "sheetjs" / f"{PLAN}_{DEFAULT_ROUND}_填报表.xlsx"
    wb = openpyxl.load_workbook(source)
    set_identity(wb, "division", FOREIGN)
    forged = tmp_path / "forged.xlsx"
    wb.save(forged)
    write_with("sheetjs", forged, root / "inbox" / "forged" / "外国专家局.xlsx", {})
    report = run_json(["collect", "-w", str(root), "--round", DEFAULT_ROUND])
    entry = next(f for f in report["files"] if f["path"] == "forged/外国专家局.xlsx")
    assert entry["verdict"] == "rejected"
    assert [i["code"] for i in entry["issues"]] == ["signature-invalid"]
    # and a genuine return's standing is untouched
    status = {
        d["division"]: d
        for d in run_json(["status", "-w", str(root), "--round", DEFAULT_ROUND])["divisions"]
    }
    assert status[FOREIGN]["state"] == "accepted"
    assert status[FOREIGN]["file"] != "forged/外国专家局.xlsx"
