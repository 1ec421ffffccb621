"""Where a round stands, read for a working folder: its register's divisions against the
ledger (`xlflow status` and the console's boards)."""

from __future__ import annotations

import datetime as dt

from ..ledger.book import Ledger
from ..register.load import load_divisions
from ..standing import RoundStatus, round_state
from ..workspace import Workspace


def round_status(ws: Workspace, round_id: str, today: dt.date | None = None) -> RoundStatus:
    """Read from the ledger only: run `collect` first to take in new files."""
    divisions = load_divisions(ws)
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        state = round_state(ledger, rnd, divisions)
        members = ledger.round_units(rnd.id)["member"]
    return RoundStatus(state, today or dt.date.today(), _grouped(members))


def _grouped(members: list[tuple[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out: dict[str, list[str]] = {}
    for collective, member in members:
        out.setdefault(collective, []).append(member)
    return tuple((name, tuple(group)) for name, group in out.items())


def all_rounds(ws: Workspace, today: dt.date | None = None) -> list[RoundStatus]:
    """Every round in the ledger, newest first, each with where it stands."""
    divisions = load_divisions(ws)
    with Ledger(ws.ledger_path) as ledger:
        rounds = ledger.rounds()
        states = [round_state(ledger, rnd, divisions, with_values=False) for rnd in rounds]
    day = today or dt.date.today()
    return [RoundStatus(state, day) for state in reversed(states)]
