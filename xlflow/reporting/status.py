"""Where a round stands, read for a working folder from the ledger alone (`xlflow status`
and the console's boards).

The divisions are those the round's forms were made for, in the order of the register last
parsed: the register itself is not read, so a register being edited, or one changed since,
never slows or stops a look at a round."""

from __future__ import annotations

import datetime as dt

from ..ledger.book import Ledger
from ..standing import RoundStatus, round_state
from ..workspace import Workspace


def round_status(
    ws: Workspace, round_id: str, today: dt.date | None = None, with_values: bool = True
) -> RoundStatus:
    """Read from the ledger only: run `collect` first to take in new files. Without values
    the files come without their answers and contact (what `xlflow status` shows)."""
    with Ledger(ws.ledger_path) as ledger:
        divisions = ledger.latest_divisions()
        rnd = ledger.load_round(round_id)
        state = round_state(ledger, rnd, divisions, with_values)
        members = ledger.round_units(rnd.id)["member"]
    return RoundStatus(state, today or dt.date.today(), _grouped(members))


def _grouped(members: list[tuple[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out: dict[str, list[str]] = {}
    for collective, member in members:
        out.setdefault(collective, []).append(member)
    return tuple((name, tuple(group)) for name, group in out.items())


def all_rounds(ws: Workspace, today: dt.date | None = None) -> list[RoundStatus]:
    """Every round in the ledger, newest first, each with where it stands."""
    with Ledger(ws.ledger_path) as ledger:
        divisions = ledger.latest_divisions()
        rounds = ledger.rounds()
        states = [round_state(ledger, rnd, divisions, with_values=False) for rnd in rounds]
    day = today or dt.date.today()
    return [RoundStatus(state, day) for state in reversed(states)]
