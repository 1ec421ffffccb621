"""Mails and archives in the inbox opened in a worker, what they hold written to a scratch
folder and read as files of their own, each named by its place inside."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..config.model import Limits
from ..issues import (
    Issue,
    IssueCode,
    error,
)
from ..pool import IsolatedPool, JobFailure, default_workers
from ..reading.containers import SEPARATOR, unpack
from .scan import Found

UNPACKED = ".unpacked-"


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


def unpack_failure(rel: str, failure: JobFailure, limits: Limits) -> Issue:
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


def named(issue: Issue, rel: str) -> Issue:
    """A container's problem, saying which container it is about."""
    name = Path(rel).name
    message = issue.message if name in issue.message else f"“{name}”：{issue.message}"
    return replace(issue, file=rel, message=message)


def unpacked(
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
            out.append(replace(item, skip=named(early[i], item.rel), container=False))
            continue
        outcome = outcomes[i]
        if isinstance(outcome, JobFailure):
            failed = unpack_failure(item.rel, outcome, limits)
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
            out.append(replace(item, skip=named(outcome.issues[0], item.rel), container=False))
    return out
