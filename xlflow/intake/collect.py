"""Collecting returned files: scan the inbox, identify each file by its content,
validate it, give it a verdict, record it in the ledger and write receipts.

Nothing in the inbox is ever modified, moved or deleted.
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
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config.model import Limits, Settings
from ..files import atomic_copy, atomic_write, folder_lock, sha256_file, sweep_temp_files
from ..issues import (
    CHANGE_CODES,
    DECISION_CODES,
    Issue,
    IssueCode,
    Severity,
    Verdict,
    error,
    has_errors,
    warning,
)
from ..ledger.book import Ledger
from ..ledger.codec import code_fingerprint, now_text
from ..ledger.readers import AcceptedValues, FormStore
from ..model import Decision, FileRecord, IntakeContext, OlderVersion, Review, Round
from ..plausibility import explanation_in
from ..pool import IsolatedPool, JobFailure, default_workers
from ..reading.containers import SEPARATOR, is_container, unpack
from ..reading.package import SPREADSHEET_SUFFIXES
from ..reading.reader import read_workbook
from ..reading.workbook import RawWorkbook, ReadResult
from ..register.revise import division_changes, lineage_chain, unchanged_tasks
from ..signing import META_SHEET, load_or_create_secret
from ..text import clean_cell, visible
from ..workspace import Workspace
from .identify import filename_warning, identify, rollup_issue
from .receipts import write_receipts
from .validate import validate_form

_SKIP_CODES = {
    IssueCode.SKIPPED_LOCK_FILE,
    IssueCode.SKIPPED_HIDDEN,
    IssueCode.SKIPPED_SYMLINK,
    IssueCode.SKIPPED_IN_USE,
    IssueCode.SKIPPED_NOT_SPREADSHEET,
    IssueCode.OTHER_ROUND_FILE,
}
# ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: another program holds the file open
_IN_USE = {32, 33}
_SILENT = {".gitkeep", ".DS_Store", "Thumbs.db", "desktop.ini"}


# --- scanning ---


@dataclass(frozen=True, slots=True)
class Found:
    """A file in the inbox worth reading, or one skipped with a reason."""

    path: Path
    rel: str
    size: int
    mtime: float
    skip: Issue | None = None
    container: bool = False  # a mail or an archive: its spreadsheets are read, not it
    origin: str = ""


def _display(rel: str) -> str:
    """A name as it is stored and shown: bytes that are not UTF-8 as \\x escapes, control
    characters as pictures, so no name can act on a terminal or hide in a workbook."""
    return visible(rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


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
            skipped = _folder_skipped(p, _display(p.relative_to(inbox).as_posix()))
            if skipped is None:
                keep.append(d)
            else:
                found.append(skipped)
        dirnames[:] = keep
        for name in sorted(filenames):
            if name not in _SILENT:
                p = base / name
                item = _file_found(p, _display(p.relative_to(inbox).as_posix()))
                if item is not None:
                    found.append(item)
    return found


def _is_link(p: Path, st: os.stat_result | None = None) -> bool:
    """A symbolic link, or on Windows any reparse point (a junction made by mklink /J is
    no symlink to Python 3.11, and leads out of the folder all the same)."""
    try:
        st = st or p.lstat()
    except OSError:
        return False
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_file_attributes", 0) & _REPARSE_POINT)


_REPARSE_POINT = 0x400  # FILE_ATTRIBUTE_REPARSE_POINT


def _folder_skipped(p: Path, rel: str) -> Found | None:
    """A folder not walked into, with the reason; None for one to walk."""
    if _is_link(p):
        return _skipped(p, rel, IssueCode.SKIPPED_SYMLINK, "这是指向别处的文件夹链接，不读取。")
    if p.name.startswith("."):
        return _skipped(p, rel, IssueCode.SKIPPED_HIDDEN, "隐藏文件夹，不读取。")
    if p.name.lower().endswith(SPREADSHEET_SUFFIXES):
        return _skipped(
            p,
            rel,
            IssueCode.SKIPPED_NOT_SPREADSHEET,
            "这是名字以表格扩展名结尾的文件夹，不是文件，已跳过。",
        )
    return None


def _unreadable(exc: OSError) -> Issue:
    """Why a file in inbox/ could not be read: in use by another program (Windows; it is
    read again by the next collect), or refused by the system."""
    # Python opens files through the C runtime, which says EACCES for a sharing violation
    # and keeps no winerror: on Windows a file it may not read is, as a rule, in use
    if getattr(exc, "winerror", None) in _IN_USE or (
        sys.platform == "win32" and isinstance(exc, PermissionError)
    ):
        return warning(
            IssueCode.SKIPPED_IN_USE,
            "文件正被其他程序占用（可能仍在下载、复制或被杀毒软件扫描，或在某个程序中打开），"
            "或当前用户没有读取权限，暂时无法读取，本次跳过。请关闭占用它的程序或稍候"
            "（或检查文件权限），再运行一次收集。",
        )
    return error(
        IssueCode.CORRUPT_FILE,
        f"无法读取文件（{exc.strerror or exc}）。请检查文件权限后重试。",
    )


def _file_found(p: Path, rel: str) -> Found | None:
    """A file to read, or one skipped with its reason; None for one that vanished."""
    name = p.name
    try:
        st = p.lstat()
    except OSError:
        return None
    if _is_link(p, st) or name.lower().endswith(".lnk"):
        # .lnk: a Windows shortcut (Explorer hides the suffix: 政策规划处.xlsx - 快捷方式)
        return _skipped(
            p,
            rel,
            IssueCode.SKIPPED_SYMLINK,
            "这是一个链接（快捷方式），xlflow 不跟随链接读取。请把文件本身放入 inbox。",
        )
    if name.startswith("~$") or name.startswith(".~lock."):
        return _skipped(
            p,
            rel,
            IssueCode.SKIPPED_LOCK_FILE,
            "这是 Office/WPS/LibreOffice 打开文件时生成的临时锁定文件，不是报送的表格，已跳过。",
        )
    if name.startswith("."):
        return _skipped(p, rel, IssueCode.SKIPPED_HIDDEN, "隐藏文件，已跳过。")
    if not stat.S_ISREG(st.st_mode):
        return _skipped(p, rel, IssueCode.SKIPPED_NOT_SPREADSHEET, "不是普通文件，已跳过。")
    if is_container(name):
        return Found(p, rel, st.st_size, st.st_mtime, container=True)
    if not name.lower().endswith(SPREADSHEET_SUFFIXES):
        return _skipped(p, rel, IssueCode.SKIPPED_NOT_SPREADSHEET, _not_spreadsheet(name))
    return Found(p, rel, st.st_size, st.st_mtime)


_UNREAD_CONTAINERS = (".tar", ".gz", ".tgz", ".bz2", ".xz")


def _not_spreadsheet(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _UNREAD_CONTAINERS:
        return (
            f"这是压缩包（{suffix}），xlflow 不读取这种格式（.eml、.msg 邮件和 .zip、.7z、.rar 压缩包可以）。"
            "请把其中的填报表取出放入 inbox/（原文件可以留着），再运行 collect。"
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


@dataclass(frozen=True, slots=True)
class ReadJob:
    path: str
    rel: str
    size: int
    mtime: float
    sha256: str
    origin: str = ""


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


def read_return(data: bytes, suffix: str, settings: Settings) -> ReadResult:
    """A returned file read as intake reads it: the task sheet and xlflow's own sheet, or
    every sheet when either was renamed (so that it can be found by its content)."""
    return read_workbook(data, suffix, settings.limits, (settings.form.sheet, META_SHEET))


def check_file(ctx: IntakeContext, job: ReadJob, data: bytes) -> FileRecord:
    """Read, identify and validate one file's bytes."""
    sha = hashlib.sha256(data).hexdigest()
    record = FileRecord(
        path=job.rel,
        size=len(data),
        mtime=job.mtime,
        sha256=sha,
        round=ctx.round.id,
        origin=job.origin,
    )
    result = read_return(data, Path(job.path).suffix, ctx.settings)
    issues = list(result.issues)
    raw = result.workbook
    if raw is None:
        return _finish(record, issues, raw)
    identity, found = identify(raw, ctx, Path(job.rel).name)
    issues += found
    older = ctx.older.get(identity.round) if identity is not None else None
    if (
        older is not None
        and identity is not None
        and ctx.settings.form.older_forms == "take_unchanged"
        and [i.code for i in issues if i.severity is Severity.ERROR] == [IssueCode.WRONG_ROUND]
    ):
        return _take_unchanged(ctx, job, record, raw, older, issues)
    if identity is None or identity.spec is None or has_errors(issues):
        division = identity.division if identity else ""
        return _finish(
            replace(record, division=division, identified_round=identity.round if identity else ""),
            issues,
            raw,
        )
    spec = identity.spec
    mismatch = filename_warning(Path(job.rel).name, spec.division, ctx.forms)
    if mismatch:
        issues.append(mismatch)
    rolled = rollup_issue(raw)
    if rolled is not None:
        issues.append(rolled)
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


