"""Reading one returned file safely: cheap checks first (`package`, then `ooxml`, `ods` or
`biff` by its type), then python-calamine.

Everything here runs inside a worker process (see `xlflow.pool`), so a crash, hang
or runaway allocation in a native reader costs only the file being read. Before any
parser sees the bytes, the file type is decided by its content, zip archives are
checked for bombs and unsafe names without inflating them, and XML parts are checked
for DTDs (billion laughs, external entities). Macros are never run, formulas never
evaluated and links never followed: only cached values are read.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import zipfile
from collections.abc import Iterator, Sequence

from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from ..cells import cell_ref
from ..config.model import Limits
from ..issues import Issue, IssueCode, damage_words, error, warning
from .biff import _apply_formula_texts, _scan_xls
from .ods import _read_ods_meta, _scan_ods
from .ooxml import _OOXML_PARTS, _read_ooxml_parts, _sheet_index, _sheet_parts, _TruncationCheck
from .package import (
    _DTD,
    _KIND_WORDS,
    _PACKAGE_WORDS,
    _ZIP_ERRORS,
    _ZIP_UNSUPPORTED,
    _check_zip,
    _members,
    _ole_kind,
    sniff,
    well_formed,
)
from .workbook import (
    REFILL,
    Cell,
    Malformed,
    RawSheet,
    RawWorkbook,
    ReadResult,
    _corrupt,
    _encrypted,
    _invalid_cell,
    _mismatch,
    _refused,
    _too_large,
    _unsupported_zip,
)

_VISIBILITY = {"Visible": "visible", "Hidden": "hidden", "VeryHidden": "veryhidden"}


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Send file descriptor 2 to the null device while native code runs.

    A Rust panic in python-calamine prints its message and, with RUST_BACKTRACE set, a
    backtrace straight to the process's stderr, even when Python catches the panic; an
    allocation failure prints before it aborts. None of that is for the person at the
    terminal: the file's verdict says what happened.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _calamine(
    data: bytes, limits: Limits, raw: RawWorkbook, sheets: Sequence[str] = ()
) -> list[Issue]:
    with quiet_native():
        try:
            return _calamine_sheets(data, limits, raw, sheets)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # pyo3's PanicException derives from BaseException
            return [
                error(
                    IssueCode.READER_CRASHED,
                    "读取程序在这个文件上出了内部错误，"
                    "文件的结构不正常，已拒收；其他文件不受影响。请用 Excel/WPS 打开确认后另存，"
                    "或用下发的原表重新填写后报送。",
                )
            ]


def _calamine_sheets(
    data: bytes, limits: Limits, raw: RawWorkbook, sheets: Sequence[str]
) -> list[Issue]:
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError:
        return [_encrypted()]
    except (CalamineError, ValueError, OSError) as exc:
        return [_corrupt(exc)]
    issues: list[Issue] = []
    everything = wb.sheets_metadata
    chosen = [m for m in everything if m.name in sheets]
    for meta in chosen if sheets and len(chosen) == len(set(sheets)) else everything:
        try:
            ws = wb.get_sheet_by_name(meta.name)
        except CalamineError as exc:
            issues.append(_corrupt(f"工作表“{meta.name}”{damage_words(exc)}", meta.name))
            continue
        end = ws.end
        if end is not None and (end[0] + 1 > limits.max_rows or end[1] + 1 > limits.max_columns):
            issues.append(_too_large(meta.name, end[0] + 1, end[1] + 1, limits))
            continue
        try:
            rows = ws.to_python(skip_empty_area=False)
        except CalamineError as exc:
            issues.append(_corrupt(f"工作表“{meta.name}”{damage_words(exc)}", meta.name))
            continue
        if raw.format == "xls":
            broken = _undecodable(rows)
            if broken is not None:
                return [
                    *issues,
                    _invalid_cell(meta.name, broken, "文字的编码已损坏，读出的是替代字符 �"),
                ]
        merged = ws.merged_cell_ranges or raw.spans.get(meta.name, [])
        raw.sheets.append(
            RawSheet(
                name=meta.name,
                visibility=_VISIBILITY.get(str(meta.visible).rsplit(".", 1)[-1], "visible"),
                rows=[list(r) for r in rows],
                merged=[((a, b), (c, d)) for (a, b), (c, d) in merged],
            )
        )
    return issues


def _undecodable(rows: list[list[Cell]]) -> str | None:
    """The first cell whose text python-calamine decoded with a replacement character: in
    an .xls, a string's UTF-16 that is not valid (a lone surrogate) reads as U+FFFD."""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str) and "\ufffd" in value:
                return cell_ref(r, c)
    return None


