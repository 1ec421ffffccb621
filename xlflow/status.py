"""Where a round stands: who has returned, with which verdict, and how long is left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .ledger import Ledger
from .model import Round
from .state import DivisionState, RoundState, round_state
from .workspace import Workspace


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round.id,
            "title": self.round.title,
            "deadline": self.round.deadline.isoformat() if self.round.deadline else None,
            "today": self.today.isoformat(),
            "days_left": self.days_left,
            "last_collect": self.last_collect,
            "divisions": [d.to_dict() for d in self.divisions],
            "missing": self.missing,
        }


def round_status(ws: Workspace, round_id: str, today: dt.date | None = None) -> RoundStatus:
    """Read from the ledger only: run `collect` first to take in new files."""
    register = ws.register()
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        state = round_state(ledger, rnd, register.divisions)
    return RoundStatus(state, today or dt.date.today())
