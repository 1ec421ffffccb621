"""Deadline extensions: a division's own deadline."""

from __future__ import annotations

import datetime as dt

from ..model import (
    Extension,
)
from .codec import *  # noqa: F403
from .connection import Connection


class ExtensionTables(Connection):
    """Deadline extensions: a division's own deadline."""

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
