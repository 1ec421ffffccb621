"""Fuzzing the files a coordinator hands xlflow: unit directories, received forms (to
forward) and register mapping files, each through the real command (issue #38).

- `directories`: the working folder's 单位名录 as .xlsx (mutated as a package) and as CSV,
  saved in every encoding and line end Excel, WPS and LibreOffice use, then mutated as text:
  quotes that do not pair, a field past the csv module's limit, control characters, NUL,
  bytes that are no encoding, the file cut short. Through `xlflow directory --check`.
- `forms`: a generated form, its unsigned `form_settings` replaced by every JSON shape
  (an empty object, a number, a list, tables that are not tables), or mutated as a package.
  Through `xlflow forward FORM --to 甲科、乙科` into a new folder.
- `mappings`: the mapping file `register --write-mapping` writes, saved as above and mutated
  as text. Through `xlflow register --update NEW --mapping FILE`.

A finding is an exception that escaped the command (`exception`), a message holding an
exception's text (`exception-text`), a reader that crashed, hung or raised inside its worker
(`abort`, `hang`, `exception`: contained, but a reader should refuse in words), an exit code
outside 0-3, or (forms) a child folder left behind by a refused forward.
"""

from __future__ import annotations

import codecs
import io
import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from xlflow.cli.main import main

from ..conftest import s4_working_folder
from .harness import Summary, build_workspace, keep_finding, mutate_zip
from .outer import _CAUGHT, EXCEPTION_TEXT, mutate_archive_zip

REPO = Path(__file__).resolve().parents[2]
S4 = REPO / "tests" / "data" / "s4"
TARGETS = ("directories", "forms", "mappings")

_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "utf-16", "gb18030")
_LINE_ENDS = ("\r\n", "\n", "\r")
_TEXT_JUNK = ('"', '""', "\0", "\x1b[31m", "\x85", "\u202e", ",", "\t", "；", "\r", "\n",
              "x" * 140_000, '"' + "y" * 140_000, "\ufeff", "=cmd|' /C calc'!A0")  # fmt: skip


def mutate_csv(text: str, rng: random.Random) -> tuple[bytes, str]:
    """A CSV as some program saved it (encoding, line ends), and often then junk put in,
    or the bytes cut or flipped."""
    encoding, line_end = rng.choice(_ENCODINGS), rng.choice(_LINE_ENDS)
    what = [f"{encoding}, {line_end!r}"]
    body = line_end.join(text.splitlines()) + line_end
    roll = rng.random()
    if roll < 0.2:
        pass  # only saved another way: it must read as the original does
    elif roll < 0.6:
        junk = rng.choice(_TEXT_JUNK)
        at = rng.randrange(len(body) + 1)
        body = body[:at] + junk + body[at:]
        what.append(f"{junk[:12]!r}{'…' if len(junk) > 12 else ''} at {at}")
    data = body.encode(encoding, "replace")
    if 0.6 <= roll < 0.8:
        at = rng.randrange(len(data) + 1)
        data = data[:at]
        what.append(f"cut at {at}")
    elif roll >= 0.8:
        buf = bytearray(data)
        at = rng.randrange(len(buf))
        buf[at] = rng.choice((0, 0xFF, 0x80, 0x0D, 0x22, buf[at] ^ 0x40))
        data = bytes(buf)
        what.append(f"byte {at} = {buf[at]}")
    return data, "; ".join(what)


_SHAPES = ("{}", "0", "1.5", "true", '""', "[]", "null", '{"fields": {}}',
           '{"fields": [], "contact": []}', '{"fields": [1], "contact": []}',
           '{"fields": [{}], "contact": [{}]}', '{"office": 5}', '{"round": []}',
           '{"columns": {"group": 3}}', "{")  # fmt: skip


