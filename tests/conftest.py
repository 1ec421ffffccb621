"""Factories shared by the tests: working folders, generated forms and filled returns.

Returns are filled with openpyxl by header label, the way a person fills the sheet,
without using xlflow's own code, so that the tests check xlflow against the form
rather than against itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import openpyxl
import psutil
import pytest
from click.testing import CliRunner, Result

from xlflow import windows
from xlflow.cli.main import main
from xlflow.register.init import init_workspace

from . import progress

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the repository (from a copy such as mutmut's mutants/, further up)
SHARED = next(
    (p / "shared" for p in REPO.parents if (p / "shared" / "seeds").is_dir()),
    REPO.parent / "shared",
)
SEEDS = SHARED / "seeds"
BUNDLED_XLSX = REPO / "templates" / "key-task-list.xlsx"
DEFAULT_ROUND = "2019-H1"
# returns in the tests land "now", so the deadline lies ahead unless a test says otherwise
DEADLINE = (dt.date.today() + dt.timedelta(days=30)).isoformat()
TASK_SHEET = "填报"
# Windows CPython under Wine (the CI's Windows bed), where Wine's own gaps show
WINE = sys.platform == "win32" and bool(os.environ.get("WINEPREFIX"))


def run(args: list[str], expect: int | None = 0) -> Result:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    if expect is not None:
        assert result.exit_code == expect, result.output
    return result


def run_json(args: list[str]) -> Any:
    return json.loads(run([*args, "--json"]).output)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A fresh working folder with the bundled register."""
    root = tmp_path / "work"
    init_workspace(root)
    return root


@pytest.fixture
def forms(ws: Path) -> dict[str, Path]:
    """Forms generated for DEFAULT_ROUND, by division."""
    data = run_json(["generate", "-w", str(ws), "--round", DEFAULT_ROUND, "--deadline", DEADLINE])
    return {f["division"]: Path(f["path"]) for f in data["forms"]}


def _header(sheet: Any) -> tuple[int, dict[str, int]]:
    for row in sheet.iter_rows(min_row=1, max_row=15):
        labels = {c.value: c.column for c in row if isinstance(c.value, str)}
        if "序号" in labels and "完成状态" in labels:
            return row[0].row, labels
    raise AssertionError("no header row")


def header_columns(sheet: Any) -> dict[str, int]:
    """A form's column headers, as {label: 1-based column}."""
    return _header(sheet)[1]


def task_rows(path: Path, sheet_name: str = TASK_SHEET) -> dict[str, int]:
    wb = openpyxl.load_workbook(path)
    sheet = wb[sheet_name]
    header, cols = _header(sheet)
    out = {}
    for r in range(header + 1, sheet.max_row + 1):
        value = sheet.cell(r, cols["序号"]).value
        if isinstance(value, str) and "：" in value:
            break  # the contact block below the table
        if value not in (None, ""):
            out[str(value)] = r
    return out


def fill_workbook(
    wb: Any,
    values: Mapping[str, Mapping[str, Any]],
    contact: Mapping[str, Any] | None = None,
    sheet_name: str = TASK_SHEET,
) -> None:
    """Type values into an openpyxl workbook: values[task id][header label] = value."""
    sheet = wb[sheet_name]
    header, cols = _header(sheet)
    for r in range(header + 1, sheet.max_row + 1):
        tid = sheet.cell(r, cols["序号"]).value
        if tid is None:
            continue
        for label, value in values.get(str(tid), {}).items():
            sheet.cell(r, cols[label]).value = value
    if contact:
        merged = list(sheet.merged_cells.ranges)
        for row in sheet.iter_rows(min_row=header + 1):
            for cell in row:
                if not isinstance(cell.value, str):
                    continue
                label = cell.value.split("：")[0]
                if label in contact and "：" in cell.value:
                    col = cell.column + 1
                    for m in merged:
                        if cell.coordinate in m:
                            col = m.max_col + 1
                    sheet.cell(cell.row, col).value = contact[label]


def fill(
    form: Path,
    out: Path,
    values: Mapping[str, Mapping[str, Any]],
    contact: Mapping[str, Any] | None = None,
    edit: Callable[[Any], None] | None = None,
) -> Path:
    wb = openpyxl.load_workbook(form)
    fill_workbook(wb, values, contact)
    if edit is not None:
        edit(wb)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


GOOD_CONTACT = {"填报人": "张三", "联系电话": "0574-87654321", "处室负责人": "李四"}


def complete_values(
    form: Path, status: str = "按计划推进", percent: Any = 60
) -> dict[str, dict[str, Any]]:
    """A valid answer for every task on a form."""
    return {
        tid: {
            "完成状态": status,
            "完成进度(%)": percent,
            "进展情况": f"任务{tid}：本期完成调研和方案制定。",
            "存在问题": "资金到位较慢" if status == "进度滞后" else None,
            "下步打算": "按计划推进",
        }
        for tid in task_rows(form)
    }


