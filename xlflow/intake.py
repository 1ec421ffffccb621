"""Collecting returned files: scan the inbox, identify each file by its content,
validate it, give it a verdict, record it in the ledger and write receipts.

Nothing in the inbox is ever modified, moved or deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import Settings
from .files import atomic_copy, atomic_write, folder_lock, sha256_file, sweep_temp_files
from .issues import Issue, IssueCode, Verdict, error, has_errors, warning
from .ledger import AcceptedValues, FormStore, Ledger, now_text
from .model import FileRecord, FormSpec, Round
from .pool import IsolatedPool, JobFailure, default_workers
from .reader import SPREADSHEET_SUFFIXES, RawWorkbook, read_workbook, text_of
from .receipts import write_receipts
from .signing import (
    IDENTITY_KEYS,
    META_SHEET,
    NAME_PREFIX,
    PROP_PREFIX,
    SCHEMA,
    load_or_create_secret,
    verify,
)
from .text import task_id_text
from .validate import find_task_sheet, locate_table, validate_form
from .workspace import Workspace

_SKIP_CODES = {
    IssueCode.SKIPPED_LOCK_FILE,
    IssueCode.SKIPPED_HIDDEN,
    IssueCode.SKIPPED_SYMLINK,
    IssueCode.SKIPPED_NOT_SPREADSHEET,
    IssueCode.OTHER_ROUND_FILE,
}
_SILENT = {".gitkeep", ".DS_Store", "Thumbs.db", "desktop.ini"}


# --- scanning ---


@dataclass(frozen=True)
class Found:
    """A file in the inbox worth reading, or one skipped with a reason."""

    path: Path
    rel: str
    size: int
    mtime: float
    skip: Issue | None = None


def _display(rel: str) -> str:
    # names that are not valid UTF-8 still need a printable, storable form
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def scan_inbox(inbox: Path) -> list[Found]:
    """Every file under inbox/, recursively, without following links."""
    found: list[Found] = []
    if not inbox.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        base = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            p = base / d
            rel = _display(p.relative_to(inbox).as_posix())
            if p.is_symlink():
                found.append(
                    _skipped(
                        p, rel, IssueCode.SKIPPED_SYMLINK, "这是指向别处的文件夹链接，不读取。"
                    )
                )
            elif d.startswith("."):
                found.append(_skipped(p, rel, IssueCode.SKIPPED_HIDDEN, "隐藏文件夹，不读取。"))
            elif d.lower().endswith(SPREADSHEET_SUFFIXES):
                found.append(
                    _skipped(
                        p,
                        rel,
                        IssueCode.SKIPPED_NOT_SPREADSHEET,
                        "这是名字以表格扩展名结尾的文件夹，不是文件，已跳过。",
                    )
                )
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = base / name
            rel = _display(p.relative_to(inbox).as_posix())
            if name in _SILENT:
                continue
            try:
                st = p.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                found.append(
                    _skipped(
                        p,
                        rel,
                        IssueCode.SKIPPED_SYMLINK,
                        "这是一个链接（快捷方式），xlflow 不跟随链接读取。请把文件本身放入 inbox。",
                    )
                )
            elif name.startswith("~$") or name.startswith(".~lock."):
                found.append(
                    _skipped(
                        p,
                        rel,
                        IssueCode.SKIPPED_LOCK_FILE,
                        "这是 Office/WPS/LibreOffice 打开文件时生成的临时锁定文件，不是报送的表格，已跳过。",
                    )
                )
            elif name.startswith("."):
                found.append(_skipped(p, rel, IssueCode.SKIPPED_HIDDEN, "隐藏文件，已跳过。"))
            elif not stat.S_ISREG(st.st_mode):
                found.append(
                    _skipped(p, rel, IssueCode.SKIPPED_NOT_SPREADSHEET, "不是普通文件，已跳过。")
                )
            elif not name.lower().endswith(SPREADSHEET_SUFFIXES):
                found.append(
                    _skipped(
                        p,
                        rel,
                        IssueCode.SKIPPED_NOT_SPREADSHEET,
                        _not_spreadsheet(name),
                    )
                )
            else:
                found.append(Found(p, rel, st.st_size, st.st_mtime))
    return found


_ARCHIVES = (".zip", ".rar", ".7z", ".tar", ".gz")


def _not_spreadsheet(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _ARCHIVES:
        return (
            f"这是压缩包（{suffix}），xlflow 不解压。请把其中的填报表解压出来放入 inbox/"
            "（压缩包本身可以留着），再运行 collect。"
        )
    return (
        f"扩展名 {suffix or '（无）'} 不是表格文件（.xlsx .xlsm .xls .et .ods），已跳过。"
        "如果这是报送的填报表，请另存为 .xlsx 后重新放入。"
    )


def _skipped(path: Path, rel: str, code: IssueCode, message: str) -> Found:
    try:
        st = path.lstat()
        size, mtime = st.st_size, st.st_mtime
    except OSError:
        size, mtime = 0, 0.0
    return Found(path, rel, size, mtime, warning(code, message, file=rel))


# --- identification ---


@dataclass
class Metadata:
    values: dict[str, str]
    row_hashes: dict[str, str] | None
    sources: tuple[str, ...]
    sheet_name: str = ""
    sheet_visibility: str = ""


def _unquote_name(text: str) -> str:
    text = text.strip()
    if text.startswith("="):
        text = text[1:]
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def _joined(source: Mapping[str, str], prefix: str, key: str, unquote: bool) -> str | None:
    first = source.get(prefix + key)
    if first is None:
        return None
    parts = [first]
    n = 2
    while (more := source.get(f"{prefix}{key}_{n}")) is not None:
        parts.append(more)
        n += 1
    return "".join(_unquote_name(p) if unquote else p for p in parts)


def read_metadata(raw: RawWorkbook) -> tuple[Metadata | None, list[Issue]]:
    """The identity written by `generate`, from every place it was put."""
    sheet_values: dict[str, str] = {}
    row_hashes: dict[str, str] | None = None
    meta_sheet = raw.sheet(META_SHEET)
    if meta_sheet is None:
        meta_sheet = next((s for s in raw.sheets if text_of(s.cell(0, 0)) == "xlflow"), None)
    if meta_sheet is not None:
        in_table = False
        for row in meta_sheet.rows:
            key = text_of(row[0]) if row else ""
            value = text_of(row[1]) if len(row) > 1 else ""
            if key == "task_id":
                in_table, row_hashes = True, {}
                continue
            if in_table and row_hashes is not None and key:
                row_hashes[task_id_text(key)] = value
            elif key and key != "xlflow":
                sheet_values[key] = value
    from_names = {
        key: v
        for key in IDENTITY_KEYS
        if (v := _joined(raw.defined_names, NAME_PREFIX, key, True)) is not None
    }
    from_props = {
        key: v
        for key in IDENTITY_KEYS
        if (v := _joined(raw.properties, PROP_PREFIX, key, False)) is not None
    }
    sources = [
        (name, values)
        for name, values in (
            ("工作表", sheet_values),
            ("定义名称", from_names),
            ("文档属性", from_props),
        )
        if values
    ]
    if not sources:
        return None, []
    issues: list[Issue] = []
    merged: dict[str, str] = {}
    for key in IDENTITY_KEYS:
        seen = [(name, values[key].strip()) for name, values in sources if key in values]
        if not seen:
            continue
        merged[key] = seen[0][1]
        if key == "schema":
            # LibreOffice turns number properties into floats: 1 -> 1.0
            distinct = {v.removesuffix(".0") for _, v in seen}
        else:
            distinct = {v for _, v in seen}
        if len(distinct) > 1:
            shown = "；".join(f"{name}：{v[:40]}" for name, v in seen)
            issues.append(
                error(
                    IssueCode.METADATA_CONFLICT,
                    f"文件中隐藏的识别信息前后不一致（{key}：{shown}），可能被改动或拼接过。"
                    "请使用下发给本处室的原表重新填写。",
                )
            )
    for key, value in sheet_values.items():
        merged.setdefault(key, value)
    meta = Metadata(
        values=merged,
        row_hashes=row_hashes,
        sources=tuple(name for name, _ in sources),
        sheet_name=meta_sheet.name if meta_sheet is not None else "",
        sheet_visibility=meta_sheet.visibility if meta_sheet is not None else "",
    )
    return meta, issues


@dataclass(frozen=True)
class IntakeContext:
    """What a worker needs to check a file; inherited by forked workers."""

    settings: Settings
    round: Round
    forms: Mapping[str, FormSpec]
    secret: bytes
    previous: Mapping[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    previous_round: str = ""
    archive: str = ""


@dataclass(frozen=True)
class ReadJob:
    path: str
    rel: str
    size: int
    mtime: float
    sha256: str


@dataclass(frozen=True)
class Identity:
    division: str
    round: str
    spec: FormSpec | None
    sheet_hint: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    contact: dict[str, str] = field(default_factory=dict)


def _loads(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return default


def _identity_shapes(
    values: Mapping[str, str],
) -> tuple[tuple[str, ...] | None, dict[str, dict[str, str]], list[Issue]]:
    """The task list and the column and contact hints, checked for their JSON shape.

    The task list is signed: one that is not a list of ids cannot be verified. The hints
    are not signed and only help find cells, so a mangled one is ignored with a warning.
    """
    issues: list[Issue] = []
    tasks = _loads(values.get("tasks", "[]"), None)
    task_ids: tuple[str, ...] | None = None
    if isinstance(tasks, list) and all(
        isinstance(t, str | int) and not isinstance(t, bool) for t in tasks
    ):
        task_ids = tuple(str(t) for t in tasks)
    else:
        issues.append(
            error(
                IssueCode.METADATA_INVALID,
                "文件中隐藏的识别信息格式不对（任务清单不是一组序号），无法核验这是哪份表格，已拒收。"
                "请使用下发给本处室的原表重新填写后报送。",
            )
        )
    hints: dict[str, dict[str, str]] = {}
    for key, what in (("columns", "填报列的位置"), ("contact", "联系人栏的位置")):
        value = _loads(values.get(key, "{}"), None)
        if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            hints[key] = value
        else:
            hints[key] = {}
            issues.append(
                warning(
                    IssueCode.METADATA_INVALID,
                    f"文件中隐藏的识别信息里“{what}”格式不对，已忽略，改按表头查找。不影响采用。",
                )
            )
    return task_ids, hints, issues


def identify(
    raw: RawWorkbook, ctx: IntakeContext, filename: str
) -> tuple[Identity | None, list[Issue]]:
    """Which division and round a file is, from its metadata or, failing that, its content."""
    meta, issues = read_metadata(raw)
    if meta is None:
        return _identify_by_content(raw, ctx, filename)
    values = meta.values
    division = values.get("division", "")
    round_id = values.get("round", "")
    if has_errors(issues):
        return Identity(division, round_id, None), issues
    if meta.sheet_visibility == "visible":
        issues.append(
            warning(
                IssueCode.METADATA_VISIBLE,
                f"隐藏的识别工作表“{meta.sheet_name}”被取消隐藏了。不影响采用，但请勿修改它。",
                sheet=meta.sheet_name,
            )
        )
    schema = values.get("schema", "").removesuffix(".0")
    if schema and schema != str(SCHEMA):
        issues.append(
            error(
                IssueCode.SCHEMA_UNSUPPORTED,
                f"这是另一版本 xlflow 生成的表格（schema {schema}），本版本无法核验。请使用本次下发的表格。",
            )
        )
        return Identity(division, round_id, None), issues
    task_ids, hints, shape_issues = _identity_shapes(values)
    issues += shape_issues
    if task_ids is None:
        return Identity(division, round_id, None), issues
    signature = values.get("signature", "")
    spec = ctx.forms.get(division) if round_id == ctx.round.id else None
    if meta.row_hashes is not None:
        hashes = tuple(meta.row_hashes.get(t, "") for t in task_ids)
    elif spec is not None:
        hashes = spec.row_hashes
    else:
        hashes = ()
    genuine = (
        bool(signature)
        and bool(division)
        and verify(
            ctx.secret,
            signature,
            round_id=round_id,
            division=division,
            task_ids=task_ids,
            row_hashes=hashes,
        )
    )
    if not genuine:
        issues.append(
            error(
                IssueCode.SIGNATURE_INVALID,
                f"文件自称是“{division or '（空）'}”{round_id or ''}的填报表，但签名核验不通过："
                "隐藏的识别信息被改动过，或不是本办公室下发的表格。已拒收。请使用下发给本处室的原表填写。",
            )
        )
        return Identity(division, round_id, None), issues
    if round_id != ctx.round.id:
        issues.append(
            error(
                IssueCode.WRONG_ROUND,
                f"这是“{round_id}”轮次的填报表，本次收集的是“{ctx.round.title}”（{ctx.round.id}）。"
                "请使用本轮次下发的表格重新填报。",
            )
        )
        return Identity(division, round_id, None), issues
    if spec is None or spec.task_ids != task_ids:
        issues.append(
            error(
                IssueCode.SIGNATURE_INVALID,
                f"文件是“{division}”的表格，但与本轮次下发的表格不一致（可能是重新生成前的旧表）。请使用最新下发的表格。",
            )
        )
        return Identity(division, round_id, None), issues
    return (
        Identity(
            division,
            round_id,
            spec,
            sheet_hint=values.get("sheet", ""),
            columns=hints["columns"],
            contact=hints["contact"],
        ),
        issues,
    )


def _identify_by_content(
    raw: RawWorkbook, ctx: IntakeContext, filename: str
) -> tuple[Identity | None, list[Issue]]:
    """No metadata at all (pasted into a new workbook): match task ids and text."""
    sheet = find_task_sheet(raw, ctx.settings)
    unidentified = error(
        IssueCode.UNIDENTIFIED,
        "无法识别这是哪个处室的填报表：文件中没有 xlflow 的识别信息，任务序号也对不上任何处室。"
        "请使用下发给本处室的原表填写后重新报送。",
    )
    if sheet is None:
        return None, [unidentified]
    table, _ = locate_table(sheet, None, ctx.settings)
    if table is None:
        return None, [unidentified]
    ids = set()
    for r in range(table.header_row + 1, len(sheet.rows)):
        tid = task_id_text(sheet.cell(r, table.id_col))
        if tid:
            ids.add(tid)
    head_text = " ".join(text_of(c) for row in sheet.rows[: table.header_row] for c in row)
    scored = []
    for division, spec in ctx.forms.items():
        expected = set(spec.task_ids)
        overlap = len(ids & expected) / max(1, len(ids | expected))
        named = f"填报单位：{division}" in head_text or division in filename
        scored.append((overlap + (0.5 if named else 0.0), overlap, division))
    scored.sort(reverse=True)
    if not scored or scored[0][1] < 0.5 or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None, [unidentified]
    division = scored[0][2]
    return Identity(division, ctx.round.id, ctx.forms[division]), [
        warning(
            IssueCode.IDENTIFIED_BY_CONTENT,
            f"文件中没有 xlflow 的识别信息（可能把内容复制到了新文件），已按任务序号和内容识别为“{division}”的填报表。"
            "以后请直接在下发的原表中填写。",
        )
    ]


def _filename_warning(filename: str, division: str, all_divisions: list[str]) -> Issue | None:
    if division in filename:
        return None
    others = [d for d in all_divisions if d != division and d in filename]
    if not others:
        return None
    return warning(
        IssueCode.FILENAME_MISMATCH,
        f"文件名中写的是“{others[0]}”，但内容是“{division}”的填报表，已按“{division}”处理。请核实是否发错了文件。",
    )


def process_file(ctx: IntakeContext, job: ReadJob) -> FileRecord:
    """Read, identify and validate one file, and archive it if accepted. Runs in a worker."""
    data = Path(job.path).read_bytes()
    record = check_file(ctx, job, data)
    if record.verdict is Verdict.ACCEPTED and ctx.archive:
        # the worker holds the bytes already: archiving here costs no second read
        target = Path(ctx.archive) / archive_name(record)
        if not target.exists():
            # made durable for the whole run at once (os.sync) before the ledger commits
            atomic_write(target, data, durable=False)
    return record


def archive_name(record: FileRecord) -> str:
    return f"{record.sha256}{Path(record.path).suffix.lower() or '.bin'}"


def check_file(ctx: IntakeContext, job: ReadJob, data: bytes) -> FileRecord:
    """Read, identify and validate one file's bytes."""
    sha = hashlib.sha256(data).hexdigest()
    record = FileRecord(
        path=job.rel, size=len(data), mtime=job.mtime, sha256=sha, round=ctx.round.id
    )
    result = read_workbook(data, Path(job.path).suffix, ctx.settings.limits)
    issues = list(result.issues)
    raw = result.workbook
    if raw is None:
        return _finish(record, issues, raw)
    identity, found = identify(raw, ctx, Path(job.rel).name)
    issues += found
    if identity is None or identity.spec is None or has_errors(issues):
        division = identity.division if identity else ""
        return _finish(
            replace(record, division=division, identified_round=identity.round if identity else ""),
            issues,
            raw,
        )
    spec = identity.spec
    mismatch = _filename_warning(Path(job.rel).name, spec.division, list(ctx.forms))
    if mismatch:
        issues.append(mismatch)
    checked = validate_form(
        raw,
        spec,
        ctx.settings,
        sheet_hint=identity.sheet_hint,
        column_hint=identity.columns,
        contact_hint=identity.contact,
        previous=ctx.previous.get(spec.division),
        previous_round=ctx.previous_round,
    )
    issues += checked.issues
    # A rejected file keeps its values on record (its receipt shows them) but never counts.
    record = replace(
        record,
        division=spec.division,
        identified_round=identity.round,
        values=checked.values,
        contact=checked.contact,
    )
    return _finish(record, issues, raw)


