"""Returns as WPS表格 saves them (issue #40): an honest return is never refused for its
shape, its values come through exactly, and WPS is named as the program that wrote it."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from .conftest import DEADLINE, DEFAULT_ROUND, fill_complete, run, run_json, stored
from .wps import BUILD, as_excel_saves, as_wps_saves

PLAN = "政策规划处"
ORG_ROUND = "2025-H1"  # tests/test_organisation.py's round


def accepted_as_plain(root: Path, round_id: str, plain: Path, shaped: bytes, name: str) -> Any:
    """Collect `shaped` in `root`, and `plain` (the same return as xlflow's tests fill it)
    under the same name in a copy of `root`: the reshaped return must be accepted with
    exactly the values the plain one gives. Its collect entry."""
    twin = root.parent / f"{root.name}-plain"
    shutil.rmtree(twin, ignore_errors=True)
    shutil.copytree(root, twin)
    (root / "inbox" / name).write_bytes(shaped)
    (twin / "inbox" / name).write_bytes(plain.read_bytes())
    report = run_json(["collect", "-w", str(root), "--round", round_id])
    run_json(["collect", "-w", str(twin), "--round", round_id])
    entry = next(f for f in report["files"] if f["path"] == name)
    assert entry["verdict"] == "accepted", entry["issues"]
    assert not any(i["code"] == "limit-exceeded" for i in entry["issues"])
    mine, theirs = stored(root, round_id, name), stored(twin, round_id, name)
    assert mine.values == theirs.values and mine.contact == theirs.contact
    assert mine.values  # not vacuous
    return entry


VERSION = BUILD.split("-", 1)[1]
WPS_NAME = f"WPS表格 {VERSION}（中文版）"


def test_a_return_saved_by_wps_is_accepted_with_exactly_its_values(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    plain = fill_complete(forms[PLAN], tmp_path / "plain.xlsx")
    shaped = as_wps_saves(plain.read_bytes())
    # the shape is WPS's: a range, spans and styled cells to the sheet's edge
    probe = tmp_path / "probe.xlsx"
    probe.write_bytes(shaped)
    book = CalamineWorkbook.from_path(str(probe))
    assert book.get_sheet_by_name("填报").end[1] < 30  # the content is small
    book.close()
    with zipfile.ZipFile(io.BytesIO(shaped)) as zf:
        sheets = b"".join(zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/"))
    assert b'<dimension ref="A1:XFD' in sheets and b'spans="1:16384"' in sheets
    entry = accepted_as_plain(ws, DEFAULT_ROUND, plain, shaped, f"{PLAN}.xlsx")
    # and WPS is named where the office looks: the record, status, the receipt
    assert entry["application"] == WPS_NAME
    status = run_json(["status", "-w", str(ws), "--round", DEFAULT_ROUND])
    plan = next(d for d in status["divisions"] if d["division"] == PLAN)
    assert plan["application"] == WPS_NAME
    receipt = next((ws / "outbox" / DEFAULT_ROUND / "receipts").glob(f"{PLAN}*.xlsx"))
    book = CalamineWorkbook.from_path(str(receipt))
    cells = book.get_sheet_by_index(0).to_python()
    book.close()
    assert any(WPS_NAME in str(v) for row in cells for v in row)


def test_a_return_saved_by_excel_is_accepted_with_exactly_its_values(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    """Excel's own shapes: formulas shared down a column (the cells below the first hold
    no formula text), a calcChain, a conditional format in the x14 extension list."""
    plain = fill_complete(forms[PLAN], tmp_path / "plain.xlsx")
    shaped = as_excel_saves(plain.read_bytes())
    with zipfile.ZipFile(io.BytesIO(shaped)) as zf:
        sheets = b"".join(zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/"))
        assert "xl/calcChain.xml" in zf.namelist()
    assert sheets.count(b't="shared" ref=') >= 5 and b"x14:conditionalFormatting" in sheets
    accepted_as_plain(ws, DEFAULT_ROUND, plain, shaped, f"{PLAN}.xlsx")


# --- the other kinds of form: a collective member's, a forwarded one, a rolled-up one ---


@pytest.fixture(scope="module")
def relayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The organisation's round generated; the district forwards its form to its units."""
    from .test_organisation import make_folder
    from .test_relay import CHILD_DEADLINE, DATA, DISTRICT, _district_form

    base = tmp_path_factory.mktemp("wps-relay")
    parent = make_folder(base / "city")
    run(["generate", "-w", str(parent), "--round", ORG_ROUND, "--deadline", DEADLINE])
    received = base / "mail" / _district_form(parent).name
    received.parent.mkdir()
    shutil.copy(_district_form(parent), received)
    child = base / "district"
    run(
        [
            "forward", str(received), "--to", str(DATA / "甲区单位名录.csv"), "-w", str(child),
            "--deadline", CHILD_DEADLINE.isoformat(),
        ]
    )  # fmt: skip
    assert DISTRICT
    return {"parent": parent, "child": child, "base": base}


def test_a_collective_members_form_saved_by_wps_is_accepted_exactly(
    relayed: dict[str, Path], tmp_path: Path
) -> None:
    parent = relayed["parent"]
    form = parent / "outbox" / ORG_ROUND / "forms" / f"东湖街道_{ORG_ROUND}_填报表.xlsx"
    plain = fill_complete(form, tmp_path / "member.xlsx")
    entry = accepted_as_plain(
        parent, ORG_ROUND, plain, as_wps_saves(plain.read_bytes()), "东湖街道.xlsx"
    )
    assert entry["division"] == "东湖街道" and entry["application"] == WPS_NAME


def test_a_forwarded_form_saved_by_wps_then_rolled_up_and_saved_by_wps_again(
    relayed: dict[str, Path], tmp_path: Path
) -> None:
    """A sub-unit fills the forwarded form in WPS; the district rolls the answers up and
    opens the rolled-up form in WPS before it sends it on: both are taken exactly."""
    from .test_relay import DISTRICT

    base = tmp_path / "relay"
    shutil.copytree(relayed["base"], base)
    parent, child = base / "city", base / "district"
    form = next((child / "outbox").rglob("甲区科技局_*填报表.xlsx"))
    plain = fill_complete(form, tmp_path / "sub.xlsx")
    entry = accepted_as_plain(
        child, ORG_ROUND, plain, as_wps_saves(plain.read_bytes()), "甲区科技局.xlsx"
    )
    assert entry["application"] == WPS_NAME
    settings = child / "xlflow.toml"
    text = settings.read_text("utf-8").replace('contact = ""', 'contact = "郑洁"')
    settings.write_text(text.replace('phone = ""', 'phone = "0574-83000001"'), "utf-8")
    rolled = Path(run_json(["roll-up", "-w", str(child)])["path"])
    entry = accepted_as_plain(
        parent, ORG_ROUND, rolled, as_wps_saves(rolled.read_bytes()), f"{DISTRICT}.xlsx"
    )
    assert entry["division"] == DISTRICT and entry["application"] == WPS_NAME


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
