"""Deadline extensions (延期): a division asks for a few more days, and gets them.

An extension is the coordinator's word on a division in a round: its own deadline, with
who gave it, when and why. It is kept in the ledger until undone, and on record after.
Recording one runs collect again, which judges that division's files against its own
deadline: status, the receipts, reminders, the 未报送 sheet and the 通报 all follow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..errors import Invalid, NotFound
from ..ledger.book import Ledger
from ..ledger.codec import now_text
from ..model import Extension
from ..standing import DivisionState, round_state
from ..workspace import Workspace
from .collect import collect
from .decisions import who


@dataclass(frozen=True)
class ExtensionResult:
    extension: Extension
    standing: DivisionState  # the division's, judged against its new deadline
    undone: bool = False
    round_deadline: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "extension": self.extension.to_dict(),
            "undone": self.undone,
            "round_deadline": self.round_deadline.isoformat() if self.round_deadline else None,
            "division": self.standing.to_dict(),
        }


def extend(
    ws: Workspace,
    round_id: str,
    division: str,
    until: dt.date,
    reason: str,
    by: str | None = None,
) -> ExtensionResult:
    """Give a division its own deadline in a round (replacing one it had)."""
    if not reason.strip():
        raise Invalid("请写明延期的理由，如“处长出差，申请延后三天”；理由记入台账。")
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        _check_division(ledger, rnd.id, division)
        if rnd.deadline is not None and until <= rnd.deadline:
            raise Invalid(
                f"延期后的时限 {until.isoformat()} 不晚于本轮的报送时限 {rnd.deadline.isoformat()}；"
                "延期应晚于原时限。"
            )
        extension = Extension(rnd.id, division, until, reason.strip(), by or who(), now_text())
        ledger.record_extension(extension)
    return ExtensionResult(extension, _apply(ws, round_id, division), False, rnd.deadline)


def undo_extension(
    ws: Workspace, round_id: str, division: str, by: str | None = None
) -> ExtensionResult:
    """End a division's extension: the round's deadline is its own again."""
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        _check_division(ledger, rnd.id, division)
        ended = ledger.undo_extension(rnd.id, division, by or who(), now_text())
        if ended is None:
            raise NotFound(f"{division} 在 {rnd.title} 没有延期，无需撤销。")
    return ExtensionResult(ended, _apply(ws, round_id, division), True, rnd.deadline)


def _check_division(ledger: Ledger, round_id: str, division: str) -> None:
    sent = ledger.form_divisions(round_id)
    if division not in sent:
        raise NotFound(
            f"本轮次没有给“{division}”下发填报表；下发过的单位有：{'、'.join(sent) or '（无）'}"
        )


def _apply(ws: Workspace, round_id: str, division: str) -> DivisionState:
    """Collect again, so that every recorded file is judged against the new deadline."""
    collect(ws, round_id)
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        return round_state(ledger, rnd, with_values=False).of(division)


__all__ = ["ExtensionResult", "extend", "undo_extension"]