def _take_unchanged(
    ctx: IntakeContext,
    job: ReadJob,
    record: FileRecord,
    raw: RawWorkbook,
    older: OlderVersion,
    refused: list[Issue],
) -> FileRecord:
    """A return on an earlier round's form, made from an older register version, where
    the office takes its answers to the tasks that did not change ([form] older_forms):
    checked against the form it was, then its unchanged tasks' answers kept, with a
    warning naming the tasks still to fill in on this round's form."""
    name = Path(job.rel).name
    then = replace(ctx, round=older.round, forms=older.forms, previous={}, older={})
    identity, found = identify(raw, then, name)
    if identity is None or identity.spec is None or has_errors(found):
        return _finish(record, refused, raw)
    spec = identity.spec
    checked = validate_form(
        raw, spec, ctx.settings, sheet_hint=identity.sheet_hint,
        column_hint=identity.columns, contact_hint=identity.contact,
    )  # fmt: skip
    division = spec.division
    record = replace(record, division=division, identified_round=identity.round)
    if has_errors(checked.issues):
        return _finish(record, [*refused, *checked.issues], raw)
    keep = set(older.unchanged.get(division, ())) & set(spec.task_ids)
    values = {tid: v for tid, v in checked.values.items() if tid in keep}
    if not values:
        return _finish(record, refused, raw)  # nothing on it is this round's to take
    current = ctx.forms.get(division)
    wanted = current.task_ids if current is not None else ()
    still = [t for t in wanted if t not in values]
    taken = "、".join(t for t in wanted if t in values) or "（无）"
    note = warning(
        IssueCode.OLDER_FORM_TAKEN,
        f"这是“{older.round.title}”（{older.round.id}）的填报表，按任务清单第 {older.then} 版生成；"
        f"本轮使用第 {older.now} 版。按协调办公室的设置，采用其中未变化的序号 {taken} 的填报内容"
        + (
            f"；序号 {'、'.join(still)} 有变化或为新增，请用本轮下发的表格另行填报。"
            if still
            else "。"
        ),
    )
    issues = [*checked.issues, note]
    return _finish(replace(record, values=values, contact=checked.contact), issues, raw)


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


