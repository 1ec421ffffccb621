"""The pictures of docs/rounds.md: a year of rounds (tests/test_year.py's), printed by
LibreOffice, the page of each sheet a person reads kept as a PNG.

    python -m tests.make_rounds_pictures [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .make_organisation_pictures import _page, say_written
from .test_year import run_year

REPO = Path(__file__).resolve().parents[1]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rounds-pictures-") as tmp:
        work = Path(tmp)
        year = run_year(work / "w")
        merged = Path(year["merged"]["path"])
        receipts = work / "w" / "outbox" / "2025-Q3" / "receipts"
        receipt = next(receipts.glob("规划处*"))
        shown = [
            _page(merged, "历次进展", out, "1-汇总表-历次进展", work),
            _page(merged, "年度考核情况", out, "2-汇总表-考核情况", work),
            _page(receipt, "改动了", out, "3-回执-与上次相比", work),
            _page(merged, "报送文件来源", out, "4-汇总表-来源", work),
        ]
    say_written(shown)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "rounds")
