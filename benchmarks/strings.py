"""Inline strings or a shared-string table for the consolidated workbook (issue #40, item 4).

XlsxWriter streams rows to disk only in its constant_memory mode, and that mode writes
every text as an inline string; a shared-string table needs every row held until the
workbook closes. WPS for Windows 2021 was reported unable to open inline strings, and the
consolidated workbook is what leadership opens, often in WPS. This measures what each
costs, on one working folder, in one sitting:

    python benchmarks/strings.py --n 1000 --repeat 3     # 1,000 divisions x 40: 40,000 rows

- **inline**: `xlflow merge` as it is (streamed above STREAM_ABOVE tasks);
- **shared**: the same merge with every row held (STREAM_ABOVE raised past the round), so
  XlsxWriter writes a shared-string table.

Each figure is the median of --repeat runs: wall seconds, the peak resident set of the
largest process, and the workbook's size. Nothing here asserts anything; the figures go in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROUND, _fill, make_folder, measure, median, xlflow

HELD = (
    "import sys, importlib\n"
    "consolidate = importlib.import_module('xlflow.reporting.workbook.book')\n"
    "consolidate.STREAM_ABOVE = 10 ** 9\n"
    "from xlflow.cli.main import main\n"
    "sys.argv = ['xlflow', *sys.argv[1:]]\n"
    "main()\n"
)


def build(root: Path, n: int) -> None:
    """A folder of n divisions x 40 tasks, every form filled and collected."""
    make_folder(root, n)
    measure(xlflow(root, "generate", "--round", ROUND, "--deadline", "2099-12-31"))
    forms = sorted((root / "outbox" / ROUND / "forms").glob("*.xlsx"))
    jobs = [(str(f), str(root / "inbox" / f.name), i) for i, f in enumerate(forms)]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_fill, jobs, chunksize=8))
    measure(xlflow(root, "collect", "--round", ROUND, "--no-receipts"))


def merged(root: Path, held: bool) -> tuple[float, float, float, bool]:
    args = ["merge", "--round", ROUND, "-w", str(root)]
    command = [sys.executable, "-c", HELD, *args] if held else xlflow(root, *args[:-2])
    wall, peak = measure(command)
    path = next((root / "outbox" / ROUND).glob("*汇总*.xlsx"))
    with zipfile.ZipFile(path) as zf:
        shared = "xl/sharedStrings.xml" in zf.namelist()
    return wall, peak, path.stat().st_size / 2**20, shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="xlflow-strings-"))
    try:
        root = base / "w"
        build(root, args.n)
        out = {}
        for name, held in (("inline", False), ("shared", True)):
            runs = [merged(root, held) for _ in range(args.repeat)]
            out[name] = {
                "shared_string_table": runs[-1][3],
                "merge_s": median([r[0] for r in runs]),
                "peak_mb": median([r[1] for r in runs]),
                "file_mb": round(runs[-1][2], 2),
            }
        result = {"divisions": args.n, "rows": args.n * 40, "repeat": args.repeat, **out}
        print(json.dumps(result, indent=1))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1), "utf-8")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
