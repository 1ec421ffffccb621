"""Where a round stands: who has returned, with which verdict, and how long is left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .ledger import Ledger
from .model import Round
from .state import DivisionState, RoundState, Standing, round_state
from .workspace import Workspace

OVERDUE_LABEL = "逾期"


@dataclass(frozen=True)
class RoundStatus:
    state: RoundState
    today: dt.date

    @property
    def round(self) -> Round:
        return self.state.round

    @property
    def divisions(self) -> tuple[DivisionState, ...]:
        return self.state.divisions

    @property
    def last_collect(self) -> str | None:
        return self.state.last_collect

    @property
    def missing(self) -> list[str]:
        return self.state.missing

    @property
    def days_left(self) -> int | None:
        if self.round.deadline is None:
            return None
        return (self.round.deadline - self.today).days

    def overdue(self, division: DivisionState) -> bool:
        """Whether the division is late: its counted return came after the deadline, or the
        deadline has passed with no accepted return."""
        if division.late:
            return True
        days = self.days_left
        return division.standing is not Standing.ACCEPTED and days is not None and days < 0

    def counts(self) -> dict[str, int]:
        """How many divisions stand where, by label (已采用, 退回修改, 未报送), and how
        many of them are 逾期 (counted in their standing too)."""
        out = {s.label: 0 for s in Standing}
        for d in self.divisions:
            out[d.standing.label] += 1
        out[OVERDUE_LABEL] = sum(1 for d in self.divisions if self.overdue(d))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round.id,
            "title": self.round.title,
            "deadline": self.round.deadline.isoformat() if self.round.deadline else None,
            "today": self.today.isoformat(),
            "days_left": self.days_left,
            "last_collect": self.last_collect,
            "divisions": [d.to_dict() | {"overdue": self.overdue(d)} for d in self.divisions],
            "missing": self.missing,
            "counts": self.counts(),
        }


def round_status(ws: Workspace, round_id: str, today: dt.date | None = None) -> RoundStatus:
    """Read from the ledger only: run `collect` first to take in new files."""
    register = ws.register()
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        state = round_state(ledger, rnd, register.divisions)
    return RoundStatus(state, today or dt.date.today())


def all_rounds(ws: Workspace, today: dt.date | None = None) -> list[RoundStatus]:
    """Every round in the ledger, newest first, each with where it stands."""
    register = ws.register()
    with Ledger(ws.ledger_path) as ledger:
        rounds = ledger.rounds()
        states = [round_state(ledger, rnd, register.divisions, with_values=False) for rnd in rounds]
    day = today or dt.date.today()
    return [RoundStatus(state, day) for state in reversed(states)]
