"""Damage is named, never absorbed: the finds of the later fuzz run (tests/data/fuzz-finds/more/).

- A mail or archive is opened in the isolated pool, under its time and memory limits: one
  that crashes or exhausts its reader costs that container alone, and the rest of the inbox
  is judged (F1c, C1–C6).
- Zip member names are checked before any other use, in workbooks, registers and archives.
- An .xls whose record stream would make python-calamine drop cells or move a value is
  refused, naming where (F2, F3).
- No message a person reads holds a Python exception's name, text or repr.
"""

from __future__ import annotations

import io
import json
import locale
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xlflow import workspace
from xlflow.config.model import Limits
from xlflow.errors import RegisterError, WorkspaceError
from xlflow.intake import collect as intake
from xlflow.intake import unpack as unpacking
from xlflow.issues import IssueCode
from xlflow.pool import IN_PROCESS_VARIABLE, JobFailure, call_isolated
from xlflow.reading.biff import scan_biff
from xlflow.reading.workbook import RawWorkbook
from xlflow.reading.zipnames import member_problem, text_problem
from xlflow.register import init as register_init
from xlflow.register import load as register_load
from xlflow.register.init import check_register
from xlflow.register.load import load_register
from xlflow.text import visible

from .conftest import (
    BUNDLED_XLSX,
    DEFAULT_ROUND,
    SHARED,
    crash_natively,
    fill_complete,
    run,
    specific_issue,
)

FINDS = Path(__file__).parent / "data" / "fuzz-finds"
MORE = FINDS / "more"
WORKING_FOLDER = MORE / "working-folder"

# file -> (error code it must show on its own record, sheet!cell where one is named)
EXPECTED_MORE = {
    "C1_zip_deflate_garbage_zlib_error.zip": ("container-damaged", ""),
    "C2_zip_lzma_bad_props_LZMAError.zip": ("container-damaged", ""),
    "C2_zip_lzma_corrupt_data_LZMAError.zip": ("container-damaged", ""),
    "C3_zip_central_version_NotImplementedError.zip": ("zip-unsupported", ""),
    "C4_zip_zip64_extra_huge_offset_OverflowError.zip": ("container-damaged", ""),
    # the mail opens; the return inside it is judged under its own name (not signed here)
    "C5_eml_date_9999_-1200_OverflowError.eml": ("", ""),
    "C6_zip_60x25MB_lying_compress_size_memory.zip": ("limit-exceeded", ""),
    "F1_ods_nul_member_name_indexerror.ods": ("member-name-control", ""),
    "F1b_xlsx_nul_member_name_indexerror.xlsx": ("member-name-control", ""),
    "F1c_zip_container_nul_member_name_collect_crash.zip": ("member-name-control", ""),
    "F2_xls_stray_bof_drops_rest_of_sheet.xls": ("biff-record-damaged", "填报!H11"),
    "F3_xls_damaged_formula_record_text_lands_in_A1.xls": ("biff-record-damaged", "填报!"),
}
CONTAINERS = sorted(n for n in EXPECTED_MORE if n.endswith((".zip", ".eml")))
# what no message a person reads may hold
EXCEPTION_TEXT = re.compile(r"Error:|Exception|Traceback|object at 0x")
GIB = 1024**3


def test_every_find_of_the_later_run_is_here() -> None:
    here = sorted(p.name for p in MORE.iterdir() if p.is_file() and p.suffix != ".md")
    assert here == sorted(EXPECTED_MORE)
    shared = SHARED / "fuzz-finds" / "more"
    if shared.is_dir():  # beside the repository on the development machines
        for name in EXPECTED_MORE:
            assert (MORE / name).read_bytes() == (shared / name).read_bytes()


# --- collect, measured: the command as a coordinator runs it, with its workers' memory ---