def fill_complete(form: Path, out: Path, status: str = "按计划推进", **kw: Any) -> Path:
    return fill(form, out, complete_values(form, status), GOOD_CONTACT, **kw)


def edit_directory(root: Path, rows: Mapping[str, Mapping[str, str]]) -> Path:
    """Fill in the working folder's 单位名录.xlsx as a coordinator does in Excel: for each
    unit, the columns given by header (联系人, 电子邮箱, 简称/别名, 所属集体, ...); a unit
    the sheet does not have is added as a new row."""
    path = root / "templates" / "单位名录.xlsx"
    wb = openpyxl.load_workbook(path)
    sheet = wb["单位名录"]
    heads = {cell.value: cell.column for cell in sheet[1] if cell.value}
    at = {sheet.cell(r, 1).value: r for r in range(2, sheet.max_row + 1)}
    for unit, values in rows.items():
        r = at.get(unit)
        if r is None:
            r = at[unit] = sheet.max_row + 1
            sheet.cell(r, 1, unit)
        for head, value in values.items():
            sheet.cell(r, heads[head], value)
    wb.save(path)
    return path


def set_mtime(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, with symlinks as their target text."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() + f":{p.stat().st_mtime_ns}"
    return out


@pytest.fixture
def inbox_guard(ws: Path) -> Iterator[Callable[[], None]]:
    """Check after the test that nothing in inbox/ changed since the last snapshot."""
    state: dict[str, dict[str, str]] = {}

    def snapshot() -> None:
        state["before"] = tree_digest(ws / "inbox")

    yield snapshot
    if "before" in state:
        assert tree_digest(ws / "inbox") == state["before"]


def crash_natively() -> None:
    """End this process as a native library's crash does: SIGABRT on POSIX; on Windows
    with the status a Rust panic or a CRT fast-fail leaves, 0xC0000409 (abort() under
    Wine shows a dialog no one closes)."""
    if sys.platform == "win32":
        os._exit(0xC0000409 - (1 << 32))  # the exit status is a DWORD; _exit takes an int
    os.abort()


def readable_by_owner_only(path: Path) -> bool:
    """The file mode 0o600 on POSIX; on Windows, where the mode means nothing, a DACL whose
    every allowing entry names the owner (or the system)."""
    if sys.platform == "win32":
        return windows.owner_only(path) and bool(windows.file_access(path))
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def open_to_everyone(path: Path) -> None:
    """Loosen a file as a careless copy or a shared folder would: read by every user."""
    if sys.platform == "win32":
        windows.set_file_access(path, "D:(A;;FA;;;WD)")  # WD: Everyone
    else:
        os.chmod(path, 0o644)


def copy_into_inbox(ws: Path, source: Path, name: str | None = None) -> Path:
    target = ws / "inbox" / (name or source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return target


# --- every process a test starts is gone when the test ends, pass or fail ---

TAG = "XLFLOW_TEST_TAG"


def tagged(tag: str, name: str = TAG, since: float = 0.0) -> list[int]:
    """Processes alive with name=tag in their environment (started with it, or started by
    one that was), zombies left out: psutil reads another process's environment on Linux
    (/proc) and on Windows (its PEB) alike. With `since` (a time.time()), only processes
    started from then on are read."""
    found = []
    for proc in psutil.process_iter(["create_time"]):
        try:
            if (proc.info["create_time"] or 0.0) < since:
                continue
            if proc.pid != os.getpid() and proc.environ().get(name) == tag and alive(proc):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def alive(proc: psutil.Process) -> bool:
    """Running, not a zombie waiting for its parent (a dead process on Linux until then)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def children_of(pid: int) -> list[int]:
    """Every living descendant of a process."""
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True) if alive(c)]
    except psutil.Error:
        return []


def end_process(pid: int) -> None:
    """SIGKILL on POSIX, TerminateProcess on Windows: the process ends at once."""
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).kill()


@contextlib.contextmanager
def reaping() -> Iterator[None]:
    """Kill, on leaving, whatever was started inside: subprocesses carry a tag in their
    environment (so their workers do too, even once adopted by init), and workers this
    process started are its children."""
    tag = uuid.uuid4().hex
    before = set(children_of(os.getpid()))
    # Only what started inside can carry its tag, so only that is read: under Wine a read
    # of another process's environment has hung for minutes (2026-12-07), and reading all
    # of them after each of some 1,200 tests costs time besides. The margin covers the
    # coarseness of a process's start time (clock ticks on Linux).
    started = time.time() - REAP_MARGIN_S
    outer = os.environ.get(TAG)
    os.environ[TAG] = tag
    try:
        yield
    finally:
        if outer is None:
            del os.environ[TAG]
        else:
            os.environ[TAG] = outer
        for pid in set(tagged(tag, since=started)) | (set(children_of(os.getpid())) - before):
            end_process(pid)


REAP_MARGIN_S = 2.0


@pytest.fixture(autouse=True)
def reap_processes() -> Iterator[None]:
    """Whatever a test started is gone when it ends: a test stopped by a failed assertion,
    or by -x, still leaves nothing running."""
    with reaping():
        yield


# --- workers in the test's own process (mutation testing, tests/mutation.py) ---


@pytest.fixture(autouse=True)
def _needs_isolation(request: pytest.FixtureRequest) -> None:
    if (
        request.node.get_closest_marker("isolation")
        and os.environ.get("XLFLOW_POOL_IN_PROCESS") == "1"
    ):
        pytest.skip("needs real worker processes; XLFLOW_POOL_IN_PROCESS=1 runs them in-process")


# --- the Windows stage's watchdog (tests/progress.py) ---


def pytest_configure(config: pytest.Config) -> None:
    progress.configure(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    progress.deselect_finished(config, items)


# --- tests of real programs never skip in CI ---

# marker -> the variable .ci/run sets to forbid skipping it, and what it needs
REQUIRED = {
    "office": ("XLFLOW_REQUIRE_OFFICE", "LibreOffice"),
    "writers": ("XLFLOW_REQUIRE_WRITERS", "Node.js and the writers in tests/writers"),
    "browser": ("XLFLOW_REQUIRE_BROWSER", "Debian's chromium and chromium-driver"),
    "bundle": ("XLFLOW_REQUIRE_BUNDLE", "the self-contained build (bash packaging/build.sh)"),
    "mailserver": (
        "XLFLOW_REQUIRE_MAIL",
        "pymap and aiosmtpd (pip install pymap aiosmtpd), and on Linux Debian's dovecot-imapd",
    ),
}
_skipped: dict[str, list[str]] = {marker: [] for marker in REQUIRED}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        for marker in REQUIRED:
            if marker in report.keywords:
                _skipped[marker].append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With XLFLOW_REQUIRE_OFFICE=1, XLFLOW_REQUIRE_WRITERS=1, XLFLOW_REQUIRE_BROWSER=1 or
    XLFLOW_REQUIRE_BUNDLE=1 (set by .ci/run), a skipped test of that kind fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for marker, (variable, needs) in REQUIRED.items():
        skipped = _skipped[marker]
        if os.environ.get(variable) == "1" and skipped:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            if reporter is not None:
                reporter.write_line(
                    f"ERROR: {len(skipped)} {marker} test(s) were skipped, but CI requires "
                    f"{needs} ({variable}=1): " + ", ".join(skipped[:5]),
                    red=True,
                )


def set_identity(wb: Any, key: str, value: str) -> None:
    """Change one key of a form's identity in all three of its copies: the hidden sheet,
    the defined name and the custom property (an openpyxl workbook, saved by the caller)."""
    for row in wb["_xlflow"].iter_rows():
        if row[0].value == key:
            row[1].value = value
    for prop in wb.custom_doc_props.props:
        if prop.name == f"xlflow.{key}":
            prop.value = value
    if f"xlflow_{key}" in wb.defined_names:  # the hints are not kept as names
        wb.defined_names[f"xlflow_{key}"].attr_text = f'"{value}"'


def stored(root: Path, round_id: str, path: str) -> Any:
    """The full ledger record of a file (collect reports records without their values)."""
    from xlflow.ledger.book import Ledger

    with Ledger(root / ".xlflow" / "ledger.sqlite") as ledger:
        return next(f for f in ledger.files(round_id) if f.path == path and f.present)


def specific_issue(entry: dict[str, Any], code: str, where: str) -> dict[str, Any]:
    """A rejected file's issue of this code, at this sheet!cell where one is named."""
    assert entry["verdict"] == "rejected"
    found = [i for i in entry["issues"] if i["code"] == code]
    assert found, [i["code"] for i in entry["issues"]]
    if where:
        sheet, _, cell = where.partition("!")
        assert found[0]["sheet"] == sheet and found[0]["cell"].startswith(cell)
    return found[0]


def s4_working_folder(root: Path) -> Path:
    """The working folder that signed the December reproducers (tests/data/s4): round
    2019-H1's forms made, register version 1, no file collected."""
    import zipfile

    with zipfile.ZipFile(Path(__file__).parent / "data" / "s4" / "working-folder.zip") as zf:
        zf.extractall(root)
    (root / "inbox").mkdir(exist_ok=True)
    return root
