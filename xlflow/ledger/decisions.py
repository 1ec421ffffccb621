"""The coordinator's word: decisions on files and reviews of explanations."""

from __future__ import annotations

from ..model import (
    Decision,
    Review,
)
from .codec import *  # noqa: F403
from .connection import Connection


class DecisionTables(Connection):
    """The coordinator's word: decisions on files and reviews of explanations."""

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
