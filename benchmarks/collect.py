"""Time `xlflow collect` against the naive script an office worker would write.

    python benchmarks/collect.py                    # 1000 divisions x 40 tasks
    python benchmarks/collect.py --divisions 250 --divisions 500 --divisions 1000

For each size it builds a working folder with a register of N divisions x T tasks,
generates every division's form with all values filled in (as pre-filled forms), puts
them in inbox/, then runs, on the same files in the same run:

- `xlflow collect` (the real command, in a subprocess): read, identify, verify the
  signature, validate every rule, record the ledger, archive, write N receipts;
- `xlflow collect --no-receipts`: the same without the receipts, on a copy;
- the naive approach: `pd.read_excel` on every file (sheet 填报, openpyxl engine, the
  pandas default), then `pd.concat`, with no validation at all.

It prints wall time, files per second and the peak resident memory of each, and the
speed-up. Nothing here is a test: the figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from xlflow.files import atomic_write
from xlflow.forms import build_specs, form_filename, render_form
from xlflow.ledger import Ledger
from xlflow.model import FileRecord, parse_round
from xlflow.signing import load_or_create_secret
from xlflow.workspace import Workspace, init_workspace

ROUND = "2019-H1"
STATUSES = ("已完成", "按计划推进", "进度滞后", "未启动")

NAIVE = """
import sys, time, glob
import pandas as pd
files = sorted(glob.glob(sys.argv[1] + "/*.xlsx"))
start = time.perf_counter()
frames = [pd.read_excel(f, sheet_name="填报", header=3, engine="openpyxl") for f in files]
table = pd.concat(frames, ignore_index=True)
print(time.perf_counter() - start, len(table))
"""

MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{wall} {peak} {done.returncode}")
if done.returncode:
    print(done.stderr, file=sys.stderr)
print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "", file=sys.stderr)
"""


def write_register(path: Path, divisions: int, tasks: int) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "序号",
                "重点任务",
                "主要内容",
                "主要任务",
                "责任处室",
                "2019年目标",
                "2022年目标",
                "2025年目标",
            ]
        )
        n = 0
        for d in range(divisions):
            for t in range(tasks):
                n += 1
                w.writerow(
                    [
                        n,
                        f"第{t % 6 + 1}组重点工作",
                        f"处室{d:04d}的第{t + 1}项任务",
                        "围绕年度目标，组织实施相关计划，推进重点项目建设，强化要素保障和督查考核。"
                        * 2,
                        f"第{d:04d}处",
                        "完成年度目标任务，形成可复制推广的经验做法。",
                        "持续推进",
                        "全面完成",
                    ]
                )


def _render(args: tuple[Any, ...]) -> None:
    spec, settings, created, path = args
    atomic_write(path, render_form(spec, settings, created))


def build(root: Path, divisions: int, tasks: int) -> Path:
    init_workspace(root)
    register = root / "templates" / "bench-register.csv"
    write_register(register, divisions, tasks)
    settings_path = root / "xlflow.toml"
    text = settings_path.read_text("utf-8").replace(
        'path = "templates/key-task-list.xlsx"', 'path = "templates/bench-register.csv"'
    )
    settings_path.write_text(text, "utf-8")
    ws = Workspace.open(root)
    reg = ws.register()
    rnd = parse_round(ROUND, deadline=dt.date(2099, 12, 31))
    secret = load_or_create_secret(ws.secret_path)
    answers = {}
    for d in reg.divisions:
        values = {}
        for n, (task, _) in enumerate(reg.tasks_of(d)):
            status = STATUSES[n % 4]
            values[task.id] = {
                "status": status,
                "percent": 100 if status == "已完成" else 10 + n % 80,
                "progress": f"{task.id}号任务本期完成调研、制定方案并组织实施，累计投入资金{n * 10}万元。",
                "problems": "资金拨付进度偏慢" if status == "进度滞后" else "",
                "next_steps": "继续按计划推进。",
            }
        answers[d] = FileRecord(
            path="", size=0, mtime=0, sha256="", round="R0", values=values,
            contact={"reporter": "张三", "phone": "0574-87654321"},
        )  # fmt: skip
    with Ledger(ws.ledger_path) as ledger:
        stored = ledger.record_round(rnd)
        specs = build_specs(reg, ws.settings, stored, secret, answers, "基准")
        created = ledger.round_created_at(rnd.id)
        jobs = [(s, ws.settings, created, ws.inbox / form_filename(s)) for s in specs]
        with ProcessPoolExecutor() as pool:
            list(pool.map(_render, jobs, chunksize=16))

        class Written:
            def __init__(self, path: Path) -> None:
                self.path = path
                self.sha256 = ""

        ledger.record_forms(
            rnd.id, specs, {s.division: Written(ws.inbox / form_filename(s)) for s in specs}
        )
    return ws.inbox


def measure(command: list[str]) -> tuple[float, int, str]:
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    wall, peak, code = done.stdout.split()
    if code != "0":
        raise SystemExit(f"{command[:3]} failed:\n{done.stderr}")
    return (
        float(wall),
        int(peak),
        done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "",
    )


def run(divisions: int, tasks: int, keep: bool) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="xlflow-bench-"))
    root = base / "work"
    t0 = time.perf_counter()
    inbox = build(root, divisions, tasks)
    setup = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in inbox.glob("*.xlsx"))
    lean = base / "lean"
    shutil.copytree(root, lean, symlinks=True)
    command = [sys.executable, "-m", "xlflow", "collect", "--round", ROUND, "-w"]
    naive_wall, naive_peak, naive_out = measure([sys.executable, "-c", NAIVE, str(inbox)])
    collect_wall, collect_peak, _ = measure([*command, str(root)])
    lean_wall, lean_peak, _ = measure([*command, str(lean), "--no-receipts"])
    again_wall, _, _ = measure([*command, str(root)])
    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        verdicts: dict[str, int] = {}
        for f in ledger.files(ROUND):
            verdicts[f.verdict.value] = verdicts.get(f.verdict.value, 0) + 1
    receipts = len(list((root / "outbox" / ROUND / "receipts").glob("*.xlsx")))
    result = {
        "files": divisions,
        "tasks_per_form": tasks,
        "inbox_mb": round(size / 1048576, 1),
        "setup_s": round(setup, 1),
        "naive_s": round(naive_wall, 2),
        "naive_read_loop_s": round(float(naive_out.split()[0]), 2),
        "naive_peak_mb": round(naive_peak / 1024, 1),
        "collect_s": round(collect_wall, 2),
        "collect_peak_mb": round(collect_peak / 1024, 1),
        "collect_speedup": round(naive_wall / collect_wall, 1),
        "collect_no_receipts_s": round(lean_wall, 2),
        "collect_no_receipts_peak_mb": round(lean_peak / 1024, 1),
        "collect_no_receipts_speedup": round(naive_wall / lean_wall, 1),
        "recollect_unchanged_s": round(again_wall, 2),
        "receipts": receipts,
        "verdicts": verdicts,
        "cpus": os.cpu_count(),
    }
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        result["folder"] = str(base)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--divisions", type=int, action="append", help="returned files (repeatable)"
    )
    parser.add_argument("--tasks", type=int, default=40, help="tasks per division")
    parser.add_argument("--keep", action="store_true", help="keep the generated working folder")
    args = parser.parse_args()
    for n in args.divisions or [1000]:
        print(json.dumps(run(n, args.tasks, args.keep), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