def _finish(record: FileRecord, issues: list[Issue], raw: RawWorkbook | None) -> FileRecord:
    located = tuple(
        replace(i, file=record.path, division=i.division or record.division) for i in issues
    )
    return replace(
        record,
        issues=located,
        format=raw.format if raw else "",
        application=raw.application if raw else "",
        verdict=base_verdict(located),
    )


def base_verdict(issues: tuple[Issue, ...] | list[Issue]) -> Verdict:
    if any(i.code in _SKIP_CODES for i in issues):
        return Verdict.SKIPPED
    return Verdict.REJECTED if has_errors(list(issues)) else Verdict.ACCEPTED


def _failure_record(job: ReadJob, ctx: IntakeContext, failure: JobFailure) -> FileRecord:
    if failure.kind == "timeout":
        issue = error(
            IssueCode.READ_TIMEOUT,
            f"读取超过 {ctx.settings.limits.read_timeout_seconds:g} 秒仍未完成（read_timeout_seconds），已放弃。"
            "文件可能过大或已损坏；请用下发的原表重新填写后报送。",
        )
    elif failure.kind == "error":
        issue = error(
            IssueCode.CORRUPT_FILE,
            f"读取时出错（{failure.detail}），文件可能已损坏。请用 Excel/WPS 打开确认后重新保存报送，"
            "或用下发的原表重新填写。",
        )
    else:
        issue = error(
            IssueCode.READER_CRASHED,
            f"读取这个文件时读取程序崩溃（{failure.detail}）。文件可能已损坏、过大或是恶意构造的；"
            "其他文件不受影响。请用下发的原表重新填写后报送。",
        )
    record = FileRecord(
        path=job.rel, size=job.size, mtime=job.mtime, sha256=job.sha256, round=ctx.round.id
    )
    return _finish(record, [issue], None)


