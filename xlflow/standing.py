"""Where a round stands: one read model, built from the ledger, that every output reads
(`RoundState`), and the same on a given day (`RoundStatus`: how long is left, who is late).

A division has returned a form that counts (accepted), or only forms that were sent back
(rejected), or nothing at all (missing). Its counted file is the accepted one, else the
newest rejected one. `status`, `remind`, the receipts and the consolidated workbook all
read this model, so they never disagree about who has reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from .issues import DECISION_CODES, TO_EXPLAIN, IssueCode, Severity, Verdict
from .ledger.book import Ledger
from .model import Extension, FileRecord, Round
from .wording import OVERDUE_LABEL, STANDING_LABELS


class Standing(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MISSING = "missing"

    @property
    def label(self) -> str:
        return STANDING_LABELS[self.value]


@dataclass(frozen=True)
class DivisionState:
    division: str
    standing: Standing
    counted: FileRecord | None  # the accepted file, else the newest rejected one
    files: tuple[FileRecord, ...]  # every file of the division but skipped ones, oldest first
    extension: Extension | None = None  # its own deadline, where the coordinator gave one

    def deadline(self, rnd: Round) -> dt.date | None:
        """The division's deadline: its extension's, else the round's."""
        return self.extension.until if self.extension else rnd.deadline

    @property
    def accepted(self) -> FileRecord | None:
        return self.counted if self.standing is Standing.ACCEPTED else None

    @property
    def others(self) -> tuple[FileRecord, ...]:
        return tuple(f for f in self.files if f is not self.counted)

    @property
    def late(self) -> bool:
        return bool(self.counted and self.counted.late)

    @property
    def decided(self) -> bool:
        """Whether the counted file was accepted by the coordinator despite its errors."""
        f = self.counted
        return f is not None and any(i.code is IssueCode.ACCEPTED_BY_COORDINATOR for i in f.issues)

    def count(self, severity: Severity) -> int:
        return sum(1 for i in self.counted.issues if i.severity is severity) if self.counted else 0

    def to_dict(self) -> dict[str, Any]:
        f = self.counted
        return {
            "division": self.division,
            "returned": self.standing is not Standing.MISSING,
            "state": str(self.standing),
            "verdict": str(f.verdict) if f else None,
            "file": f.path if f else None,
            "received": f.received.isoformat(timespec="seconds") if f else None,
            "late": self.late,
            "in_inbox": f.present if f else None,
            "origin": f.origin if f else "",
            "application": f.application if f else "",
            "accepted_by_coordinator": self.decided,
            "coordinator_note": next((i.message for i in f.issues if i.code in DECISION_CODES), "")
            if f
            else "",
            "errors": self.count(Severity.ERROR),
            "warnings": self.count(Severity.WARNING),
            # 核实性审核: rows whose 说明 is still wanting (not written, or asked again)
            "to_explain": sum(i.code in TO_EXPLAIN for i in f.issues) if f else 0,
            "problems": [i.message for i in f.issues if i.severity is Severity.ERROR] if f else [],
            "files": len(self.files),
            "extension": self.extension.to_dict() if self.extension else None,
        }


def division_state(division: str, files: Iterable[FileRecord]) -> DivisionState:
    """A division's standing from the files recorded for it (any order)."""
    mine = tuple(
        sorted(
            (f for f in files if f.division == division and f.verdict is not Verdict.SKIPPED),
            key=lambda f: (f.mtime, f.path),
        )
    )
    accepted = [f for f in mine if f.verdict is Verdict.ACCEPTED]
    if accepted:
        return DivisionState(division, Standing.ACCEPTED, accepted[-1], mine)
    rejected = [f for f in mine if f.verdict is Verdict.REJECTED]
    if rejected:
        return DivisionState(division, Standing.REJECTED, rejected[-1], mine)
    return DivisionState(division, Standing.MISSING, None, mine)


@dataclass(frozen=True)
class RoundState:
    round: Round
    divisions: tuple[DivisionState, ...]  # every division a form was sent to
    files: tuple[FileRecord, ...]  # every file recorded for the round, oldest first
    last_collect: str | None = None

    def of(self, division: str) -> DivisionState:
        for d in self.divisions:
            if d.division == division:
                return d
        return division_state(division, ())

    @property
    def missing(self) -> list[str]:
        """Divisions without an accepted return: those still to chase."""
        return [d.division for d in self.divisions if d.standing is not Standing.ACCEPTED]

    @property
    def accepted(self) -> dict[str, FileRecord]:
        return {d.division: d.counted for d in self.divisions if d.accepted and d.counted}

    @property
    def unidentified(self) -> tuple[FileRecord, ...]:
        """Files in the inbox that could not be told as any division's."""
        return tuple(
            f
            for f in self.files
            if not f.division and f.verdict is not Verdict.SKIPPED and f.present
        )


def states_of(files: Sequence[FileRecord], divisions: Iterable[str]) -> tuple[DivisionState, ...]:
    by_division: dict[str, list[FileRecord]] = {}
    for f in files:
        by_division.setdefault(f.division, []).append(f)
    return tuple(division_state(d, by_division.get(d, ())) for d in divisions)


def round_state(
    ledger: Ledger,
    rnd: Round,
    order: Sequence[str] = (),
    with_values: bool = True,
) -> RoundState:
    """The round as the ledger has it. Divisions come in `order` (the register's), then any
    other division a form was sent to; without values, records stay small."""
    sent = ledger.form_divisions(rnd.id)
    # as sets: at 10,000 divisions a list's `in` made this 10**8 comparisons
    sent_to, ordered = set(sent), set(order)
    divisions = [d for d in order if d in sent_to] + [d for d in sent if d not in ordered]
    files = tuple(ledger.files(rnd.id, with_values=with_values))
    extended = ledger.extensions(rnd.id)
    states = tuple(
        replace(d, extension=extended[d.division]) if d.division in extended else d
        for d in states_of(files, divisions)
    )
    return RoundState(rnd, states, files, ledger.last_collect(rnd.id))


@dataclass(frozen=True)
class RoundStatus:
    state: RoundState
    today: dt.date
    # each collective answered member by member in this round, as its forms were made
    collectives: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def collective_returns(self) -> list[dict[str, Any]]:
        """Each collective: its members, those with an accepted return, those without."""
        accepted = {d.division for d in self.divisions if d.standing is Standing.ACCEPTED}
        return [
            {
                "collective": name,
                "members": list(members),
                "reported": [m for m in members if m in accepted],
                "missing": [m for m in members if m not in accepted],
            }
            for name, members in self.collectives
        ]

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

    def days_left_of(self, division: DivisionState) -> int | None:
        """Days to the division's own deadline (an extension's, else the round's)."""
        deadline = division.deadline(self.round)
        return None if deadline is None else (deadline - self.today).days

    def overdue(self, division: DivisionState) -> bool:
        """Whether the division is late: its counted return came after its deadline (its
        extension's, where it has one), or that deadline has passed with no accepted return."""
        if division.late:
            return True
        days = self.days_left_of(division)
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
            "collectives": self.collective_returns(),
        }