def collect_measured(root: Path, *extra: str) -> tuple[int, dict[str, Any], str, int, int]:
    """`xlflow collect --json` in a process of its own: (exit code, report, stderr, the
    peak of collect's and its workers' memory summed, the largest single process's peak).
    The sum is sampled; the single peak is the kernel's high-water mark, so a spike
    between two samples is still seen."""
    # the largest single process's peak, in KiB: the kernel's high-water mark on Linux;
    # on Windows (no resource module) each process's peak working set, as psutil reads it
    wrapper = (
        "import subprocess, sys, time\n"
        "try:\n    import resource\nexcept ImportError:\n    resource = None\n"
        "if resource is not None:\n"
        "    code = subprocess.run(sys.argv[1:]).returncode\n"
        "    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "else:\n"
        "    import psutil\n"
        "    proc, peak = psutil.Popen(sys.argv[1:]), 0\n"
        "    while proc.poll() is None:\n"
        "        try:\n"
        "            family = [proc, *proc.children(recursive=True)]\n"
        "        except psutil.Error:\n"
        "            family = []\n"
        "        for one in family:\n"
        "            try:\n"
        "                peak = max(peak, one.memory_info().peak_wset // 1024)\n"
        "            except psutil.Error:\n"
        "                pass\n"
        "        time.sleep(0.005)\n"
        "    code = proc.returncode\n"
        "print(peak, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    command = [
        sys.executable,
        "-c",
        wrapper,
        sys.executable,
        "-m",
        "xlflow",
        "collect",
        "-w",
        str(root),
        "--round",
        DEFAULT_ROUND,
        "--json",
        *extra,
    ]
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    env.pop(IN_PROCESS_VARIABLE, None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = psutil.Popen(command, stdout=out, stderr=err, env=env)
        summed = 0
        while proc.poll() is None:
            total = 0
            try:
                family = proc.children(recursive=True)
            except psutil.Error:
                family = []
            for member in family:
                try:
                    total += member.memory_info().rss
                except psutil.Error:
                    continue
            summed = max(summed, total)
            time.sleep(0.005)
        out.seek(0)
        err.seek(0)
        # what collect writes into a file: UTF-8, or the code page on Windows
        encoding = locale.getpreferredencoding(False) if sys.platform == "win32" else "utf-8"
        stdout, stderr = out.read().decode(encoding), err.read().decode(encoding, "replace")
    lines = stderr.rstrip("\n").split("\n")
    single = int(lines[-1]) * 1024  # Linux reports kilobytes
    report = json.loads(stdout) if stdout.strip() else {}
    return proc.returncode, report, "\n".join(lines[:-1]), summed, single


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A working folder with the round's forms sent, and one division's genuine return."""
    from xlflow.register.init import init_workspace

    root = tmp_path_factory.mktemp("damage") / "work"
    init_workspace(root)
    run(["generate", "-w", str(root), "--round", DEFAULT_ROUND])
    form = next((root / "outbox").rglob("*政策规划处*.xlsx"))
    filled = fill_complete(form, tmp_path_factory.mktemp("filled") / "政策规划处.xlsx")
    return root, filled.read_bytes()


def _fresh(template: Path, where: Path) -> Path:
    root = where / "work"
    shutil.copytree(template, root)
    for item in (root / "inbox").iterdir():
        if item.name != ".gitkeep":
            item.unlink()
    return root


@pytest.mark.parametrize("name", CONTAINERS)
def test_a_container_costs_itself_alone(
    genuine: tuple[Path, bytes], tmp_path: Path, name: str
) -> None:
    """F1c stopped every collect while it sat in inbox/; C1–C5 did the same, and C6 took
    collect to 1.6 GB. Each now has its own verdict, beside a genuine return accepted."""
    template, genuine_return = genuine
    root = _fresh(template, tmp_path)
    (root / "inbox" / "政策规划处.xlsx").write_bytes(genuine_return)
    (root / "inbox" / name).write_bytes((MORE / name).read_bytes())
    code, report, stderr, summed, single = collect_measured(root)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "panicked" not in stderr
    files = {f["path"]: f for f in report["files"]}
    assert files["政策规划处.xlsx"]["verdict"] == "accepted"
    expected, _ = EXPECTED_MORE[name]
    if name.startswith("C6") and zipfile_refuses_overlaps():
        expected = "container-damaged"  # refused before a byte is inflated
    if expected:
        entry = files[name]
        assert entry["verdict"] == "rejected"
        (issue,) = entry["issues"]
        assert issue["code"] == expected
        assert f"“{name}”" in issue["message"]  # it names the container
        assert "inbox/" in issue["message"]  # and says what to do
    else:  # C5: the mail opened; what it carried was judged under its own name
        inner = [p for p in files if p.startswith(f"{name}!")]
        assert inner and all(files[p]["verdict"] for p in inner)
    assert summed < GIB, f"collect and its workers peaked at {summed / 2**20:.0f} MiB"
    assert single < GIB, f"one process peaked at {single / 2**20:.0f} MiB"


def zipfile_refuses_overlaps() -> bool:
    """Python's zipfile refuses members whose data overlap from 3.11.8 and 3.12.2 on (the
    zip-bomb fix of CVE-2024-0450): there C6, whose members all claim the same bytes, is
    refused as built on purpose before anything inflates; before, xlflow's own budget
    stops it. The bed's Windows CPython is 3.11.9, Debian's is 3.11.2."""
    with zipfile.ZipFile(MORE / "C6_zip_60x25MB_lying_compress_size_memory.zip") as zf:
        try:
            with zf.open(zf.infolist()[0]) as member:
                member.read(1)
        except zipfile.BadZipFile as exc:
            return "verlap" in str(exc)
    return False


def test_a_lying_zip_is_read_no_further_than_the_budget(
    genuine: tuple[Path, bytes], tmp_path: Path
) -> None:
    """C6's members claim 25 MB compressed each and inflate to 25 MB: the reading stops at
    max_uncompressed_mb, not after every member, so memory follows the limit."""
    template, _ = genuine
    root = _fresh(template, tmp_path)
    settings = root / "xlflow.toml"
    text = settings.read_text("utf-8")
    text = re.sub(r"(?m)^max_uncompressed_mb\s*=.*$", "max_uncompressed_mb = 40", text)
    if "max_uncompressed_mb = 40" not in text:
        text = text.replace("[limits]", "[limits]\nmax_uncompressed_mb = 40")
    settings.write_text(text, "utf-8")
    name = "C6_zip_60x25MB_lying_compress_size_memory.zip"
    (root / "inbox" / name).write_bytes((MORE / name).read_bytes())
    code, report, stderr, _, single = collect_measured(root)
    assert code == 0, stderr
    (entry,) = report["files"]
    if zipfile_refuses_overlaps():
        assert entry["issues"][0]["code"] == "container-damaged"
        assert "互相重叠" in entry["issues"][0]["message"]
    else:
        assert entry["issues"][0]["code"] == "limit-exceeded"
        assert "40 MB" in entry["issues"][0]["message"]
    # two 25 MB members at most were inflated, not sixty
    assert single < 400 * 2**20


# --- the workbook finds: named, with their place ---


@pytest.fixture(scope="module")
def workbook_finds(genuine: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory) -> Any:
    template, _ = genuine
    root = _fresh(template, tmp_path_factory.mktemp("finds"))
    for name in EXPECTED_MORE:
        if not name.endswith((".zip", ".eml")):
            (root / "inbox" / name).write_bytes((MORE / name).read_bytes())
    code, report, stderr, _, _ = collect_measured(root)
    assert code == 0, stderr
    return {f["path"]: f for f in report["files"]}


@pytest.mark.parametrize(
    "name", sorted(n for n in EXPECTED_MORE if not n.endswith((".zip", ".eml")))
)
def test_each_workbook_find_gets_its_specific_verdict(workbook_finds: Any, name: str) -> None:
    entry = workbook_finds[name]
    issue = specific_issue(entry, *EXPECTED_MORE[name])
    if name.startswith("F1"):  # the bad member is named, made visible
        assert "“␀" in issue["message"]
    # damage the reader saw is not passed off as a changed identity
    assert "signature-invalid" not in [i["code"] for i in entry["issues"]]


def test_f2_and_f3_are_refused_where_they_were_signed(tmp_path: Path) -> None:
    """In the working folder that signed them, F2 and F3 passed the signature check and were
    accepted (F2 superseding the genuine return). Now the reader refuses them first."""
    root = tmp_path / "signed"
    shutil.copytree(WORKING_FOLDER, root)
    for name in ("F2_xls_stray_bof_drops_rest_of_sheet.xls", "F3_xls_damaged_formula_record_text_lands_in_A1.xls"):  # fmt: skip
        (root / "inbox" / name).write_bytes((MORE / name).read_bytes())
    code, report, stderr, _, _ = collect_measured(root)
    assert code == 0, stderr
    for entry in report["files"]:
        assert entry["verdict"] == "rejected"
        codes = [i["code"] for i in entry["issues"]]
        assert "biff-record-damaged" in codes and "signature-invalid" not in codes
        (issue,) = [i for i in entry["issues"] if i["code"] == "biff-record-damaged"]
        assert re.search(r"偏移 0x[0-9A-F]+", issue["message"]) and issue["sheet"] == "填报"


# --- no exception text in any message, on every find of both runs ---


def _every_find() -> list[Path]:
    return sorted(
        p for p in [*FINDS.iterdir(), *MORE.iterdir()] if p.is_file() and p.suffix != ".md"
    )


def test_no_message_of_collect_holds_an_exception(
    genuine: tuple[Path, bytes], tmp_path: Path
) -> None:
    template, _ = genuine
    root = _fresh(template, tmp_path)
    for path in _every_find():
        (root / "inbox" / path.name).write_bytes(path.read_bytes())
    code, report, stderr, _, _ = collect_measured(root)
    assert code == 0, stderr
    assert not EXCEPTION_TEXT.search(stderr), stderr
    messages = [i["message"] for f in report["files"] for i in f["issues"]]
    assert len(report["files"]) >= len(_every_find())
    bad = [m for m in messages if EXCEPTION_TEXT.search(m)]
    assert bad == []


def _nul_named_docx(tmp: Path) -> Path:
    """The register as Word keeps it, with one member's name starting with a NUL, as F1b
    has in a workbook."""
    data = (Path(__file__).parent / "data" / "key-task-list.docx").read_bytes()
    assert data.count(b"docProps/app.xml") == 2  # the local header and the central directory
    path = tmp / "清单.docx"
    path.write_bytes(data.replace(b"docProps/app.xml", b"\0ocProps/app.xml"))
    return path


REGISTER_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".docx")


@pytest.mark.parametrize(
    "name", [p.name for p in _every_find() if p.suffix in REGISTER_SUFFIXES] + ["nul-named.docx"]
)
def test_register_check_on_a_find_ends_in_a_clear_message(tmp_path: Path, name: str) -> None:
    """The register reader reads a coordinator's file, which may come from anywhere: every
    find ends with a clear message and exit 3, or is read, never with a traceback."""
    if name == "nul-named.docx":
        path = _nul_named_docx(tmp_path)
    else:
        source = FINDS / name if (FINDS / name).is_file() else MORE / name
        path = tmp_path / name
        path.write_bytes(source.read_bytes())
    result = run(["register", "--check", str(path)], expect=None)
    assert result.exit_code in (0, 3), result.output
    assert not EXCEPTION_TEXT.search(result.output), result.output
    if name in ("F1b_xlsx_nul_member_name_indexerror.xlsx", "nul-named.docx"):
        assert result.exit_code == 3 and "“␀" in result.output


@pytest.mark.parametrize("name", ["F1b_xlsx_nul_member_name_indexerror.xlsx", "nul-named.docx"])
def test_init_with_a_nul_named_register_stops_cleanly(tmp_path: Path, name: str) -> None:
    path = _nul_named_docx(tmp_path) if name.endswith(".docx") else MORE / name
    target = tmp_path / "new"
    result = run(["init", str(target), "--register", str(path)], expect=3)
    assert "名称中含有空字符（NUL）" in result.output and "Traceback" not in result.output
    assert not (target / "xlflow.toml").exists()


# --- the register is read in a worker ---


def _crash(*_: Any) -> Any:
    if os.getpid() == PARENT:  # isolation lost: fail the test, do not take pytest down
        raise AssertionError("the register reader ran in the calling process")
    crash_natively()


# the test's own process: a spawned worker (Windows) imports this module again, and must
# not take its own pid for it, so the first import leaves it in the environment workers get
PARENT = int(os.environ.setdefault("XLFLOW_TEST_PARENT_PID", str(os.getpid())))


def test_a_register_reader_that_crashes_costs_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlflow.register.init import init_workspace
    from xlflow.workspace import Workspace

    root = tmp_path / "w"
    init_workspace(root)
    (root / ".xlflow" / "ledger.sqlite").unlink()  # no cached register: it must be parsed
    monkeypatch.delenv(IN_PROCESS_VARIABLE, raising=False)
    # the worker imports the reader it is named, forked or spawned alike
    monkeypatch.setattr(register_load, "READ_ORGANISED", f"{__name__}:_crash")
    with pytest.raises(RegisterError, match="读取程序异常终止"):
        load_register(Workspace.open(root))
    monkeypatch.setattr(register_init, "DETECT_LAYOUT", f"{__name__}:_crash")
    with pytest.raises(RegisterError, match="读取程序异常终止"):
        check_register(BUNDLED_XLSX)


def test_call_isolated_returns_raises_and_contains() -> None:
    limits = Limits()
    assert call_isolated(divmod, (7, 2), limits.read_timeout_seconds, 256) == (3, 1)
    with pytest.raises(WorkspaceError, match="说清楚"):
        call_isolated(_refuse, (), 30, 256)
    failure = call_isolated(_crash, (), 30, 256)
    assert isinstance(failure, JobFailure) and failure.kind == "crashed"
    broken = call_isolated(_broken, (), 30, 256)
    assert isinstance(broken, JobFailure) and broken.kind == "error"
    assert "IndexError" in broken.cause and "IndexError" not in broken.detail


def _refuse() -> None:
    raise WorkspaceError("说清楚哪里不对")


def _broken() -> None:
    raise IndexError("string index out of range")


def test_a_container_reader_that_crashes_costs_that_container(
    genuine: tuple[Path, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unpacking runs in the pool: an abort there (a native decompressor's) is the
    container's verdict, and the return beside it is accepted."""
    template, genuine_return = genuine
    root = _fresh(template, tmp_path)
    (root / "inbox" / "政策规划处.xlsx").write_bytes(genuine_return)
    (root / "inbox" / "回复.zip").write_bytes(_zip({"a.xlsx": b"x"}))
    monkeypatch.delenv(IN_PROCESS_VARIABLE, raising=False)
    # what the pool is given to run: a spawned worker (Windows) imports it by name
    monkeypatch.setattr(unpacking, "unpack_file", _crash)
    report = intake.collect(workspace.Workspace.open(root), DEFAULT_ROUND, workers=1)
    files = {f.path: f for f in report.files}
    assert str(files["政策规划处.xlsx"].verdict) == "accepted"
    (issue,) = files["回复.zip"].issues
    assert issue.code is IssueCode.READER_CRASHED and "“回复.zip”" in issue.message


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- zip member names ---


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", IssueCode.MEMBER_NAME_EMPTY),
        ("   ", IssueCode.MEMBER_NAME_EMPTY),
        ("\0otes.txt", IssueCode.MEMBER_NAME_CONTROL),
        ("a\x07b.xlsx", IssueCode.MEMBER_NAME_CONTROL),
        ("a\x7fb.xlsx", IssueCode.MEMBER_NAME_CONTROL),
        ("/etc/passwd", IssueCode.UNSAFE_ZIP_MEMBER),
        ("\\windows\\x.xlsx", IssueCode.UNSAFE_ZIP_MEMBER),
        ("C:/x.xlsx", IssueCode.UNSAFE_ZIP_MEMBER),
        ("a/../../x.xlsx", IssueCode.UNSAFE_ZIP_MEMBER),
        ("a\\..\\x.xlsx", IssueCode.UNSAFE_ZIP_MEMBER),
        ("高新处/报表.xlsx", None),
        ("..报表.xlsx", None),
        ("会议纪要：2019.xlsx", None),
    ],
)
def test_a_member_name_is_judged_before_use(name: str, code: IssueCode | None) -> None:
    problem = text_problem(name)
    assert (problem.code if problem else None) is code
    if problem is not None:
        assert not re.search(r"[\x00-\x1f\x7f]", problem.shown)  # shown, never raw


