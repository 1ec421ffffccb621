"""The ledger: what was sent and received, when, and with which verdict (SQLite).

Every write happens in one transaction, so a run killed at any moment leaves the
previous state intact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import sqlite3
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import NotFound, StateDamaged
from .issues import Issue, Verdict
from .model import (
    Decision,
    Extension,
    FileRecord,
    FormRow,
    FormSpec,
    Lineage,
    Register,
    Review,
    Role,
    Round,
    Task,
    parse_round,
)
from .text import display_width

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    title TEXT NOT NULL,
    year INTEGER,
    deadline TEXT,
    prefill_from TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    generated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS forms (
    round TEXT NOT NULL,
    division TEXT NOT NULL,
    spec TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (round, division)
);
CREATE TABLE IF NOT EXISTS files (
    round TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    verdict TEXT NOT NULL,
    division TEXT NOT NULL DEFAULT '',
    identified_round TEXT NOT NULL DEFAULT '',
    issues TEXT NOT NULL DEFAULT '[]',
    vals TEXT NOT NULL DEFAULT '{}',
    contact TEXT NOT NULL DEFAULT '{}',
    format TEXT NOT NULL DEFAULT '',
    application TEXT NOT NULL DEFAULT '',
    superseded_by TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    present INTEGER NOT NULL DEFAULT 1,
    context TEXT NOT NULL DEFAULT '',
    late INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (round, path, sha256)
);
CREATE INDEX IF NOT EXISTS files_by_division ON files(round, division);
CREATE TABLE IF NOT EXISTS receipts (
    round TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (round, name)
);
CREATE TABLE IF NOT EXISTS register_heads (
    key TEXT PRIMARY KEY,
    head TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS register_tasks (
    key TEXT NOT NULL,
    pos INTEGER NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (key, pos)
);
CREATE TABLE IF NOT EXISTS register_roles (
    key TEXT NOT NULL,
    division TEXT NOT NULL,
    pos INTEGER NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (key, division, pos, role)
);
CREATE TABLE IF NOT EXISTS round_units (
    round TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (round, name, unit)
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    path TEXT NOT NULL,
    undone_by TEXT NOT NULL DEFAULT '',
    undone_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS register_versions (
    version INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS version_tasks (
    version INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (version, pos)
);
CREATE TABLE IF NOT EXISTS lineage (
    from_version INTEGER NOT NULL,
    from_id TEXT NOT NULL,
    to_version INTEGER NOT NULL,
    to_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    score REAL NOT NULL DEFAULT 1,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS round_versions (
    round TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS extensions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round TEXT NOT NULL,
    division TEXT NOT NULL,
    until TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    undone_by TEXT NOT NULL DEFAULT '',
    undone_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS explanation_reviews (
    round TEXT NOT NULL,
    division TEXT NOT NULL,
    task_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    said TEXT NOT NULL,
    verdict TEXT NOT NULL,
    note TEXT NOT NULL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (round, division, task_id, rule)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    round TEXT NOT NULL,
    kind TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    files INTEGER NOT NULL,
    changed INTEGER NOT NULL
);
"""
LEDGER_VERSION = "1"
# SQLite's Unix file layer opens a database by its full path, up to 512 bytes with the
# suffix of its journal: about 165 Chinese characters
MAX_PATH_BYTES = 500


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
    # Division names, groups, targets and many column texts (a group's label, the divisions
    # responsible) repeat from task to task: one string for each, not one per task. At
    # 40,000 tasks of ten divisions the divisions, groups and targets alone took 51 MiB.
    intern = sys.intern
    return Task(
        id=tid,
        group=intern(group),
        columns=tuple((intern(h), intern(v)) for h, v in columns),
        lead=tuple(map(intern, lead)),
        cooperating=tuple(map(intern, cooperating)),
        targets=tuple((year, intern(text)) for year, text in targets),
        row=row,
        collectives=tuple(
            (intern(name), tuple(map(intern, members)))
            for name, members in (more[0] if more else ())
        ),
    )


def _head_from_json(text: str) -> RegisterHead:
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
    )


