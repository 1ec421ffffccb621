"""Capture the `--json` output of every command on one demo round, to compare two versions
of xlflow byte for byte (a refactoring must change none of them).

    python -m tests.capture_json make FOLDER        # a demo working folder, once
    python -m tests.capture_json run FOLDER OUT     # every command's --json, into OUT/
    diff -r OUT-before OUT-after

`run` works on a copy of FOLDER, so each capture starts from the same state. The paths of
the copy are written as <root>, and what depends on the clock (a decision's time) is made
fixed, so that two captures of the same code are identical.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROUND = "2019-H1"
REPO = Path(__file__).resolve().parents[1]


def _xlflow(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TZ": "Asia/Shanghai"}
    return subprocess.run(
        [sys.executable, "-m", "xlflow", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=cwd,
        check=False,
    )


def make(folder: Path) -> None:
    done = _xlflow("demo", str(folder), "--no-office")
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)


def _accepted_and_rejected(root: Path) -> tuple[str, str]:
    data = json.loads(_xlflow("collect", "-w", str(root), "--round", ROUND, "--json").stdout)
    files = data["files"]
    rejected = next((f["path"] for f in files if f["verdict"] == "rejected"), "")
    accepted = next((f["path"] for f in files if f["verdict"] == "accepted"), "")
    return accepted, rejected


def commands(root: Path) -> list[tuple[str, list[str]]]:
    w = ["-w", str(root)]
    r = ["--round", ROUND]
    accepted, rejected = _accepted_and_rejected(root)
    out = [
        ("register", ["register", *w, "--json"]),
        ("register-check", ["register", "--check", str(REPO / "templates" / "key-task-list.xlsx"), "--json"]),
        ("status", ["status", *w, *r, "--json"]),
        ("history", ["history", *w, "--json"]),
        ("history-5", ["history", *w, "--task", "5", "--json"]),
        ("collect", ["collect", *w, *r, "--json"]),
        ("merge", ["merge", *w, *r, "--json"]),
        ("remind", ["remind", *w, *r, "--json"]),
        ("report", ["report", *w, *r, "--json"]),
        ("generate-again", ["generate", *w, "--round", "2019-H2", "--json"]),
    ]  # fmt: skip
    if rejected:
        out.append(("accept", ["accept", *w, *r, rejected, "--reason", "电话确认", "--by", "办公室", "--json"]))  # fmt: skip
        out.append(("undo", ["undo", *w, *r, rejected, "--by", "办公室", "--json"]))
    if accepted:
        out.append(("exclude", ["exclude", *w, *r, accepted, "--reason", "测试", "--by", "办公室", "--json"]))  # fmt: skip
    out.append(("status-after", ["status", *w, *r, "--json"]))
    return out


def _clock() -> re.Pattern[str]:
    """Times of today, as the run wrote them (a collect's, a decision's): not the round's."""
    import datetime as dt

    today = dt.date.today().isoformat()
    return re.compile(re.escape(today) + r"[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


def run(folder: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="xlflow-capture-") as tmp:
        root = Path(tmp) / "work"
        shutil.copytree(folder, root, symlinks=True)
        for name, args in commands(root):
            done = _xlflow(*args)
            text = done.stdout.replace(str(root), "<root>").replace(tmp, "<tmp>")
            text = _clock().sub("<time>", text)
            (out / f"{name}.json").write_text(
                f"exit {done.returncode}\n{text}\n--- stderr\n{done.stderr.replace(str(root), '<root>')}",
                "utf-8",
            )


def main() -> int:
    verb, *rest = sys.argv[1:]
    if verb == "make":
        make(Path(rest[0]))
    elif verb == "run":
        run(Path(rest[0]), Path(rest[1]))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