def _info(raw: bytes, utf8: bool) -> zipfile.ZipInfo:
    """A ZipInfo as zipfile makes one from a central directory's name bytes."""
    info = zipfile.ZipInfo(raw.decode("utf-8" if utf8 else "cp437"))
    info.orig_filename = raw.decode("utf-8" if utf8 else "cp437")
    info.flag_bits = 0x800 if utf8 else 0
    return info


def test_a_member_name_in_either_encoding_is_read_and_one_in_neither_is_refused() -> None:
    assert member_problem(_info("报表.xlsx".encode("gbk"), utf8=False)) is None
    assert member_problem(_info("报表.xlsx".encode(), utf8=False)) is None  # UTF-8, no flag
    assert member_problem(_info("报表.xlsx".encode(), utf8=True)) is None
    neither = member_problem(_info(b"\xff\xfe\xff.xlsx", utf8=False))
    assert neither is not None and neither.code is IssueCode.MEMBER_NAME_ENCODING
    nul = member_problem(_info(b"\0otes.txt", utf8=False))
    assert nul is not None and nul.code is IssueCode.MEMBER_NAME_CONTROL


def test_control_characters_are_made_visible() -> None:
    assert visible("\0otes\x07.txt") == "␀otes␇.txt"
    assert visible("正常.xlsx") == "正常.xlsx"
    # a table of lines passes whole; a control or a bidirectional mark anywhere in it does not
    table = "处室\t情况\n政策规划处\t已采用\n"
    assert visible(table, keep="\n\t") == table
    assert visible(table + "\x1b[2J", keep="\n\t") == table + "␛[2J"
    assert visible(table + "\u202e", keep="\n\t") == table + "<U+202E>"
    assert visible("a\tb") == "a␉b"  # a tab not kept is shown


