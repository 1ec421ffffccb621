"""Where a round stands: who has returned, with which verdict, and how long is left."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from .issues import Severity, Verdict
from .ledger import Ledger
from .model import FileRecord, Round
from .workspace import Workspace


@dataclass(frozen=True)
class DivisionStatus:
    division: str
    state: str  # accepted | rejected | missing
    counted: FileRecord | None  # the accepted file, else the newest rejected one
    files: int

    def to_dict(self) -> dict[str, Any]:
        f = self.counted
        return {
            "division": self.division,
            "returned": self.state != "missing",
            "state": self.state,
            "verdict": str(f.verdict) if f else None,
            "file": f.path if f else None,
            "received": f.received.isoformat(timespec="seconds") if f else None,
            "late": bool(f and f.late),
            "errors": sum(1 for i in f.issues if i.severity is Severity.ERROR) if f else 0,
            "warnings": sum(1 for i in f.issues if i.severity is Severity.WARNING) if f else 0,
            "problems": [i.message for i in f.issues if i.severity is Severity.ERROR] if f else [],
            "files": self.files,
        }


@dataclass(frozen=True)
class RoundStatus:
    round: Round
    today: dt.date
    divisions: tuple[DivisionStatus, ...]
    last_collect: str | None

    @property
    def missing(self) -> list[str]:
        return [d.division for d in self.divisions if d.state != "accepted"]

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
    with Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        forms = ledger.forms(rnd)
        files = ledger.files(rnd.id)
        last = ledger.last_collect(rnd.id)
    out = []
    for division in ws.register().divisions:
        if division not in forms:
            continue
        mine = [f for f in files if f.division == division and f.verdict is not Verdict.SKIPPED]
        accepted = [f for f in mine if f.verdict is Verdict.ACCEPTED]
        rejected = [f for f in mine if f.verdict is Verdict.REJECTED]
        if accepted:
            out.append(DivisionStatus(division, "accepted", accepted[-1], len(mine)))
        elif rejected:
            newest = max(rejected, key=lambda f: (f.mtime, f.path))
            out.append(DivisionStatus(division, "rejected", newest, len(mine)))
        else:
            out.append(DivisionStatus(division, "missing", None, len(mine)))
    return RoundStatus(rnd, today or dt.date.today(), tuple(out), last)
