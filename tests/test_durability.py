"""Nothing lost: runs killed with SIGKILL at several points, runs at the same time, and a
round trip of any text a division can type."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import psutil
import pytest
import python_calamine
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from xlflow.intake.collect import collect
from xlflow.register.init import init_workspace
from xlflow.reporting.workbook.book import merge
from xlflow.text import CELL_TEXT_LIMIT, cell_length, cut_to_cell, invalid_xml_chars
from xlflow.workspace import Workspace

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    complete_values,
    fill,
    run,
    run_json,
    stored,
    tree_digest,
)

pytestmark = pytest.mark.slow


def _xlflow(ws: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "xlflow", *args, "-w", str(ws)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _ledger_rows(ws: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(ws / ".xlflow" / "ledger.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return sorted(db.execute("SELECT path, sha256, verdict FROM files").fetchall())
    finally:
        db.close()


def _refusals(ws: Path) -> list[tuple[Any, ...]]:
    """Why each file not accepted was refused, for a failure's message."""
    db = sqlite3.connect(ws / ".xlflow" / "ledger.sqlite")
    try:
        return db.execute(
            "SELECT path, verdict, issues FROM files WHERE verdict NOT IN ('accepted', 'duplicate')"
        ).fetchall()
    finally:
        db.close()


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _held(lock: Path) -> bool:
    """Whether a process holds the folder lock, seen without taking it: a probe that took
    the lock, even for a moment, could make the run it watches find the folder busy and
    exit 3. Linux lists locks in /proc/locks."""
    try:
        inode = lock.stat().st_ino
    except FileNotFoundError:
        return False
    if sys.platform == "win32":
        # the holder writes "pid N: what" into the file once it has the lock, and empties it
        # when it lets go; a killed holder leaves the text, but not the process
        try:
            text = lock.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return text.startswith("pid ") and psutil.pid_exists(int(text[4:].split(":")[0]))
    with open("/proc/locks", encoding="ascii") as fh:
        for line in fh:
            fields = line.split()
            # 1: POSIX  ADVISORY  WRITE 4242 08:01:123456 0 EOF
            if len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):
                return True
    return False


def _kill_when(proc: subprocess.Popen[bytes], seen: Any, timeout: float = 30) -> bool:
    """Kill `proc` the moment `seen()` holds; False if it finished (or timed out) first."""
    deadline = time.time() + timeout
    hit = False
    while proc.poll() is None and time.time() < deadline:
        if seen():
            proc.kill()  # SIGKILL; TerminateProcess on Windows
            hit = True
            break
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    return hit


def _populate(ws: Path, forms: dict[str, Path], tag: str, copies: int) -> None:
    """`copies` returns per division, each a little different, under inbox/<tag>/."""
    for division, form in forms.items():
        base = ws / "staging" / f"{division}-{tag}.xlsx"
        values = complete_values(form)
        for v in values.values():
            v["进展情况"] = f"{tag} 轮的进展"
        fill(form, base, values, GOOD_CONTACT)
        for n in range(copies):
            target = ws / "inbox" / tag / f"{division}-{n}.xlsx"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(base, target)
            t = time.time() - 10_000 + n
            os.utime(target, (t, t))


