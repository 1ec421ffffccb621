"""How the ledger stores what it keeps: form specs, tasks and a register's head as JSON,
a file's record as a row, and the fingerprint of xlflow's code that dates what was
derived."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..issues import Issue, Verdict
from ..model import (
    FileRecord,
    FormRow,
    FormSpec,
    Register,
    Role,
    Round,
    Task,
)
from ..text import display_width


def now_text() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()


def spec_to_json(spec: FormSpec) -> str:
    return json.dumps(
        {
            "division": spec.division,
            "title": spec.title,
            "target_year": spec.target_year,
            "prefill_from": spec.prefill_from,
            "signature": spec.signature,
            "row_hashes": list(spec.row_hashes),
            "contact_prefill": [list(p) for p in spec.contact_prefill],
            "rows": [
                {
                    "task_id": r.task_id,
                    "role": r.role.value,
                    "readonly": [list(p) for p in r.readonly],
                    "prefill": [list(p) for p in r.prefill],
                    "name": r.name,
                    **({"collective": r.collective} if r.collective else {}),
                    **({"before": [list(p) for p in r.before]} if r.before else {}),
                    **({"due": r.due} if r.due else {}),
                }
                for r in spec.rows
            ],
            **({"before_round": spec.before_round} if spec.before_round else {}),
        },
        ensure_ascii=False,
    )


def spec_from_json(text: str, rnd: Round) -> FormSpec:
    data = json.loads(text)
    return FormSpec(
        round=rnd,
        division=data["division"],
        title=data["title"],
        target_year=data["target_year"],
        rows=tuple(
            FormRow(
                task_id=r["task_id"],
                role=Role(r["role"]),
                readonly=tuple((sys.intern(h), t) for h, t in r["readonly"]),
                prefill=tuple((k, v) for k, v in r["prefill"]),
                name=r.get("name", ""),
                collective=r.get("collective", ""),
                before=tuple((k, v) for k, v in r.get("before", ())),
                due=r.get("due", ""),
            )
            for r in data["rows"]
        ),
        prefill_from=data["prefill_from"],
        signature=data["signature"],
        row_hashes=tuple(data["row_hashes"]),
        contact_prefill=tuple((k, v) for k, v in data.get("contact_prefill", [])),
        before_round=data.get("before_round", ""),
    )


@dataclass(frozen=True)
class Answer:
    """What one counted file says about one task (see Ledger.answers)."""

    index: int  # of the file among those asked about
    division: str
    values: dict[str, Any] | None  # all of them, for the files of the round asked in full
    status: Any
    percent: Any
    source: str


@dataclass(frozen=True)
class RegisterHead:
    """What a register says besides its tasks, and what is known of them all: enough to
    lay out a sheet before its rows are streamed."""

    source: str
    headers: tuple[str, ...]
    notes: tuple[str, ...]
    tasks: int
    divisions: tuple[str, ...]
    groups: tuple[str, ...]
    group_runs: tuple[tuple[str, int], ...]  # consecutive tasks of one group, in order
    widths: dict[str, int]  # register column -> widest text in it (CJK counts 2)
    folded: tuple[tuple[str, str], ...] = ()  # (name as written, the unit it names)
    collectives: tuple[tuple[str, tuple[str, ...]], ...] = ()  # answered member by member
    # the tasks' content, as a version is told apart (model.content_key): kept
    # so that no command hashes tens of thousands of tasks again to find its version
    content: str = ""


def register_head(register: Register) -> RegisterHead:
    runs: list[tuple[str, int]] = []
    widths: dict[str, int] = {}
    for task in register.tasks:
        if runs and runs[-1][0] == task.group:
            runs[-1] = (task.group, runs[-1][1] + 1)
        else:
            runs.append((task.group, 1))
        for header, text in task.columns:
            widths[header] = max(widths.get(header, 0), display_width(text))
    return RegisterHead(
        register.source,
        register.headers,
        register.notes,
        len(register.tasks),
        register.divisions,
        register.groups,
        tuple(runs),
        widths,
        register.folded,
        register.collectives,
    )


def task_to_json(task: Task) -> str:
    return json.dumps(
        [
            task.id,
            task.group,
            task.columns,
            task.lead,
            task.cooperating,
            task.targets,
            task.row,
            *([task.collectives] if task.collectives else []),
        ],
        ensure_ascii=False,
    )


def task_from_json(text: str) -> Task:
    tid, group, columns, lead, cooperating, targets, row, *more = json.loads(text)
    return Task(
        *interned_fields(
            tid, group, columns, lead, cooperating, targets, row, more[0] if more else ()
        )
    )


def task_fields(task: Task) -> tuple[Any, ...]:
    """A task's fields in order, as `Task(*fields)` takes them back."""
    return tuple(getattr(task, name) for name in _TASK_FIELDS)


_TASK_FIELDS = tuple(f.name for f in fields(Task))


