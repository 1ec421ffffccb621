"""Updating xlflow keeps the working folder: a folder made by the previous release
(34d3454, the last before #30: `tests/data/previous-release.zip`, a round of seven forms,
three returns collected, and a fourth return on one of its forms not yet collected) is
opened by this one. Its ledger, its forms (made before the 说明 column and the previous
answers) and its settings (no [plausibility]) all still work.

tests/test_bundle.py runs the same steps through the self-contained build.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl

from .conftest import run_json

ARCHIVE = Path(__file__).parent / "data" / "previous-release.zip"


def unpack_previous(tmp_path: Path) -> tuple[Path, Path]:
    """(the working folder, the return still to collect)."""
    with zipfile.ZipFile(ARCHIVE) as zf:
        zf.extractall(tmp_path)
    return tmp_path / "工作文件夹", tmp_path / "待收" / "政策规划处.xlsx"


def upgrade_steps(call: Callable[..., Any], tmp_path: Path) -> None:
    """What an office does after updating: status, a new return collected, merge, and
    the next round's forms; `call(*args)` runs xlflow and gives its --json output."""
    root, pending = unpack_previous(tmp_path)
    w = ("-w", str(root))
    before = call("status", *w, "--round", "2019-H1", "--json")
    assert before["counts"]["已采用"] == 3
    shutil.copy(pending, root / "inbox" / pending.name)
    report = call("collect", *w, "--round", "2019-H1", "--json")
    verdicts = {Path(f["path"]).name: f["verdict"] for f in report["files"]}
    assert list(verdicts.values()).count("accepted") == 4, verdicts
    assert verdicts[pending.name] == "accepted"  # a form without the 说明 column
    merged = Path(call("merge", *w, "--round", "2019-H1", "--json")["path"])
    sheets = openpyxl.load_workbook(merged).sheetnames
    assert "任务明细" in sheets and "需说明事项" in sheets
    made = call("generate", *w, "--round", "2019-H2", "--prefill-from", "2019-H1", "--json")
    form = Path(made["forms"][0]["path"])
    heads = [c.value for c in openpyxl.load_workbook(form)["填报"][5]]
    assert heads[-1] == "说明"  # the new forms have it: settings without [plausibility] default
    history = call("history", *w, "--json")
    assert history and json.dumps(history, ensure_ascii=False).count("2019-H1") > 0


def test_a_working_folder_of_the_previous_release_opens_and_goes_on(tmp_path: Path) -> None:
    # every step asks for --json last; run_json adds it
    upgrade_steps(lambda *args: run_json(list(args[:-1])), tmp_path)