def test_collect_and_merge_killed_at_any_moment(ws: Path, forms: dict[str, Path]) -> None:
    # what is tested is the kill, not the clock: a read slowed past its limit by a loaded
    # machine (Wine, two suites at once) would be rejected in one run and not the other
    settings = ws / "xlflow.toml"
    text = settings.read_text("utf-8")
    assert "read_timeout_seconds = 30" in text
    settings.write_text(
        text.replace("read_timeout_seconds = 30", "read_timeout_seconds = 600"), "utf-8"
    )
    _populate(ws, forms, "a", 3)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    merged = Path(run_json(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])["path"])
    previous_rows = _ledger_rows(ws)
    previous_merged = merged.read_bytes()
    _populate(ws, forms, "b", 30)
    inbox = tree_digest(ws / "inbox")
    # what a run that is never interrupted would leave
    clean = ws.parent / "clean"
    shutil.copytree(ws, clean)
    # the returns' times decide which is newest; Wine's copy does not keep them
    for path in (ws / "inbox").rglob("*"):
        if path.is_file():
            times = path.stat()
            os.utime(clean / path.relative_to(ws), ns=(times.st_atime_ns, times.st_mtime_ns))
    run(["collect", "-w", str(clean), "--round", DEFAULT_ROUND])
    expected_rows = _ledger_rows(clean)
    assert expected_rows != previous_rows

    outcomes = set()
    # None: kill as soon as the run holds the folder lock, i.e. mid-run, surely before its
    # commit; then at growing delays, which land in later phases as the machine allows
    for delay in (None, 0.3, 0.6, 0.9, 1.2, 1.6, 2.2):
        proc = _xlflow(ws, "collect", "--round", DEFAULT_ROUND)
        if delay is None:
            deadline = time.time() + 30
            while time.time() < deadline and not _held(ws / ".xlflow" / "lock"):
                time.sleep(0.005)
        else:
            time.sleep(delay)
        workers = _children(proc.pid)
        proc.kill()  # SIGKILL; TerminateProcess on Windows
        proc.wait()
        # its workers end with it, but not at once (Windows closes the job; Wine is slower):
        # the next run must not meet one still holding a file
        psutil.wait_procs(workers, timeout=60)
        rows = _ledger_rows(ws)
        # never a half-written ledger: the old state or the new one
        assert rows in (previous_rows, expected_rows), delay
        outcomes.add("old" if rows == previous_rows else "new")
        assert tree_digest(ws / "inbox") == inbox
        openpyxl.load_workbook(merged)  # the previous consolidated workbook still opens
        for receipt in (ws / "outbox" / DEFAULT_ROUND / "receipts").glob("*.xlsx"):
            openpyxl.load_workbook(receipt)
        if rows == expected_rows:
            break
    assert "old" in outcomes  # at least one kill landed before the commit
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    after = _ledger_rows(ws)
    if after != expected_rows:  # the rows that differ, and why each was refused
        differ = sorted(set(after) ^ set(expected_rows))
        why = {r[0]: r for r in (*_refusals(ws), *_refusals(clean))}
        pytest.fail(f"{differ[:6]}\n{[why.get(row[0]) for row in differ[:6]]}")

    # merge killed at known points: once it holds the lock (before it writes), and once its
    # temporary workbook exists (mid-write: the workbook is written in its last moments)
    lock = ws / ".xlflow" / "lock"
    writing = merged.parent
    landed = set()
    # each point gets several tries: on a loaded machine this process can miss a short
    # window (one run in some 40 missed the lock, once)
    for point in ("lock", "writing") * 5:
        proc = _xlflow(ws, "merge", "--round", DEFAULT_ROUND)
        if point == "lock":
            hit = _kill_when(proc, lambda: _held(lock))
        else:
            hit = _kill_when(proc, lambda: any(writing.glob(".*.tmp")))
        if hit:
            landed.add(point)
        # the old workbook or a complete new one, never a torn file
        if merged.read_bytes() != previous_merged:
            detail = openpyxl.load_workbook(merged)["任务明细"]
            assert [c.value for c in detail["B"]][4:28] == [str(n) for n in range(1, 25)]
        openpyxl.load_workbook(merged)
        if landed >= {"lock", "writing"}:
            break
    assert landed == {"lock", "writing"}, landed
    run(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    openpyxl.load_workbook(merged)
    assert not list((ws / "outbox").rglob(".*.tmp"))  # leftovers of killed runs are swept


def test_two_collects_at_once_never_interleave(ws: Path, forms: dict[str, Path]) -> None:
    _populate(ws, forms, "a", 60)  # enough files that the first run is still going
    first = _xlflow(ws, "collect", "--round", DEFAULT_ROUND)
    lock = ws / ".xlflow" / "lock"
    deadline = time.time() + 30
    while time.time() < deadline and not _held(lock):
        time.sleep(0.02)
    second = subprocess.run(
        [sys.executable, "-m", "xlflow", "collect", "-w", str(ws), "--round", DEFAULT_ROUND],
        capture_output=True,
        text=True,
    )
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err.decode()
    assert second.returncode == 3
    assert "正被另一个 xlflow 命令使用" in second.stderr and "收集报送文件" in second.stderr
    assert "Traceback" not in second.stderr
    rows = _ledger_rows(ws)
    assert len(rows) == 420


# --- any text a division can type comes out exactly as typed ---

_BAD = set(
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\ufffe\uffff\r"
)
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="".join(_BAD))
_typed = st.one_of(
    st.text(_chars, min_size=1, max_size=200),
    st.builds(
        lambda p, t: p + t,
        st.sampled_from(["=", "+", "-", "@", "\t", " ", "\n", "=HYPERLINK(", "'"]),
        st.text(_chars, max_size=80),
    ),
    st.text(st.sampled_from("重点任务进展😀🇨🇳\n 　=+-@\"'<>&"), min_size=1, max_size=120),
    st.builds(
        # cut as Excel counts (UTF-16 units), or a character outside the BMP passes the limit
        lambda t, n: cut_to_cell(t * n, CELL_TEXT_LIMIT),
        st.text(_chars, min_size=1, max_size=40),
        st.integers(100, 2000),
    ),
)