def _decided(record: FileRecord, decision: Decision | None) -> FileRecord:
    """A record with the coordinator's decision on it, if any: an excluded file never
    counts; a rejected one accepted keeps its problems on record, and says who let it in."""
    issues = tuple(i for i in record.issues if i.code not in DECISION_CODES)
    verdict = base_verdict(issues)
    if decision is None or verdict is Verdict.SKIPPED:
        return replace(record, issues=issues, verdict=verdict, superseded_by="")
    when = decision.at.replace("T", " ")[:16]
    said = f"（{decision.reason}；{decision.by}，{when}）"
    if decision.action == "exclude":
        code, verdict = IssueCode.EXCLUDED_BY_COORDINATOR, Verdict.EXCLUDED
        text = f"协调办公室决定不采用此文件{said}。"
    elif verdict is Verdict.REJECTED and record.division:
        code, verdict = IssueCode.ACCEPTED_BY_COORDINATOR, Verdict.ACCEPTED
        text = f"经联系人确认后采用{said}。下列有误的单元格未采用，汇总表中已注明。"
    else:  # accepted anyway: the decision changes nothing
        return replace(record, issues=issues, verdict=verdict, superseded_by="")
    note = warning(code, text, file=record.path, division=record.division)
    return replace(record, issues=(note, *issues), verdict=verdict, superseded_by="")