@functools.cache
def code_fingerprint() -> str:
    """A hash of xlflow's own code: what xlflow derived and stored under an older version
    (a register as parsed, a file's verdict) is derived again once."""
    package = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):  # every stage's modules, the web console's too
        h.update(path.relative_to(package).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


_LIGHT_COLUMNS = (
    "round, path, sha256, size, mtime, verdict, division, identified_round, issues, format,"
    " application, superseded_by, first_seen, present, context, late, origin"
)
_ROW_COLUMNS = (
    "round, path, sha256, size, mtime, verdict, division, identified_round, issues, vals, contact,"
    " format, application, superseded_by, first_seen, present, context, late, origin"
)
# columns added after a ledger was first made: (table, column, definition)
_ADDED_COLUMNS = (("files", "origin", "TEXT NOT NULL DEFAULT ''"),)


def _file_from_row(row: sqlite3.Row) -> FileRecord:
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


def _one_file(db: sqlite3.Connection, round_id: str, path: str, sha256: str) -> FileRecord | None:
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT * FROM files WHERE round=? AND path=? AND sha256=?", (round_id, path, sha256)
        ).fetchall()
    finally:
        db.row_factory = None
    return _file_from_row(rows[0]) if rows else None


def _row(round_id: str, r: FileRecord, vals: str, contact: str) -> tuple[Any, ...]:
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