def read_workbook(
    data: bytes, suffix: str, limits: Limits, sheets: Sequence[str] = ()
) -> ReadResult:
    """Check and read one returned file. Never raises on bad data: problems are Issues.

    With `sheets`, only those sheets are checked and read, if the file has them all (a
    renamed one means reading every sheet, so that it can be found by its content).
    """
    if len(data) > limits.max_file_mb * 1024 * 1024:
        return _refused(
            IssueCode.LIMIT_EXCEEDED,
            f"文件大小 {len(data) / 1048576:.1f} MB，超过上限 max_file_mb = "
            f"{limits.max_file_mb:g}，未读取。填报表通常不到 1 MB；" + REFILL,
        )
    kind = sniff(data)
    if kind == "empty":
        return _refused(IssueCode.EMPTY_FILE, "文件是空的（0 字节）。" + REFILL)
    if kind == "ole":
        return _read_ole(data, suffix.lower(), limits, sheets)
    if kind == "zip":
        return _read_zip(data, suffix.lower(), limits, sheets)
    return _refused(IssueCode.NOT_A_WORKBOOK, f"文件内容是{_KIND_WORDS[kind]}。" + REFILL)


def _read_ole(data: bytes, suffix: str, limits: Limits, sheets: Sequence[str]) -> ReadResult:
    """An OLE2 file: an .xls (or .et), read after its container and records are checked;
    an encrypted workbook or an Office document of another kind is refused by name."""
    ole = _ole_kind(data)
    if ole == "encrypted":
        return ReadResult(None, [_encrypted()])
    if ole in ("doc", "ppt"):
        what = "Word 文档" if ole == "doc" else "PowerPoint 文档"
        return _refused(IssueCode.NOT_A_WORKBOOK, f"文件内容是{what}，不是 Excel 表格。" + REFILL)
    issues = _mismatch(suffix, "xls", (".xls", ".et"))
    raw = RawWorkbook(format="xls")
    try:
        _scan_xls(data, raw, limits)
    except Malformed as exc:
        return ReadResult(None, [*issues, exc.issue])
    if suffix.lower() == ".et" and not raw.application:
        raw.application = "WPS表格"  # .et is WPS's own name for the .xls format
    issues += _calamine(data, limits, raw, sheets)
    _apply_formula_texts(raw)
    return ReadResult(None if _fatal(issues) else raw, issues)