@given(st.text(alphabet=st.characters(max_codepoint=0x2100), max_size=40))
def test_visible_shows_a_text_as_it_shows_each_of_its_characters(text: str) -> None:
    """The whole text's quick pass never lets through what a character alone would show."""
    for keep in ("", "\n\t"):
        assert visible(text, keep) == "".join(visible(ch, keep) for ch in text)


def test_a_zip_flagged_utf8_with_invalid_bytes_is_named() -> None:
    from xlflow.reading.containers import unpack

    raw = _zip({"PPPP.xlsx": b"x"})
    # the name's bytes become invalid UTF-8 while the flag (bit 11) says UTF-8
    flagged = bytearray(raw.replace(b"PPPP.xlsx", b"\xff\xfePP.xlsx"))
    for header, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        flagged[flagged.find(header) + flag_at + 1] |= 0x08
    inner, issues = unpack("附件.zip", bytes(flagged), Limits())
    assert inner == [] and [i.code for i in issues] == [IssueCode.MEMBER_NAME_ENCODING]


# --- BIFF damage, on record streams made here ---


def _record(kind: int, body: bytes) -> bytes:
    return kind.to_bytes(2, "little") + len(body).to_bytes(2, "little") + body


def _cell(kind: int, row: int, col: int, rest: bytes) -> bytes:
    return _record(kind, row.to_bytes(2, "little") + col.to_bytes(2, "little") + rest)


