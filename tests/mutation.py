"""A sampled mutation run over the modules issue 18 names, with mutmut (docs/testing.md).

    pip install mutmut
    python -m tests.mutation --sample 400 --seed 18 --report build/mutation.md
    python -m tests.mutation --sample 400 --seed 18 --again   # only what was not caught
    python -m tests.mutation --sample 400 --seed 18 --again   # only what survived, re-run

mutmut ([tool.mutmut] in pyproject.toml) makes every one-line mutant of validate, intake,
identify, signing, consolidate, status, register and reader (some 9,400), and runs, for
each, only the tests that call the mutated function, stopping at the first that fails.
A whole run takes many hours on 2 cores, so this draws a seeded sample, the same share of
each module, runs it, and writes the score and every surviving mutant with its diff.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

MODULES = (
    "intake.validate",
    "intake.scan",
    "intake.unpack",
    "intake.judge",
    "intake.compare",
    "intake.collect",
    "intake.identify",
    "signing",
    "reporting.workbook.figures",
    "reporting.workbook.book",
    "reporting.workbook.passes",
    "reporting.status",
    "register.parse",
    "reading.workbook",
    "reading.package",
    "reading.ooxml",
    "reading.ods",
    "reading.biff",
    "reading.reader",
)
KILLED = ("killed", "timeout")  # mutmut's score counts a timeout as caught
UNTESTED = ("no tests", "skipped", "not checked")


# collect's workers run in the test's own process, so that mutmut sees which tests call
# the reader's, identification's and validation's functions (xlflow.pool)
ENV = {**os.environ, "XLFLOW_POOL_IN_PROCESS": "1"}


def _mutmut(*args: str, check: bool = True) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        capture_output=True,
        text=True,
        check=False,
        env=ENV,
    )
    if check and done.returncode != 0:
        raise SystemExit(
            f"mutmut {' '.join(args[:2])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


def statuses() -> dict[str, str]:
    out = {}
    for line in _mutmut("results", "--all", "true").splitlines():
        match = re.match(r"\s*(xlflow\.\S+): (.+)$", line)
        if match:
            out[match.group(1)] = match.group(2).strip()
    return out


def draw(names: list[str], size: int, seed: int) -> list[str]:
    """The same share of each module's mutants, at least ten of each."""
    rng = random.Random(seed)
    by_module: dict[str, list[str]] = {m: [] for m in MODULES}
    for name in sorted(names):
        # xlflow.intake.validate.x_check__mutmut_3: the module is what lies between
        by_module[name.removeprefix("xlflow.").rsplit(".", 1)[0]].append(name)
    total = sum(len(v) for v in by_module.values())
    chosen = []
    for module in MODULES:
        pool = by_module[module]
        share = max(10, round(size * len(pool) / total))
        chosen += rng.sample(pool, min(share, len(pool)))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--report", type=Path, default=Path("build/mutation.md"))
    parser.add_argument(
        "--report-only", action="store_true", help="write the report of the last run"
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="run only the mutants the last run did not catch, against the tests as they are now",
    )
    args = parser.parse_args()
    kept = args.report.with_suffix(".json")  # each sampled mutant's status, run to run

    if not args.report_only:
        # makes every mutant and the test-to-function map; runs no mutant
        _mutmut("run", "xlflow.reporting.status.x_no_such_function__mutmut_1", check=False)
    names = sorted(statuses())
    if not names:
        raise SystemExit("mutmut made no mutants; see its output with: mutmut run")
    sample = draw(names, args.sample, args.seed)
    before: dict[str, str] = {}
    if args.again:
        before = json.loads(kept.read_text("utf-8"))
        if sorted(before) != sorted(sample):
            raise SystemExit("the sample differs from the last run's: run without --again")
    todo = [n for n in sample if before.get(n) not in KILLED]
    if not args.report_only:
        subprocess.run([sys.executable, "-m", "mutmut", "run", *todo], check=False, env=ENV)
    found = statuses()
    results = {n: found.get(n, "not checked") if n in todo else before[n] for n in sample}
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps(results, indent=1, sort_keys=True), "utf-8")
    counts = Counter(results.values())
    tested = sum(c for s, c in counts.items() if s not in UNTESTED)
    caught = sum(counts[s] for s in KILLED)
    score = 100 * caught / tested if tested else 0.0

    lines = [
        f"# Mutation run: {len(sample)} of {len(names)} mutants (seed {args.seed})",
        "",
        f"Score: **{score:.1f} %** ({caught} caught of {tested} run). "
        + ", ".join(f"{s}: {c}" for s, c in sorted(counts.items())),
        "",
        "| module | mutants | sampled | caught | survived |",
        "|---|---:|---:|---:|---:|",
    ]
    for module in MODULES:
        mine = {n: s for n, s in results.items() if n.split(".")[1] == module}
        lines.append(
            f"| {module} | {sum(1 for n in names if n.split('.')[1] == module)} | {len(mine)} | "
            f"{sum(1 for s in mine.values() if s in KILLED)} | "
            f"{sum(1 for s in mine.values() if s not in KILLED and s not in UNTESTED)} |"
        )
    survivors = [n for n, s in sorted(results.items()) if s not in KILLED]
    lines += ["", "## Not caught", ""]
    for name in survivors:
        diff = [
            line
            for line in _mutmut("show", name, check=False).splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        lines += [f"### {name} ({results[name]})", "", "```diff", *diff, "```", ""]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines), encoding="utf-8")
    print(f"score {score:.1f} % ({caught}/{tested}); report: {args.report}")


if __name__ == "__main__":
    main()