def assign_verdicts(
    records: list[FileRecord], decisions: Mapping[str, Decision] | None = None
) -> list[FileRecord]:
    """The coordinator's decisions, duplicates, then the newest accepted file per division
    counts; the others are superseded."""
    decided = decisions or {}
    out = [_decided(r, decided.get(r.sha256)) for r in records]
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
                    "application": f.application,
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
                                "rule",
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
    h.update(json.dumps(sorted((k, v.then, v.now) for k, v in ctx.older.items())).encode())
    h.update(ledger.accepted_digest(previous_round).encode() if previous_round else b"-")
    h.update(hashlib.sha256(ctx.secret).digest())
    h.update(code_fingerprint().encode())
    return h.hexdigest()[:24]


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
        _Spool(ws.state) as spool,
        tempfile.TemporaryDirectory(dir=ws.state, prefix=_UNPACKED) as scratch,
        contextlib.ExitStack() as readers,
    ):
        started = now_text()
        sweep_temp_files(ws.outbox)
        sweep_temp_files(ws.archive)
        for left in ws.state.glob(f"{_UNPACKED}*"):  # by a collect that was killed
            if left.name != Path(scratch).name:
                shutil.rmtree(left, ignore_errors=True)
        rnd = ledger.load_round(round_id)
        ctx, context = _intake_context(ws, ledger, rnd)
        readers.callback(_close_readers, ctx)
        old = {(f.path, f.sha256): f for f in ledger.files(rnd.id, with_values=False)}
        found = _unpacked(scan_inbox(ws.inbox), Path(scratch), ws.settings.limits, workers)
        records, jobs, seen = _plan(found, old, context, rnd)
        pool: IsolatedPool[ReadJob, FileRecord] = IsolatedPool(
            process_file,
            ctx,
            workers if workers is not None else default_workers(len(jobs)),
            ws.settings.limits.read_timeout_seconds,
            ws.settings.limits.worker_memory_mb,
        )
        for done, (index, outcome) in enumerate(pool.run(jobs), start=1):
            record = (
                outcome
                if isinstance(outcome, FileRecord)
                else _failure_record(jobs[index], ctx, outcome)
            )
            prior = old.get((record.path, record.sha256))
            first_seen = prior.first_seen if prior else now_text()
            records.append(spool.keep(replace(record, context=context, first_seen=first_seen)))
            if progress:
                progress(done, len(jobs))
        # Files that left the inbox stay on record (and in the archive): nothing is lost.
        for key, prior in old.items():
            if key not in seen and prior.verdict is not Verdict.SKIPPED:
                records.append(replace(prior, present=False))
        labels = {f.key: f.label for f in [*ws.settings.fields, *ws.settings.contact]}

        def full(record: FileRecord) -> FileRecord:
            kept = spool.payload(record)
            if kept is not None:
                return replace(record, values=json.loads(kept[0]), contact=json.loads(kept[1]))
            return ledger.file(rnd.id, record.path, record.sha256) or record

        records = _compared(_post_process(records, rnd, ledger), labels, full)
        records = assign_verdicts(records, ledger.decisions(rnd.id))
        records.sort(key=lambda r: (r.mtime, r.path))
        archive_accepted(ws, records)
        if jobs and hasattr(os, "sync"):
            os.sync()  # one flush for every archive copy the workers wrote
        ledger.save_files(rnd.id, records, started, len(jobs), payload=spool.payload)
        written = write_receipts(ws, rnd, records, ctx.forms, ledger) if receipts else []
        # the forms sent, in register order, are the divisions expected: collect never
        # needs to read the register itself
        divisions = tuple(ctx.forms)
    submitted = {r.division for r in records if r.verdict is Verdict.ACCEPTED}
    return CollectReport(
        round=rnd,
        files=tuple(records),
        missing=tuple(d for d in divisions if d not in submitted),
        divisions=divisions,
        receipts=tuple(written),
        reread=len(jobs),
    )


def _close_readers(ctx: IntakeContext) -> None:
    """Close the ledger connections the context read through, in this process: nothing
    of the folder stays open once collect returns (Windows would keep it from being
    moved or deleted until the garbage collector ran)."""
    for reader in (ctx.forms, ctx.previous, *(o.forms for o in ctx.older.values())):
        if isinstance(reader, FormStore | AcceptedValues):
            reader.close()


