"""Fuzzing as a habit: every fuzz find has a specific verdict, no value is read wrong, and a
short deterministic run of the harness finds nothing new.

The files in tests/data/fuzz-finds/ are the reproducers a mutation fuzzer found
(../shared/fuzz-finds/, README there). They were made in another working folder, so their
signatures do not verify here: what each must show is its own specific code.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from xlflow.config.model import Limits
from xlflow.reading.reader import _calamine, read_workbook
from xlflow.reading.workbook import RawWorkbook
from xlflow.signing import verify

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    SHARED,
    complete_values,
    fill,
    run,
    run_json,
    specific_issue,
)
from .fuzz import coordinator, harness, outer

FINDS = Path(__file__).parent / "data" / "fuzz-finds"

# file -> (error code it must show, sheet!cell where one is named)
EXPECTED = {
    "B1_ods_negative_repeat_hang.ods": ("malformed-part", ""),
    "B2_xlsx_bad_styles_parseerror.xlsx": ("malformed-part", ""),
    "B3_xlsx_far_cell_ref_oom.xlsx": ("limit-exceeded", "填报!"),
    "B4a_xls_calamine_panic_utils29.xls": ("corrupt-file", ""),
    "B4b_xls_calamine_panic_cfb305.xls": ("corrupt-file", ""),
    "B4c_xls_calamine_panic_cfb345.xls": ("corrupt-file", ""),
    "B4d_xls_calamine_panic_cfb349.xls": ("corrupt-file", ""),
    # a record of type 0 comes before its bad shared-string index (cell-value-invalid, A9)
    "B4e_xls_calamine_panic_utils48.xls": ("malformed-part", ""),
    "B4f_xls_calamine_panic_xls823.xls": ("corrupt-file", ""),
    "B5_xls_dimensions_huge_oom.xls": ("limit-exceeded", "填报!"),
    "B5c_xls_ole_header_oom.xls": ("corrupt-file", ""),
    "B6_xlsx_nonascii_signature_typeerror.xlsx": ("signature-invalid", ""),
    "B7_xlsx_meta_contact_not_object_attributeerror.xlsx": ("metadata-invalid", ""),
    "B8_xlsx_meta_tasks_not_list_typeerror.xlsx": ("metadata-invalid", ""),
    "B9_xlsx_zip_version_notimplemented.xlsx": ("zip-unsupported", ""),
    "F1_xlsx_bad_sst_index_reads_string0.xlsx": ("cell-value-invalid", "填报!K6"),
    # found by xlflow's own harness (tests/fuzz), after the fixes above
    "H1_xls_ole_chain_loop_oom.xls": ("corrupt-file", ""),
    "H2_xls_cell_record_type_zeroed.xls": ("malformed-part", ""),
    # olefile's get_metadata kept busy for minutes by its damaged summary (who saved it)
    "H3_xls_summary_properties_olefile_hang.xls": ("signature-invalid", ""),
}


def test_every_find_is_here() -> None:
    assert sorted(EXPECTED) == sorted(
        p.name for p in FINDS.iterdir() if p.is_file() and p.suffix != ".md"
    )
    shared = SHARED / "fuzz-finds"
    if shared.is_dir():  # beside the repository on the development machines
        for name in EXPECTED:
            if not name.startswith("H"):
                assert (FINDS / name).read_bytes() == (shared / name).read_bytes()


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, float]:
    """All the reproducers collected at once through the real command, as a coordinator
    would run it, with Rust's backtraces switched on."""
    from xlflow.register.init import init_workspace

    root = tmp_path_factory.mktemp("finds") / "work"
    init_workspace(root)
    run(["generate", "-w", str(root), "--round", DEFAULT_ROUND])
    for name in EXPECTED:
        (root / "inbox" / name).write_bytes((FINDS / name).read_bytes())
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    command = [sys.executable, "-m", "xlflow", "collect", "-w", str(root), "--round", DEFAULT_ROUND]
    import time

    started = time.monotonic()
    text = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    seconds = time.monotonic() - started
    assert text.returncode == 0, text.stderr
    data = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, env=env, timeout=120
    )
    import json

    files = {f["path"]: f for f in json.loads(data.stdout)["files"]}
    return files, text.stdout + text.stderr + data.stderr, seconds


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_find_gets_its_specific_verdict(
    collected: tuple[dict[str, Any], str, float], name: str
) -> None:
    files, _, _ = collected
    entry = files[name]
    specific_issue(entry, *EXPECTED[name])
    for issue in entry["issues"]:  # no generic 读取时出错 message with a Python exception in it
        assert not re.search(
            r"(TypeError|AttributeError|NotImplementedError|ParseError)", issue["message"]
        )