@pytest.fixture(scope="module")
def roundtrip_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("roundtrip") / "work"
    init_workspace(root)
    data = run_json(["generate", "-w", str(root), "--round", DEFAULT_ROUND])
    form = Path(next(f["path"] for f in data["forms"] if f["division"] == "创新平台与合作处"))
    return root, form


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=_typed)
def test_any_typed_text_comes_out_as_typed(roundtrip_ws: tuple[Path, Path], text: str) -> None:
    assume(text.strip())
    assert not invalid_xml_chars(text) and cell_length(text) <= CELL_TEXT_LIMIT
    root, form = roundtrip_ws
    values = complete_values(form)
    values["7"]["下步打算"] = text  # task 7 has one division, so no 【处室】 label is added

    def as_string(wb: Any) -> None:
        sheet = wb["填报"]
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value == text:
                    cell.data_type = "s"

    inbox = root / "inbox"
    shutil.rmtree(inbox)
    inbox.mkdir()
    fill(form, inbox / "return.xlsx", values, GOOD_CONTACT, edit=as_string)
    ws = Workspace.open(root)
    report = collect(ws, DEFAULT_ROUND, workers=1)
    (record,) = [f for f in report.files if f.present]
    assert record.verdict.value == "accepted", [i.message for i in record.issues]
    assert stored(root, DEFAULT_ROUND, record.path).values["7"]["next_steps"] == text
    path = merge(ws, DEFAULT_ROUND).path
    # each reader lets the file go: Windows would not let the next merge replace it
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        rows = book.get_sheet_by_name("任务明细").to_python(skip_empty_area=False)
    finally:
        book.close()
    header = next(i for i, r in enumerate(rows) if "序号" in r)
    col = rows[header].index("下步打算")
    id_col = rows[header].index("序号")
    (row,) = [r for r in rows[header + 1 :] if r[id_col] == "7"]
    assert row[col] == text
    read = openpyxl.load_workbook(path, read_only=True)
    try:
        for cells in read["任务明细"].iter_rows(min_row=header + 1):
            for cell in cells:
                assert cell.data_type != "f"
    finally:
        read.close()


def test_text_over_the_limit_in_utf16_units_is_reported(roundtrip_ws: tuple[Path, Path]) -> None:
    """28,098 characters, but 32,781 UTF-16 units: more than a cell holds, so it is rejected
    by name, never cut; at exactly 32,767 units it passes whole."""
    root, form = roundtrip_ws
    over = "000000000000000\U00010000\U00010000\U00010002" * 1561
    exact = cut_to_cell(over, CELL_TEXT_LIMIT)
    assert len(over) < CELL_TEXT_LIMIT < cell_length(over) and cell_length(exact) <= CELL_TEXT_LIMIT
    for text, verdict in ((over, "rejected"), (exact, "accepted")):
        values = complete_values(form)
        values["7"]["下步打算"] = text
        inbox = root / "inbox"
        shutil.rmtree(inbox)
        inbox.mkdir()
        fill(form, inbox / "return.xlsx", values, GOOD_CONTACT)
        report = collect(Workspace.open(root), DEFAULT_ROUND, workers=1)
        (record,) = [f for f in report.files if f.present]
        assert record.verdict.value == verdict
        if verdict == "rejected":
            # (the returns of the other tests here are on record: this one is compared too)
            codes = [
                i.code.value for i in record.issues if not i.code.value.endswith("last-return")
            ]
            assert codes == ["cell-text-limit"]
        else:
            assert stored(root, DEFAULT_ROUND, record.path).values["7"]["next_steps"] == text


# --- a killed run leaves no process behind ---


RUN_TAG = "XLFLOW_RUN_TAG"  # one run's processes; the test's own tag stays for the reaper


def _run_tagged(ws: Path, tag: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "xlflow", *args, "-w", str(ws)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, RUN_TAG: tag, **env},
    )


# A worker killed with its parent goes at once: the kernel's death signal (Linux), or the
# Job Object it was created in (Windows), ends it; Wine takes longer to end a process.
WITHIN = 20.0 if sys.platform == "win32" else 5.0


def _survivors(tag: str, within: float = WITHIN) -> list[int]:
    """Processes of a killed run still alive after `within` seconds (zombies excluded)."""
    from .conftest import tagged

    deadline = time.monotonic() + within
    while True:
        alive = tagged(tag, RUN_TAG)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _worker_appeared(pid: int, timeout: float = 30) -> bool:
    from .conftest import children_of

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children_of(pid):
            return True
        time.sleep(0.002)
    return False