def _intake_context(ws: Workspace, ledger: Ledger, rnd: Round) -> tuple[IntakeContext, str]:
    """What every file is checked against (forms, secret, last round's answers), and a key
    of all of it: a file read under the same key is not read again."""
    prev_round = ledger.compared_round(rnd.id)
    ctx = IntakeContext(
        settings=ws.settings,
        round=rnd,
        forms=FormStore(ws.ledger_path, rnd),
        secret=load_or_create_secret(ws.secret_path),
        previous=AcceptedValues(ws.ledger_path, prev_round.id) if prev_round else {},
        previous_round=prev_round.title if prev_round else "",
        archive=str(ws.archive),
        older=_older_versions(ws, ledger, rnd),
    )
    return ctx, _context_key(ctx, ledger, prev_round.id if prev_round else "")


def _older_versions(ws: Workspace, ledger: Ledger, rnd: Round) -> dict[str, OlderVersion]:
    """For each earlier round made from another register version than `rnd`: the two
    versions, what changed for each division (a return on its form is told, naming both
    versions) and, for [form] older_forms = take_unchanged, the tasks that did not."""
    now = ledger.round_version(rnd.id)
    if now is None:
        return {}
    others = [
        (earlier, v)
        for earlier in ledger.rounds()
        if earlier.id != rnd.id and (v := ledger.round_version(earlier.id)) not in (None, now)
    ]
    if not others:
        return {}  # one version all year, as most offices have: nothing to load
    chain = lineage_chain(ledger)
    current = ledger.version_register(now)
    divisions = ledger.form_divisions(rnd.id)
    out: dict[str, OlderVersion] = {}
    for earlier, v in others:
        assert v is not None
        old = ledger.version_register(v)
        out[earlier.id] = OlderVersion(
            round=earlier,
            then=v,
            now=now,
            changed={d: division_changes(old, current, chain, v, now, d) for d in divisions},
            unchanged={
                d: tuple(unchanged_tasks(chain, [t.id for t, _ in current.tasks_of(d)], now, v))
                for d in divisions
            },
            forms=FormStore(ws.ledger_path, earlier),
        )
    return out


_UNPACKED = ".unpacked-"


@dataclass(frozen=True, slots=True)
class UnpackJob:
    """A mail or archive to open in a worker; what it holds goes to `scratch`."""

    path: str
    rel: str
    scratch: str
    prefix: str


@dataclass(frozen=True, slots=True)
class InnerFile:
    name: str  # its place inside: "附件.zip!高新处.xlsx"
    temp: str  # where the worker left its bytes, in the private scratch folder ("" if refused)
    size: int
    received: float | None
    origin: str
    refused: Issue | None = None  # listed in the container, and why it was not read


@dataclass(frozen=True, slots=True)
class Unpacked:
    files: tuple[InnerFile, ...]
    issues: tuple[Issue, ...]


def unpack_file(limits: Limits, job: UnpackJob) -> Unpacked:
    """Open one container and leave each spreadsheet inside it in a private temporary file.
    Runs in a worker: zipfile, the decompressors, the email package, py7zr, rarfile and
    python-oxmsg all parse untrusted bytes, and any of them can raise, hang or allocate
    without end on a crafted file."""
    try:
        inner, issues = unpack(job.rel, Path(job.path), limits)
    except OSError as exc:
        unreadable = error(
            IssueCode.CORRUPT_FILE,
            f"无法读取这个邮件或压缩包（{exc.strerror or '读取失败'}）。请检查文件权限后重试。",
        )
        return Unpacked((), (unreadable,))
    files = []
    for k, found in enumerate(inner):
        if found.refused is not None:
            files.append(InnerFile(found.name, "", 0, found.received, found.origin, found.refused))
            continue
        temp = Path(job.scratch) / f"{job.prefix}-{k}{Path(found.name).suffix.lower()}"
        temp.write_bytes(found.data)
        files.append(
            InnerFile(found.name, str(temp), len(found.data), found.received, found.origin)
        )
    return Unpacked(tuple(files), tuple(issues))


