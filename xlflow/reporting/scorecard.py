"""The year's assessment (考核): a scorecard per division across the rounds of a year.

For each division, from the ledger alone:
- its returns on time, late (against its own deadline: an extension's, else the round's)
  and never;
- accepted on its first return, or only after being sent back, and how many returns it
  sent after the first was sent back (rework);
- how many days before (+) or after (−) its deadline its counted return came, on average;
- the tasks whose status it reported worse, or whose percent it reported lower, than the
  round before;
- the tasks it reported lagging (settings [report] lagging) in two rounds or more in a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.model import Settings
from ..issues import Verdict
from ..ledger.book import Ledger
from ..model import FileRecord, Round
from ..standing import DivisionState, Standing, round_state
from ..workspace import Workspace
from .tasks import status_change


@dataclass(frozen=True)
class DivisionScore:
    division: str
    rounds: tuple[str, ...]  # the rounds it was sent a form in
    on_time: int = 0
    late: int = 0
    never: int = 0
    first_time: int = 0  # rounds accepted on its first return
    after_rework: int = 0  # rounds accepted only after a return was sent back
    rework_returns: int = 0  # returns sent after one was sent back
    days: tuple[int, ...] = ()  # days before (+) or after (−) its deadline, each counted return
    worsened: tuple[str, ...] = ()  # "round: task" where its status got worse
    fell: tuple[str, ...] = ()  # "round: task" where its percent fell
    lagging: tuple[str, ...] = ()  # tasks it reported lagging two rounds or more in a row

    @property
    def average_days(self) -> float | None:
        return round(sum(self.days) / len(self.days), 1) if self.days else None

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / len(self.rounds), 3) if self.rounds else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "division": self.division,
            "rounds": len(self.rounds),
            "on_time": self.on_time,
            "late": self.late,
            "never": self.never,
            "on_time_rate": self.on_time_rate,
            "first_time": self.first_time,
            "after_rework": self.after_rework,
            "rework_returns": self.rework_returns,
            "average_days": self.average_days,
            "worsened": list(self.worsened),
            "fell": list(self.fell),
            "lagging": list(self.lagging),
        }


@dataclass(frozen=True)
class Scorecard:
    year: int | None
    rounds: tuple[Round, ...]
    divisions: tuple[DivisionScore, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "rounds": [{"id": r.id, "title": r.title} for r in self.rounds],
            "divisions": [d.to_dict() for d in self.divisions],
        }


def scorecard(ws: Workspace, year: int | None = None, up_to: str | None = None) -> Scorecard:
    """Every division's scorecard across the rounds of `year` (default: the latest
    round's year), up to round `up_to` if given."""
    # divisions in the order their forms were sent (the register's): a ministry's register
    # of tens of thousands of tasks is not loaded for it
    with Ledger(ws.ledger_path) as ledger:
        every = ledger.rounds()
        ids = [r.id for r in every]
        if up_to is not None and up_to in ids:
            every = every[: ids.index(up_to) + 1]
        if year is None and every:
            year = every[-1].year
        rounds = tuple(r for r in every if year is None or r.year == year)
        # each round's divisions by name: a division's standing is looked up, not searched for
        states = [
            {d.division: d for d in round_state(ledger, rnd, with_values=False).divisions}
            for rnd in rounds
        ]
        fields = (ws.settings.status.field, ws.settings.status.percent_field)

        def said(rnd: Round, record: FileRecord) -> Mapping[str, tuple[Any, Any]]:
            return ledger.said(rnd.id, record.path, record.sha256, fields)

        order = dict.fromkeys(name for state in states for name in state)
        scores = [_score(name, rounds, states, said, ws.settings) for name in order]
    return Scorecard(year, rounds, tuple(s for s in scores if s.rounds))


def _score(
    division: str,
    rounds: Sequence[Round],
    states: Sequence[Mapping[str, DivisionState]],
    said: Callable[[Round, FileRecord], Mapping[str, tuple[Any, Any]]],
    settings: Settings,
) -> DivisionScore:
    sent: list[str] = []
    on_time = late = never = first_time = after_rework = rework = 0
    days: list[int] = []
    counted: list[tuple[Round, FileRecord | None]] = []  # the answer of each round sent
    for rnd, state in zip(rounds, states, strict=True):
        d: DivisionState | None = state.get(division)
        if d is None:
            continue
        sent.append(rnd.id)
        returns = [f for f in d.files if f.verdict is not Verdict.DUPLICATE]
        sent_back = next((k for k, f in enumerate(returns) if f.verdict is Verdict.REJECTED), None)
        if sent_back is not None:
            rework += len(returns) - sent_back - 1
        if d.standing is not Standing.ACCEPTED or d.counted is None:
            never += 1
            counted.append((rnd, None))
            continue
        late += d.late
        on_time += not d.late
        if sent_back is not None and returns.index(d.counted) > sent_back:
            after_rework += 1
        else:
            first_time += 1
        deadline = d.deadline(rnd)
        if deadline is not None:
            days.append(_days_before(d.counted, deadline))
        counted.append((rnd, d.counted))
    # a movement needs two answers: the values are read only for a division that has them
    answers = (
        [(rnd.title, said(rnd, record) if record else {}) for rnd, record in counted]
        if sum(record is not None for _, record in counted) > 1
        else []
    )
    worsened, fell, lagging = _movement(answers, settings)
    return DivisionScore(
        division, tuple(sent), on_time, late, never, first_time, after_rework, rework,
        tuple(days), worsened, fell, lagging,
    )  # fmt: skip


def _days_before(record: FileRecord, deadline: dt.date) -> int:
    return (deadline - record.received.date()).days


def _movement(
    answers: Sequence[tuple[str, Mapping[str, tuple[Any, Any]]]], settings: Settings
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Tasks whose status got worse or percent fell from one round to the next (each as
    'round: task'), and the tasks reported lagging in two or more rounds in a row."""
    rank = {s: i for i, s in enumerate(settings.status_order)}
    lagging_words = set(settings.report.lagging)
    worsened: list[str] = []
    fell: list[str] = []
    run: dict[str, int] = {}
    longest: dict[str, int] = {}
    for k, (title, values) in enumerate(answers):
        for tid, (status, _) in values.items():
            lag = str(status or "") in lagging_words
            run[tid] = run.get(tid, 0) + 1 if lag else 0
            longest[tid] = max(longest.get(tid, 0), run[tid])
        for tid in [t for t in run if t not in values]:
            run[tid] = 0
        if k == 0:
            continue
        before = answers[k - 1][1]
        for tid, (now_status, now_pc) in values.items():
            if tid not in before:
                continue
            then_status, then_pc = before[tid]
            if status_change(rank, str(then_status or ""), str(now_status or "")) == "worsened":
                worsened.append(f"{title}：序号 {tid}")
            if (
                isinstance(now_pc, int | float)
                and isinstance(then_pc, int | float)
                and now_pc < then_pc
            ):
                fell.append(f"{title}：序号 {tid}")
    lagging = tuple(t for t, n in longest.items() if n >= 2)
    return tuple(worsened), tuple(fell), lagging


__all__ = ["DivisionScore", "Scorecard", "scorecard"]
