"""Judging a file: read it (in a worker), identify it by its content, validate it, and give
it a verdict; then the verdicts across a round's files (the latest counts, the
coordinator's word wins) and what is recomputed after."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..config.model import Settings
from ..files import atomic_write
from ..issues import (
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
from ..model import Decision, FileRecord, IntakeContext, OlderVersion, Review, Round
from ..plausibility import explanation_in
from ..pool import JobFailure
from ..reading.reader import read_workbook
from ..reading.workbook import RawWorkbook, ReadResult
from ..signing import META_SHEET
from .identify import filename_warning, identify, rollup_issue
from .scan import SKIP_CODES
from .validate import validate_form


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
            # made durable for the whole run at once (os.sync) before the ledger commits;
            # a copy that cannot be made now (Windows: the same bytes being archived by a
            # run killed a moment ago, whose worker still holds them) never costs the
            # return its verdict: the run copies what is missing after the reads
            with contextlib.suppress(OSError):
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
        return finished(record, issues, raw)
    identity, found = identify(raw, ctx, Path(job.rel).name)
    issues += found
    older = ctx.older.get(identity.round) if identity is not None else None
    if (
        older is not None
        and identity is not None
        and ctx.settings.form.older_forms == "take_unchanged"
        and [i.code for i in issues if i.severity is Severity.ERROR] == [IssueCode.WRONG_ROUND]
    ):
        return take_unchanged(ctx, job, record, raw, older, issues)
    if identity is None or identity.spec is None or has_errors(issues):
        division = identity.division if identity else ""
        return finished(
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
    return finished(record, issues, raw)


def take_unchanged(
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
        return finished(record, refused, raw)
    spec = identity.spec
    checked = validate_form(
        raw, spec, ctx.settings, sheet_hint=identity.sheet_hint,
        column_hint=identity.columns, contact_hint=identity.contact,
    )  # fmt: skip
    division = spec.division
    record = replace(record, division=division, identified_round=identity.round)
    if has_errors(checked.issues):
        return finished(record, [*refused, *checked.issues], raw)
    keep = set(older.unchanged.get(division, ())) & set(spec.task_ids)
    values = {tid: v for tid, v in checked.values.items() if tid in keep}
    if not values:
        return finished(record, refused, raw)  # nothing on it is this round's to take
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
    return finished(replace(record, values=values, contact=checked.contact), issues, raw)


def finished(record: FileRecord, issues: list[Issue], raw: RawWorkbook | None) -> FileRecord:
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
    if any(i.code in SKIP_CODES for i in issues):
        return Verdict.SKIPPED
    return Verdict.REJECTED if has_errors(list(issues)) else Verdict.ACCEPTED


def failure_record(job: ReadJob, ctx: IntakeContext, failure: JobFailure) -> FileRecord:
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
    return finished(record, [issue], None)


# --- verdicts across files ---


def with_decision(record: FileRecord, decision: Decision | None) -> FileRecord:
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
    out = [with_decision(r, decided.get(r.sha256)) for r in records]
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


RECOMPUTED = (IssueCode.LATE_RETURN, IssueCode.EXPLANATION_ASKED_AGAIN)


def asked_again(
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


def post_process(records: list[FileRecord], rnd: Round, ledger: Ledger) -> list[FileRecord]:
    """Late returns (against each division's own deadline: its extension's, else the
    round's), and other rounds' files that were already collected there."""
    out = []
    extended = ledger.extensions(rnd.id)
    reviews = ledger.reviews(rnd.id)
    for r in records:
        # a file of another round read before keeps its note: its wrong-round error was
        # replaced by it then, and is not there to judge it again
        issues = [i for i in r.issues if i.code not in RECOMPUTED]
        issues += asked_again(r, issues, reviews)
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
        late = r.verdict is not Verdict.SKIPPED and r.division != "" and late_of(r, deadline)
        if late and deadline is not None and not any(i.code in SKIP_CODES for i in issues):
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


def late_of(record: FileRecord, deadline: dt.date | None) -> bool:
    if deadline is None or record.mtime <= 0:
        return False
    return dt.datetime.fromtimestamp(record.mtime).date() > deadline
