"""Time every step of a round at provincial scale, against the naive script, in one run.

    python benchmarks/bench.py                           # N = 300, 1000, 3000, 10000
    python benchmarks/bench.py --n 300 --n 2000 --repeat 3
    python benchmarks/bench.py --n 5 --repeat 1 --quick  # only proves it still works (CI)

For each N it builds a working folder whose register gives N divisions 40 tasks each (up
to 40,000 tasks; beyond 1,000 divisions they share them, see write_register), runs
`xlflow generate`, fills every form with openpyxl as a division's office would (status,
percent, three texts, the contact block) and saves it into inbox/. Then, on those same
files and in the same run, each in a fresh process:

- **naive**: the loop an office worker would write, `[pd.read_excel(f, sheet_name="填报")
  for f in files]`: it reads only the task sheet, by name, and checks nothing;
- **collect**: `xlflow collect`, the real command with 2 workers: every file
  type-checked, zip- and XML-checked, read, identified, signature-verified, validated
  against every rule, archived, recorded in the ledger, and a receipt written for every
  division;
- **per return**: the same per-file work (read, identify, validate, receipt) in one
  process, in a loop over all the returns, divided by N;
- **register**: `xlflow register`, once, uncounted in the rest: the register parsed and
  kept, which the first command on a new register does and every later one skips;
- **generate**: `xlflow generate` for the N forms, the register already parsed;
- **merge**: `xlflow merge`, one detail row per task: 40 × N rows, at most 40,000.

Each figure is the median of --repeat runs (3 by default); peak memory is the largest
resident set of any one process (the command or one of its workers). The results go to
--json, and a log–log plot of time and memory against N to --plot (matplotlib, from the
`bench` extra). Nothing here asserts a time: the figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROUND = "2019-H1"
TASKS = 40
MAX_TASKS = 40_000
STATUSES = ("已完成", "按计划推进", "进度滞后", "未启动")

NAIVE = """
import glob, sys, time
import pandas as pd
files = sorted(glob.glob(sys.argv[1] + "/*.xlsx"))
start = time.perf_counter()
frames = [pd.read_excel(f, sheet_name="填报") for f in files]
print(time.perf_counter() - start, len(frames))
"""

# Runs a command and reports its wall time and the peak resident set of its largest process.
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{wall} {peak} {done.returncode}")
if done.returncode:
    print(done.stderr[-2000:], file=sys.stderr)
"""

# The per-file work of collect, in one process: read, identify, validate, and the receipt.
PER_RETURN = """
import sys, time
from pathlib import Path
from xlflow.intake.collect import _intake_context
from xlflow.intake.judge import ReadJob, check_file
from xlflow.ledger.book import Ledger
from xlflow.intake.receipts import ReceiptInput, render_receipt
from xlflow.workspace import Workspace
ws = Workspace.open(sys.argv[1])
with Ledger(ws.ledger_path) as ledger:
    rnd = ledger.load_round(sys.argv[2])
    ctx, _ = _intake_context(ws, ledger, rnd)
files = sorted(ws.inbox.glob("*.xlsx"))
data = [f.read_bytes() for f in files]
start = time.perf_counter()
for f, d in zip(files, data):
    record = check_file(ctx, ReadJob(str(f), f.name, len(d), 0.0, ""), d)
    spec = ctx.forms.get(record.division)
    render_receipt(ReceiptInput(record.division, rnd, record, (), spec), ws.settings)
print(time.perf_counter() - start, len(files))
"""


