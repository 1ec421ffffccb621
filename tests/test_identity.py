"""The hidden identity of a returned form, tampered with in all three of its copies (the
hidden sheet, the defined names and the custom properties) as a person editing them, or
a program of another version, would: each gets its own verdict and message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest

from .conftest import DEFAULT_ROUND, fill_complete, run_json, set_identity

PLAN = "政策规划处"


def _collect(ws: Path) -> dict[str, dict[str, Any]]:
    data = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    return {f["path"]: f for f in data["files"]}


@pytest.mark.parametrize(
    ("key", "value", "verdict", "code"),
    [
        ("schema", "2", "rejected", "schema-unsupported"),
        ("tasks", "不是 JSON", "rejected", "metadata-invalid"),
        ("tasks", '{"5": 1}', "rejected", "metadata-invalid"),
        ("tasks", "[true, false]", "rejected", "metadata-invalid"),
        ("columns", "[1, 2]", "accepted", "metadata-invalid"),
        ("contact", '{"填报人": 3}', "accepted", "metadata-invalid"),
    ],
)
def test_a_tampered_identity_gets_its_own_verdict(
    ws: Path, forms: dict[str, Path], key: str, value: str, verdict: str, code: str
) -> None:
    target = fill_complete(forms[PLAN], ws / "inbox" / "改过.xlsx")
    wb = openpyxl.load_workbook(target)
    set_identity(wb, key, value)
    wb.save(target)
    entry = _collect(ws)["改过.xlsx"]
    codes = [i["code"] for i in entry["issues"]]
    assert entry["verdict"] == verdict, entry["issues"]
    assert code in codes
    if code == "schema-unsupported":
        assert "schema 2" in entry["issues"][codes.index(code)]["message"]


def test_a_schema_written_as_a_number_is_the_same_schema(ws: Path, forms: dict[str, Path]) -> None:
    """WPS stores 1 typed into the hidden sheet as 1.0."""
    target = fill_complete(forms[PLAN], ws / "inbox" / "数字.xlsx")
    wb = openpyxl.load_workbook(target)
    set_identity(wb, "schema", "1.0")
    wb.save(target)
    assert _collect(ws)["数字.xlsx"]["verdict"] == "accepted"


def test_a_defined_name_reads_as_its_text_however_it_is_written() -> None:
    from xlflow.identify import _joined, _unquote_name

    assert _unquote_name(' ="2019-H1" ') == "2019-H1"
    assert _unquote_name('"说""明"""') == '说"明"'
    assert _unquote_name("2019-H1") == "2019-H1"
    assert _unquote_name('"') == '"'
    # a value over Excel's 255 characters is kept as name, name_2, name_3 …
    names = {"xlflow_tasks": '="[""1"","', "xlflow_tasks_2": '"""2""]"', "xlflow_other": "x"}
    assert _joined(names, "xlflow_", "tasks", unquote=True) == '["1","2"]'
    assert _joined(names, "xlflow_", "round", unquote=True) is None
    assert _joined({"p.k": "a", "p.k_2": "b"}, "p.", "k", unquote=False) == "ab"