def interned_fields(
    tid: str,
    group: str,
    columns: Iterable[Sequence[str]],
    lead: Iterable[str],
    cooperating: Iterable[str],
    targets: Iterable[Sequence[Any]],
    row: int,
    collectives: Iterable[Sequence[Any]] = (),
) -> tuple[Any, ...]:
    """A task's fields in order (as `task_fields`), as tuples, its repeated texts interned."""
    # Division names, groups, targets and many column texts (a group's label, the divisions
    # responsible) repeat from task to task: one string for each, not one per task. At
    # 40,000 tasks of ten divisions the divisions, groups and targets alone took 51 MiB.
    intern = sys.intern
    return (
        tid,
        intern(group),
        tuple((intern(h), intern(v)) for h, v in columns),
        tuple(map(intern, lead)),
        tuple(map(intern, cooperating)),
        tuple((year, intern(text)) for year, text in targets),
        row,
        tuple((intern(name), tuple(map(intern, members))) for name, members in collectives),
    )


def head_from_json(text: str) -> RegisterHead:
    data = json.loads(text)
    return RegisterHead(
        data["source"],
        tuple(data["headers"]),
        tuple(data["notes"]),
        data["tasks"],
        tuple(data["divisions"]),
        tuple(data["groups"]),
        tuple((g, n) for g, n in data["group_runs"]),
        data["widths"],
        tuple((name, unit) for name, unit in data.get("folded", ())),
        tuple((name, tuple(members)) for name, members in data.get("collectives", ())),
        data.get("content", ""),
    )


@functools.cache
def code_fingerprint() -> str:
    """A fingerprint of xlflow's own code: what xlflow derived and stored under an older
    version (a register as parsed, a file's verdict) is derived again once.

    Each module counts by its path, size and modification time, not its bytes: reading
    every module cost `status` a tenth of its time, and an edit, an upgrade or a checkout
    changes a module's time all the same."""
    package = Path(__file__).parents[1]  # the xlflow package, every stage of it
    h = hashlib.sha256()
    for entry in sorted(_modules(str(package), "")):
        h.update(entry.encode() + b"\n")
    return h.hexdigest()


def _modules(folder: str, prefix: str) -> list[str]:
    """Every module under `folder` (every stage's, the web console's too) as its path,
    size and modification time in nanoseconds."""
    out: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    out += _modules(entry.path, f"{prefix}{entry.name}/")
            elif entry.name.endswith(".py"):
                st = entry.stat()
                out.append(f"{prefix}{entry.name}\0{st.st_size}\0{st.st_mtime_ns}")
    return out


LIGHT_COLUMNS = (
    "round, path, sha256, size, mtime, verdict, division, identified_round, issues, format,"
    " application, superseded_by, first_seen, present, context, late, origin"
)
ROW_COLUMNS = (
    "round, path, sha256, size, mtime, verdict, division, identified_round, issues, vals, contact,"
    " format, application, superseded_by, first_seen, present, context, late, origin"
)


def file_from_row(row: sqlite3.Row) -> FileRecord:
    keys = row.keys()
    return FileRecord(
        path=row["path"],
        size=row["size"],
        mtime=row["mtime"],
        sha256=row["sha256"],
        round=row["round"],
        verdict=Verdict(row["verdict"]),
        division=row["division"],
        identified_round=row["identified_round"],
        issues=tuple(Issue.from_dict(i) for i in json.loads(row["issues"])),
        values=json.loads(row["vals"]) if "vals" in keys else {},
        contact=json.loads(row["contact"]) if "contact" in keys else {},
        format=row["format"],
        application=row["application"],
        superseded_by=row["superseded_by"],
        first_seen=row["first_seen"],
        present=bool(row["present"]),
        context=row["context"],
        late=bool(row["late"]),
        origin=row["origin"],
    )


def one_file(db: sqlite3.Connection, round_id: str, path: str, sha256: str) -> FileRecord | None:
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT * FROM files WHERE round=? AND path=? AND sha256=?", (round_id, path, sha256)
        ).fetchall()
    finally:
        db.row_factory = None
    return file_from_row(rows[0]) if rows else None


def file_row(round_id: str, r: FileRecord, vals: str, contact: str) -> tuple[Any, ...]:
    return (
        round_id,
        r.path,
        r.sha256,
        r.size,
        r.mtime,
        str(r.verdict),
        r.division,
        r.identified_round,
        json.dumps([i.to_dict() for i in r.issues], ensure_ascii=False),
        vals,
        contact,
        r.format,
        r.application,
        r.superseded_by,
        r.first_seen,
        int(r.present),
        r.context,
        int(r.late),
        r.origin,
    )


def full_payload(record: FileRecord) -> tuple[str, str]:
    """A record's values and contact as the ledger stores them."""
    return json.dumps(record.values, ensure_ascii=False), json.dumps(
        record.contact, ensure_ascii=False
    )