def _unpack_failure(rel: str, failure: JobFailure, limits: Limits) -> Issue:
    """What a person is told when opening a container crashed, hung or ran out of memory."""
    name = f"“{Path(rel).name}”"
    fix = "其中的文件都未读取，inbox/ 中的其他文件不受影响。请让报送单位把填报表直接作为附件重新发送，或把其中的填报表取出放入 inbox/。"
    if failure.kind == "timeout":
        return error(
            IssueCode.READ_TIMEOUT,
            f"打开邮件或压缩包{name}超过 {limits.read_timeout_seconds:g} 秒仍未完成（read_timeout_seconds），已放弃。"
            + fix,
        )
    if failure.kind == "error":
        return error(
            IssueCode.CONTAINER_DAMAGED,
            f"邮件或压缩包{name}已损坏，解开时程序内部出错（{failure.detail}）。" + fix,
        )
    return error(
        IssueCode.READER_CRASHED,
        f"打开邮件或压缩包{name}时解压程序异常终止（{failure.detail}），文件已损坏、过大或是特意构造的。"
        + fix,
    )


def _named(issue: Issue, rel: str) -> Issue:
    """A container's problem, saying which container it is about."""
    name = Path(rel).name
    message = issue.message if name in issue.message else f"“{name}”：{issue.message}"
    return replace(issue, file=rel, message=message)


def _unpacked(
    found: list[Found], scratch: Path, limits: Limits, workers: int | None = None
) -> list[Found]:
    """Every mail and archive replaced by the spreadsheets inside it, each in a private
    temporary file (never in inbox/) and named by where it came from; a container that
    cannot be read, or holds none, stays as one skipped or rejected entry saying why.

    Containers are opened in the isolated pool, under the same time and memory limits as
    any returned file: one that crashes its reader costs that container alone."""
    jobs: list[UnpackJob] = []
    where: dict[int, int] = {}  # job -> its place in `found`
    early: dict[int, Issue] = {}
    for i, item in enumerate(found):
        if not item.container:
            continue
        if item.size > limits.max_uncompressed_mb * 1024 * 1024:
            early[i] = error(
                IssueCode.LIMIT_EXCEEDED,
                f"这个邮件或压缩包大于 {limits.max_uncompressed_mb:g} MB，为安全起见未打开。"
                "请把其中的填报表单独放入 inbox/。",
            )
            continue
        where[len(jobs)] = i
        jobs.append(UnpackJob(str(item.path), item.rel, str(scratch), str(i)))
    outcomes: dict[int, Unpacked | JobFailure] = {}
    if jobs:
        pool: IsolatedPool[UnpackJob, Unpacked] = IsolatedPool(
            unpack_file,
            limits,
            workers if workers is not None else default_workers(len(jobs)),
            limits.read_timeout_seconds,
            limits.worker_memory_mb,
        )
        for index, outcome in pool.run(jobs):
            outcomes[where[index]] = outcome
    out: list[Found] = []
    for i, item in enumerate(found):
        if not item.container:
            out.append(item)
            continue
        if i in early:
            out.append(replace(item, skip=_named(early[i], item.rel), container=False))
            continue
        outcome = outcomes[i]
        if isinstance(outcome, JobFailure):
            failed = _unpack_failure(item.rel, outcome, limits)
            out.append(replace(item, skip=replace(failed, file=item.rel), container=False))
            continue
        for inner in outcome.files:
            rel = f"{item.rel}{SEPARATOR}{inner.name}"
            out.append(
                Found(
                    Path(inner.temp) if inner.temp else item.path,
                    rel,
                    inner.size,
                    inner.received if inner.received is not None else item.mtime,
                    skip=replace(inner.refused, file=rel) if inner.refused else None,
                    origin=inner.origin,
                )
            )
        if outcome.issues:
            out.append(replace(item, skip=_named(outcome.issues[0], item.rel), container=False))
    return out


