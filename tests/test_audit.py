"""Every workbook and document xlflow writes passes openxml-audit (the OOXML schemas and
Office's own expectations, as Microsoft's SDK checks them) with no error and no warning:
Excel and Word open them without a repair prompt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import GOOD_CONTACT, complete_values, fill, run, run_json

# the module, not its console script: an installation by `pip --target` (the Windows bed)
# has no runnable script, and this way the audit runs under the interpreter of the tests
AUDIT = [sys.executable, "-m", "openxml_audit"]


def test_everything_a_round_writes_opens_clean(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    run(["demo", str(root), "--no-office"])
    # a second round: forms carried over from the first, history, the comparison
    data = run_json(
        ["generate", "-w", str(root), "--round", "2019-H2", "--prefill-from", "2019-H1"]
    )
    for form in data["forms"][:3]:
        path = Path(form["path"])
        fill(path, root / "inbox" / "H2" / path.name, complete_values(path), GOOD_CONTACT)
    run(["collect", "-w", str(root), "--round", "2019-H2"])
    run(["merge", "-w", str(root), "--round", "2019-H2"])
    run(["report", "-w", str(root), "--round", "2019-H2"])
    # the mapping workbook a coordinator confirms a register revision in
    revised = Path(__file__).parent / "data" / "revisions" / "bundled-revised.xlsx"
    mapping = root / "outbox" / "对照.xlsx"
    run(["register", "-w", str(root), "--update", str(revised), "--write-mapping", str(mapping)])

    done = subprocess.run(
        [*AUDIT, "-f", "microsoft365", "-r", "-o", "json", "-m", "0", str(root / "outbox")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads(done.stdout)
    audited = {Path(r["file"]).name: r for r in results}
    names = list(audited)
    # not vacuous: every kind of file is there
    assert sum(n.endswith("_填报表.xlsx") for n in names) == 14  # both rounds' forms
    assert any("回执" in n for n in names)
    assert sum("-汇总-" in n for n in names) == 2
    assert sum(n.endswith("-通报.docx") for n in names) == 2
    assert "对照.xlsx" in names
    # and the round-2 files hold what 核实性审核 adds: the forms' previous answers and
    # amber rows, receipts' 需要说明, the workbook's 说明 column and 需说明事项 sheet
    import openpyxl

    merged = next((root / "outbox" / "2019-H2").glob("*-汇总-*.xlsx"))
    listed = list(
        openpyxl.load_workbook(merged)["需说明事项"].iter_rows(min_row=4, values_only=True)
    )
    assert "进度下降" in {row[3] for row in listed}
    for name, result in audited.items():
        assert result["error_count"] == 0 and result["warning_count"] == 0, (
            name,
            result["errors"][:3],
        )