def write_register(path: Path, divisions: int) -> None:
    """N divisions with 40 tasks each. Up to 1,000 divisions every one leads its own 40;
    beyond that the register stays at 40,000 tasks and divisions share them (a task led by
    one and co-operated by the others), as when many units report on one list."""
    blocks = min(divisions, MAX_TASKS // TASKS)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["序号", "重点任务", "主要内容", "主要任务", "责任处室", "2019年目标", "2022年目标", "2025年目标"])  # fmt: skip
        n = 0
        for b in range(blocks):
            units = "、".join(f"第{d:05d}处" for d in range(b, divisions, blocks))
            for t in range(TASKS):
                n += 1
                w.writerow(
                    [
                        n,
                        f"第{t * 6 // TASKS + 1}组重点工作",
                        f"第{b:05d}组的第{t + 1}项任务",
                        "围绕年度目标，组织实施相关计划，推进重点项目建设，强化要素保障和督查考核。" * 2,
                        units,
                        "完成年度目标任务，形成可复制推广的经验做法。",
                        "持续推进",
                        "全面完成",
                    ]
                )  # fmt: skip


def _fill(job: tuple[str, str, int]) -> None:
    """Fill one form as a division would, with openpyxl, and save it into the inbox."""
    import openpyxl

    form, target, seed = job
    wb = openpyxl.load_workbook(form)
    ws = wb["填报"]
    header = next(r for r in range(1, 10) if ws.cell(r, 1).value == "序号")
    cols = {ws.cell(header, c).value: c for c in range(1, ws.max_column + 1)}
    r = header + 1
    while isinstance(ws.cell(r, 1).value, str) and ws.cell(r, 1).value.isdigit():
        n = r + seed
        status = STATUSES[n % 4]
        ws.cell(r, cols["完成状态"]).value = status
        ws.cell(r, cols["完成进度(%)"]).value = 100 if status == "已完成" else 10 + n % 80
        ws.cell(
            r, cols["进展情况"]
        ).value = f"本期完成调研、制定方案并组织实施，累计投入资金{n * 10}万元。"
        ws.cell(r, cols["存在问题"]).value = "资金拨付进度偏慢" if status == "进度滞后" else None
        ws.cell(r, cols["下步打算"]).value = "继续按计划推进。"
        r += 1
    for row in ws.iter_rows(min_row=r):
        for cell in row:
            label = str(cell.value or "").split("：")[0]
            value = {"填报人": "张三", "联系电话": "0574-87654321"}.get(label)
            if value and "：" in str(cell.value):
                merged = next((m for m in ws.merged_cells.ranges if cell.coordinate in m), None)
                ws.cell(cell.row, (merged.max_col if merged else cell.column) + 1).value = value
    wb.save(target)


# Python may keep the bytecode it compiles, as it does on a user's machine (pip compiles it
# on install): a caller's PYTHONDONTWRITEBYTECODE (CI sets it) would make every run of a
# fresh clone compile xlflow again, some 0.2 s that a run at N = 5 is mostly made of
RUNS_WITH = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compiled() -> None:
    """xlflow's bytecode written, as pip writes it on install, so that no counted run
    compiles a module for the first time."""
    import xlflow

    package = str(Path(xlflow.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True, env=RUNS_WITH)


def measure(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak MiB of the largest process) of a command in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, env=RUNS_WITH
    )
    wall, peak, code = done.stdout.split()
    if code != "0":
        raise SystemExit(f"{command[:4]} failed:\n{done.stderr}")
    return float(wall), int(peak) / 1024


def timed(command: list[str]) -> float:
    """The seconds a script reports for its own loop (start-up not counted)."""
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=RUNS_WITH)
    return float(done.stdout.split()[0])


