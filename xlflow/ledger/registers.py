"""The register as parsed, kept by its key, and what the counted files say of its tasks."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import marshal
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from ..model import (
    FileRecord,
    Register,
    Role,
    Task,
    content_key,
)
from .codec import (
    Answer,
    RegisterHead,
    head_from_json,
    interned_fields,
    register_head,
    task_fields,
    task_from_json,
    task_to_json,
)
from .connection import Connection

# What wrote a packed register: marshal's format is only promised to one interpreter.
PACKING = f"{sys.implementation.cache_tag}/marshal{marshal.version}"


class RegisterTables(Connection):
    """The register as parsed, kept by its key, and what the counted files say of its tasks."""

    def cached_register(self, key: str) -> Register | None:
        """The register kept under `key`, or None.

        Every command that needs the whole register reads it here: at 12,000 tasks their
        JSON took 0.44-0.56 s to decode, a sixth of generating 300 forms. Its tasks are
        kept a second time, packed with marshal (the format of Python's own .pyc files,
        which builds only strings, numbers and tuples, never runs code), and read from
        there, in 0.4 of that time; the JSON rows stay what SQL queries and other
        interpreters read."""
        head = self.register_head(key)
        if head is None:
            return None
        tasks = self._packed_tasks(key, head.tasks)
        if tasks is None:
            tasks = tuple(self.register_tasks(key))
            # a ledger of an earlier release, or of another Python: packed for next time
            with contextlib.suppress(sqlite3.OperationalError), self.transaction():
                self._pack(key, tasks)
        return Register(
            head.source, head.headers, tasks, head.notes, head.folded, head.collectives
        ).knowing_content(head.content)

    def _packed_tasks(self, key: str, count: int) -> tuple[Task, ...] | None:
        query = "SELECT tasks FROM register_packed WHERE key=? AND python=?"
        row = self.db.execute(query, (key, PACKING)).fetchone()
        if row is None:
            return None
        try:
            tasks = tuple(Task(*fields) for fields in marshal.loads(row[0]))
        except (ValueError, EOFError, TypeError):
            return None  # not what _pack wrote: the JSON rows say it again
        return tasks if len(tasks) == count else None

    def _pack(self, key: str, tasks: Iterable[Task]) -> None:
        """Keep the tasks packed (see cached_register); strings interned when the tasks
        were made are written once and stay interned when read."""
        packed = marshal.dumps(tuple(interned_fields(*task_fields(t)) for t in tasks))
        self.db.execute("DELETE FROM register_packed")
        self.db.execute(
            "INSERT INTO register_packed(key, python, tasks) VALUES (?, ?, ?)",
            (key, PACKING, packed),
        )

    def register_head(self, key: str) -> RegisterHead | None:
        row = self.db.execute("SELECT head FROM register_heads WHERE key=?", (key,)).fetchone()
        return head_from_json(row[0]) if row else None

    def latest_divisions(self) -> tuple[str, ...]:
        """The divisions of the register last parsed, in its order, without reading the
        register or its tasks; none where no register was ever parsed here."""
        query = "SELECT json_extract(head, '$.divisions') FROM register_heads LIMIT 1"
        row = self.db.execute(query).fetchone()
        return tuple(json.loads(row[0])) if row and row[0] else ()

    def register_tasks(self, key: str) -> Iterator[Task]:
        """The register's tasks in order, one at a time."""
        query = "SELECT body FROM register_tasks WHERE key=? ORDER BY pos"
        for (body,) in self.db.execute(query, (key,)):
            yield task_from_json(body)

    def cache_register(self, key: str, register: Register) -> None:
        """Keep the register as parsed under `key`, with its content key; only the latest
        one is kept."""
        content = content_key(register)
        head = dataclasses.asdict(dataclasses.replace(register_head(register), content=content))
        with self.transaction():
            self.db.execute("DELETE FROM register_heads")
            self.db.execute("DELETE FROM register_tasks")
            self.db.execute(
                "INSERT INTO register_heads(key, head) VALUES (?, ?)",
                (key, json.dumps(head, ensure_ascii=False)),
            )
            self._pack(key, register.tasks)
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
        self, round_id: str, path: str, sha256: str, fields: tuple[str, str]
    ) -> dict[str, tuple[Any, Any]]:
        """What one accepted file of a round says of each task's two `fields` (status and
        percent), by task: SQLite takes the values apart. A file at a time, so that a
        year of 10,000 returns is never held at once (it was 80 MiB a round)."""
        status, percent = (f'$."{name}"' for name in fields)
        rows = self.db.execute(
            "SELECT j.key, json_extract(j.value, ?), json_extract(j.value, ?)"
            " FROM files f, json_each(f.vals) j WHERE f.round = ? AND f.path = ?"
            " AND f.sha256 = ? AND f.verdict = 'accepted'",
            (status, percent, round_id, path, sha256),
        )
        return {task: (status_value, percent_value) for task, status_value, percent_value in rows}

    def target_year(self, round_id: str) -> int | None:
        """The target year the round's forms show (the first form's that has one)."""
        row = self.db.execute(
            "SELECT json_extract(spec, '$.target_year') AS year FROM forms"
            " WHERE round=? AND year IS NOT NULL AND year != 0 ORDER BY rowid LIMIT 1",
            (round_id,),
        ).fetchone()
        return int(row[0]) if row else None
