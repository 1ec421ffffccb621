"""The one owner of the ledger's SQLite connection and its transactions: it opens the file
(making or bringing its tables up to date), and every table family works through it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Self

from ..errors import StateDamaged
from .schema import ADDED_COLUMNS, LEDGER_VERSION, MAX_PATH_BYTES, SCHEMA


class Connection:
    """The SQLite file, open: a thin, typed wrapper every table family shares."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            # each CREATE ... IF NOT EXISTS is atomic on its own
            self.db.executescript(SCHEMA)
            for table, column, definition in ADDED_COLUMNS:
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

    def __enter__(self) -> Self:
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

    def transaction(self) -> Connection._Tx:
        return Connection._Tx(self.db)