def mutate_form(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A received form whose form_settings takes another shape, one of its keys dropped or
    retyped, or the package mutated."""
    roll = rng.random()
    if roll < 0.25:
        return mutate_zip(data, rng, "xlsx")
    if roll < 0.35:
        return mutate_archive_zip(data, rng)
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["_xlflow"]
    row = next(r for r in sheet.iter_rows() if r[0].value == "form_settings")
    settings = json.loads(str(row[1].value))
    if roll < 0.7:
        value = rng.choice(_SHAPES)
    else:
        key = rng.choice(sorted(settings))
        if rng.random() < 0.5:
            settings.pop(key)
            what = f"without {key}"
        else:
            settings[key] = rng.choice((0, "", [], {}, None, [0], {"x": []}))
            what = f"{key} = {settings[key]!r}"
        value = json.dumps(settings, ensure_ascii=False)
        row[1].value = value
        out = io.BytesIO()
        book.save(out)
        return out.getvalue(), f"form_settings {what}"
    row[1].value = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), f"form_settings = {value}"


def _invoke(args: list[str]) -> tuple[str, list[str]] | str:
    """A command's outcome: a finding (class, detail), or what became of the input."""
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        return ("exception", [f"{type(exc).__name__}: {exc}"[:300]])
    said = result.output
    if result.exit_code not in (0, 1, 2, 3):
        return ("exit-code", [f"exit {result.exit_code}", said[-300:]])
    if EXCEPTION_TEXT.search(said):
        return ("exception-text", [said[-300:]])
    if any(c in said for c in _CAUGHT):
        return ("exception", [said[-300:]])
    if "异常终止" in said:
        return ("abort", [said[-300:]])
    if "仍未完成" in said:
        return ("hang", [said[-300:]])
    return {0: "read", 1: "problems", 2: "usage", 3: "refused"}[result.exit_code]


def _directory_csv(xlsx: Path) -> str:
    book = openpyxl.load_workbook(xlsx, read_only=True)
    rows = [["" if v is None else str(v) for v in r] for r in book.worksheets[0].iter_rows(values_only=True)]  # fmt: skip
    out = io.StringIO()
    import csv

    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def run_coordinator(
    root: Path,
    target: str,
    *,
    run_seed: int,
    rounds: int | None = None,
    seconds: float | None = None,
    out: Path | None = None,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """One of TARGETS, mutated, each input through its real command."""
    template = root / "template"
    if target == "mappings":
        s4_working_folder(template)
    else:
        build_workspace(template)
    directory = template / "templates" / "单位名录.xlsx"
    seeds: list[tuple[str, bytes | str]] = []
    if target == "directories":
        seeds = [("单位名录.xlsx", directory.read_bytes()), ("单位名录.csv", _directory_csv(directory))]  # fmt: skip
    elif target == "forms":
        form = next((template / "outbox").rglob("*.xlsx"))
        seeds = [("填报表.xlsx", form.read_bytes())]
    else:
        written = codecs.decode((S4 / "R-mapping-genuine.csv").read_bytes(), "utf-8-sig")
        # as the coordinator hands it back: every pair confirmed
        confirmed = "\n".join(line + "是" if line.endswith(",") else line for line in written.splitlines())  # fmt: skip
        seeds = [("对照表.csv", confirmed)]
    summary = Summary()
    started = time.monotonic()
    n = 0
    while True:
        for name, seed in seeds:
            rng = random.Random(f"{run_seed}:{target}:{name}:{n}")
            if isinstance(seed, str):
                data, what = mutate_csv(seed, rng)
            elif target == "forms":
                data, what = mutate_form(seed, rng)
            else:
                data, what = mutate_zip(seed, rng, "xlsx")
            folder = root / "run"
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(template, folder)
            outcome = _one(target, folder, name, data)
            fmt = Path(name).suffix.lstrip(".")
            summary.iterations[fmt] += 1
            if isinstance(outcome, str):
                summary.add(fmt, outcome)
            else:
                summary.add(fmt, f"finding: {outcome[0]}")
                finding = {"class": outcome[0], "seed": name, "iteration": n, "mutation": what, "detail": outcome[1]}  # fmt: skip
                keep_finding(summary, out, finding, data, f"{outcome[0]}-{target}-{n}", Path(name).suffix)  # fmt: skip
        n += 1
        if summary.tick(started, progress, n, rounds, seconds):
            return summary


def _one(target: str, folder: Path, name: str, data: bytes) -> tuple[str, list[str]] | str:
    if target == "directories":
        for old in ("单位名录.xlsx", "单位名录.csv"):
            (folder / "templates" / old).unlink(missing_ok=True)
        (folder / "templates" / name).write_bytes(data)
        return _invoke(["directory", "-w", str(folder), "--check"])
    if target == "forms":
        given = folder / "received" / name
        given.parent.mkdir()
        given.write_bytes(data)
        child = folder / "child"
        outcome = _invoke(["forward", str(given), "--to", "甲科、乙科", "-w", str(child)])
        if outcome in ("refused", "usage") and child.exists():
            return ("left-behind", [f"{outcome}, and the child folder was left"])
        return outcome
    given = folder / "in" / name
    given.parent.mkdir()
    given.write_bytes(data)
    revised = S4 / "R-revised-register.xlsx"
    return _invoke(["register", "-w", str(folder), "--update", str(revised), "--mapping", str(given)])  # fmt: skip