BOF_SHEET = _record(0x0809, b"\x00\x06\x10\x00" + b"\0" * 12)
BOF_CHART = _record(0x0809, b"\x00\x06\x20\x00" + b"\0" * 12)
EOF = _record(0x000A, b"")
XF = _record(0x00E0, b"\0" * 20)
NUMBER_B2 = _cell(0x0203, 1, 1, b"\0\0" + b"\0" * 8)
NUMBER_C2 = _cell(0x0203, 1, 2, b"\0\0" + b"\0" * 8)
FORMULA_TEXT_D2 = _cell(0x0006, 1, 3, b"\0\0" + b"\0\0\0\0\0\0\xff\xff" + b"\0" * 6)
FORMULA_NUM_D2 = _cell(0x0006, 1, 3, b"\0\0" + b"\0" * 8 + b"\0" * 6)
STRING = _record(0x0207, b"\x02\x00\x00ok")


def _stream(*sheet: bytes) -> bytes:
    """Globals (one XF, one BOUNDSHEET) and one sheet holding `sheet`'s records."""

    def globals_(offset: int) -> bytes:
        name = b"\x02\x00S1"
        bound = _record(0x0085, offset.to_bytes(4, "little") + b"\0\0" + name)
        return BOF_SHEET + XF + bound + EOF

    head = globals_(0)
    head = globals_(len(head))
    return head + BOF_SHEET + b"".join(sheet) + EOF