@pytest.mark.isolation
def test_a_killed_collect_leaves_no_process_behind(
    ws: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    """Kill collect while it forks reading workers (before they set their death signal),
    while they work, and while the receipt workers render; then merge at several moments.
    After each kill, nothing started by that run is left."""
    import uuid

    _populate(ws, forms, "a", 8)  # 56 returns: two reading workers, two receipt workers
    fresh = tmp_path / "fresh"
    shutil.copytree(ws, fresh)

    def attempt(kill: Any, **env: str) -> None:
        work = tmp_path / f"w{uuid.uuid4().hex[:8]}"
        shutil.copytree(fresh, work)
        tag = uuid.uuid4().hex
        proc = _run_tagged(work, tag, "collect", "--round", DEFAULT_ROUND, **env)
        kill(proc)
        proc.kill()  # SIGKILL; TerminateProcess on Windows
        proc.wait()
        assert _survivors(tag) == [], (kill, env)
        shutil.rmtree(work)

    # in the window between a worker's fork and its death signal
    for _ in range(3):
        attempt(lambda p: _worker_appeared(p.pid), XLFLOW_TEST_WORKER_START_DELAY="0.4")
    # how long one whole run takes, then kills spread over it: reading, receipts, commit
    work = tmp_path / "timed"
    shutil.copytree(fresh, work)
    started = time.monotonic()
    run(["collect", "-w", str(work), "--round", DEFAULT_ROUND])
    whole = time.monotonic() - started
    for k in range(1, 9):
        attempt(lambda p, k=k: time.sleep(whole * k / 9))
    # merge runs in one process; a kill at any moment leaves nothing either
    for delay in (0.05, 0.2, 0.4):
        tag = uuid.uuid4().hex
        proc = _run_tagged(work, tag, "merge", "--round", DEFAULT_ROUND)
        time.sleep(delay)
        proc.kill()  # SIGKILL; TerminateProcess on Windows
        proc.wait()
        assert _survivors(tag) == []


_MERGE_BESIDE = (
    "import importlib, time\n"
    "book = importlib.import_module('xlflow.reporting.workbook.book')\n"
    "figures = importlib.import_module('xlflow.reporting.workbook.figures')\n"
    "book.LAY_OUT_APART_ABOVE = 0\n"
    "counting = figures.Tally.add\n"
    "def slow(self, row):\n"
    "    time.sleep(0.5)\n"
    "    counting(self, row)\n"
    "figures.Tally.add = slow\n"
    "from xlflow.cli.main import main\n"
    "main()\n"
)


@pytest.mark.isolation
def test_a_killed_merge_takes_its_companion_with_it(ws: Path, forms: dict[str, Path]) -> None:
    """A large round is merged with a companion process laying the rows out; killing the
    merge ends the companion too, even in the middle of a task (here each takes 0.5 s)."""
    import uuid

    _populate(ws, forms, "a", 1)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-c", _MERGE_BESIDE, "merge", "-w", str(ws), "--round", DEFAULT_ROUND],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, RUN_TAG: tag},
    )
    assert _worker_appeared(proc.pid)
    # both alive before the kill: the merge and its companion (a busy machine may take a
    # moment before the new process's environment can be read)
    deadline = time.monotonic() + 30
    while len(both := _survivors(tag, within=0)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(both) == 2, both
    proc.kill()  # SIGKILL; TerminateProcess on Windows
    proc.wait()
    assert _survivors(tag) == []
    assert not list((ws / "outbox" / DEFAULT_ROUND).glob("*汇总*"))


def test_an_archive_copy_that_cannot_be_made_costs_the_return_nothing(
    ws: Path, forms: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that cannot write its archive copy (Windows: the same bytes held by the
    worker of a run killed a moment ago) still gives the return its verdict; the run then
    copies what is missing into the archive."""
    from xlflow.intake import judge

    division = next(iter(forms))
    values = complete_values(forms[division])
    fill(forms[division], ws / "inbox" / "a.xlsx", values, GOOD_CONTACT)
    monkeypatch.setenv("XLFLOW_POOL_IN_PROCESS", "1")  # the workers are threads here

    def held(path: Path, data: bytes, durable: bool = True) -> None:
        raise PermissionError(13, "held by another process", str(path))

    monkeypatch.setattr(judge, "atomic_write", held)
    report = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    assert [f["verdict"] for f in report["files"]] == ["accepted"], report
    sha = report["files"][0]["sha256"]
    assert (ws / ".xlflow" / "archive" / f"{sha}.xlsx").is_file()