# --- verdicts across files ---


def assign_verdicts(records: list[FileRecord]) -> list[FileRecord]:
    """Duplicates, then the newest accepted file per division counts; the others are superseded."""
    out = [replace(r, verdict=base_verdict(r.issues), superseded_by="") for r in records]
    order = sorted(range(len(out)), key=lambda i: (out[i].mtime, out[i].path))
    first_of: dict[str, int] = {}
    for i in order:
        r = out[i]
        if r.verdict is Verdict.SKIPPED or not r.sha256:
            continue
        if r.sha256 in first_of:
            out[i] = replace(
                r, verdict=Verdict.DUPLICATE, superseded_by=out[first_of[r.sha256]].path
            )
        else:
            first_of[r.sha256] = i
    newest: dict[str, int] = {}
    for i in order:
        r = out[i]
        if r.verdict is Verdict.ACCEPTED:
            newest[r.division] = i
    for i in order:
        r = out[i]
        if r.verdict is Verdict.ACCEPTED and newest[r.division] != i:
            out[i] = replace(
                r, verdict=Verdict.SUPERSEDED, superseded_by=out[newest[r.division]].path
            )
    return out


# --- the whole step ---


@dataclass(frozen=True)
class CollectReport:
    round: Round
    files: tuple[FileRecord, ...]
    missing: tuple[str, ...]
    divisions: tuple[str, ...]
    receipts: tuple[Path, ...] = ()
    reread: int = 0

    def counted(self, division: str) -> FileRecord | None:
        for f in self.files:
            if f.division == division and f.verdict is Verdict.ACCEPTED:
                return f
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round.id,
            "files": [
                {
                    "path": f.path,
                    "sha256": f.sha256,
                    "division": f.division,
                    "verdict": str(f.verdict),
                    "issues": [
                        {
                            k: v
                            for k, v in i.to_dict().items()
                            if k
                            in (
                                "code",
                                "severity",
                                "sheet",
                                "cell",
                                "task_id",
                                "division",
                                "message",
                            )
                        }
                        for i in f.issues
                    ],
                }
                for f in self.files
            ],
            "missing": list(self.missing),
        }