def _scan(*sheet: bytes) -> RawWorkbook:
    raw = RawWorkbook(format="xls")
    scan_biff(_stream(*sheet), raw, Limits())
    return raw


def _damage(*sheet: bytes) -> Any:
    from xlflow.reading.workbook import Malformed

    with pytest.raises(Malformed) as caught:
        _scan(*sheet)
    issue = caught.value.issue
    assert issue.code is IssueCode.BIFF_RECORD_DAMAGED and issue.sheet == "S1"
    assert not EXCEPTION_TEXT.search(issue.message)
    return issue


def test_a_sound_stream_is_read() -> None:
    raw = _scan(NUMBER_B2, FORMULA_TEXT_D2, STRING, NUMBER_C2)
    assert raw.formula_texts["S1"] == {(1, 3): "ok"}


def test_a_bof_inside_a_sheet_is_damage_named_by_cell() -> None:
    stray = _record(0x0809, (1).to_bytes(2, "little") + (2).to_bytes(2, "little") + b"\0\0")
    issue = _damage(NUMBER_B2, stray, NUMBER_C2)
    assert "B2 之后" in issue.message and issue.cell == "C2" and "BOF" in issue.message


def test_an_embedded_chart_is_walked_through_and_cells_after_it_are_refused() -> None:
    _scan(NUMBER_B2, NUMBER_C2, BOF_CHART, _record(0x1001, b"\0\0"), EOF)
    issue = _damage(NUMBER_B2, BOF_CHART, EOF, NUMBER_C2)
    assert "图表" in issue.message


