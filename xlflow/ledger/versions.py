"""Register versions and the lineage of tasks between them."""

from __future__ import annotations

from collections.abc import Iterable

from ..model import (
    Lineage,
    Register,
)
from .codec import now_text, task_from_json, task_to_json
from .connection import Connection


class VersionTables(Connection):
    """Register versions and the lineage of tasks between them."""

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