def test_the_finds_leave_the_terminal_clean_and_take_no_timeout(
    collected: tuple[dict[str, Any], str, float],
) -> None:
    _, output, _ = collected
    for noise in ("Traceback", "panicked", "stack backtrace", "RUST_BACKTRACE", "Fatal Python"):
        assert noise not in output
    # the hang (B1) is refused by the reader's own check, not by the pool's read timeout
    assert "read-timeout" not in output


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.startswith("B4")))
@pytest.mark.isolation
def test_a_calamine_panic_is_a_verdict_and_prints_nothing(
    name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The real python-calamine, called past xlflow's own checks, panics on these files:
    the panic is caught where calamine is called, and Rust's message stays off stderr."""
    os.environ["RUST_BACKTRACE"] = "1"
    try:
        issues = _calamine((FINDS / name).read_bytes(), Limits(), RawWorkbook(format="xls"))
    finally:
        del os.environ["RUST_BACKTRACE"]
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    assert [i.code.value for i in issues] in (["reader-crashed"], ["corrupt-file"])


def test_a_signature_that_is_not_hex_is_invalid_not_an_exception() -> None:
    assert not verify(b"k" * 32, "１" * 64, round_id="r", division="d", task_ids=(), row_hashes=())
    assert not verify(b"k" * 32, "", round_id="r", division="d", task_ids=(), row_hashes=())


# --- F1 on genuine returns: a bad shared-string index is never read as another string ---


def _as_shared_string(source: Path, target: Path, marker: str, index: str) -> None:
    """The cell holding `marker`, rewritten as a shared-string cell with this index."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            body = zin.read(item)
            if item.filename.startswith("xl/worksheets/") and marker.encode() in body:
                pattern = (
                    rb'<c r="([A-Z]+\d+)"([^>]*?) t="inlineStr"><is><t>'
                    + marker.encode()
                    + rb"</t></is></c>"
                )
                body, n = re.subn(
                    pattern, rb'<c r="\1"\2 t="s"><v>' + index.encode() + rb"</v></c>", body
                )
                assert n == 1
            zout.writestr(item, body)


@pytest.mark.parametrize("index", ["abc", "-1", "1.5", "#DIV/0!", "99999", " 0", ""])
def test_a_bad_shared_string_index_is_refused_by_cell(
    ws: Path, forms: dict[str, Path], index: str
) -> None:
    form = forms["政策规划处"]
    values = complete_values(form)
    values["5"]["下步打算"] = "MARK-F1"
    staged = fill(form, ws / "staging" / "f1.xlsx", values, GOOD_CONTACT)
    _as_shared_string(staged, ws / "inbox" / "f1.xlsx", "MARK-F1", index)
    (entry,) = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])["files"]
    assert entry["verdict"] == "rejected"
    (issue,) = entry["issues"]
    assert issue["code"] == "cell-value-invalid" and issue["sheet"] == "填报"
    assert re.fullmatch(r"K\d+", issue["cell"])


@pytest.mark.parametrize("text", ["NaN", "1e400", "nan", "-inf"])
def test_a_number_that_is_not_finite_is_not_a_number(
    ws: Path, forms: dict[str, Path], text: str
) -> None:
    form = forms["政策规划处"]
    values = complete_values(form)
    values["5"]["完成进度(%)"] = 4242
    staged = fill(form, ws / "staging" / "n.xlsx", values, GOOD_CONTACT)
    with zipfile.ZipFile(staged) as zin, zipfile.ZipFile(ws / "inbox" / "n.xlsx", "w") as zout:
        for item in zin.infolist():
            body = zin.read(item)
            if b"<v>4242</v>" in body:
                body = body.replace(b"<v>4242</v>", f"<v>{text}</v>".encode())
            zout.writestr(item, body)
    (entry,) = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])["files"]
    assert entry["verdict"] == "rejected"
    assert {i["code"] for i in entry["issues"]} & {"not-a-number", "corrupt-file"}


# --- the harness: deterministic in CI, and able to fail ---


def test_a_short_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    summary = harness.run(
        tmp_path / "ws", run_seed=20261130, formats={"xlsx", "xls", "ods"}, rounds=6, workers=2
    )
    assert summary.findings == [], summary.findings
    assert summary.iterations == {"xlsx": 60, "xls": 18, "ods": 18}
    # not vacuous: the mutations get both verdicts
    outcomes = {k for per in summary.outcomes.values() for k in per}
    assert any(k.startswith("accepted") for k in outcomes)
    assert any(k.startswith("rejected") for k in outcomes)


def test_a_short_container_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    """Mails and archives of genuine returns, mutated, through the real collect."""
    summary = outer.run_containers(tmp_path, run_seed=20261205, rounds=8, workers=2)
    assert summary.findings == [], summary.findings
    # a GBK zip, a UTF-8 zip and a zip holding a mail; a mail and a forwarded mail
    assert summary.iterations == {"zip": 27, "7z": 9, "eml": 18, "msg": 9}  # 3 rounds a batch
    # not vacuous: some containers open and their returns are judged, some are refused
    outcomes = {k for per in summary.outcomes.values() for k in per}
    assert any(k.startswith("opened") for k in outcomes)
    assert any(k.startswith("refused") for k in outcomes)


@pytest.mark.parametrize("target", coordinator.TARGETS)
def test_a_short_run_over_the_coordinators_files_finds_nothing(tmp_path: Path, target: str) -> None:
    """Unit directories, received forms and mapping files, mutated, through the real
    directory --check, forward and register --update (issue #38)."""
    summary = coordinator.run_coordinator(tmp_path, target, run_seed=20261206, rounds=12)
    assert summary.findings == [], summary.findings
    outcomes = {k for per in summary.outcomes.values() for k in per}
    assert "refused" in outcomes and "read" in outcomes, summary.outcomes  # not vacuous


def _patches_reach_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A patch made here reaches a forked worker (Linux). A spawned one (Windows) imports
    the module afresh, without it: there the pool runs the jobs in this process, where
    what a job raises is caught as a worker's is (`pool._call`)."""
    if "fork" in multiprocessing.get_all_start_methods():
        monkeypatch.delenv("XLFLOW_POOL_IN_PROCESS", raising=False)
    else:
        monkeypatch.setenv("XLFLOW_POOL_IN_PROCESS", "1")


def test_the_container_harness_reports_a_return_that_vanished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check behind C1-C4: a container read without a word about a return it listed."""
    from xlflow.reading import containers

    def silent(member: Any, *_: Any) -> list[Any]:
        return []  # a nested container dropped, as C4 was

    _patches_reach_the_workers(monkeypatch)
    monkeypatch.setattr(containers, "_nested", silent)
    summary = outer.run_containers(tmp_path, run_seed=1, rounds=4, workers=1, batch=7)
    assert ("套娃.zip", "vanished") in {(f["seed"], f["class"]) for f in summary.findings}


def _read_as_f1_did(path: Path, limits: Any) -> Any:
    """The received form's reader with its shape check raising, as F1's did."""
    from xlflow.relay import forward

    def broken(*_: Any) -> str:
        raise KeyError("fields")

    kept = forward._shape_problem
    forward._shape_problem = broken
    try:
        return forward.parse_received_form(path, limits)
    finally:
        forward._shape_problem = kept


def test_the_coordinator_harness_reports_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlflow.relay import forward

    # the form is read in a worker, which imports the reader it is named (spawned too)
    monkeypatch.setattr(forward, "_READ_FORM", f"{__name__}:_read_as_f1_did")
    summary = coordinator.run_coordinator(tmp_path, "forms", run_seed=1, rounds=4)
    assert "exception" in {f["class"] for f in summary.findings}


def test_a_short_register_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    """The registers, mutated, through the real init."""
    summary = outer.run_registers(tmp_path, run_seed=20261205, rounds=8)
    assert summary.findings == [], summary.findings
    assert summary.iterations == {"xlsx": 8, "docx": 8}
    outcomes = {k for per in summary.outcomes.values() for k in per}
    assert {"read", "refused"} <= outcomes


def test_the_container_harness_reports_an_exception_the_isolation_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C5 as it was: a mail's Date that overflows. The pool contains it now, and the
    harness still calls it a finding, since the reader should not raise at all."""
    from xlflow.reading import containers

    def overflow(*_: Any, **__: Any) -> Any:
        raise OverflowError("date value out of range")

    _patches_reach_the_workers(monkeypatch)
    monkeypatch.setattr(containers, "_said", overflow)
    summary = outer.run_containers(tmp_path, run_seed=1, rounds=1, workers=1, batch=5)
    found = {(f["seed"], f["class"]) for f in summary.findings}
    assert ("回复.eml", "exception") in found and ("回复.msg", "exception") in found


def test_the_register_harness_reports_an_exception_the_isolation_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlflow.register import detect as layout

    def broken(*_: Any, **__: Any) -> Any:
        raise IndexError("string index out of range")

    _patches_reach_the_workers(monkeypatch)
    monkeypatch.setattr(layout, "_read_source", broken)
    summary = outer.run_registers(tmp_path, run_seed=1, rounds=1)
    assert [f["class"] for f in summary.findings] == ["exception", "exception"]


def test_the_differential_check_catches_an_f1_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With xlflow's index check switched off, the F1 mutation of a seed is accepted with a
    wrong value, and the harness says so: the check is what stops it."""
    ws, _ = harness.build_workspace(tmp_path / "ws")
    intake = harness.intake_context(ws)
    seed = next(s for s in harness.load_seeds(intake) if s.name == "00.lo.xlsx")
    with zipfile.ZipFile(__import__("io").BytesIO(seed.data)) as zf:
        sheet = zf.read("xl/worksheets/sheet2.xml")
    cells = re.findall(rb'<c r="(K\d+)"[^>]*t="s"><v>(\d+)</v>', sheet)
    ref, index = cells[1]  # the first task's 下步打算 (cells[0] is the header)
    old = b"<v>" + index + b"</v>"

    def mutated() -> bytes:
        import io

        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(seed.data)) as zin, zipfile.ZipFile(out, "w") as zout:
            for item in zin.infolist():
                body = zin.read(item)
                if item.filename == "xl/worksheets/sheet2.xml":
                    at = body.index(b'<c r="' + ref + b'"')
                    end = body.index(b"</c>", at)
                    body = body[:at] + body[at:end].replace(old, b"<v>abc</v>") + body[end:]
                zout.writestr(item, body)
        return out.getvalue()

    data = mutated()
    assert harness.judge(intake, seed, data, "F1")["verdict"] == "rejected"
    monkeypatch.setattr("xlflow.reading.ooxml._invalid_cell", lambda *a: None)
    outcome = harness.judge(intake, seed, data, "F1")
    assert outcome["verdict"] == "accepted"
    assert outcome["finding"] in ("wrong-value", "unverified-value")


def test_a_fresh_read_of_every_seed_agrees_with_its_independent_reader(tmp_path: Path) -> None:
    ws, _ = harness.build_workspace(tmp_path / "ws")
    intake = harness.intake_context(ws)
    for seed in harness.load_seeds(intake):
        raw = read_workbook(seed.data, harness.SUFFIX[seed.fmt], Limits()).workbook
        assert raw is not None
        sheet = raw.sheet(harness.TASK_SHEET)
        assert sheet is not None
        theirs = harness.oracle_grid(seed.data, seed.fmt)
        assert theirs is not None and harness.differences(sheet.rows, theirs) == [], seed.name


def _read_both_ways(
    data: bytes, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[Any, ...], tuple[Any, ...], bool]:
    """A read with the plain-cell scan and one with only the full scan; and whether the
    plain scan decided at least one sheet."""
    from xlflow.reading import ooxml

    decided = []
    plain = ooxml._scan_plain

    def spy(*args: Any) -> Any:
        result = plain(*args)
        decided.append(result is not None)
        return result

    def summary() -> tuple[Any, ...]:
        got = read_workbook(data, suffix, Limits(), ("填报", "_xlflow"))
        raw = got.workbook
        return (
            [(i.code, i.sheet, i.cell, i.message) for i in got.issues],
            None
            if raw is None
            else (
                [(s.name, s.rows) for s in raw.sheets],
                raw.formulas,
                raw.formulas_without_value,
                raw.percent_cells,
            ),
        )

    with monkeypatch.context() as m:
        m.setattr(ooxml, "_scan_plain", spy)
        fast = summary()
    with monkeypatch.context() as m:
        m.setattr(ooxml, "_scan_plain", lambda *a: None)
        full = summary()
    return fast, full, any(decided)


def test_the_plain_cell_scan_decides_as_the_full_scan_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-pattern scan of ordinary sheets is only a shortcut: on the seeds, and on
    hundreds of their mutations, every issue and every cell note is what the full scan finds."""
    import random

    ws, _ = harness.build_workspace(tmp_path / "ws")
    intake = harness.intake_context(ws)
    seeds = [s for s in harness.load_seeds(intake) if s.fmt == "xlsx"]
    shortcut = 0
    for seed in seeds:
        fast, full, decided = _read_both_ways(seed.data, ".xlsx", monkeypatch)
        assert fast == full, seed.name
        assert decided, f"{seed.name}: an ordinary return took the full scan"
        for n in range(60):
            data, what = harness.mutate(seed, random.Random(f"plain:{seed.name}:{n}"))
            fast, full, decided = _read_both_ways(data, ".xlsx", monkeypatch)
            assert fast == full, (seed.name, n, what)
            shortcut += decided
    assert shortcut > 100  # the mutations exercised the shortcut, not only the full scan


def test_percent_cells_and_formulas_are_noted_by_either_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "填报"
    sheet["A1"] = 0.5
    sheet["A1"].number_format = "0%"
    sheet["C1"] = "文字"
    wb.create_sheet("_xlflow")["B1"] = "=1+1"
    path = tmp_path / "p.xlsx"
    wb.save(path)
    fast, full, decided = _read_both_ways(path.read_bytes(), ".xlsx", monkeypatch)
    assert fast == full and decided  # 填报 by the shortcut, _xlflow (a formula) in full
    assert fast[1] is not None
    _, formulas, without_value, percent = fast[1]
    assert percent == {"填报": {"A1"}}
    assert formulas == {"_xlflow": {"B1"}} and without_value == {"_xlflow": {"B1"}}


@pytest.mark.parametrize(
    "entry, points_to, part",
    [(25, 2, "Workbook"), (30, 30, "目录"), (29, 27, "根存储"), (25, 99, "Workbook")],
)
def test_an_ole_sector_chain_that_loops_or_leaves_is_refused_at_once(
    entry: int, points_to: int, part: str
) -> None:
    """python-calamine follows a looping chain until memory runs out (H1); each chain is
    checked first. In seed 04.xls the FAT is sector 0: the workbook stream runs 2 → 25,
    the root storage 27 → 29, the directory 30 → 31."""
    import struct

    data = bytearray((harness.SEEDS / "04.xls").read_bytes())
    assert struct.unpack_from("<I", data, 76)[0] == 0  # the FAT's first sector
    struct.pack_into("<I", data, 512 + 4 * entry, points_to)
    # in a child with a memory cap (RLIMIT_AS; a Job Object on Windows): without the
    # check, the read would take all there is
    child = (
        "import json, sys\n"
        "try:\n"
        "    import resource\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
        "except ImportError:  # Windows: the Job Object the workers get, this process in it\n"
        "    import ctypes\n"
        "    from xlflow.windows import WorkerJob\n"
        "    job = WorkerJob(1024)\n"
        "    assert job.take(ctypes.windll.kernel32.GetCurrentProcess())\n"
        "from xlflow.config.model import Limits\n"
        "from xlflow.reading.reader import read_workbook\n"
        "result = read_workbook(sys.stdin.buffer.read(), '.xls', Limits())\n"
        "print(json.dumps([result.workbook is None, [[i.code.value, i.message] for i in result.issues]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], input=bytes(data), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-500:]
    refused, issues = json.loads(done.stdout)
    assert refused and len(issues) == 1
    assert issues[0][0] == "corrupt-file" and part in issues[0][1]


def test_a_value_hidden_under_a_merge_is_not_a_finding(tmp_path: Path) -> None:
    """A mutation of 04.xlsx put 1 into H9, which the contact block's merge G9:H9 covers.
    Excel shows nothing there, openpyxl reads nothing, and xlflow's values are the seed's:
    the harness compares only what both readers can see."""
    ws, _ = harness.build_workspace(tmp_path / "ws")
    intake = harness.intake_context(ws)
    seed = next(s for s in harness.load_seeds(intake) if s.name == "04.xlsx")
    data = (Path(__file__).parent / "data" / "fuzz" / "merged-away-value.xlsx").read_bytes()
    outcome = harness.judge(intake, seed, data, "junk <v>1</v> in H9")
    assert outcome["verdict"] == "accepted" and outcome["same"]
    assert "finding" not in outcome
    # a value the merge does not cover is still compared
    theirs = harness.oracle_grid(data, "xlsx")
    assert theirs is not None
    theirs[8][6] = "王五"  # G9, the anchor of the merge
    raw = read_workbook(data, ".xlsx", Limits()).workbook
    assert raw is not None
    sheet = raw.sheet(harness.TASK_SHEET)
    assert sheet is not None
    assert harness.differences(sheet.rows, theirs) == ["R9C7: xlflow '李四' / independent '王五'"]


def test_a_shared_string_count_of_two_to_the_31_is_refused_not_aborted(tmp_path: Path) -> None:
    """Found by the directories harness (seed 38): uniqueCount="2147483648" in the unit
    directory's sharedStrings.xml made python-calamine reserve room for 2**31 strings and
    abort its worker. The declared count is checked against the strings there first."""
    from xlflow.register.init import init_workspace

    root = tmp_path / "work"
    init_workspace(root)
    bad = FINDS.parent / "fuzz" / "directory-shared-strings-unique-count-2e31.xlsx"
    (root / "templates" / "单位名录.xlsx").write_bytes(bad.read_bytes())
    result = run(["directory", "-w", str(root), "--check"], expect=3)
    assert "单位名录" in result.output and "异常终止" not in result.output
    found = read_workbook(bad.read_bytes(), ".xlsx", Limits())
    assert [i.code.value for i in found.issues] == ["malformed-part"]
    assert "声明有 2147483648 个共享字符串" in found.issues[0].message


S4 = Path(__file__).parent / "data" / "s4"


@pytest.mark.parametrize(
    ("name", "code", "says"),
    [
        # an Excel 5.0/95 workbook is honest: refused by name as too old, never as damage
        ("X1.xls", "format-too-old", "Excel 5.0/95"),
        # every XML part well-formed, every CRC right, whether xlflow reads the part or not
        ("L1.xlsx", "malformed-part", "xl/workbook.xml"),
        ("L2.xlsx", "malformed-part", "_rels/.rels"),
        ("L3.ods", "malformed-part", "settings.xml"),
        # a record of unknown type among a sheet's cells (the 处室负责人 cell's)
        ("B1.xls", "biff-record-damaged", "0x0031"),
    ],
)
def test_the_december_workbook_finds(
    ws: Path, forms: dict[str, Path], name: str, code: str, says: str
) -> None:
    """The returns of ../shared/fuzz-finds/s4 (README, 'found after the rest'), through the
    real collect: each refused with its specific code, naming what it is about."""
    (ws / "inbox" / name).write_bytes((S4 / name).read_bytes())
    report = run_json(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    entry = next(f for f in report["files"] if f["path"] == name)
    assert entry["verdict"] == "rejected", entry
    assert [i["code"] for i in entry["issues"]][:1] == [code], entry["issues"]
    assert says in entry["issues"][0]["message"]
    assert "敨瑥半" not in json.dumps(entry, ensure_ascii=False)  # X1's name read as BIFF8
