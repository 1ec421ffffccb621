"""**collect**: scan the inbox, judge each file (on all the cores, each read once under the
same context), record the verdicts in the ledger and write receipts.

Nothing in the inbox is ever modified, moved or deleted."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..files import atomic_copy, folder_lock, sha256_file, sweep_temp_files
from ..issues import (
    Verdict,
)
from ..ledger.book import Ledger
from ..ledger.codec import code_fingerprint, now_text
from ..ledger.readers import AcceptedValues, FormStore
from ..model import FileRecord, IntakeContext, OlderVersion, Round
from ..pool import IsolatedPool, default_workers
from ..register.lineage import division_changes, lineage_chain, unchanged_tasks
from ..signing import load_or_create_secret
from ..workspace import Workspace
from .compare import compared
from .judge import (
    ReadJob,
    archive_name,
    assign_verdicts,
    check_file,
    failure_record,
    finished,
    post_process,
    process_file,
)
from .receipts import write_receipts
from .scan import Found, scan_inbox, unreadable
from .unpack import UNPACKED, unpacked

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
        Spool(ws.state) as spool,
        tempfile.TemporaryDirectory(dir=ws.state, prefix=UNPACKED) as scratch,
        contextlib.ExitStack() as readers,
    ):
        started = now_text()
        sweep_temp_files(ws.outbox)
        sweep_temp_files(ws.archive)
        for left in ws.state.glob(f"{UNPACKED}*"):  # by a collect that was killed
            if left.name != Path(scratch).name:
                shutil.rmtree(left, ignore_errors=True)
        rnd = ledger.load_round(round_id)
        ctx, context = _intake_context(ws, ledger, rnd)
        readers.callback(_close_readers, ctx)
        old = {(f.path, f.sha256): f for f in ledger.files(rnd.id, with_values=False)}
        found = unpacked(scan_inbox(ws.inbox), Path(scratch), ws.settings.limits, workers)
        records, jobs, seen = plan_reads(found, old, context, rnd)
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
                else failure_record(jobs[index], ctx, outcome)
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

        records = compared(post_process(records, rnd, ledger), labels, full)
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


def plan_reads(
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
            records.append(finished(blank, [item.skip], None))
            continue
        try:
            sha = sha256_file(item.path)
        except OSError as exc:
            records.append(finished(blank, [unreadable(exc)], None))
            continue
        key = (item.rel, sha)
        seen.add(key)
        prior = old.get(key)
        if prior is not None and prior.mtime == item.mtime and prior.context == context:
            records.append(replace(prior, present=True))
        else:
            jobs.append(ReadJob(str(item.path), item.rel, item.size, item.mtime, sha, item.origin))
    return records, jobs, seen


class Spool:
    """Values of the files read in this run, kept on disk until the ledger takes them, so
    that memory does not grow with the number of files."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.where: dict[tuple[str, str], tuple[int, int, int]] = {}

    def __enter__(self) -> Spool:
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