class Ledger:
    """A thin, typed wrapper over the SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # each CREATE ... IF NOT EXISTS is atomic on its own
            self.db.executescript(_SCHEMA)
            for table, column, definition in _ADDED_COLUMNS:
                have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            self.db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('version', ?)", (LEDGER_VERSION,)
            )
        except sqlite3.DatabaseError as exc:
            length = len(os.fsencode(str(path.resolve())))
            if length > MAX_PATH_BYTES:
                raise StateDamaged(
                    f"工作文件夹的路径太长：台账文件的完整路径有 {length} 字节（一个汉字占 3 字节），"
                    f"SQLite 最多只能打开约 {MAX_PATH_BYTES} 字节的路径。请把工作文件夹移到较短的路径下"
                    "（如 D:\\督查\\2024 或 ~/督查/2024）后再运行。"
                ) from None
            raise StateDamaged(
                f"台账文件 {path} 无法打开（{exc}）。它可能已损坏；收到的原始文件仍在 inbox/ 中，"
                "存档在 .xlflow/archive/ 中。"
            ) from None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(
            self,
            exc_type: type[BaseException] | None,
            exc: BaseException | None,
            tb: TracebackType | None,
        ) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> Ledger._Tx:
        return Ledger._Tx(self.db)

    # --- rounds and forms ---

    def record_round(self, rnd: Round, prefill_from: str = "") -> Round:
        """Create or update a round; a deadline or title not given now keeps its old value."""
        old = self.get_round(rnd.id)
        stamp = now_text()
        with self.transaction():
            if old is None:
                (seq,) = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM rounds").fetchone()
                self.db.execute(
                    "INSERT INTO rounds(id, seq, title, year, deadline, prefill_from, created_at,"
                    " generated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        rnd.id,
                        seq,
                        rnd.title,
                        rnd.year,
                        rnd.deadline.isoformat() if rnd.deadline else None,
                        prefill_from,
                        stamp,
                        stamp,
                    ),
                )
                return rnd
            merged = Round(
                id=rnd.id,
                title=rnd.title,
                year=rnd.year,
                deadline=rnd.deadline or old.deadline,
            )
            self.db.execute(
                "UPDATE rounds SET title=?, year=?, deadline=?, prefill_from=?, generated_at=?"
                " WHERE id=?",
                (
                    merged.title,
                    merged.year,
                    merged.deadline.isoformat() if merged.deadline else None,
                    prefill_from,
                    stamp,
                    rnd.id,
                ),
            )
            return merged

    @staticmethod
    def _round(row: Any) -> Round:
        return Round(
            id=row[0],
            title=row[1],
            year=row[2],
            deadline=dt.date.fromisoformat(row[3]) if row[3] else None,
        )

    def find_round(self, round_id: str) -> Round | None:
        """A recorded round, by its id or as a person typed it (`2019年上半年` is `2019-H1`)."""
        return self.get_round(round_id) or self.get_round(parse_round(round_id).id)

    def load_round(self, round_id: str) -> Round:
        """A round that forms were generated for; XlflowError, naming the known ones, if none."""
        rnd = self.find_round(round_id)
        if rnd is None:
            known = "、".join(r.id for r in self.rounds()) or "（还没有）"
            raise NotFound(
                f"轮次 {round_id!r} 还没有生成过填报表；先运行 xlflow generate --round {round_id}。已有轮次：{known}"
            )
        return rnd

    def get_round(self, round_id: str) -> Round | None:
        row = self.db.execute(
            "SELECT id, title, year, deadline FROM rounds WHERE id=?", (round_id,)
        ).fetchone()
        return self._round(row) if row else None

    def rounds(self) -> list[Round]:
        rows = self.db.execute("SELECT id, title, year, deadline FROM rounds ORDER BY seq")
        return [self._round(r) for r in rows]

    def previous_round(self, round_id: str) -> Round | None:
        row = self.db.execute(
            "SELECT id, title, year, deadline FROM rounds WHERE seq < "
            "(SELECT seq FROM rounds WHERE id=?) ORDER BY seq DESC LIMIT 1",
            (round_id,),
        ).fetchone()
        return self._round(row) if row else None

    def compared_round(self, round_id: str) -> Round | None:
        """The round whose answers a round is compared with (copied text, the plausibility
        rules): the one it prefills from, else the one made before it."""
        source = self.prefill_source(round_id)
        return self.get_round(source) if source else self.previous_round(round_id)

    def prefill_source(self, round_id: str) -> str:
        row = self.db.execute("SELECT prefill_from FROM rounds WHERE id=?", (round_id,)).fetchone()
        return str(row[0]) if row else ""

    def record_units(self, round_id: str, register: Register) -> None:
        """What the unit directory made of the register's names when the round's forms
        were made: each name folded into a unit (alias), each collective's members (member)."""
        with self.transaction():
            self.db.execute("DELETE FROM round_units WHERE round=?", (round_id,))
            self.db.executemany(
                "INSERT OR IGNORE INTO round_units(round, name, unit, kind) VALUES (?, ?, ?, ?)",
                [(round_id, name, unit, "alias") for name, unit in register.folded]
                + [
                    (round_id, collective, member, "member")
                    for collective, members in register.collectives
                    for member in members
                ],
            )

    def round_units(self, round_id: str) -> dict[str, list[tuple[str, str]]]:
        """{'alias': [(name, unit)], 'member': [(collective, member)]} as recorded."""
        out: dict[str, list[tuple[str, str]]] = {"alias": [], "member": []}
        query = "SELECT name, unit, kind FROM round_units WHERE round=? ORDER BY rowid"
        for name, unit, kind in self.db.execute(query, (round_id,)):
            out.setdefault(kind, []).append((name, unit))
        return out

    def round_created_at(self, round_id: str) -> dt.datetime | None:
        row = self.db.execute("SELECT created_at FROM rounds WHERE id=?", (round_id,)).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row else None

    def staged_forms(self, round_id: str) -> StagedForms:
        """A place for forms as they are written, recorded all at once by `record()`."""
        return StagedForms(self, round_id)

    def form_divisions(self, round_id: str) -> list[str]:
        """The divisions a round's forms were generated for, in the order they were made."""
        rows = self.db.execute(
            "SELECT division FROM forms WHERE round=? ORDER BY rowid", (round_id,)
        )
        return [r[0] for r in rows]

    def forms(self, rnd: Round) -> dict[str, FormSpec]:
        rows = self.db.execute(
            "SELECT division, spec FROM forms WHERE round=? ORDER BY rowid", (rnd.id,)
        )
        return {d: spec_from_json(s, rnd) for d, s in rows}

    def forms_digest(self, round_id: str) -> str:
        """A hash of the forms recorded for a round, as stored."""
        h = hashlib.sha256()
        for division, spec in self.db.execute(
            "SELECT division, spec FROM forms WHERE round=? ORDER BY division", (round_id,)
        ):
            h.update(f"{division}\x00{spec}\x00".encode())
        return h.hexdigest()

    def accepted_digest(self, round_id: str) -> str:
        """A hash of a round's accepted answers, as stored."""
        h = hashlib.sha256()
        for division, vals in self.db.execute(
            "SELECT division, vals FROM files WHERE round=? AND verdict='accepted' ORDER BY division, path",
            (round_id,),
        ):
            h.update(f"{division}\x00{vals}\x00".encode())
        return h.hexdigest()

    def form_file(self, round_id: str, division: str) -> tuple[Path, str] | None:
        row = self.db.execute(
            "SELECT path, sha256 FROM forms WHERE round=? AND division=?", (round_id, division)
        ).fetchone()
        return (Path(row[0]), row[1]) if row else None

    # --- files received ---

    @staticmethod
    def _file(row: sqlite3.Row) -> FileRecord:
        return _file_from_row(row)

    def files(self, round_id: str, with_values: bool = True) -> list[FileRecord]:
        """Every file recorded for a round, oldest first. Without values (and contact) the
        records stay small however many files a round has."""
        columns = "*" if with_values else _LIGHT_COLUMNS
        self.db.row_factory = sqlite3.Row
        try:
            rows = self.db.execute(
                f"SELECT {columns} FROM files WHERE round=? ORDER BY mtime, path", (round_id,)
            ).fetchall()
        finally:
            self.db.row_factory = None
        return [self._file(r) for r in rows]

    def file(self, round_id: str, path: str, sha256: str) -> FileRecord | None:
        return _one_file(self.db, round_id, path, sha256)

    def known_file(self, sha256: str) -> list[tuple[str, str]]:
        """(round, verdict) of every round where a file with this content was recorded."""
        rows = self.db.execute(
            "SELECT DISTINCT round, verdict FROM files WHERE sha256=?", (sha256,)
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def save_files(
        self,
        round_id: str,
        records: Iterable[FileRecord],
        started: str,
        changed: int,
        payload: Callable[[FileRecord], tuple[str, str] | None] = full_payload,
    ) -> None:
        """Make the round's file rows exactly `records`, in one transaction.

        `payload(record)` gives the values and contact (as JSON) of a record read in this
        run, or None for one already in the ledger, whose stored values are kept.
        """
        with self.transaction():
            existing = {
                (p, s)
                for p, s in self.db.execute(
                    "SELECT path, sha256 FROM files WHERE round=?", (round_id,)
                )
            }
            kept: set[tuple[str, str]] = set()
            count = 0
            for r in records:
                count += 1
                key = (r.path, r.sha256)
                kept.add(key)
                data = payload(r)
                if data is None and key in existing:
                    row = _row(round_id, r, "", "")
                    self.db.execute(
                        "UPDATE files SET size=?, mtime=?, verdict=?, division=?, identified_round=?,"
                        " issues=?, format=?, application=?, superseded_by=?, first_seen=?,"
                        " present=?, context=?, late=?, origin=? WHERE round=? AND path=? AND sha256=?",
                        (*row[3:9], *row[11:], round_id, r.path, r.sha256),
                    )
                else:
                    vals, contact = data if data is not None else full_payload(r)
                    self.db.execute(
                        f"INSERT OR REPLACE INTO files({_ROW_COLUMNS})"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        _row(round_id, r, vals, contact),
                    )
            self.db.executemany(
                "DELETE FROM files WHERE round=? AND path=? AND sha256=?",
                [(round_id, p, s) for p, s in existing - kept],
            )
            self.db.execute(
                "INSERT INTO runs(round, kind, started, finished, files, changed)"
                " VALUES (?, 'collect', ?, ?, ?, ?)",
                (round_id, started, now_text(), count, changed),
            )

    def receipt_digests(self, round_id: str) -> dict[str, str]:
        rows = self.db.execute("SELECT name, digest FROM receipts WHERE round=?", (round_id,))
        return {name: digest for name, digest in rows}

    def save_receipt_digests(self, round_id: str, digests: Mapping[str, str]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM receipts WHERE round=?", (round_id,))
            self.db.executemany(
                "INSERT INTO receipts(round, name, digest) VALUES (?, ?, ?)",
                [(round_id, name, digest) for name, digest in digests.items()],
            )

    # --- the register, as parsed ---

    def cached_register(self, key: str) -> Register | None:
        head = self.register_head(key)
        if head is None:
            return None
        return Register(
            head.source,
            head.headers,
            tuple(self.register_tasks(key)),
            head.notes,
            head.folded,
            head.collectives,
        )

    def register_head(self, key: str) -> RegisterHead | None:
        row = self.db.execute("SELECT head FROM register_heads WHERE key=?", (key,)).fetchone()
        return _head_from_json(row[0]) if row else None

    def register_tasks(self, key: str) -> Iterator[Task]:
        """The register's tasks in order, one at a time."""
        query = "SELECT body FROM register_tasks WHERE key=? ORDER BY pos"
        for (body,) in self.db.execute(query, (key,)):
            yield task_from_json(body)

    def cache_register(self, key: str, register: Register) -> None:
        """Keep the register as parsed under `key`; only the latest one is kept."""
        head = dataclasses.asdict(register_head(register))
        with self.transaction():
            self.db.execute("DELETE FROM register_heads")
            self.db.execute("DELETE FROM register_tasks")
            self.db.execute(
                "INSERT INTO register_heads(key, head) VALUES (?, ?)",
                (key, json.dumps(head, ensure_ascii=False)),
            )
            self.db.execute("DELETE FROM register_roles")
            self.db.executemany(
                "INSERT INTO register_tasks(key, pos, id, body) VALUES (?, ?, ?, ?)",
                ((key, pos, t.id, task_to_json(t)) for pos, t in enumerate(register.tasks)),
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO register_roles(key, division, pos, role) VALUES (?, ?, ?, ?)",
                (
                    (key, division, pos, role.value)
                    for pos, t in enumerate(register.tasks)
                    for role, divisions in ((Role.LEAD, t.lead), (Role.COOPERATING, t.cooperating))
                    for division in divisions
                ),
            )

    def tasks_of(self, key: str, division: str) -> Iterator[tuple[Task, Role]]:
        """A division's tasks with its role, in register order, one at a time."""
        query = (
            "SELECT t.body, r.role FROM register_roles r JOIN register_tasks t"
            " ON t.key = r.key AND t.pos = r.pos WHERE r.key=? AND r.division=?"
            " ORDER BY r.pos, r.role = 'cooperating'"
        )
        for body, role in self.db.execute(query, (key, division)):
            yield task_from_json(body), Role(role)

    def answers(
        self,
        key: str,
        counted: Iterable[tuple[int, FileRecord]],
        full: int,
        fields: tuple[str, str],
        idmap: Iterable[tuple[int, str, str]] = (),
    ) -> Iterator[tuple[Task, list[Answer]]]:
        """Every task of the register in order, one at a time, with what each counted file
        says about it: all its values for the files of round `full` (by their index in
        `counted`), the two `fields` (status and percent) for the others.

        SQLite takes each file's values apart (json_each) into an indexed temporary table,
        so however many tasks and files a round has, Python holds one task at a time.
        """
        db = self.db
        db.execute("DROP TABLE IF EXISTS temp.counted")
        db.execute("DROP TABLE IF EXISTS temp.answers")
        db.execute("CREATE TEMP TABLE counted (k INTEGER, round TEXT, path TEXT, sha256 TEXT)")
        db.executemany(
            "INSERT INTO temp.counted VALUES (?, ?, ?, ?)",
            ((k, f.round, f.path, f.sha256) for k, f in counted),
        )
        # an earlier round made from another register version: its ids, as they are now
        db.execute("DROP TABLE IF EXISTS temp.idmap")
        db.execute("CREATE TEMP TABLE idmap (k INTEGER, old TEXT, new TEXT)")
        db.executemany("INSERT INTO temp.idmap VALUES (?, ?, ?)", idmap)
        status, percent = (f'$."{name}"' for name in fields)
        db.execute(
            "CREATE TEMP TABLE answers AS"
            " SELECT c.k AS k, CASE WHEN c.k IN (SELECT k FROM temp.idmap) THEN m.new"
            " ELSE j.key END AS task, f.division AS division, f.path AS path,"
            " CASE WHEN c.k = ? THEN j.value END AS vals,"
            " json_extract(j.value, ?) AS status, json_extract(j.value, ?) AS percent"
            " FROM temp.counted c JOIN files f"
            " ON f.round = c.round AND f.path = c.path AND f.sha256 = c.sha256"
            " JOIN json_each(f.vals) j"
            " LEFT JOIN temp.idmap m ON m.k = c.k AND m.old = j.key",
            (full, status, percent),
        )
        db.execute("CREATE INDEX temp.answers_by_task ON answers(task)")
        rows = db.execute(
            "SELECT t.pos, t.body, a.k, a.division, a.vals, a.status, a.percent, a.path"
            " FROM register_tasks t LEFT JOIN temp.answers a ON a.task = t.id"
            " WHERE t.key = ? ORDER BY t.pos",
            (key,),
        )
        current: tuple[int, Task] | None = None
        found: list[Answer] = []
        for pos, body, k, division, vals, status_value, percent_value, path in rows:
            if current is None or current[0] != pos:
                if current is not None:
                    yield current[1], found
                current, found = (pos, task_from_json(body)), []
            if k is not None:
                values = json.loads(vals) if vals is not None else None
                found.append(Answer(k, division, values, status_value, percent_value, path))
        if current is not None:
            yield current[1], found
        db.execute("DROP TABLE IF EXISTS temp.answers")
        db.execute("DROP TABLE IF EXISTS temp.counted")
        db.execute("DROP TABLE IF EXISTS temp.idmap")

    def said(
        self, round_id: str, fields: tuple[str, str]
    ) -> dict[tuple[str, str], dict[str, tuple[Any, Any]]]:
        """What each accepted file of a round says of each task's two `fields` (status and
        percent), by (path, sha256): SQLite takes the values apart, Python holds two each."""
        status, percent = (f'$."{name}"' for name in fields)
        rows = self.db.execute(
            "SELECT f.path, f.sha256, j.key, json_extract(j.value, ?), json_extract(j.value, ?)"
            " FROM files f, json_each(f.vals) j WHERE f.round = ? AND f.verdict = 'accepted'",
            (status, percent, round_id),
        )
        out: dict[tuple[str, str], dict[str, tuple[Any, Any]]] = {}
        for path, sha, task, status_value, percent_value in rows:
            out.setdefault((path, sha), {})[task] = (status_value, percent_value)
        return out

    def target_year(self, round_id: str) -> int | None:
        """The target year the round's forms show (the first form's that has one)."""
        row = self.db.execute(
            "SELECT json_extract(spec, '$.target_year') AS year FROM forms"
            " WHERE round=? AND year IS NOT NULL AND year != 0 ORDER BY rowid LIMIT 1",
            (round_id,),
        ).fetchone()
        return int(row[0]) if row else None

    # --- register versions and the lineage of tasks between them ---

    def latest_version(self) -> tuple[int, str] | None:
        """(version, key) of the register's newest recorded version."""
        row = self.db.execute(
            "SELECT version, key FROM register_versions ORDER BY version DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def record_version(
        self,
        key: str,
        register: Register,
        lineage: Iterable[Lineage] = (),
        note: str = "",
    ) -> int:
        """Keep `register` as a new version, with how its tasks descend from the previous
        version's; return its number."""
        latest = self.latest_version()
        version = (latest[0] if latest else 0) + 1
        with self.transaction():
            self.db.execute(
                "INSERT INTO register_versions(version, key, source, at, note) VALUES (?, ?, ?, ?, ?)",
                (version, key, register.source, now_text(), note),
            )
            self.db.executemany(
                "INSERT INTO version_tasks(version, pos, id, body) VALUES (?, ?, ?, ?)",
                ((version, pos, t.id, task_to_json(t)) for pos, t in enumerate(register.tasks)),
            )
            self.db.executemany(
                "INSERT INTO lineage(from_version, from_id, to_version, to_id, kind, score, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (version - 1, x.old_id, version, x.new_id, x.kind, x.score, x.note)
                    for x in lineage
                ),
            )
        return version

    def correct_lineage(self, version: int, lineage: Iterable[Lineage], note: str) -> None:
        """Put `lineage` in place of how `version`'s tasks descend from the version before
        (a pair confirmed by mistake, corrected), and say so in the version's note."""
        with self.transaction():
            self.db.execute("DELETE FROM lineage WHERE to_version=?", (version,))
            self.db.executemany(
                "INSERT INTO lineage(from_version, from_id, to_version, to_id, kind, score, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (version - 1, x.old_id, version, x.new_id, x.kind, x.score, x.note)
                    for x in lineage
                ),
            )
            self.db.execute(
                "UPDATE register_versions SET note = note || ? WHERE version=?",
                (f"；{now_text()} {note}", version),
            )

    def version_of_key(self, key: str) -> int | None:
        row = self.db.execute(
            "SELECT MAX(version) FROM register_versions WHERE key=?", (key,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def version_register(self, version: int) -> Register:
        """The register as it was in `version`."""
        head = self.db.execute(
            "SELECT source FROM register_versions WHERE version=?", (version,)
        ).fetchone()
        tasks = tuple(
            task_from_json(body)
            for (body,) in self.db.execute(
                "SELECT body FROM version_tasks WHERE version=? ORDER BY pos", (version,)
            )
        )
        return Register(head[0] if head else "", (), tasks)

    def lineage(self, to_version: int) -> list[Lineage]:
        """How the tasks of `to_version` descend from the version before it."""
        rows = self.db.execute(
            "SELECT from_id, to_id, kind, score, note FROM lineage WHERE to_version=? ORDER BY rowid",
            (to_version,),
        )
        return [Lineage(a, b, kind, score, note) for a, b, kind, score, note in rows]

    def set_round_version(self, round_id: str, version: int) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO round_versions(round, version) VALUES (?, ?)",
                (round_id, version),
            )

    def round_version(self, round_id: str) -> int | None:
        row = self.db.execute(
            "SELECT version FROM round_versions WHERE round=?", (round_id,)
        ).fetchone()
        return int(row[0]) if row else None

    # --- deadline extensions ---

    def record_extension(self, extension: Extension) -> None:
        """A division's own deadline; it replaces the one in force, which stays on record."""
        with self.transaction():
            self.db.execute(
                "UPDATE extensions SET undone_by=?, undone_at=? "
                "WHERE round=? AND division=? AND undone_at=''",
                (extension.by, extension.at, extension.round, extension.division),
            )
            self.db.execute(
                "INSERT INTO extensions(round, division, until, reason, by, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    extension.round,
                    extension.division,
                    extension.until.isoformat(),
                    extension.reason,
                    extension.by,
                    extension.at,
                ),
            )

    def undo_extension(self, round_id: str, division: str, by: str, at: str) -> Extension | None:
        """End the division's extension in force; the round's deadline is its own again."""
        found = self.extensions(round_id).get(division)
        if found is not None:
            with self.transaction():
                self.db.execute(
                    "UPDATE extensions SET undone_by=?, undone_at=? "
                    "WHERE round=? AND division=? AND undone_at=''",
                    (by, at, round_id, division),
                )
        return found

    def extensions(self, round_id: str) -> dict[str, Extension]:
        """The extensions in force in a round, by division."""
        rows = self.db.execute(
            "SELECT division, until, reason, by, at FROM extensions"
            " WHERE round=? AND undone_at='' ORDER BY id",
            (round_id,),
        )
        return {
            division: Extension(round_id, division, dt.date.fromisoformat(until), reason, by, at)
            for division, until, reason, by, at in rows
        }

    # --- the coordinator's word on explanations (说明) ---

    def record_review(self, review: Review) -> None:
        """Accept an explanation or ask again; the latest word on a row replaces the last."""
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO explanation_reviews"
                "(round, division, task_id, rule, said, verdict, note, by, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    review.round, review.division, review.task_id, review.rule, review.said,
                    review.verdict, review.note, review.by, review.at,
                ),
            )  # fmt: skip

    def reviews(self, round_id: str) -> dict[tuple[str, str, str], Review]:
        """(division, task id, rule) -> the coordinator's word on that explanation."""
        rows = self.db.execute(
            "SELECT division, task_id, rule, said, verdict, note, by, at"
            " FROM explanation_reviews WHERE round=? ORDER BY at",
            (round_id,),
        )
        return {
            (division, task_id, rule): Review(round_id, division, task_id, rule, *rest)
            for division, task_id, rule, *rest in rows
        }

    # --- the coordinator's decisions ---

    def record_decision(self, decision: Decision) -> None:
        """A new decision on a file; it replaces the one in force, which stays on record."""
        with self.transaction():
            self.db.execute(
                "UPDATE decisions SET undone_by=?, undone_at=? "
                "WHERE round=? AND sha256=? AND undone_at=''",
                (decision.by, decision.at, decision.round, decision.sha256),
            )
            self.db.execute(
                "INSERT INTO decisions (round, sha256, action, reason, by, at, path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    decision.round,
                    decision.sha256,
                    decision.action,
                    decision.reason,
                    decision.by,
                    decision.at,
                    decision.path,
                ),
            )

    def undo_decision(self, round_id: str, sha256: str, by: str, at: str) -> Decision | None:
        """End the decision in force on a file; returns it, or None if there was none."""
        found = self.decisions(round_id).get(sha256)
        if found is not None:
            self.db.execute(
                "UPDATE decisions SET undone_by=?, undone_at=? "
                "WHERE round=? AND sha256=? AND undone_at=''",
                (by, at, round_id, sha256),
            )
        return found

    def decisions(self, round_id: str) -> dict[str, Decision]:
        """The decisions in force in a round, by the sha256 of the file."""
        rows = self.db.execute(
            "SELECT round, sha256, action, reason, by, at, path FROM decisions "
            "WHERE round=? AND undone_at='' ORDER BY id",
            (round_id,),
        ).fetchall()
        return {r[1]: Decision(*r) for r in rows}

    def last_collect(self, round_id: str) -> str | None:
        row = self.db.execute(
            "SELECT finished FROM runs WHERE round=? AND kind='collect' ORDER BY id DESC LIMIT 1",
            (round_id,),
        ).fetchone()
        return str(row[0]) if row else None

    def accepted(self, round_id: str) -> list[FileRecord]:
        return [f for f in self.files(round_id) if f.verdict is Verdict.ACCEPTED]