def _read_zip(data: bytes, suffix: str, limits: Limits, sheets: Sequence[str]) -> ReadResult:
    """A zip package: an .xlsx, .xlsm or .ods, whose parts are checked before any parser or
    python-calamine reads them."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_UNSUPPORTED as exc:
        return ReadResult(None, [_unsupported_zip(exc)])
    except _ZIP_ERRORS as exc:
        return ReadResult(None, [_corrupt(exc)])
    with zf:
        zip_issues, fmt = _check_zip(zf, limits)
        if zip_issues:
            return ReadResult(None, zip_issues)
        if fmt in _PACKAGE_WORDS:
            return _refused(
                IssueCode.NOT_A_WORKBOOK,
                f"文件内容是{_PACKAGE_WORDS[fmt]}，不是可读取的填报表。" + REFILL,
            )
        try:
            parts = _parts(zf, fmt, sheets)
        except Malformed as exc:
            return ReadResult(None, [exc.issue])
        except _ZIP_UNSUPPORTED as exc:
            return ReadResult(None, [_unsupported_zip(exc)])
        except _ZIP_ERRORS as exc:
            return ReadResult(None, [_corrupt(exc)])
    issues = _mismatch(
        suffix, fmt, {"xlsx": (".xlsx",), "xlsm": (".xlsm", ".xlsx")}.get(fmt, (".ods",))
    )
    raw = RawWorkbook(format=fmt, has_macros=fmt == "xlsm")
    try:
        if fmt in ("xlsx", "xlsm"):
            issues += _read_ooxml_parts(parts, raw, limits, sheets)
        else:
            _read_ods_meta(parts.get("meta.xml"), raw)
            _scan_ods(parts.get("content.xml"), raw, limits)
    except Malformed as exc:
        return ReadResult(None, [*issues, exc.issue])
    except Exception as exc:  # defusedxml refuses a DTD by raising its own types
        if type(exc).__name__ in (
            "DTDForbidden",
            "EntitiesForbidden",
            "ExternalReferenceForbidden",
        ):
            return _refused(
                IssueCode.UNSAFE_XML,
                "文件含有 DTD/实体声明，可能是恶意构造的文件，已拒收。" + REFILL,
            )
        return ReadResult(None, [_corrupt(exc)])
    if _fatal(issues):
        return ReadResult(None, issues)
    if raw.has_macros:
        issues.append(
            warning(
                IssueCode.MACROS_PRESENT,
                "文件含有宏（VBA），xlflow 只读取单元格内容，不会运行宏。今后请保存为 .xlsx 格式。",
            )
        )
    issues += _calamine(data, limits, raw, sheets)
    raw.truncation_check = _TruncationCheck(parts)
    return ReadResult(None if _fatal(issues) else raw, issues)


def _parts(zf: zipfile.ZipFile, fmt: str, sheets: Sequence[str]) -> dict[str, bytes]:
    """The parts xlflow reads itself, inflated once: of the worksheets, only those asked
    for (when the file has them all). A DTD in any XML part refuses the file."""
    # which worksheets to inflate is known from the workbook part and its relationships,
    # so those two are read first, and only once
    first = _sheet_index(zf) if fmt != "ods" and sheets else {}
    only = _sheet_parts(first, sheets) if first else None

    def parsed(name: str) -> bool:
        if fmt == "ods":
            return name in ("meta.xml", "content.xml")
        if name.startswith("xl/worksheets/"):
            return only is None or name in only
        return name in _OOXML_PARTS or name.startswith("docProps/")

    wanted: dict[str, bytes] = {}
    members = _members(zf, parsed, first)
    for name, part in itertools.chain(first.items(), members):
        if name.endswith((".xml", ".rels", ".vml")) and _DTD.search(part[:4096]):
            raise Malformed(
                error(
                    IssueCode.UNSAFE_XML,
                    f"文件的 {name} 部件含有 DTD/实体声明（正常的 Excel 文件不会有），"
                    "可能是恶意构造的文件，已拒收。" + REFILL,
                )
            )
        if name.endswith((".xml", ".rels")) and not _checked_elsewhere(name):
            well_formed(name, part)
        if parsed(name):
            wanted[name] = part
    return wanted


def _checked_elsewhere(name: str) -> bool:
    """The parts read cell by cell, whose own pass holds them to well-formed XML (the
    largest parts, never parsed twice)."""
    return name.startswith("xl/worksheets/sheet") or name == "content.xml"


def _fatal(issues: list[Issue]) -> bool:
    fatal = {
        IssueCode.CORRUPT_FILE,
        IssueCode.ENCRYPTED,
        IssueCode.LIMIT_EXCEEDED,
        IssueCode.UNSAFE_XML,
        IssueCode.NOT_A_WORKBOOK,
        IssueCode.ZIP_UNSUPPORTED,
        IssueCode.MALFORMED_PART,
        IssueCode.CELL_VALUE_INVALID,
        IssueCode.READER_CRASHED,
    }
    return any(i.code in fatal for i in issues)