def _plan(
    found: list[Found],
    old: dict[tuple[str, str], FileRecord],
    context: str,
    rnd: Round,
) -> tuple[list[FileRecord], list[ReadJob], set[tuple[str, str]]]:
    """Records for what needs no reading (skipped files, and files read before under the
    same context, unchanged), jobs for the rest, and the keys of everything seen."""
    records: list[FileRecord] = []
    jobs: list[ReadJob] = []
    seen: set[tuple[str, str]] = set()
    for item in found:
        blank = FileRecord(
            path=item.rel,
            size=item.size,
            mtime=item.mtime,
            sha256="",
            round=rnd.id,
            origin=item.origin,
        )
        if item.skip is not None:
            seen.add((item.rel, ""))
            records.append(_finish(blank, [item.skip], None))
            continue
        try:
            sha = sha256_file(item.path)
        except OSError as exc:
            records.append(_finish(blank, [_unreadable(exc)], None))
            continue
        key = (item.rel, sha)
        seen.add(key)
        prior = old.get(key)
        if prior is not None and prior.mtime == item.mtime and prior.context == context:
            records.append(replace(prior, present=True))
        else:
            jobs.append(ReadJob(str(item.path), item.rel, item.size, item.mtime, sha, item.origin))
    return records, jobs, seen


class _Spool:
    """Values of the files read in this run, kept on disk until the ledger takes them, so
    that memory does not grow with the number of files."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.where: dict[tuple[str, str], tuple[int, int, int]] = {}

    def __enter__(self) -> _Spool:
        # an unnamed temporary file: the kernel removes it whatever happens to this run
        self.file = tempfile.TemporaryFile(dir=self.folder, prefix=".spool-")
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def keep(self, record: FileRecord) -> FileRecord:
        """Store the record's values and contact, as the ledger will hold them; return it
        without them."""
        values = json.dumps(record.values, ensure_ascii=False).encode()
        contact = json.dumps(record.contact, ensure_ascii=False).encode()
        offset = self.file.seek(0, os.SEEK_END)
        self.file.write(values + contact)
        self.where[(record.path, record.sha256)] = (offset, len(values), len(contact))
        return replace(record, values={}, contact={})

    def payload(self, record: FileRecord) -> tuple[str, str] | None:
        spot = self.where.get((record.path, record.sha256))
        if spot is None:
            return None
        offset, values, contact = spot
        self.file.seek(offset)
        data = self.file.read(values + contact)
        return data[:values].decode(), data[values:].decode()


_RECOMPUTED = (IssueCode.LATE_RETURN, IssueCode.EXPLANATION_ASKED_AGAIN)


def _asked_again(
    record: FileRecord, issues: list[Issue], reviews: Mapping[tuple[str, str, str], Review]
) -> list[Issue]:
    """An explanation the coordinator asked again about, while it is the one they read:
    back on the division's receipt, with what they want to know."""
    out = []
    for issue in issues:
        if issue.code is not IssueCode.EXPLAINED:
            continue
        review = reviews.get((record.division, issue.task_id, issue.rule))
        said = explanation_in(issue.message)
        if review is None or review.verdict != "ask_again" or review.said != said:
            continue
        out.append(
            warning(
                IssueCode.EXPLANATION_ASKED_AGAIN,
                f"序号 {issue.task_id} 的说明，汇总单位请再说明：{review.note}"
                f"（{review.by}，{review.at.replace('T', ' ')[:16]}）。请在“说明”栏补充后重新报送。",
                file=record.path,
                division=record.division,
                sheet=issue.sheet,
                cell=issue.cell,
                task_id=issue.task_id,
                field=issue.field,
                rule=issue.rule,
            )
        )
    return out


def _post_process(records: list[FileRecord], rnd: Round, ledger: Ledger) -> list[FileRecord]:
    """Late returns (against each division's own deadline: its extension's, else the
    round's), and other rounds' files that were already collected there."""
    out = []
    extended = ledger.extensions(rnd.id)
    reviews = ledger.reviews(rnd.id)
    for r in records:
        # a file of another round read before keeps its note: its wrong-round error was
        # replaced by it then, and is not there to judge it again
        issues = [i for i in r.issues if i.code not in _RECOMPUTED]
        issues += _asked_again(r, issues, reviews)
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
        extension = extended.get(r.division)
        deadline = extension.until if extension else rnd.deadline
        late = r.verdict is not Verdict.SKIPPED and r.division != "" and _late(r, deadline)
        if late and deadline is not None and not any(i.code in _SKIP_CODES for i in issues):
            which = (
                f"延期后的报送时限 {deadline.isoformat()}"
                if extension
                else f"报送时限 {deadline.isoformat()}"
            )
            issues.append(
                warning(
                    IssueCode.LATE_RETURN,
                    f"收到时间 {r.received:%Y-%m-%d %H:%M}，晚于{which}。",
                    file=r.path,
                    division=r.division,
                )
            )
        out.append(replace(r, issues=tuple(issues), late=late))
    return out


