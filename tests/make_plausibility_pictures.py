"""The pictures of 核实性审核 (docs/使用指南.md, docs/settings.md): a division's round-2
form with one row to explain and one explained, as LibreOffice recalculates and prints
it; its receipt; the consolidated workbook's 任务明细 and 需说明事项.

    python -m tests.make_plausibility_pictures [OUT_DIR]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import openpyxl

from xlflow.config.load import load_settings
from xlflow.signing import META_SHEET

from .conftest import run, run_json
from .make_organisation_pictures import _page, say_written
from .office import Job, run_batch
from .test_plausibility import CONTACT, R2, _case, _office_cells, _two_rounds

REPO = Path(__file__).resolve().parents[1]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="plausibility-pictures-") as tmp:
        work = Path(tmp)
        form = _two_rounds(work / "w")
        root = form.parents[3]
        values = _case(form, {"完成进度(%)": 20}, False, 2)
        second = list(values)[1]
        values[second].update({"完成状态": "已完成", "完成进度(%)": 90,
                               "说明": "主体工程已完工，剩余验收资料整理中"})  # fmt: skip
        settings = load_settings(root / "xlflow.toml")
        meta = {
            r[0]: r[1] for r in openpyxl.load_workbook(form)[META_SHEET].iter_rows(values_only=True)
        }
        where = json.loads(meta["contact"])
        contact = {where[f.key]: CONTACT[f.label] for f in settings.contact if f.label in CONTACT}
        typed = work / "typed.xlsx"
        job = Job(form, typed, [{"sheet": "填报", "cells": {**_office_cells(form, values), **contact}}],
                  recalculate=True)  # fmt: skip
        assert run_batch([job])[0]["ok"]
        shown = [_page(typed, "需要说明", out, "1-填报表-标橙待说明", work)]
        shutil.copy(typed, root / "inbox" / "q3.xlsx")
        run(["collect", "-w", str(root), "--round", R2])
        receipt = next((root / "outbox" / R2 / "receipts").glob("*.xlsx"))
        shown.append(_page(receipt, "需要说明", out, "2-回执-需要说明", work))
        merged = Path(run_json(["merge", "-w", str(root), "--round", R2])["path"])
        shown.append(_page(merged, "已说明（", out, "3-汇总表-任务明细-说明", work))
        shown.append(_page(merged, "需说明事项", out, "4-汇总表-需说明事项", work))
    say_written(shown)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "plausibility")