def _context_key(ctx: IntakeContext, ledger: Ledger, previous_round: str) -> str:
    """Everything a file's verdict depends on besides its bytes: settings, the forms sent,
    the previous round's answers, the secret and xlflow's own code."""
    h = hashlib.sha256()
    h.update(ctx.settings.source.encode())
    with contextlib.suppress(OSError):
        h.update(Path(ctx.settings.source).read_bytes())
    h.update(
        json.dumps(
            [ctx.round.id, ctx.round.title, str(ctx.round.deadline)], ensure_ascii=False
        ).encode()
    )
    h.update(ledger.forms_digest(ctx.round.id).encode())
    h.update(ledger.accepted_digest(previous_round).encode() if previous_round else b"-")
    h.update(hashlib.sha256(ctx.secret).digest())
    h.update(_code_fingerprint().encode())
    return h.hexdigest()[:24]


@functools.cache
def _code_fingerprint() -> str:
    """A hash of xlflow's own code: a new reader or rule re-reads every file once."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def _late(record: FileRecord, deadline: dt.date | None) -> bool:
    if deadline is None or record.mtime <= 0:
        return False
    return dt.datetime.fromtimestamp(record.mtime).date() > deadline


def collect(
    ws: Workspace,
    round_id: str,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    receipts: bool = True,
) -> CollectReport:
    """Collect every file in the inbox for one round. Re-running gives the same verdicts.

    With `receipts=False` no receipt is written (see `write_receipts`, `xlflow receipts`).
    """
    with (
        folder_lock(ws.lock_path, "收集报送文件"),
        Ledger(ws.ledger_path) as ledger,
        contextlib.ExitStack() as stack,
    ):
        started = now_text()
        sweep_temp_files(ws.outbox)
        sweep_temp_files(ws.archive)
        rnd = ledger.load_round(round_id)
        forms = FormStore(ws.ledger_path, rnd)
        source = ledger.prefill_source(rnd.id)
        prev_round = ledger.get_round(source) if source else ledger.previous_round(rnd.id)
        previous = AcceptedValues(ws.ledger_path, prev_round.id) if prev_round else {}
        ctx = IntakeContext(
            settings=ws.settings,
            round=rnd,
            forms=forms,
            secret=load_or_create_secret(ws.secret_path),
            previous=previous,
            previous_round=prev_round.title if prev_round else "",
            archive=str(ws.archive),
        )
        context = _context_key(ctx, ledger, prev_round.id if prev_round else "")
        old = {(f.path, f.sha256): f for f in ledger.files(rnd.id, with_values=False)}
        spool = stack.enter_context(_Spool(ws.state))
        found = scan_inbox(ws.inbox)
        records: list[FileRecord] = []
        jobs: list[ReadJob] = []
        seen_keys: set[tuple[str, str]] = set()
        for item in found:
            if item.skip is not None:
                seen_keys.add((item.rel, ""))
                records.append(
                    _finish(
                        FileRecord(
                            path=item.rel, size=item.size, mtime=item.mtime, sha256="", round=rnd.id
                        ),
                        [item.skip],
                        None,
                    )
                )
                continue
            try:
                sha = sha256_file(item.path)
            except OSError as exc:
                records.append(
                    _finish(
                        FileRecord(
                            path=item.rel, size=item.size, mtime=item.mtime, sha256="", round=rnd.id
                        ),
                        [
                            error(
                                IssueCode.CORRUPT_FILE,
                                f"无法读取文件（{exc}）。请检查文件权限后重试。",
                            )
                        ],
                        None,
                    )
                )
                continue
            key = (item.rel, sha)
            seen_keys.add(key)
            prior = old.get(key)
            if prior is not None and prior.mtime == item.mtime and prior.context == context:
                records.append(replace(prior, present=True))
            else:
                jobs.append(ReadJob(str(item.path), item.rel, item.size, item.mtime, sha))
        pool: IsolatedPool[ReadJob, FileRecord] = IsolatedPool(
            process_file,
            ctx,
            workers if workers is not None else default_workers(len(jobs)),
            ws.settings.limits.read_timeout_seconds,
            ws.settings.limits.worker_memory_mb,
        )
        for done, (index, outcome) in enumerate(pool.run(jobs), start=1):
            job = jobs[index]
            if isinstance(outcome, JobFailure):
                record = _failure_record(job, ctx, outcome)
            else:
                record = outcome
            prior = old.get((record.path, record.sha256))
            record = replace(
                record, context=context, first_seen=prior.first_seen if prior else now_text()
            )
            records.append(spool.keep(record))
            if progress:
                progress(done, len(jobs))
        # Files that left the inbox stay on record (and in the archive): nothing is lost.
        for key, prior in old.items():
            if key not in seen_keys and prior.verdict is not Verdict.SKIPPED:
                records.append(replace(prior, present=False))
        records = _post_process(records, rnd, ledger)
        records = assign_verdicts(records)
        records.sort(key=lambda r: (r.mtime, r.path))
        archive_accepted(ws, records)
        if jobs and hasattr(os, "sync"):
            os.sync()  # one flush for every archive copy the workers wrote
        changed = len(jobs)
        ledger.save_files(rnd.id, records, started, changed, payload=spool.payload)
        written = write_receipts(ws, rnd, records, forms, ledger) if receipts else []
    submitted = {r.division for r in records if r.verdict is Verdict.ACCEPTED}
    # the forms sent, in register order, are the divisions expected: collect never needs
    # to read the register itself
    missing = tuple(d for d in forms if d not in submitted)
    return CollectReport(
        round=rnd,
        files=tuple(records),
        missing=missing,
        divisions=tuple(forms),
        receipts=tuple(written),
        reread=changed,
    )


class _Spool:
    """Values of the files read in this run, kept on disk until the ledger takes them, so
    that memory does not grow with the number of files."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.where: dict[tuple[str, str], tuple[int, int]] = {}

    def __enter__(self) -> _Spool:
        # an unnamed temporary file: the kernel removes it whatever happens to this run
        self.file = tempfile.TemporaryFile(dir=self.folder, prefix=".spool-")
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def keep(self, record: FileRecord) -> FileRecord:
        """Store the record's values and contact; return it without them."""
        data = json.dumps([record.values, record.contact], ensure_ascii=False).encode()
        offset = self.file.seek(0, os.SEEK_END)
        self.file.write(data)
        self.where[(record.path, record.sha256)] = (offset, len(data))
        return replace(record, values={}, contact={})

    def payload(self, record: FileRecord) -> tuple[str, str] | None:
        spot = self.where.get((record.path, record.sha256))
        if spot is None:
            return None
        self.file.seek(spot[0])
        values, contact = json.loads(self.file.read(spot[1]))
        return json.dumps(values, ensure_ascii=False), json.dumps(contact, ensure_ascii=False)