_SHOWN_CHANGES = 20  # cells named in full; the count says the rest


def changed_cells(
    before: FileRecord, after: FileRecord, labels: Mapping[str, str]
) -> list[tuple[str, str, Any, Any]]:
    """(where, field label, old, new) for every value and contact detail that differs."""
    out: list[tuple[str, str, Any, Any]] = []
    for tid in dict.fromkeys([*before.values, *after.values]):
        old, new = before.values.get(tid, {}), after.values.get(tid, {})
        for key in dict.fromkeys([*old, *new]):
            if not _same(old.get(key), new.get(key)):
                out.append((f"序号 {tid}", labels.get(key, key), old.get(key), new.get(key)))
    for key in dict.fromkeys([*before.contact, *after.contact]):
        if not _same(before.contact.get(key), after.contact.get(key)):
            out.append(
                ("联系人", labels.get(key, key), before.contact.get(key), after.contact.get(key))
            )
    return out


def _same(a: Any, b: Any) -> bool:
    return ((a in (None, "")) and (b in (None, ""))) or a == b


def _shown(value: Any) -> str:
    if value in (None, ""):
        return "（空）"
    text = clean_cell(value)
    return f"“{text[:30]}……”" if len(text) > 30 else f"“{text}”"


def _compared(
    records: list[FileRecord],
    labels: Mapping[str, str],
    full: Callable[[FileRecord], FileRecord],
) -> list[FileRecord]:
    """A division's second return in a round says what changed from its previous one, cell
    by cell, or that nothing did (同上次报送，无变化): the receipt, status and the 来源
    sheet show it. The same bytes again are a duplicate, not a return: left alone.

    Records come without their values (they wait in the spool or the ledger): `full`
    gives a record with them, asked only for divisions with more than one return."""
    order = sorted(range(len(records)), key=lambda i: (records[i].mtime, records[i].path))
    out = [
        replace(r, issues=tuple(x for x in r.issues if x.code not in CHANGE_CODES)) for r in records
    ]
    returns: dict[str, list[int]] = {}
    for i in order:
        r = out[i]
        if r.verdict is not Verdict.SKIPPED and r.division:
            returns.setdefault(r.division, []).append(i)
    for indices in returns.values():
        if len(indices) < 2:
            continue
        before: FileRecord | None = None
        for i in indices:
            r = full(out[i])
            if not r.values:
                continue
            if before is not None and before.sha256 != r.sha256:
                note = _change_note(before, r, labels)
                out[i] = replace(out[i], issues=(*out[i].issues, note))
            before = r
    return out


def _change_note(before: FileRecord, after: FileRecord, labels: Mapping[str, str]) -> Issue:
    changes = changed_cells(before, after, labels)
    when = f"{before.received:%m-%d %H:%M}"
    if not changes:
        return warning(
            IssueCode.SAME_AS_LAST_RETURN,
            f"同上次报送，无变化：与 {when} 收到的“{before.name}”所填内容完全相同。",
            file=after.path,
            division=after.division,
        )
    shown = "；".join(
        f"{where} {label}：{_shown(old)} → {_shown(new)}"
        for where, label, old, new in changes[:_SHOWN_CHANGES]
    )
    more = f"；另有 {len(changes) - _SHOWN_CHANGES} 处" if len(changes) > _SHOWN_CHANGES else ""
    return warning(
        IssueCode.CHANGED_SINCE_LAST_RETURN,
        f"与上次报送（{when} 收到的“{before.name}”）相比改动了 {len(changes)} 处：{shown}{more}。",
        file=after.path,
        division=after.division,
    )


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
    "ReadJob",
    "assign_verdicts",
    "check_file",
    "collect",
    "process_file",
    "scan_inbox",
]
