"""Returns as WPS表格 saves them (issue #40): an honest return is never refused for its
shape, its values come through exactly, and WPS is named as the program that wrote it."""

from __future__ import annotations

from pathlib import Path

from python_calamine import CalamineWorkbook

from .conftest import DEFAULT_ROUND, fill_complete, run_json, stored
from .wps import BUILD, as_wps_saves

PLAN = "政策规划处"


def test_a_return_saved_by_wps_is_accepted_with_exactly_its_values(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    plain = fill_complete(forms[PLAN], tmp_path / "plain.xlsx")
    shaped = ws / "inbox" / f"{PLAN}.xlsx"
    shaped.write_bytes(as_wps_saves(plain.read_bytes()))
    # the shape is WPS's: a range, spans and styled cells to the sheet's edge
    book = CalamineWorkbook.from_path(str(shaped))
    assert book.get_sheet_by_name("填报").end[1] < 30  # the content is small
    report = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    entry = next(f for f in report["files"] if f["path"] == shaped.name)
    assert entry["verdict"] == "accepted", entry["issues"]
    assert not any(i["code"] == "limit-exceeded" for i in entry["issues"])
    # exactly the values typed: the same as the unreshaped return's, read the same way
    other = tmp_path / "other"
    from xlflow.register.init import init_workspace

    init_workspace(other)
    (other / ".xlflow").mkdir(exist_ok=True)
    (other / ".xlflow" / "secret").write_bytes((ws / ".xlflow" / "secret").read_bytes())
    (other / ".xlflow" / "ledger.sqlite").write_bytes(
        (ws / ".xlflow" / "ledger.sqlite").read_bytes()
    )
    (other / "inbox" / "plain.xlsx").write_bytes(plain.read_bytes())
    run_json(["collect", "-w", str(other), "--round", DEFAULT_ROUND])
    assert (
        stored(ws, DEFAULT_ROUND, shaped.name).values
        == stored(other, DEFAULT_ROUND, "plain.xlsx").values
    )
    # and WPS is named where the office looks: the record, status, the receipt
    version = BUILD.split("-", 1)[1]
    assert entry["application"] == f"WPS表格 {version}（中文版）"
    status = run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])
    plan = next(d for d in status["divisions"] if d["division"] == PLAN)
    assert plan["application"] == f"WPS表格 {version}（中文版）"
    receipt = next((ws / "outbox" / DEFAULT_ROUND / "receipts").glob(f"{PLAN}*.xlsx"))
    cells = CalamineWorkbook.from_path(str(receipt)).get_sheet_by_index(0).to_python()
    assert any(f"WPS表格 {version}（中文版）" in str(v) for row in cells for v in row)


CORPUS = Path(__file__).parent / "data" / "wps"
# file → the WPS build its properties carry (tests/data/wps/README.md)
REAL_WPS_FILES = {
    "pyexcel-xlsx_hidden_sheets.xlsx": "10.1.0.5740",
    "pyexcel-xls_hidden_sheets.xls": "10.1.0.5740",
    "pyexcel_date_field.xls": "9.1.0.4855",
}


def test_every_real_wps_file_is_read_as_a_stranger_never_refused_for_size(
    ws: Path, forms: dict[str, Path]
) -> None:
    assert {p.name for p in CORPUS.glob("*.xl*")} == set(REAL_WPS_FILES)
    for name in REAL_WPS_FILES:
        (ws / "inbox" / name).write_bytes((CORPUS / name).read_bytes())
    report = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    entries = {f["path"]: f for f in report["files"]}
    assert set(entries) == set(REAL_WPS_FILES)
    for name, version in REAL_WPS_FILES.items():
        entry = entries[name]
        # read whole, and judged for what it is: not one of our forms
        assert [i["code"] for i in entry["issues"]] == ["unidentified"], (name, entry["issues"])
        assert entry["application"] == f"WPS表格 {version}（中文版）", name
