"""The consolidated workbook's read model: a round's counted answers, task by task, from the
ledger (`consolidate`), and what the overview and the lists count on the way (`Tally`).

The ledger gives the register's tasks one at a time, in order, each with what every
counted file says about it (`Ledger.answers`); only counts are kept. The same ledger
always gives the same figures: even the time the workbook was made comes from the ledger,
not the clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...config.model import Settings
from ...issues import Issue, IssueCode, Severity, Verdict
from ...ledger.book import Ledger
from ...ledger.codec import RegisterHead
from ...model import FileRecord, Round, Task
from ...register.lineage import ancestors, lineage_chain
from ...register.load import register_key
from ...standing import DivisionState, RoundState, Standing, round_state
from ...wording import (
    task_label,
)
from ...workspace import Workspace
from ..explanations import Flag, flags_of
from ..scorecard import Scorecard
from ..tasks import (
    CollectiveRollup,
    TaskState,
    answers_of,
    earlier_status,
    status_change,
    task_state,
)


@dataclass(frozen=True)
class Consolidation:
    """What the consolidated workbook says, in figures: everything but its rows."""

    round: Round
    made_at: dt.datetime
    settings: Settings
    divisions: tuple[DivisionState, ...]
    files: tuple[FileRecord, ...]
    tasks: int
    statuses: Counter[str]  # status -> tasks, as the detail sheet shows them
    groups: dict[str, Counter[str]]  # group -> its tasks' statuses, in register order
    by_division: dict[str, Counter[str]]  # division -> its own answers on its own tasks
    conflicts: int
    problems: tuple[Issue, ...]
    rounds: tuple[Round, ...]  # every round up to this one
    target_year: int | None = None
    changes: dict[str, int] = field(default_factory=dict)
    # each collective's answer to each of its tasks: (task id, task name, the roll-up)
    rollups: tuple[tuple[str, str, CollectiveRollup], ...] = ()
    collectives: tuple[tuple[str, tuple[str, ...]], ...] = ()  # answered member by member
    flags: tuple[Flag, ...] = ()  # 需说明事项: each flagged row of a counted return
    names: dict[str, str] = field(default_factory=dict)  # task id -> its name, for the flags

    def collective_returns(self) -> list[tuple[str, list[str], list[str]]]:
        """(collective, members with an accepted return, members without) for each."""
        accepted = set(self.accepted)
        return [
            (name, [m for m in members if m in accepted], [m for m in members if m not in accepted])
            for name, members in self.collectives
        ]

    @property
    def missing(self) -> list[str]:
        return [d.division for d in self.divisions if d.standing is not Standing.ACCEPTED]

    @property
    def accepted(self) -> list[str]:
        return [d.division for d in self.divisions if d.standing is Standing.ACCEPTED]

    def status_counts(self) -> Counter[str]:
        return Counter(self.statuses)

    def summary(self, path: Path) -> dict[str, Any]:
        return {
            "path": str(path),
            "round": self.round.id,
            "tasks": self.tasks,
            "accepted": len(self.accepted),
            "missing": self.missing,
            "conflicts": self.conflicts,
        }


def made_at_of(files: Sequence[FileRecord], fallback: dt.datetime | None) -> dt.datetime:
    stamps = [f.first_seen for f in files if f.first_seen]
    if stamps:
        return dt.datetime.fromisoformat(max(stamps))
    return fallback or dt.datetime(2000, 1, 1)


# --- the pass over the tasks ---


@dataclass(frozen=True)
class Inputs:
    """What the pass starts from: all of it small, whatever the size of the round."""

    round: Round
    settings: Settings
    key: str  # of the register kept in the ledger
    head: RegisterHead
    state: RoundState  # without values
    rounds: tuple[Round, ...]  # every round up to this one
    counted: tuple[tuple[int, FileRecord], ...]  # (index in rounds, counted file), all rounds
    made_at: dt.datetime
    target_year: int | None
    scorecard: Scorecard | None = None  # the year's assessment up to this round
    idmap: tuple[tuple[int, str, str], ...] = ()  # (round index, id then, id now)
    leads_then: tuple[tuple[int, str, tuple[str, ...]], ...] = ()  # (round index, id now, leads)
    flags: tuple[Flag, ...] = ()  # this round's, from its counted returns


def read_inputs(ws: Workspace, ledger: Ledger, round_id: str, key: str) -> Inputs:
    head = ledger.register_head(key)
    assert head is not None  # Workspace.register_key keeps it
    rnd = ledger.load_round(round_id)
    rounds: list[Round] = []
    for earlier in ledger.rounds():
        rounds.append(earlier)
        if earlier.id == rnd.id:
            break
    state = round_state(ledger, rnd, head.divisions, with_values=False)
    counted: list[tuple[int, FileRecord]] = []
    for k, r in enumerate(rounds):
        accepted = (state if r.id == rnd.id else round_state(ledger, r, with_values=False)).accepted
        counted += [(k, f) for f in accepted.values()]
    idmap, leads_then = _idmap(ledger, rounds)
    return Inputs(
        round=rnd,
        settings=ws.settings,
        key=key,
        head=head,
        state=state,
        rounds=tuple(rounds),
        counted=tuple(counted),
        made_at=made_at_of(state.files, ledger.round_created_at(rnd.id)),
        target_year=ledger.target_year(rnd.id),
        idmap=idmap,
        leads_then=leads_then,
        flags=tuple(flags_of(state.accepted.values(), ledger.reviews(rnd.id))),
    )


NOT_YET = "尚无此项"


def _as_then(task: Task, leads: tuple[str, ...] | None) -> Task:
    """The task with the leads it had in an earlier register version, where they differ."""
    if not leads or leads == task.lead:
        return task
    return replace(
        task, lead=leads, cooperating=tuple(u for u in task.divisions if u not in leads)
    )  # a task added by a later register version, in an earlier round


def _idmap(
    ledger: Ledger, rounds: Sequence[Round]
) -> tuple[tuple[tuple[int, str, str], ...], tuple[tuple[int, str, tuple[str, ...]], ...]]:
    """For every earlier round made from another register version than this one's:
    (round index, task id then, task id now), so that its answers are shown on the tasks
    they became; and (round index, task id now, the leads then), so that its status is
    read from whoever led the task then."""
    versions = [ledger.round_version(r.id) for r in rounds]
    now = versions[-1] if versions else None
    if now is None or all(v in (None, now) for v in versions):
        return (), ()
    chain = lineage_chain(ledger)
    ids = [t.id for t in ledger.version_register(now).tasks]
    out: list[tuple[int, str, str]] = []
    leads: list[tuple[int, str, tuple[str, ...]]] = []
    for k, v in enumerate(versions[:-1]):
        if v is None or v == now:
            continue
        then_tasks = {t.id: t for t in ledger.version_register(v).tasks}
        for tid in ids:
            came = [then for then, _ in ancestors(chain, tid, now, v)]
            out += [(k, then, tid) for then in came]
            led = tuple(u for then in came if then in then_tasks for u in then_tasks[then].lead)
            if led:
                leads.append((k, tid, tuple(dict.fromkeys(led))))
    return tuple(out), tuple(leads)


@dataclass(frozen=True)
class TaskRow:
    """One task of the round as the consolidated workbook shows it, with its history."""

    state: TaskState
    problems: list[Issue]
    history: list[tuple[str, Any]]  # (status, percent) in each round, this one last
    # each member of a collective on the task: (collective, member, its own history)
    members: list[tuple[str, str, list[tuple[str, Any]]]] = field(default_factory=list)


def _overruled(inputs: Inputs) -> dict[str, dict[str, list[str]]]:
    """For each file accepted by the coordinator despite its errors: the fields of each
    task that were in error (and so were not taken), by file path and task id."""
    labels = {f.key: f.label for f in inputs.settings.fields}
    out: dict[str, dict[str, list[str]]] = {}
    for f in inputs.state.files:
        if f.verdict is not Verdict.ACCEPTED or not any(
            i.code is IssueCode.ACCEPTED_BY_COORDINATOR for i in f.issues
        ):
            continue
        tasks = out.setdefault(f.path, {})
        for i in f.issues:
            if i.severity is Severity.ERROR and i.task_id:
                field = labels.get(i.field, i.field) or "本行"
                tasks.setdefault(i.task_id, []).append(f"{field}（{i.cell}）" if i.cell else field)
    return out


def _overruled_note(state: TaskState, overruled: Mapping[str, Mapping[str, list[str]]]) -> str:
    notes = []
    for a in state.answers:
        wrong = overruled.get(a.source, {}).get(state.task.id)
        if wrong:
            notes.append(
                f"【{a.division}】经协调办公室确认采用，原表以下内容有误、未采用：{'、'.join(wrong)}"
            )
    return "；".join([state.note, *notes] if state.note else notes)


def task_rows(inputs: Inputs, ledger: Ledger) -> Iterator[TaskRow]:
    """Each task of the register, in order, as this round's detail and every round's status."""
    settings = inputs.settings
    overruled = _overruled(inputs)
    current = len(inputs.rounds) - 1
    fields = (settings.status.field, settings.status.percent_field)
    missing = settings.status.missing_label
    rank = {status: i for i, status in enumerate(settings.status_order)}
    remapped = {k for k, _, _ in inputs.idmap}
    led = {(k, now): leads for k, now, leads in inputs.leads_then}
    descended = {(k, now) for k, _, now in inputs.idmap}
    for task, answers in ledger.answers(inputs.key, inputs.counted, current, fields, inputs.idmap):
        now: dict[str, tuple[dict[str, Any], str]] = {}
        said: list[dict[str, tuple[Any, Any]]] = [{} for _ in inputs.rounds]
        for a in answers:
            if a.index == current:
                now[a.division] = (a.values or {}, a.source)
            else:
                said[a.index][a.division] = (a.status, a.percent)
        state, problems = task_state(task, answers_of(task, now), settings, inputs.round)
        if overruled:
            state = replace(state, note=_overruled_note(state, overruled))
        history = [
            earlier_status(_as_then(task, led.get((k, task.id))), said[k], rank, missing)
            if k not in remapped or (k, task.id) in descended
            else (NOT_YET, None)
            for k in range(current)
        ]
        members = [
            (collective, member, [_said(said[k], member, missing) for k in range(current)])
            for collective, group in task.collectives
            for member in group
        ]
        for _, member, past in members:
            now_said = now.get(member)
            past.append(
                _said({member: _pair(now_said[0], fields)} if now_said else {}, member, missing)
            )
        yield TaskRow(state, problems, [*history, (state.status, state.percent)], members)


def _pair(values: Mapping[str, Any], fields: tuple[str, str]) -> tuple[Any, Any]:
    return values.get(fields[0]), values.get(fields[1])


def _said(said: Mapping[str, tuple[Any, Any]], member: str, missing: str) -> tuple[str, Any]:
    """(status, percent) one member gave in a round, or the missing label."""
    if member not in said:
        return missing, None
    status, percent = said[member]
    return (str(status) if status is not None else "") or missing, percent


class Tally:
    """The overview's figures, counted as the tasks go by."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        settings = inputs.settings
        self.statuses: Counter[str] = Counter()
        self.groups: dict[str, Counter[str]] = {g: Counter() for g in inputs.head.groups}
        self.by_division: dict[str, Counter[str]] = {
            d.division: Counter() for d in inputs.state.divisions
        }
        self.conflicts = 0
        self.tasks = 0
        self.problems: list[Issue] = []
        self.changes: Counter[str] = Counter()
        self.rank = {status: i for i, status in enumerate(settings.status_order)}
        self.rollups: list[tuple[str, str, CollectiveRollup]] = []  # (task id, name, rollup)
        self.flagged = {f.task_id for f in inputs.flags}
        self.names: dict[str, str] = {}

    def add(self, row: TaskRow) -> None:
        settings, state, task = self.inputs.settings, row.state, row.state.task
        self.tasks += 1
        self.statuses[state.status] += 1
        self.groups.setdefault(task.group, Counter())[state.status] += 1
        self.conflicts += state.conflict
        self.problems += row.problems
        if task.id in self.flagged:
            self.names[task.id] = task_label(task, settings.register)
        if state.rollups:
            name = task_label(task, settings.register)
            self.rollups += [(task.id, name, c) for c in state.rollups]
        own = {a.division: a.values for a in state.answers}
        for division in (*task.lead, *task.cooperating):
            if division in self.by_division:
                value = own.get(division, {}).get(settings.status.field)
                self.by_division[division][value or settings.status.missing_label] += 1
        if len(row.history) > 1:
            self.changes[self._change(row.history[-2][0], row.history[-1][0])] += 1

    def _change(self, before: str, now: str) -> str:
        return status_change(self.rank, before, now)

    _COUNTS = (
        "statuses",
        "groups",
        "by_division",
        "conflicts",
        "tasks",
        "problems",
        "changes",
        "rollups",
        "names",
    )

    def counts(self) -> dict[str, Any]:
        """What was counted, without the inputs: small whatever the size of the round."""
        return {name: getattr(self, name) for name in self._COUNTS}

    def add_counts(self, counts: Mapping[str, Any]) -> None:
        for name in self._COUNTS:
            setattr(self, name, counts[name])

    def result(self) -> Consolidation:
        inputs = self.inputs
        files = inputs.state.files
        changes: dict[str, int] = {}
        if len(inputs.rounds) > 1:
            keys = ("improved", "worsened", "same", "not_comparable")
            changes = {k: self.changes.get(k, 0) for k in keys}
        return Consolidation(
            round=inputs.round,
            made_at=inputs.made_at,
            settings=inputs.settings,
            divisions=inputs.state.divisions,
            files=files,
            tasks=self.tasks,
            statuses=self.statuses,
            groups=self.groups,
            by_division=self.by_division,
            conflicts=self.conflicts,
            problems=tuple(i for f in files for i in f.issues) + tuple(self.problems),
            rounds=inputs.rounds,
            target_year=inputs.target_year,
            changes=changes,
            rollups=tuple(self.rollups),
            collectives=inputs.head.collectives,
            flags=inputs.flags,
            names=self.names,
        )


def consolidate(
    ws: Workspace, round_id: str, on_task: Callable[[TaskRow], None] | None = None
) -> Consolidation:
    """The consolidated figures of a round, from the ledger, without writing a workbook;
    `on_task` sees each task's row, in register order, as the workbook would show it."""
    key = register_key(ws)
    with Ledger(ws.ledger_path) as ledger:
        inputs = read_inputs(ws, ledger, round_id, key)
        tally = Tally(inputs)
        for row in task_rows(inputs, ledger):
            tally.add(row)
            if on_task is not None:
                on_task(row)
    return tally.result()