class StagedForms:
    """Forms written but not yet recorded, kept in a temporary table rather than in memory:
    a ministry's round has thousands. `record()` puts them in the ledger in one
    transaction, in the order of their positions (a form's rowid is its place in the round,
    see `form_divisions`)."""

    def __init__(self, ledger: Ledger, round_id: str) -> None:
        self.db = ledger.db
        self.ledger = ledger
        self.round_id = round_id
        self.db.execute("DROP TABLE IF EXISTS temp.staged_forms")
        self.db.execute(
            "CREATE TEMP TABLE staged_forms"
            " (pos INTEGER PRIMARY KEY, division TEXT, spec TEXT, path TEXT, sha256 TEXT)"
        )

    def add(self, pos: int, spec: FormSpec, path: Path, sha256: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO temp.staged_forms VALUES (?, ?, ?, ?, ?)",
            (pos, spec.division, spec_to_json(spec), str(path), sha256),
        )

    def record(self) -> None:
        with self.ledger.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO forms(round, division, spec, path, sha256)"
                " SELECT ?, division, spec, path, sha256 FROM temp.staged_forms ORDER BY pos",
                (self.round_id,),
            )
        self.db.execute("DROP TABLE temp.staged_forms")


class AcceptedFiles(Mapping[str, FileRecord]):
    """division -> its accepted return of a round, with values, read when asked for."""

    def __init__(self, ledger: Ledger, round_id: str) -> None:
        self.ledger = ledger
        self.round_id = round_id

    def __getitem__(self, division: str) -> FileRecord:
        db = self.ledger.db
        db.row_factory = sqlite3.Row
        try:
            # the latest, as a dict built from ledger.accepted() in its order would keep
            row = db.execute(
                "SELECT * FROM files WHERE round=? AND division=? AND verdict='accepted'"
                " ORDER BY mtime DESC, path DESC LIMIT 1",
                (self.round_id, division),
            ).fetchone()
        finally:
            db.row_factory = None
        if row is None:
            raise KeyError(division)
        return _file_from_row(row)

    def __iter__(self) -> Iterator[str]:
        rows = self.ledger.db.execute(
            "SELECT DISTINCT division FROM files WHERE round=? AND verdict='accepted'"
            " ORDER BY division",
            (self.round_id,),
        ).fetchall()
        return iter([r[0] for r in rows])

    def __len__(self) -> int:
        return len(list(iter(self)))