def xlflow(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "xlflow", *args, "-w", str(root)]


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def make_folder(root: Path, n: int) -> None:
    """A working folder whose register gives n divisions 40 tasks each."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from xlflow.register.init import init_workspace

    init_workspace(root)
    write_register(root / "templates" / "bench.csv", n)
    settings = root / "xlflow.toml"
    settings.write_text(
        settings.read_text("utf-8").replace("templates/key-task-list.xlsx", "templates/bench.csv"),
        "utf-8",
    )


def run(n: int, repeat: int, base: Path) -> dict[str, Any]:
    root = base / f"n{n}"
    make_folder(root, n)
    compiled()
    # the register is parsed once, on first use, and kept: parsed here, outside the
    # counted runs, so that each generate does what every one after the first does
    register_s, register_mb = measure(xlflow(root, "register"))
    generate = xlflow(root, "generate", "--round", ROUND, "--deadline", "2099-12-31")
    generate_runs = [measure(generate) for _ in range(repeat)]
    forms = sorted((root / "outbox" / ROUND / "forms").glob("*.xlsx"))
    started = time.perf_counter()
    jobs = [(str(f), str(root / "inbox" / f.name), i) for i, f in enumerate(forms)]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_fill, jobs, chunksize=8))
    filled = time.perf_counter() - started
    fresh = base / f"n{n}-fresh"
    shutil.copytree(root, fresh)

    naive = [sys.executable, "-c", NAIVE, str(root / "inbox")]
    naive_runs, collect_runs = [], []
    for _ in range(repeat):
        naive_runs.append(measure(naive))
        shutil.rmtree(root)
        shutil.copytree(fresh, root)  # every collect starts from the same folder, no ledger rows
        collect_runs.append(measure(xlflow(root, "collect", "--round", ROUND)))
    per_return = [
        timed([sys.executable, "-c", PER_RETURN, str(root), ROUND]) for _ in range(repeat)
    ]
    merge_runs = [measure(xlflow(root, "merge", "--round", ROUND)) for _ in range(repeat)]
    naive_s = median([w for w, _ in naive_runs])
    collect_s = median([w for w, _ in collect_runs])
    walls = {
        "naive_s": [w for w, _ in naive_runs],
        "collect_s": [w for w, _ in collect_runs],
        "generate_s": [w for w, _ in generate_runs],
        "merge_s": [w for w, _ in merge_runs],
    }
    return {
        # how far apart the runs of each step were, as a share of their median: the noise
        # a comparison with a baseline must look past
        "spread": {k: _spread(v) for k, v in walls.items()},
        "returns": n,
        "rows": min(n * TASKS, MAX_TASKS),
        "fill_s": round(filled, 1),
        "register_s": round(register_s, 3),
        "register_peak_mb": round(register_mb, 1),
        "naive_s": naive_s,
        "naive_peak_mb": median([m for _, m in naive_runs]),
        "collect_s": collect_s,
        "collect_peak_mb": median([m for _, m in collect_runs]),
        "speedup": round(naive_s / collect_s, 1),
        "returns_per_s": round(n / collect_s),
        "per_return_ms": round(median(per_return) / n * 1000, 2),
        "generate_s": median([w for w, _ in generate_runs]),
        "generate_peak_mb": median([m for _, m in generate_runs]),
        "forms_per_s": round(n / median([w for w, _ in generate_runs])),
        "merge_s": median([w for w, _ in merge_runs]),
        "merge_peak_mb": median([m for _, m in merge_runs]),
        "repeat": repeat,
    }


def _spread(values: list[float]) -> float:
    return round((max(values) - min(values)) / max(statistics.median(values), 1e-9), 3)


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["returns"] for r in results]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    steps = ("naive pd.read_excel", "xlflow collect", "xlflow generate", "xlflow merge")
    for ax, suffix, ylabel, title in (
        (axes[0], "_s", "seconds (median)", "Time"),
        (axes[1], "_peak_mb", "peak resident MiB, largest process", "Memory"),
    ):
        for step, label in zip(("naive", "collect", "generate", "merge"), steps, strict=True):
            ax.loglog(n, [r[step + suffix] for r in results], marker="o", label=label)
        if suffix == "_s":
            # what linear growth looks like from the first size: a line of slope one
            first = results[0]
            for step in ("naive", "collect", "generate"):
                ax.loglog(
                    n, [first[step + suffix] * k / n[0] for k in n], color="grey",
                    linestyle=":", linewidth=0.8,
                )  # fmt: skip
            ax.plot([], [], color="grey", linestyle=":", label="∝ N (linear)")
        ax.set_xlabel("returns (forms), 40 tasks each")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# the steps a comparison names, and the least noise granted to each (one run of a tiny
# size in CI varies by this much on a quiet machine)
YARDSTICK = "naive_s"  # the same pandas loop in every release: the machine's speed
COMPARED = ("generate_s", "collect_s", "merge_s")
LEAST_NOISE = 0.15


def compare(results: list[dict[str, Any]], baseline: dict[str, Any]) -> list[str]:
    """Lines that set each step of this run beside the baseline's figure for the same N,
    naming every step slower by more than the noise measured for it.

    The naive pandas loop, run in both, is the yardstick: this shared machine's speed moves
    by a factor of three from one day to the next (the same release's merge took 1.2 s one
    day and 3.5 s another), so a step is judged by its ratio to the baseline divided by the
    naive loop's, and the raw ratio is shown beside it; a step is named slower (or faster)
    only where both ratios pass the noise."""
    kept = {r["returns"]: r for r in baseline["results"]}
    lines = []
    for result in results:
        then = kept.get(result["returns"])
        if then is None:
            lines.append(f"N = {result['returns']}: the baseline has no figures for this size")
            continue
        machine = result[YARDSTICK] / max(then[YARDSTICK], 1e-9)
        lines.append(
            f"N = {result['returns']:>5}  the machine: the naive loop {then[YARDSTICK]:.3f} s -> "
            f"{result[YARDSTICK]:.3f} s, x{machine:.2f}"
        )
        for step in COMPARED:
            spreads = (then.get("spread", {}), result.get("spread", {}))
            noise = max(LEAST_NOISE, *(s.get(k, 0.0) for s in spreads for k in (step, YARDSTICK)))
            ratio = result[step] / max(then[step], 1e-9)
            judged = ratio / machine
            # both must say so: the naive loop of one short run is noisy too, and a faster
            # day's yardstick alone must not make an unchanged step look slower
            if min(ratio, judged) > 1 + noise:
                verdict = "SLOWER"
            elif max(ratio, judged) < 1 - noise:
                verdict = "faster"
            else:
                verdict = "same"
            lines.append(
                f"N = {result['returns']:>5}  {step:<11} {then[step]:>8.3f} s -> {result[step]:>8.3f} s"
                f"  x{ratio:.2f}, x{judged:.2f} for the machine  (noise ±{noise:.0%})  {verdict}"
            )
    return lines


def machine() -> dict[str, Any]:
    import python_calamine  # noqa: F401

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, action="append", help="returns (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--quick", action="store_true", help="a tiny run that only shows it works")
    parser.add_argument("--keep", action="store_true", help="keep the working folders")
    parser.add_argument(
        "--compare",
        type=Path,
        help="a baseline (a --json of an earlier run): name every step slower than its noise",
    )
    parser.add_argument(
        "--from",
        dest="sources",
        type=Path,
        action="append",
        help="plot or compare the results of earlier --json runs instead of running (repeatable)",
    )
    args = parser.parse_args()
    if args.sources:
        loaded = [json.loads(p.read_text("utf-8")) for p in args.sources]
        results = sorted((r for d in loaded for r in d["results"]), key=lambda r: r["returns"])
        report_on(results, loaded[0]["machine"], args)
        return
    sizes = args.n or ([5] if args.quick else [300, 1000, 3000, 10000])
    base = Path(tempfile.mkdtemp(prefix="xlflow-bench-"))
    results = []
    try:
        for n in sizes:
            result = run(n, args.repeat, base)
            results.append(result)
            print(json.dumps(result, ensure_ascii=False), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    report_on(results, machine(), args)


def report_on(results: list[dict[str, Any]], made_on: dict[str, Any], args: Any) -> None:
    """Write the results (--json), plot them (--plot) and compare them (--compare)."""
    report = {"machine": made_on, "results": results}
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    if args.plot:
        plot(results, args.plot)
    if args.compare:
        baseline = json.loads(args.compare.read_text("utf-8"))
        print(f"against {args.compare} ({baseline['machine'].get('date', '?')}):")
        for line in compare(results, baseline):
            print("  " + line)


if __name__ == "__main__":
    main()
