"""Readers of the ledger that stay small whatever the round's size: forms staged before they
are recorded, the accepted files, and read-only views a worker process can be given."""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model import (
    FileRecord,
    FormSpec,
    Round,
)
from .codec import file_from_row, one_file, spec_from_json, spec_to_json

if TYPE_CHECKING:
    from .connection import Connection


class StagedForms:
    """Forms written but not yet recorded, kept in a temporary table rather than in memory:
    a ministry's round has thousands. `record()` puts them in the ledger in one
    transaction, in the order of their positions (a form's rowid is its place in the round,
    see `form_divisions`)."""

    def __init__(self, ledger: Connection, round_id: str) -> None:
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

    def __init__(self, ledger: Connection, round_id: str) -> None:
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
        return file_from_row(row)

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
        return one_file(self.ledger.db(), self.round_id, path, sha256)