def test_a_string_that_follows_no_text_formula_is_damage() -> None:
    issue = _damage(NUMBER_B2, STRING)  # calamine would write "ok" into A1
    assert "STRING" in issue.message and "B2 之后" in issue.message
    _damage(FORMULA_NUM_D2, STRING)  # a number result has no STRING
    # shared formulas may stand between a formula and its text
    _scan(FORMULA_TEXT_D2, _record(0x04BC, b"\0" * 10), STRING)


def test_a_cell_record_retyped_as_continue_is_damage() -> None:
    continued = _record(0x003C, (1).to_bytes(2, "little") + (2).to_bytes(2, "little") + b"\0" * 10)
    issue = _damage(NUMBER_B2, continued)
    assert "CONTINUE" in issue.message and issue.cell == "C2"


def test_cells_after_an_early_eof_are_damage() -> None:
    issue = _damage(NUMBER_B2, EOF, NUMBER_C2)
    assert "EOF" in issue.message and issue.cell == "C2"


def test_the_offset_names_where_in_the_stream() -> None:
    stream = _stream(NUMBER_B2, STRING)
    from xlflow.reading.workbook import Malformed

    with pytest.raises(Malformed) as caught:
        scan_biff(stream, RawWorkbook(format="xls"), Limits())
    at = stream.rindex(STRING)
    assert f"0x{at:X}" in caught.value.issue.message
