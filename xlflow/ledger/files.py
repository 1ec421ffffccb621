"""Files received, their verdicts and receipts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping

from ..issues import Verdict
from ..model import (
    FileRecord,
)
from .codec import (
    LIGHT_COLUMNS,
    ROW_COLUMNS,
    file_from_row,
    file_row,
    full_payload,
    now_text,
    one_file,
)
from .connection import Connection


class FileTables(Connection):
    """Files received, their verdicts and receipts."""

    @staticmethod
    def _file(row: sqlite3.Row) -> FileRecord:
        return file_from_row(row)

    def files(self, round_id: str, with_values: bool = True) -> list[FileRecord]:
        """Every file recorded for a round, oldest first. Without values (and contact) the
        records stay small however many files a round has."""
        columns = "*" if with_values else LIGHT_COLUMNS
        self.db.row_factory = sqlite3.Row
        try:
            rows = self.db.execute(
                f"SELECT {columns} FROM files WHERE round=? ORDER BY mtime, path", (round_id,)
            ).fetchall()
        finally:
            self.db.row_factory = None
        return [self._file(r) for r in rows]

    def file(self, round_id: str, path: str, sha256: str) -> FileRecord | None:
        return one_file(self.db, round_id, path, sha256)

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
                    row = file_row(round_id, r, "", "")
                    self.db.execute(
                        "UPDATE files SET size=?, mtime=?, verdict=?, division=?, identified_round=?,"
                        " issues=?, format=?, application=?, superseded_by=?, first_seen=?,"
                        " present=?, context=?, late=?, origin=? WHERE round=? AND path=? AND sha256=?",
                        (*row[3:9], *row[11:], round_id, r.path, r.sha256),
                    )
                else:
                    vals, contact = data if data is not None else full_payload(r)
                    self.db.execute(
                        f"INSERT OR REPLACE INTO files({ROW_COLUMNS})"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        file_row(round_id, r, vals, contact),
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

    def last_collect(self, round_id: str) -> str | None:
        row = self.db.execute(
            "SELECT finished FROM runs WHERE round=? AND kind='collect' ORDER BY id DESC LIMIT 1",
            (round_id,),
        ).fetchone()
        return str(row[0]) if row else None

    def accepted(self, round_id: str) -> list[FileRecord]:
        return [f for f in self.files(round_id) if f.verdict is Verdict.ACCEPTED]
