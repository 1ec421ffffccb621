"""Fuzzing the returned-file check: structure-aware mutations of genuine returns.

Every input is a mutation of a seed (a genuine return, tests/data/fuzz/seeds/) and goes
through `check_file`, the per-file check `collect` runs, in a worker process with a
memory cap and a time limit (xlflow's own IsolatedPool). A finding is:

- `exception`: an exception escaped the per-file check;
- `hang` or `abort` (a crash, or memory exhausted): the worker did not come back;
- `wrong-value`: the file was accepted, and its task sheet reads differently in xlflow
  than in an independent reader of the same bytes (openpyxl for .xlsx, xlrd for .xls,
  odfpy for .ods);
- `unverified-value`: accepted with values that differ from the seed's, while the
  independent reader cannot read the file at all.

The last two are the differential check that would have caught F1, where a shared-string
index `abc` read as the first string and the file was accepted.

`python -m tests.fuzz --minutes 60` runs it by hand (see docs/security.md);
tests/test_fuzz.py runs a short, deterministic run in CI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import random
import re
import struct
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlflow.generate.forms import generate_forms
from xlflow.intake.judge import ReadJob, check_file, read_return
from xlflow.issues import Severity, Verdict
from xlflow.ledger.book import Ledger
from xlflow.ledger.readers import FormStore
from xlflow.model import IntakeContext, parse_round
from xlflow.pool import IsolatedPool, JobFailure
from xlflow.register.init import init_workspace
from xlflow.signing import load_or_create_secret
from xlflow.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "tests" / "data" / "fuzz" / "seeds"
ROUND = "2019-H1"
# a fixed secret, so that the committed seeds verify in every workspace the harness builds
SECRET = "f0220ed5" * 8
TASK_SHEET = "填报"
SUFFIX = {"xlsx": ".xlsx", "xls": ".xls", "ods": ".ods"}


def build_workspace(root: Path) -> tuple[Workspace, dict[str, Path]]:
    """A working folder with the bundled register, the fixed secret and the round's forms."""
    init_workspace(root)
    ws = Workspace.open(root)
    ws.state.mkdir(parents=True, exist_ok=True)
    fd = os.open(ws.secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(SECRET)
    result = generate_forms(ws, parse_round(ROUND))
    return ws, {f.division: f.path for f in result.forms}


def intake_context(ws: Workspace) -> IntakeContext:
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.get_round(ROUND)
    assert rnd is not None
    return IntakeContext(
        settings=ws.settings,
        round=rnd,
        forms=FormStore(ws.ledger_path, rnd),
        secret=load_or_create_secret(ws.secret_path),
    )


@dataclass(frozen=True)
class Seed:
    name: str
    fmt: str
    data: bytes
    values: dict[str, dict[str, Any]]  # what the genuine return reads as
    grid: tuple[tuple[Any, ...], ...] = ()  # its task sheet, as xlflow reads it


def load_seeds(ctx: IntakeContext) -> list[Seed]:
    seeds = []
    for path in sorted(SEEDS.iterdir()):
        fmt = path.suffix.lstrip(".")  # 00.lo.xlsx (saved by LibreOffice) is an xlsx
        if fmt not in SUFFIX:
            continue
        data = path.read_bytes()
        record = _check(ctx, data, fmt)
        if record.verdict is not Verdict.ACCEPTED:
            raise RuntimeError(
                f"seed {path.name} is not accepted ({[i.code.value for i in record.issues]}); "
                "remake the seeds: python -m tests.fuzz.make_seeds"
            )
        seeds.append(Seed(path.name, fmt, data, record.values, _grid(data, fmt, ctx)))
    return seeds


def _grid(data: bytes, fmt: str, ctx: IntakeContext) -> tuple[tuple[Any, ...], ...]:
    read = read_return(data, SUFFIX[fmt], ctx.settings).workbook
    sheet = read.sheet(TASK_SHEET) if read else None
    return tuple(tuple(_normal(v) for v in row) for row in (sheet.rows if sheet else []))


def _check(ctx: IntakeContext, data: bytes, fmt: str) -> Any:
    name = f"return{SUFFIX[fmt]}"
    job = ReadJob(path=name, rel=name, size=len(data), mtime=0.0, sha256="")
    return check_file(ctx, job, data)


# --- mutations: each takes the seed's bytes and a random source, and says what it did ---

INTERESTING: tuple[bytes, ...] = (
    b"-1", b"0", b"1", b"2", b"1.5", b"abc", b"", b"#DIV/0!", b"1e400", b"NaN", b"-0",
    b"2147483648", b"18446744073709551616", b"XFD1048576", b"A0", b"1048577", b"\xe4\xb8\xad",
    b" 1", b"01", b"0x10", b"9" * 40, b"true", b"&amp;", b"&#0;", b"-2147483649",
)  # fmt: skip
_ATTRIBUTE = re.compile(rb'(\s[\w:.-]+=")([^"]*)(")')
_TEXT = re.compile(rb">([^<>]{1,200})<")
_START = re.compile(rb"<([\w:.-]+)\b[^>]*?(/?)>")
_REPEAT = re.compile(rb'(table:number-(?:columns|rows)-(?:repeated|spanned)=")([^"]*)(")')


def _pick(rng: random.Random, matches: list[re.Match[bytes]]) -> re.Match[bytes] | None:
    return rng.choice(matches) if matches else None


def mutate_xml(xml: bytes, rng: random.Random, part: str) -> tuple[bytes, str]:
    """One structure-aware change to an XML part: an attribute or text value, an element
    dropped, repeated or renamed, an attribute dropped, the part cut short, or junk."""
    op = rng.choice(
        ("attribute", "attribute", "text", "text", "drop", "repeat", "rename", "unattr",
         "truncate", "junk", "repeat-count")
    )  # fmt: skip
    if op == "repeat-count":
        m = _pick(rng, list(_REPEAT.finditer(xml)))
        if m is not None:
            value = rng.choice(INTERESTING)
            return xml[: m.start(2)] + value + xml[m.end(2) :], f"{part}: {m.group(1)!r}{value!r}"
        op = "attribute"
    if op in ("attribute", "unattr"):
        m = _pick(rng, list(_ATTRIBUTE.finditer(xml)))
        if m is None:
            return xml, f"{part}: no attribute"
        if op == "unattr":
            return xml[: m.start()] + xml[m.end() :], f"{part}: dropped {m.group(0)[:40]!r}"
        value = rng.choice(INTERESTING)
        return (
            xml[: m.start(2)] + value + xml[m.end(2) :],
            f"{part}: {m.group(1)[:30]!r}{m.group(2)[:20]!r} -> {value!r}",
        )
    if op == "text":
        m = _pick(rng, list(_TEXT.finditer(xml)))
        if m is None:
            return xml, f"{part}: no text"
        value = rng.choice(INTERESTING)
        return xml[: m.start(1)] + value + xml[
            m.end(1) :
        ], f"{part}: text {m.group(1)[:20]!r} -> {value!r}"
    if op in ("drop", "repeat", "rename"):
        m = _pick(rng, list(_START.finditer(xml)))
        if m is None:
            return xml, f"{part}: no element"
        name = m.group(1)
        if m.group(2) == b"/":
            end = m.end()
        else:
            close = xml.find(b"</" + name + b">", m.end())
            end = close + len(name) + 3 if close >= 0 else m.end()
        element = xml[m.start() : end]
        if op == "drop":
            return xml[: m.start()] + xml[end:], f"{part}: dropped <{name.decode()}>"
        if op == "repeat":
            return xml[:end] + element + xml[end:], f"{part}: repeated <{name.decode()}>"
        renamed = name + b"x"
        return (
            xml[: m.start() + 1] + renamed + xml[m.start() + 1 + len(name) :],
            f"{part}: renamed <{name.decode()}>",
        )
    if op == "truncate":
        at = rng.randrange(len(xml) + 1)
        return xml[:at], f"{part}: cut at {at}"
    at = rng.randrange(len(xml) + 1)
    junk = rng.choice(
        (b"<x>", b"</c>", b"\x00", b"<!DOCTYPE d [<!ENTITY e 'e'>]>", b"&e;", b"<v>1</v>", b"]]>")
    )
    return xml[:at] + junk + xml[at:], f"{part}: junk {junk!r} at {at}"


def _rezip(data: bytes, change: Callable[[list[tuple[zipfile.ZipInfo, bytes]]], None]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    change(members)
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # a duplicate member is one of the mutations
        for info, body in members:
            info.compress_type = (
                zipfile.ZIP_DEFLATED if info.filename != "mimetype" else zipfile.ZIP_STORED
            )
            zf.writestr(info, body)
    return out.getvalue()


def mutate_zip(data: bytes, rng: random.Random, fmt: str) -> tuple[bytes, str]:
    """Mostly an XML part changed and the package rezipped; sometimes the zip itself."""
    roll = rng.random()
    if roll < 0.75:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.endswith((".xml", ".rels"))]
        if fmt == "xlsx":
            weights = [8 if "worksheets/sheet2" in n else 3 if "sharedStrings" in n or "styles" in n
                       or "workbook.xml" in n else 1 for n in names]  # fmt: skip
        else:
            weights = [8 if n == "content.xml" else 1 for n in names]
        part = rng.choices(names, weights)[0]
        what = [""]

        def change(members: list[tuple[zipfile.ZipInfo, bytes]]) -> None:
            for k, (info, body) in enumerate(members):
                if info.filename == part:
                    new, what[0] = mutate_xml(body, rng, part)
                    members[k] = (info, new)

        return _rezip(data, change), what[0]
    if roll < 0.85:
        op = rng.choice(("drop", "duplicate", "rename"))

        def change(members: list[tuple[zipfile.ZipInfo, bytes]]) -> None:
            k = rng.randrange(len(members))
            info, body = members[k]
            if op == "drop":
                del members[k]
            elif op == "duplicate":
                members.insert(k, (zipfile.ZipInfo(info.filename, info.date_time), body))
            else:
                info.filename = info.filename + "x"

        return _rezip(data, change), f"zip: {op} a member"
    buf = bytearray(data)
    headers = [m.start() for m in re.finditer(rb"PK\x01\x02|PK\x03\x04", data)]
    if headers and rng.random() < 0.6:
        at = rng.choice(headers)
        offset = rng.choice(
            (4, 6, 8, 10, 14, 18, 22, 26, 28) if data[at + 2] == 3 else (6, 8, 10, 20, 24, 28, 42)
        )
        value = rng.choice((0, 1, 0xFF, 0xFFFF, rng.randrange(65536)))
        buf[at + offset : at + offset + 2] = struct.pack("<H", value)
        return bytes(buf), f"zip: header field +{offset} at {at} = {value}"
    at = rng.randrange(len(buf))
    buf[at] ^= 1 << rng.randrange(8)
    return bytes(buf), f"zip: bit flip at {at}"


def _biff_records(stream: bytes) -> list[tuple[int, int, int]]:
    out = []
    pos = 0
    while pos + 4 <= len(stream):
        kind, size = struct.unpack_from("<HH", stream, pos)
        out.append((pos, kind, size))
        pos += 4 + size
    return out


def mutate_xls(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A BIFF record's length, type or fields, found in place in the OLE file; or the OLE
    header and directory bytes. Everything keeps the file's size."""
    import olefile

    buf = bytearray(data)
    if rng.random() < 0.2:
        region = rng.choice((range(0, 512), range(512, len(buf))))
        at = rng.choice(region)
        buf[at] = rng.choice((0, 0xFF, buf[at] ^ (1 << rng.randrange(8))))
        return bytes(buf), f"ole: byte at {at}"
    ole = olefile.OleFileIO(io.BytesIO(data))
    stream = ole.openstream("Workbook").read()
    records = [r for r in _biff_records(stream) if r[2] >= 4]
    pos, kind, size = rng.choice(records)
    head = stream[pos : pos + 16]
    at = data.find(head)
    if at < 0 or data.find(head, at + 1) >= 0:
        at = rng.randrange(len(buf))
        buf[at] ^= 0xFF
        return bytes(buf), f"xls: record not found in place, byte {at} flipped"
    op = rng.choice(("length", "type", "field", "field", "field"))
    if op == "length":
        value = rng.choice((0, size - 1, size + 1, 0xFFFF, 8224, rng.randrange(65536)))
        buf[at + 2 : at + 4] = struct.pack("<H", value & 0xFFFF)
        return bytes(buf), f"xls: record 0x{kind:04X} length {size} -> {value}"
    if op == "type":
        value = rng.choice(
            (0x0200, 0x00FD, 0x00FC, 0x0203, 0x0006, 0x000A, 0x0809, rng.randrange(65536))
        )
        buf[at : at + 2] = struct.pack("<H", value)
        return bytes(buf), f"xls: record 0x{kind:04X} type -> 0x{value:04X}"
    offset = rng.randrange(min(size, 64))
    width = rng.choice((1, 2, 4, 8))
    fill = rng.choice((b"\x00", b"\xff", b"\x7f", bytes([rng.randrange(256)])))
    chunk = (fill * width)[:width]
    if width == 8 and rng.random() < 0.5:
        chunk = struct.pack("<d", rng.choice((math.nan, math.inf, -math.inf, 1e308)))
    end = min(at + 4 + offset + width, at + 4 + size)
    buf[at + 4 + offset : end] = chunk[: end - (at + 4 + offset)]
    return bytes(buf), f"xls: record 0x{kind:04X} field +{offset} = {chunk.hex()}"


def mutate(seed: Seed, rng: random.Random) -> tuple[bytes, str]:
    try:
        if seed.fmt == "xls":
            return mutate_xls(seed.data, rng)
        return mutate_zip(seed.data, rng, seed.fmt)
    except Exception as exc:  # a mutator that cannot apply itself flips a byte instead
        buf = bytearray(seed.data)
        at = rng.randrange(len(buf))
        buf[at] ^= 0xFF
        return bytes(buf), f"byte {at} flipped ({type(exc).__name__} in the mutator)"


# --- the independent readers ---


def _normal(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", round(float(value), 6))
    if isinstance(value, dt.datetime):
        return (
            "date",
            value.date().isoformat() if value.time() == dt.time() else value.isoformat(),
        )
    if isinstance(value, dt.date):
        return ("date", value.isoformat())
    if hasattr(value, "to_pydatetime"):
        return _normal(value.to_pydatetime())
    # Readers differ on the spaces of a <t> without xml:space="preserve" (python-calamine
    # trims each rich-text run, openpyxl keeps them): not a wrong value
    return re.sub(r"\s+", "", str(value))


# openpyxl drops what a cell covered by a merged range holds, as Excel hides it: the
# independent reader has no value there to compare
HIDDEN = object()


def oracle_grid(data: bytes, fmt: str) -> list[list[Any]] | None:
    """The task sheet as an independent reader reads it, or None if it cannot."""
    # odfpy prints a damaged part to stdout before it gives up
    with contextlib.redirect_stdout(io.StringIO()):
        return _oracle_grid(data, fmt)


def _oracle_grid(data: bytes, fmt: str) -> list[list[Any]] | None:
    try:
        if fmt == "xlsx":
            import openpyxl
            from openpyxl.cell.cell import MergedCell

            wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
            return [
                [HIDDEN if isinstance(c, MergedCell) else c.value for c in row]
                for row in wb[TASK_SHEET].iter_rows()
            ]
        if fmt == "xls":
            import xlrd

            book = xlrd.open_workbook(file_contents=data)
            sheet = book.sheet_by_name(TASK_SHEET)
            grid = []
            for r in range(sheet.nrows):
                row = []
                for c in range(sheet.ncols):
                    cell = sheet.cell(r, c)
                    if cell.ctype == xlrd.XL_CELL_DATE:
                        row.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
                    elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                        row.append(bool(cell.value))
                    elif cell.ctype == xlrd.XL_CELL_ERROR:
                        row.append(xlrd.error_text_from_code.get(cell.value, "#ERR"))
                    else:
                        row.append(cell.value)
                grid.append(row)
            return grid
        import pandas as pd

        frame = pd.read_excel(
            io.BytesIO(data),
            sheet_name=TASK_SHEET,
            engine="odf",
            header=None,
            dtype=object,
            keep_default_na=False,  # text such as "NaN" stays text
            na_filter=False,
        )
        return frame.values.tolist()
    except Exception:
        return None


def differences(mine: list[list[Any]], theirs: list[list[Any]]) -> list[str]:
    out = []
    for r in range(max(len(mine), len(theirs))):
        a = mine[r] if r < len(mine) else []
        b = theirs[r] if r < len(theirs) else []
        for c in range(max(len(a), len(b))):
            x = _normal(a[c]) if c < len(a) else ""
            if c < len(b) and b[c] is HIDDEN:
                continue
            y = _normal(b[c]) if c < len(b) else ""
            if x != y:
                out.append(f"R{r + 1}C{c + 1}: xlflow {x!r} / independent {y!r}")
    return out


@dataclass(frozen=True)
class Context:
    intake: IntakeContext
    seeds: tuple[Seed, ...]
    run_seed: int


def mutation(ctx: Context, job: tuple[int, int]) -> tuple[Seed, bytes, str]:
    index, n = job
    seed = ctx.seeds[index]
    rng = random.Random(f"{ctx.run_seed}:{seed.name}:{n}")
    data, what = mutate(seed, rng)
    return seed, data, what


def check(ctx: Context, job: tuple[int, int]) -> dict[str, Any]:
    """One input, in a worker: its verdict and error codes, and any differential finding."""
    seed, data, what = mutation(ctx, job)
    return judge(ctx.intake, seed, data, what)


def judge(intake: IntakeContext, seed: Seed, data: bytes, what: str) -> dict[str, Any]:
    record = _check(intake, data, seed.fmt)
    out: dict[str, Any] = {
        "verdict": str(record.verdict),
        "codes": sorted({i.code.value for i in record.issues if i.severity is Severity.ERROR}),
        "mutation": what,
        "same": record.values == seed.values,
    }
    if record.verdict is not Verdict.ACCEPTED:
        return out
    read = read_return(data, SUFFIX[seed.fmt], intake.settings).workbook
    sheet = read.sheet(TASK_SHEET) if read else None
    mine = sheet.rows if sheet else []
    if _grid(data, seed.fmt, intake) == seed.grid:
        # xlflow read exactly what the genuine file holds: the mutation touched nothing it
        # uses, whatever another reader makes of it (xlrd stops at a record it takes for
        # a BIFF2 one, say)
        out["same_grid"] = True
        return out
    theirs = oracle_grid(data, seed.fmt)
    if theirs is None:
        if not out["same"]:
            out["finding"] = "unverified-value"
            out["detail"] = [
                "the independent reader cannot read the file; xlflow read other values"
            ]
        return out
    diffs = differences(mine, theirs)
    if diffs:
        out["finding"] = "wrong-value"
        out["detail"] = diffs[:6]
    return out


# --- a run ---

FAILURE_CLASS = {"error": "exception", "timeout": "hang", "crashed": "abort", "memory": "abort"}


@dataclass
class Summary:
    iterations: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, fmt: str, outcome: str) -> None:
        self.outcomes.setdefault(fmt, Counter())[outcome] += 1

    def tick(
        self,
        started: float,
        progress: Callable[[Summary], None] | None,
        done: int,
        rounds: int | None,
        seconds: float | None,
    ) -> bool:
        """After a batch: the time so far, shown; True when the run has done enough."""
        self.seconds = time.monotonic() - started
        if progress:
            progress(self)
        return (rounds is not None and done >= rounds) or (
            seconds is not None and self.seconds >= seconds
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "iterations": dict(self.iterations),
            "outcomes": {k: dict(v.most_common()) for k, v in self.outcomes.items()},
            "findings": self.findings,
            "seconds": round(self.seconds, 1),
        }


def jobs(
    seeds: list[Seed], formats: set[str], iterations: int | None, start: int = 0
) -> Iterator[tuple[int, int]]:
    """Round robin over the seeds of the chosen formats; endless when iterations is None."""
    chosen = [i for i, s in enumerate(seeds) if s.fmt in formats]
    n = start
    while iterations is None or n < start + iterations:
        for i in chosen:
            yield i, n
        n += 1


def run(
    root: Path,
    *,
    run_seed: int,
    formats: set[str],
    rounds: int | None = None,
    seconds: float | None = None,
    workers: int = 2,
    out: Path | None = None,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Fuzz for `rounds` passes over the seeds, or for `seconds`, whichever is given."""
    ws, _ = build_workspace(root)
    intake = intake_context(ws)
    seeds = load_seeds(intake)
    ctx = Context(intake, tuple(seeds), run_seed)
    pool: IsolatedPool[tuple[int, int], dict[str, Any]] = IsolatedPool(
        check, ctx, workers, timeout=10, memory_mb=1024
    )
    summary = Summary()
    started = time.monotonic()
    batch = 200
    n = 0
    while True:
        todo = list(jobs(seeds, formats, batch if rounds is None else min(batch, rounds - n), n))
        if not todo:
            break
        for index, outcome in pool.run(todo):
            seed = seeds[todo[index][0]]
            summary.iterations[seed.fmt] += 1
            if isinstance(outcome, JobFailure):
                kind = FAILURE_CLASS.get(outcome.kind, outcome.kind)
                summary.add(seed.fmt, f"finding: {kind}")
                _record(summary, out, ctx, todo[index], kind, [outcome.detail])
                continue
            if "finding" in outcome:
                summary.add(seed.fmt, f"finding: {outcome['finding']}")
                _record(summary, out, ctx, todo[index], outcome["finding"], outcome["detail"])
            elif outcome["verdict"] == "accepted":
                summary.add(
                    seed.fmt,
                    "accepted, values as the seed's"
                    if outcome["same"]
                    else "accepted, changed values confirmed by the independent reader",
                )
            else:
                summary.add(seed.fmt, f"{outcome['verdict']}: {', '.join(outcome['codes']) or '-'}")
        n += len(todo) // max(1, len([s for s in seeds if s.fmt in formats]))
        if summary.tick(started, progress, n, rounds, seconds):
            break
    return summary


def _record(
    summary: Summary,
    out: Path | None,
    ctx: Context,
    job: tuple[int, int],
    kind: str,
    detail: list[str],
) -> None:
    seed, data, what = mutation(ctx, job)
    finding = {
        "class": kind,
        "seed": seed.name,
        "iteration": job[1],
        "run_seed": ctx.run_seed,
        "mutation": what,
        "detail": detail,
    }
    keep_finding(
        summary,
        out,
        finding,
        data,
        f"{kind}-{seed.name.replace('.', '_')}-{job[1]}",
        SUFFIX[seed.fmt],
    )


def keep_finding(
    summary: Summary, out: Path | None, finding: dict[str, Any], data: bytes, stem: str, suffix: str
) -> None:
    """A finding counted, and with `out` its input and a JSON note of it written there."""
    summary.findings.append(finding)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}{suffix}").write_bytes(data)
        (out / f"{stem}.json").write_text(
            json.dumps(finding, ensure_ascii=False, indent=1), "utf-8"
        )