class _ReadOnly:
    """A per-process, read-only connection to the ledger (a connection must not cross a fork)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def close(self) -> None:
        """Let the file go (Windows keeps an open file from being moved or deleted); the
        next read opens it again."""
        if self._db is not None and self._pid == os.getpid():
            self._db.close()
        self._db = None

    def db(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():
            self._db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30
            )
            self._pid = os.getpid()
        return self._db


class FormStore(Mapping[str, FormSpec]):
    """The forms sent for one round, by division, read from the ledger one at a time.

    A large round holds thousands of forms; each worker process loads only those it
    meets, through its own read-only connection, and keeps the last few in memory.
    """

    def __init__(self, path: Path, rnd: Round, keep: int = 64) -> None:
        self.ledger = _ReadOnly(path)
        self.round = rnd
        self.keep = keep
        self._names: tuple[str, ...] | None = None
        self._cache: OrderedDict[str, FormSpec] = OrderedDict()
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": self.ledger.path,
            "round": self.round,
            "keep": self.keep,
            "_names": self._names,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["round"], state["keep"])  # type: ignore[misc]
        self._names = state["_names"]

    def close(self) -> None:
        self.ledger.close()

    def _conn(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a forked copy starts with an empty cache
            self._cache.clear()
            self._pid = os.getpid()
        return self.ledger.db()

    def names(self) -> tuple[str, ...]:
        if self._names is None:
            query = "SELECT division FROM forms WHERE round=? ORDER BY rowid"
            rows = self._conn().execute(query, (self.round.id,)).fetchall()
            self._names = tuple(r[0] for r in rows)
        return self._names

    def __getitem__(self, division: str) -> FormSpec:
        db = self._conn()
        if division in self._cache:
            self._cache.move_to_end(division)
            return self._cache[division]
        # fetchall ends the statement at once: an open read would block the ledger's commit
        query = "SELECT spec FROM forms WHERE round=? AND division=?"
        rows = db.execute(query, (self.round.id, division)).fetchall()
        if not rows:
            raise KeyError(division)
        spec = spec_from_json(rows[0][0], self.round)
        self._cache[division] = spec
        if len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return spec

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, division: object) -> bool:
        return division in self.names()


class AcceptedValues(Mapping[str, dict[str, dict[str, Any]]]):
    """division -> task -> values of a round's accepted returns, read when asked for."""

    def __init__(self, path: Path, round_id: str) -> None:
        self.ledger = _ReadOnly(path)
        self.round_id = round_id

    def close(self) -> None:
        self.ledger.close()

    def __getitem__(self, division: str) -> dict[str, dict[str, Any]]:
        rows = (
            self.ledger.db()
            .execute(
                "SELECT vals FROM files WHERE round=? AND division=? AND verdict='accepted'",
                (self.round_id, division),
            )
            .fetchall()
        )
        if not rows:
            raise KeyError(division)
        return dict(json.loads(rows[0][0]))

    def __iter__(self) -> Iterator[str]:
        rows = (
            self.ledger.db()
            .execute(
                "SELECT division FROM files WHERE round=? AND verdict='accepted'", (self.round_id,)
            )
            .fetchall()
        )
        return iter([r[0] for r in rows])

    def __len__(self) -> int:
        return len(list(iter(self)))


class RecordReader:
    """Full records (with values) from the ledger, one at a time, in any process."""

    def __init__(self, path: Path, round_id: str) -> None:
        self.ledger = _ReadOnly(path)
        self.round_id = round_id

    def close(self) -> None:
        self.ledger.close()

    def get(self, path: str, sha256: str) -> FileRecord | None:
        return _one_file(self.ledger.db(), self.round_id, path, sha256)
