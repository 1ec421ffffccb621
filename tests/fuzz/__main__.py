"""Run the fuzz harness by hand: `python -m tests.fuzz --minutes 60`.

`--target returns` (the default) mutates returned files; `--target containers` wraps genuine
returns in mails and archives (nested two deep too) and mutates those, through the real
collect; `--target registers` mutates the registers, through the real init
(tests/fuzz/outer.py); `--target directories|forms|mappings` mutates the unit directory, a
received form and a mapping file, through directory --check, forward and register --update
(tests/fuzz/coordinator.py).

Prints a summary per format (iterations, outcomes per class) and writes every finding,
the mutated file and a JSON note of what was done to it, into --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from tests.fuzz.coordinator import TARGETS, run_coordinator
from tests.fuzz.harness import Summary, run
from tests.fuzz.outer import run_containers, run_registers


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz")
    parser.add_argument("--minutes", type=float, help="run this long")
    parser.add_argument("--rounds", type=int, help="or: this many passes over the seeds")
    parser.add_argument("--seed", type=int, default=1, help="the run's random seed")
    parser.add_argument(
        "--target", choices=("returns", "containers", "registers", *TARGETS), default="returns"
    )
    parser.add_argument("--formats", default="xlsx,xls,ods", help="returns: which formats")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"))
    parser.add_argument("--json", type=Path, help="write the summary here too")
    args = parser.parse_args()
    if args.minutes is None and args.rounds is None:
        args.minutes = 5.0

    def show(summary: Summary) -> None:
        total = sum(summary.iterations.values())
        rate = total / summary.seconds if summary.seconds else 0
        print(
            f"\r{summary.seconds:7.0f} s  {total} inputs ({rate:.0f}/s)  "
            f"findings {len(summary.findings)}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    seconds = args.minutes * 60 if args.minutes is not None else None
    with tempfile.TemporaryDirectory(prefix="xlflow-fuzz-") as tmp:
        if args.target == "containers":
            summary = run_containers(
                Path(tmp),
                run_seed=args.seed,
                rounds=args.rounds,
                seconds=seconds,
                workers=args.workers,
                out=args.out,
                progress=show,
            )
        elif args.target in TARGETS:
            summary = run_coordinator(
                Path(tmp),
                args.target,
                run_seed=args.seed,
                rounds=args.rounds,
                seconds=seconds,
                out=args.out,
                progress=show,
            )
        elif args.target == "registers":
            summary = run_registers(
                Path(tmp),
                run_seed=args.seed,
                rounds=args.rounds,
                seconds=seconds,
                out=args.out,
                progress=show,
            )
        else:
            summary = run(
                Path(tmp) / "ws",
                run_seed=args.seed,
                formats=set(args.formats.split(",")),
                rounds=args.rounds,
                seconds=seconds,
                workers=args.workers,
                out=args.out,
                progress=show,
            )
    print(file=sys.stderr)
    data = summary.to_dict()
    print(json.dumps(data, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
    return 1 if summary.findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