def _post_process(records: list[FileRecord], rnd: Round, ledger: Ledger) -> list[FileRecord]:
    """Late returns, and other rounds' files that were already collected there."""
    out = []
    for r in records:
        issues = [
            i for i in r.issues if i.code not in (IssueCode.LATE_RETURN, IssueCode.OTHER_ROUND_FILE)
        ]
        wrong = next((i for i in issues if i.code is IssueCode.WRONG_ROUND), None)
        if wrong is not None and r.identified_round:
            elsewhere = [x for x, _ in ledger.known_file(r.sha256) if x != rnd.id]
            if r.identified_round in elsewhere:
                issues = [
                    warning(
                        IssueCode.OTHER_ROUND_FILE,
                        f"这是“{r.identified_round}”轮次的文件，已在该轮次登记，本轮次不重复处理。",
                        file=r.path,
                        division=r.division,
                    )
                ]
        late = r.verdict is not Verdict.SKIPPED and r.division != "" and _late(r, rnd.deadline)
        if late and rnd.deadline is not None and not any(i.code in _SKIP_CODES for i in issues):
            issues.append(
                warning(
                    IssueCode.LATE_RETURN,
                    f"收到时间 {r.received:%Y-%m-%d %H:%M}，晚于报送时限 {rnd.deadline.isoformat()}。",
                    file=r.path,
                    division=r.division,
                )
            )
        out.append(replace(r, issues=tuple(issues), late=late))
    return out


def archive_accepted(ws: Workspace, records: list[FileRecord]) -> None:
    """A copy of every accepted file, keyed by its sha256, outside the inbox."""
    for r in records:
        if r.verdict is not Verdict.ACCEPTED or not r.present:
            continue
        target = ws.archive / archive_name(r)
        if target.exists():
            continue
        source = ws.inbox / r.path
        try:
            atomic_copy(source, target)
        except OSError:
            continue


__all__ = [
    "CollectReport",
    "IntakeContext",
    "assign_verdicts",
    "collect",
    "identify",
    "process_file",
    "read_metadata",
    "scan_inbox",
]
