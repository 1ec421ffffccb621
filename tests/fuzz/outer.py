"""Fuzzing what wraps a return and what the office itself feeds in: containers and registers.

Two targets beside the returned-file one (harness.py):

- `containers`: genuine returns wrapped as a GBK-named .zip (as Windows' own zip writes
  one), a UTF-8 .zip, a .7z, an .eml holding a return and a zip, and an Outlook .msg, each
  mutated with its structure in mind (member names, header fields, compression method,
  sizes that lie, mail headers and bodies, OLE bytes). Inputs go in batches through the
  real `collect` of a fresh copy of one working folder.
- `registers`: the bundled .xlsx register and a .docx one, mutated as packages (XML parts,
  member names, zip headers), each through the real `init --register`.

A finding is: an exception that escapes the command (`exception`); a message a person
reads that holds an exception's name or text (`exception-text`); a container or register
whose reader crashed or hung, caught only by the isolation (`abort`, `hang`: contained,
but the reader should have refused the file itself); or a return taken out of a mutated
container, accepted, whose task sheet xlflow reads otherwise than an independent reader
does (`wrong-value`: the returns harness's differential check, on the return as it came
out of the container; a changed answer the other reader confirms is no finding).
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import shutil
import struct
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlflow.errors import XlflowError
from xlflow.intake.collect import collect
from xlflow.intake.judge import archive_name
from xlflow.issues import Verdict
from xlflow.reading.containers import CONTAINERS
from xlflow.register.init import init_workspace
from xlflow.text import visible
from xlflow.workspace import Workspace

from ..archives import forwarded_mail, gbk_zip, mail, outlook, seven_zip
from .harness import (
    ROUND,
    SEEDS,
    Seed,
    Summary,
    build_workspace,
    intake_context,
    judge,
    keep_finding,
    load_seeds,
    mutate_zip,
)

REPO = Path(__file__).resolve().parents[2]
EXCEPTION_TEXT = re.compile(r"Error:|Exception|Traceback|object at 0x")
REGISTERS = (
    REPO / "templates" / "key-task-list.xlsx",
    REPO / "tests" / "data" / "key-task-list.docx",
)
_CONTAINED = {"reader-crashed": "abort", "read-timeout": "hang"}
# what collect and init say when the isolation caught an exception in a reader: contained,
# but a bug (intake.unpack.unpack_failure, register.load.read_isolated); a reader's own
# refusal never says it
_CAUGHT = ("程序内部出错",)


@dataclass(frozen=True)
class Outer:
    name: str  # the file name it is saved under: its suffix says what it is
    data: bytes
    inner: dict[str, Seed]  # the genuine returns inside, by their names there


# --- the seeds ---


def _utf8_zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


WHEN = dt.datetime(2019, 7, 5, 9, 30)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS = "application/vnd.ms-excel"


def container_seeds(seeds: dict[str, Seed]) -> list[Outer]:
    """Genuine returns (the harness's signed seeds) in every kind of container."""
    first, second = (SEEDS / "00.xlsx").read_bytes(), (SEEDS / "02.xls").read_bytes()
    pair = [("高新处.xlsx", first), ("农村处.xls", second)]
    note = ("说明.txt", "请查收。".encode("gbk"))
    zipped = gbk_zip([*pair, note])
    expected = {"高新处.xlsx": seeds["00.xlsx"], "农村处.xls": seeds["02.xls"]}
    return [
        Outer("回复.zip", zipped, expected),
        Outer("报表.zip", _utf8_zip(pair), expected),
        Outer("报表.7z", seven_zip(pair), expected),
        Outer(
            "回复.eml",
            mail(
                [("高新处.xlsx", first, XLSX), ("附件.zip", gbk_zip(pair[1:]), "application/zip")],
                WHEN,
            ),
            expected,
        ),
        Outer("回复.msg", outlook(pair, WHEN), expected),
        # nested two deep: a zip holding a mail holding a return, and a mail forwarded as a
        # base64 attachment (issue #38: C2, C4)
        Outer(
            "套娃.zip",
            gbk_zip([("回复.eml", mail([("高新处.xlsx", first, XLSX)], WHEN)), pair[1]]),
            expected,
        ),
        Outer(
            "转发.eml",
            forwarded_mail(mail([(*pair[0], XLSX), (*pair[1], XLS)], WHEN), WHEN),
            expected,
        ),
    ]


# --- mutations ---

_NAME_JUNK = (b"\x00", b"\x01", b"\x1f", b"\x7f", b"/", b"\\", b"\xff", b"\x81", b":")


def _zip_names(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every name in local headers and the central directory."""
    spots = []
    for m in re.finditer(rb"PK\x03\x04", data):
        at = m.start()
        if at + 30 <= len(data):
            size = struct.unpack_from("<H", data, at + 26)[0]
            spots.append((at + 30, size))
    for m in re.finditer(rb"PK\x01\x02", data):
        at = m.start()
        if at + 46 <= len(data):
            size = struct.unpack_from("<H", data, at + 28)[0]
            spots.append((at + 46, size))
    return [(at, size) for at, size in spots if size and at + size <= len(data)]


def mutate_archive_zip(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A zip of returns: its member names, header fields, compression method or sizes, its
    data, or its length."""
    buf = bytearray(data)
    op = rng.choice(("name", "name", "field", "method", "sizes", "version", "flip", "cut"))
    if op == "name":
        spots = _zip_names(data)
        if spots:
            at, size = rng.choice(spots)
            style = rng.choice(("byte", "parent", "absolute", "empty-ish"))
            if style == "byte":
                k = rng.randrange(size)
                junk = rng.choice(_NAME_JUNK)
                buf[at + k : at + k + 1] = junk
                return bytes(buf), f"zip: name byte {k} at {at} = {junk!r}"
            if style == "parent" and size >= 3:
                buf[at : at + 3] = b"../"
                return bytes(buf), f"zip: name at {at} starts ../"
            if style == "absolute":
                buf[at : at + 1] = b"/"
                return bytes(buf), f"zip: name at {at} starts /"
            buf[at : at + size] = b" " * size
            return bytes(buf), f"zip: name at {at} made blank"
    headers = [(m.start(), m.group()) for m in re.finditer(rb"PK\x01\x02|PK\x03\x04", data)]
    if headers and op in ("field", "method", "sizes", "version", "name"):
        at, kind = rng.choice(headers)
        central = kind == b"PK\x01\x02"
        if op == "method":
            offset = 10 if central else 8
            value = rng.choice((0, 8, 12, 14, 93, 95, 98, 99, rng.randrange(65536)))
            buf[at + offset : at + offset + 2] = struct.pack("<H", value)
            return bytes(buf), f"zip: method at {at} = {value}"
        if op == "sizes":
            offset = rng.choice((20, 24) if central else (18, 22))
            value = rng.choice((0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 26214400, rng.randrange(1 << 32)))
            buf[at + offset : at + offset + 4] = struct.pack("<I", value)
            return bytes(buf), f"zip: size field +{offset} at {at} = {value}"
        if op == "version":
            offset = 6 if central else 4
            value = rng.choice((20, 45, 63, 64, 255, 0xFFFF))
            buf[at + offset : at + offset + 2] = struct.pack("<H", value)
            return bytes(buf), f"zip: version needed at {at} = {value}"
        offset = rng.choice(
            (8, 10, 12, 14, 16, 30, 32, 34, 42) if central else (6, 8, 10, 14, 26, 28)
        )
        value = rng.choice((0, 1, 0xFF, 0xFFFF, rng.randrange(65536)))
        buf[at + offset : at + offset + 2] = struct.pack("<H", value)
        return bytes(buf), f"zip: header field +{offset} at {at} = {value}"
    if op == "cut":
        at = rng.randrange(len(buf))
        return bytes(buf[:at]), f"zip: cut at {at}"
    at = rng.randrange(len(buf))
    buf[at] ^= 1 << rng.randrange(8)
    return bytes(buf), f"zip: bit flip at {at}"


_DATES = (
    "Fri, 31 Dec 9999 23:59:00 -1200", "Mon, 01 Jan 0001 00:00:00 +1400", "32 Foo 2019",
    "Fri, 05 Jul 2019 25:61:61 +0800", "Fri, 05 Jul 2019 09:30:00 +9999", "", "0", "-1",
    "Thu, 01 Jan 1970 00:00:00 -0000", "Fri, 05 Jul 2019 09:30:00",
)  # fmt: skip
_HEADER_VALUES = (
    "=?gb2312?B?////?=", "=?utf-8?Q?=FF=FE?=", "=?x-unknown?B?YWJj?=", "\x00", "a" * 2000,
    "=?utf-8?B?5rWL6K+V?= <a@b>", "<>", '"" <@>', "=?gbk?Q?=C4=E3?=",
)  # fmt: skip


def mutate_mail(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A mail's headers (Date, From, Subject, an attachment's filename and encoding), its
    MIME boundary, its base64 body, or its length."""
    op = rng.choice(("date", "header", "filename", "encoding", "boundary", "body", "cut"))
    text = data
    if op == "date":
        value = rng.choice(_DATES).encode()
        new = re.sub(rb"(?m)^Date: .*$", b"Date: " + value, text, count=1)
        return new, f"eml: Date = {value!r}"
    if op == "header":
        which = rng.choice((b"From", b"Subject", b"Content-Type"))
        value = rng.choice(_HEADER_VALUES).encode("utf-8", "surrogateescape")
        new = re.sub(rb"(?m)^" + which + rb": .*$", which + b": " + value, text, count=1)
        return new, f"eml: {which.decode()} = {value[:40]!r}"
    if op == "filename":
        value = rng.choice(
            (b"../../x.xlsx", b"\x00.xlsx", b"", b"=?utf-8?B?////?=.xlsx", b"a" * 300 + b".xlsx",
             b"con.xlsx", b"x.zip", b"x.eml")
        )  # fmt: skip
        matches = list(re.finditer(rb'filename="?([^"\r\n;]*)"?', text))
        if matches:
            m = rng.choice(matches)
            return text[: m.start(1)] + value + text[m.end(1) :], f"eml: filename = {value[:30]!r}"
    if op == "encoding":
        value = rng.choice((b"base64", b"quoted-printable", b"7bit", b"x-uuencode", b"bogus"))
        matches = list(re.finditer(rb"Content-Transfer-Encoding: (\S+)", text))
        if matches:
            m = rng.choice(matches)
            return text[: m.start(1)] + value + text[m.end(1) :], f"eml: encoding = {value!r}"
    if op == "boundary":
        m = re.search(rb'boundary="([^"]+)"', text)
        if m:
            junk = rng.choice((b"", b"x", m.group(1)[:-1], b"\x00"))
            return text[: m.start(1)] + junk + text[m.end(1) :], f"eml: boundary = {junk!r}"
    if op == "body":
        lines = [m.start() for m in re.finditer(rb"(?m)^[A-Za-z0-9+/]{60,}$", text)]
        if lines:
            at = rng.choice(lines) + rng.randrange(60)
            junk = rng.choice((b"!", b"=", b"\x00", b"\xff", b"===="))
            return text[:at] + junk + text[at + 1 :], f"eml: base64 junk {junk!r} at {at}"
    at = rng.randrange(len(text))
    return text[:at], f"eml: cut at {at}"


# what a mail client, a script or an attacker puts in an attachment's name: a C string's
# terminating NUL, escape sequences (OSC sets a terminal's title, CSI a colour), C1
# controls, bidirectional overrides, line ends, a path
_NAME_INSERTS = (
    "\0", "\x1b]0;pwned\x07", "\x1b[31m", "\x9b31m", "\u202e", "\u2066", "\r\n", "\t",
    "\x7f", "../", "C:", ":", "\u200b",
)  # fmt: skip


def mutate_mail_name(seed: Outer, rng: random.Random) -> tuple[bytes, str]:
    """A mail of the same returns rebuilt with one attachment name changed: a control
    character, an escape sequence or a path inserted at the start, the end (where a
    terminating NUL stays) or inside it."""
    first, second = (SEEDS / "00.xlsx").read_bytes(), (SEEDS / "02.xls").read_bytes()
    names = ["高新处.xlsx", "农村处.xls"]
    k = rng.randrange(2)
    junk = rng.choice(_NAME_INSERTS)
    at = rng.choice((0, len(names[k]), rng.randrange(len(names[k]))))
    names[k] = names[k][:at] + junk + names[k][at:]
    pair = [(names[0], first), (names[1], second)]
    what = f"{seed.name}: attachment name {names[k]!r}"
    if seed.name.endswith(".msg"):
        return outlook(pair, WHEN), what
    return mail([(pair[0][0], first, XLSX), (pair[1][0], second, XLS)], WHEN), what


def mutate_bytes(data: bytes, rng: random.Random, what: str) -> tuple[bytes, str]:
    """A .7z or .msg: a byte in its header region (a 7z's end header, an OLE file's first
    sectors) or anywhere, set or flipped; or the file cut short."""
    buf = bytearray(data)
    roll = rng.random()
    if roll < 0.15:
        at = rng.randrange(len(buf))
        return bytes(buf[:at]), f"{what}: cut at {at}"
    if what == "7z" and roll < 0.6:
        region = range(max(0, len(buf) - 300), len(buf)) if rng.random() < 0.7 else range(0, 32)
    elif what == "msg" and roll < 0.6:
        region = range(0, min(len(buf), 2048))
    else:
        region = range(len(buf))
    at = rng.choice(region)
    buf[at] = rng.choice((0, 0xFF, 0x7F, buf[at] ^ (1 << rng.randrange(8))))
    return bytes(buf), f"{what}: byte at {at} = {buf[at]}"


def mutate_outer(seed: Outer, rng: random.Random) -> tuple[bytes, str]:
    suffix = Path(seed.name).suffix
    if seed.name in ("回复.eml", "回复.msg") and rng.random() < 0.25:
        return mutate_mail_name(seed, rng)
    if suffix == ".zip":
        return mutate_archive_zip(seed.data, rng)
    if suffix == ".eml":
        return mutate_mail(seed.data, rng)
    return mutate_bytes(seed.data, rng, suffix.lstrip("."))


def mutate_register(data: bytes, rng: random.Random, fmt: str) -> tuple[bytes, str]:
    """A register package: an XML part changed (the returns harness's mutations), or a
    member's name or a zip header field."""
    if rng.random() < 0.7:
        return mutate_zip(data, rng, "xlsx" if fmt == "xlsx" else "docx")
    return mutate_archive_zip(data, rng)


# --- the runs ---


def _finding(summary: Summary, out: Path | None, kind: str, name: str, data: bytes, what: str, detail: list[str], iteration: int) -> None:  # fmt: skip
    finding = {"class": kind, "seed": name, "iteration": iteration, "mutation": what, "detail": detail}  # fmt: skip
    keep_finding(
        summary, out, finding, data, f"{kind}-{Path(name).stem}-{iteration}", Path(name).suffix
    )


def _judge_batch(
    template: Path,
    scratch: Path,
    inputs: list[tuple[Outer, bytes, str, int]],
    workers: int,
) -> list[tuple[str, list[str]]]:
    """Run one batch through the real collect; for each input its finding (class, detail),
    or ("", [what became of it])."""
    root = scratch / "batch"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root)
    names = []
    what_of = {}
    data_of = {}
    for k, (seed, data, what, _) in enumerate(inputs):
        name = f"{k:03d}-{seed.name}"
        (root / "inbox" / name).write_bytes(data)
        names.append(name)
        what_of[name] = what
        data_of[name] = data
    try:
        report = collect(Workspace.open(root), ROUND, workers=workers)
    except Exception as exc:  # an escape: which input? Each alone says
        if len(inputs) == 1:
            return [("exception", [f"{type(exc).__name__}: {exc}"[:300]])]
        return [r for one in inputs for r in _judge_batch(template, scratch, [one], workers)]
    out: list[tuple[str, list[str]]] = []
    for name, (seed, _, _, _) in zip(names, inputs, strict=True):
        records = [f for f in report.files if f.path == name or f.path.startswith(f"{name}!")]
        found: tuple[str, list[str]] | None = None
        for record in records:
            for issue in record.issues:
                if EXCEPTION_TEXT.search(issue.message):
                    found = ("exception-text", [issue.message[:300]])
                elif record.path == name and issue.code.value in _CONTAINED:
                    found = (_CONTAINED[issue.code.value], [issue.message[:300]])
                elif record.path == name and any(c in issue.message for c in _CAUGHT):
                    found = ("exception", [issue.message[:300]])
            inner = record.path.rsplit("!", 1)[-1]
            genuine = seed.inner.get(inner)
            if (
                record.verdict is Verdict.ACCEPTED
                and genuine is not None
                and report_values(root, record) != genuine.values
            ):
                ws = Workspace.open(root)
                data = (ws.archive / archive_name(record)).read_bytes()
                outcome = judge(intake_context(ws), genuine, data, record.path)
                if "finding" in outcome:
                    found = (outcome["finding"], [record.path, *outcome["detail"]])
        if found is None:
            found = _vanished_or_raw(name, seed, records, what_of[name], data_of[name])
        if found is None:
            refused = [i.code.value for r in records if r.path == name for i in r.issues]
            inside = sum(1 for r in records if r.path != name)
            label = f"refused: {refused[0]}" if refused else f"opened: {min(inside, 2)} inside"
            out.append(("", [label]))
        else:
            out.append(found)
    return out


def _vanished_or_raw(
    name: str, seed: Outer, records: list[Any], what: str, data: bytes
) -> tuple[str, list[str]] | None:
    """A return that vanished without a word, or a control character stored or said raw.

    Every input must leave a record; a container that leaves none of its own (it was read)
    must leave one for each genuine return it carried, unless the mutation renamed one."""
    if not records:
        return ("vanished", ["no record at all: neither the container nor anything inside"])
    for record in records:
        texts = [record.path, record.origin, *(i.message for i in record.issues)]
        raw = [t for t in texts if visible(t, keep="\n") != t]
        if raw:
            return ("raw-control", [repr(raw[0])[:300]])
    renamed = "name" in what or "filename" in what or "cut" in what or _names_hit(seed, data)
    if any(r.path == name for r in records) or renamed:
        return None
    seen = {r.path.rsplit("!", 1)[-1] for r in records}
    missing = [inner for inner in seed.inner if inner not in seen]
    # a nested container that was refused or said to hold nothing, or a member refused
    # (named as the mail could name it), is the word about what it held
    said = any(
        r.path != name
        and (r.path.lower().endswith(CONTAINERS) or r.verdict is not Verdict.ACCEPTED)
        and any(i.severity.value == "error" for i in r.issues)
        for r in records
    )
    if missing and not said:
        return ("vanished", [f"{'、'.join(missing)}: listed, no record, no word"])
    return None


def _names_hit(seed: Outer, data: bytes) -> bool:
    """True when a mutation changed bytes of a member's name (a bit flipped in the name of
    a zip member): the member is then no longer listed as a spreadsheet, and its absence
    is no vanish."""
    for name in seed.inner:
        for encoded in (name.encode("utf-8"), name.encode("gbk"), name.encode("utf-16-le")):
            if data.count(encoded) < seed.data.count(encoded):
                return True
    return False


def report_values(root: Path, record: Any) -> dict[str, Any]:
    """An accepted record's values, as the ledger holds them (collect returns them
    without: they are spooled to disk as it runs)."""
    from xlflow.ledger.book import Ledger

    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        for stored in ledger.files(ROUND):
            if stored.path == record.path and stored.sha256 == record.sha256:
                return stored.values
    return {}


def run_containers(
    root: Path,
    *,
    run_seed: int,
    rounds: int | None = None,
    seconds: float | None = None,
    workers: int = 2,
    batch: int = 24,
    out: Path | None = None,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Containers of genuine returns, mutated, through the real collect in batches."""
    template = root / "template"
    ws, _ = build_workspace(template)
    seeds = container_seeds({s.name: s for s in load_seeds(intake_context(ws))})
    summary = Summary()
    started = time.monotonic()
    n = 0
    while True:
        todo = []
        for _ in range(batch // len(seeds) or 1):
            for seed in seeds:
                rng = random.Random(f"{run_seed}:{seed.name}:{n}")
                data, what = mutate_outer(seed, rng)
                todo.append((seed, data, what, n))
            n += 1
        for (seed, data, what, iteration), result in zip(
            todo, _judge_batch(template, root, todo, workers), strict=True
        ):
            fmt = Path(seed.name).suffix.lstrip(".")
            summary.iterations[fmt] += 1
            if not result[0]:
                summary.add(fmt, result[1][0])
            else:
                summary.add(fmt, f"finding: {result[0]}")
                _finding(summary, out, result[0], seed.name, data, what, result[1], iteration)
        if summary.tick(started, progress, n, rounds, seconds):
            break
    return summary


def run_registers(
    root: Path,
    *,
    run_seed: int,
    rounds: int | None = None,
    seconds: float | None = None,
    out: Path | None = None,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """The registers, mutated, each through the real `init --register`."""
    summary = Summary()
    started = time.monotonic()
    n = 0
    while True:
        for source in REGISTERS:
            fmt = source.suffix.lstrip(".")
            rng = random.Random(f"{run_seed}:{source.name}:{n}")
            data, what = mutate_register(source.read_bytes(), rng, fmt)
            folder = root / "init"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            path = folder / f"清单{source.suffix}"
            path.write_bytes(data)
            summary.iterations[fmt] += 1
            found: tuple[str, str] | None = None
            try:
                init_workspace(folder / "work", register=path)
                outcome = "read"
            except XlflowError as exc:
                said = str(exc)
                outcome = "refused"
                if EXCEPTION_TEXT.search(said):
                    found = ("exception-text", said[:300])
                elif any(c in said for c in _CAUGHT):
                    found = ("exception", said[:300])
                elif "读取程序异常终止" in said:
                    found = ("abort", said[:300])
                elif "仍未完成" in said:
                    found = ("hang", said[:300])
            except Exception as exc:
                found = ("exception", f"{type(exc).__name__}: {exc}"[:300])
                outcome = "escaped"
            if found is None:
                summary.add(fmt, outcome)
            else:
                summary.add(fmt, f"finding: {found[0]}")
                _finding(summary, out, found[0], source.name, data, what, [found[1]], n)
        n += 1
        if summary.tick(started, progress, n, rounds, seconds):
            break
    return summary
