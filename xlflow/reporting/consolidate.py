"""Merging the accepted returns into the consolidated status workbook (汇总表).

The workbook is streamed. The ledger gives the register's tasks one at a time, in order,
each with what every counted file says about it (`Ledger.answers`); a task becomes its row
of the detail sheet, and of the history sheet, at once, and only counts are kept for the
overview, which is written last. However many tasks and returns a round has, Python holds
one task, and XlsxWriter sends each row to disk once the next begins (constant_memory).

The same ledger always gives the same cell contents: even the time the workbook was made
comes from the ledger, not the clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config.model import EXPLANATION_KEY, Settings
from ..errors import HelperDied
from ..excel import (
    BORDER,
    LOOK,
    StreamedSheet,
    abandon,
    page_text,
    row_height,
    streamed_workbook,
    write_text,
    write_value,
)
from ..files import atomic_path, folder_lock, sweep_temp_files
from ..issues import CHANGE_CODES, DECISION_CODES, Issue, IssueCode, Severity, Verdict
from ..ledger.book import Ledger
from ..ledger.codec import RegisterHead
from ..model import FileRecord, Round, Task
from ..pool import start_companion, stop_companion
from ..register.load import register_key
from ..register.revise import ancestors, lineage_chain
from ..standing import DivisionState, RoundState, Standing, round_state
from ..text import clean_cell, safe_filename
from ..wording import (
    ASSESSMENT,
    COLLECTIVES,
    DETAIL,
    EXPLANATIONS,
    HISTORY,
    MISSING,
    OVERDUE_LABEL,
    OVERVIEW,
    PROBLEMS,
    SOURCES,
    VERDICT_LABELS,
    deadline_text,
    form_title,
    role_label,
    task_label,
    units_shown,
)
from ..workspace import Workspace
from .explanations import Flag, by_task, flag_line, flags_of
from .scorecard import Scorecard, scorecard
from .tasks import (
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


def _made_at(files: Sequence[FileRecord], fallback: dt.datetime | None) -> dt.datetime:
    stamps = [f.first_seen for f in files if f.first_seen]
    if stamps:
        return dt.datetime.fromisoformat(max(stamps))
    return fallback or dt.datetime(2000, 1, 1)


# --- the pass over the tasks ---


@dataclass(frozen=True)
class _Inputs:
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


def _inputs(ws: Workspace, ledger: Ledger, round_id: str, key: str) -> _Inputs:
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
    return _Inputs(
        round=rnd,
        settings=ws.settings,
        key=key,
        head=head,
        state=state,
        rounds=tuple(rounds),
        counted=tuple(counted),
        made_at=_made_at(state.files, ledger.round_created_at(rnd.id)),
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


def _overruled(inputs: _Inputs) -> dict[str, dict[str, list[str]]]:
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


def _rows(inputs: _Inputs, ledger: Ledger) -> Iterator[TaskRow]:
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


class _Tally:
    """The overview's figures, counted as the tasks go by."""

    def __init__(self, inputs: _Inputs) -> None:
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
        inputs = _inputs(ws, ledger, round_id, key)
        tally = _Tally(inputs)
        for row in _rows(inputs, ledger):
            tally.add(row)
            if on_task is not None:
                on_task(row)
    return tally.result()


def output_path(ws: Workspace, rnd: Round) -> Path:
    title = form_title(ws.settings, rnd, "")
    return ws.round_dir(rnd) / f"{safe_filename(title)}-汇总-{rnd.slug}.xlsx"


_SCRATCH = ".merge-"
STREAM_ABOVE = 5000  # tasks


@dataclass(frozen=True)
class Merged:
    """The consolidated workbook written, and what it says in figures."""

    consolidation: Consolidation
    path: Path
    inline_strings: bool = False  # streamed, its text inline (over STREAM_ABOVE tasks)

    @property
    def note(self) -> str:
        """What to tell whoever opens it in WPS 2021, where it was streamed."""
        if not self.inline_strings:
            return ""
        return (
            f"本轮有 {self.consolidation.tasks} 项任务（超过 {STREAM_ABOVE} 项），汇总表逐行写入，"
            "文字没有放入共享字符串表：WPS 2021 可能打不开它。请先用 Excel 或新版 WPS 打开后另存一次，再发给领导。"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.consolidation.summary(self.path),
            "inline_strings": self.inline_strings,
            "note": self.note,
        }


def merge(ws: Workspace, round_id: str) -> Merged:
    """Write outbox/ROUND/<title>-汇总-ROUND.xlsx atomically, a row at a time."""
    with folder_lock(ws.lock_path, "汇总"):
        sweep_temp_files(ws.outbox)
        for left in ws.state.glob(f"{_SCRATCH}*"):  # by a merge that was killed
            shutil.rmtree(left, ignore_errors=True)
        key = register_key(ws)
        with Ledger(ws.ledger_path) as ledger:
            inputs = _inputs(ws, ledger, round_id, key)
            card = scorecard(ws, inputs.round.year, inputs.round.id)
            inputs = replace(inputs, scorecard=card)
            path = output_path(ws, inputs.round)
            with (
                atomic_path(path) as tmp,
                tempfile.TemporaryDirectory(dir=ws.state, prefix=_SCRATCH) as scratch,
            ):
                data = _write_workbook(tmp, Path(scratch), inputs, ledger)
    return Merged(data, path, inputs.head.tasks > STREAM_ABOVE)


# --- rendering ---


class _Styles:
    """The workbook's cell formats. `made` holds them in the order they were made, which
    is the same on every run, so that a format can be named by its place in it."""

    def __init__(self, book: Any, settings: Settings) -> None:
        self.made: list[Any] = []

        class _Keeping:
            @staticmethod
            def add_format(properties: dict[str, Any] | None = None) -> Any:
                made = book.add_format(properties)
                self.made.append(made)
                return made

        wb = _Keeping()
        body = {
            "font_name": settings.form.font,
            "font_size": 10.5,
            "valign": "top",
            "text_wrap": True,
        }
        head = {"font_name": settings.form.header_font}
        border = dict(BORDER)
        self.title = wb.add_format(
            {**head, "font_size": 18, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.subtitle = wb.add_format(
            {**body, "font_size": 11, "valign": "vcenter", "text_wrap": False}
        )
        self.section = wb.add_format(
            {**head, "font_size": 12, "bold": True, "valign": "vcenter", "bottom": 2}
        )
        self.header = wb.add_format(
            {
                **head,
                **border,
                "bold": True,
                "font_size": 10.5,
                "bg_color": LOOK["header"],
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )
        self.text = wb.add_format({**body, **border})
        self.center = wb.add_format({**body, **border, "align": "center", "valign": "vcenter"})
        self.number = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "num_format": "0"}
        )
        self.share = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "num_format": "0.0%"}
        )
        self.group = wb.add_format(
            {**body, **border, "bold": True, "align": "center", "valign": "vcenter"}
        )
        self.big = wb.add_format(
            {
                **head,
                **border,
                "font_size": 16,
                "bold": True,
                "align": "center",
                "valign": "vcenter",
            }
        )
        self.big_label = wb.add_format(
            {**body, **border, "align": "center", "valign": "vcenter", "bg_color": LOOK["shade"]}
        )
        self.note = wb.add_format(
            {**body, "font_size": 9.5, "font_color": LOOK["note_text"], "text_wrap": True}
        )
        self.flag = wb.add_format(
            {**body, **border, "font_color": LOOK["bad_text"], "bg_color": LOOK["input"]}
        )
        self.to_explain = wb.add_format({**body, **border, "bg_color": LOOK["explain"]})
        self.total = wb.add_format(
            {
                **body,
                **border,
                "bold": True,
                "align": "center",
                "valign": "vcenter",
                "bg_color": LOOK["shade"],
            }
        )
        self.status_fill = {
            status: wb.add_format({"bg_color": colour})
            for status, colour in settings.status.colours
        }
        self.missing_fill = wb.add_format(
            {"bg_color": LOOK["shade"], "font_color": LOOK["muted_text"]}
        )
        self.plain = wb.add_format()  # the default look


def _page(
    ws: Any, title: str, rnd: Round, *, a3: bool = False, header_row: int | None = None
) -> None:
    ws.set_landscape()
    ws.set_paper(8 if a3 else 9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
    ws.center_horizontally()
    ws.set_header(f"&L{page_text(title)}&R{page_text(f'{rnd.title}（{rnd.id}）')}")
    ws.set_footer("&C&9第 &P 页，共 &N 页")
    if header_row is not None:
        ws.repeat_rows(header_row)


def _status_formats(
    ws: Any,
    st: _Styles,
    settings: Settings,
    first: int,
    last: int,
    col: int,
    last_col: int | None = None,
) -> None:
    """Status colours as conditional formats, so a status typed later is coloured too."""
    if last < first:
        return
    end = col if last_col is None else last_col
    for status, fmt in st.status_fill.items():
        ws.conditional_format(
            first,
            col,
            last,
            end,
            {"type": "cell", "criteria": "==", "value": f'"{status}"', "format": fmt},
        )
    ws.conditional_format(
        first, col, last, end,
        {"type": "cell", "criteria": "==", "value": f'"{settings.status.missing_label}"', "format": st.missing_fill},
    )  # fmt: skip


def _write_workbook(path: Path, scratch: Path, inputs: _Inputs, ledger: Ledger) -> Consolidation:
    """The consolidated workbook, its sheets in reading order; the detail and history rows
    are written as the tasks come, the overview and the lists once they are counted."""
    # Up to STREAM_ABOVE tasks the cells are held (a few MiB) and the text goes into a
    # shared strings table, as Excel writes it; beyond, rows go to disk as they come.
    wb = streamed_workbook(path, scratch, inputs.made_at, inputs.head.tasks > STREAM_ABOVE)
    try:
        return _fill_workbook(wb, inputs, ledger)
    except BaseException:
        abandon(wb)
        raise


def _fill_workbook(wb: Any, inputs: _Inputs, ledger: Ledger) -> Consolidation:
    st = _Styles(wb, inputs.settings)
    title = f"{inputs.settings.office.name}{inputs.round.title}重点任务进展情况汇总表"
    overview = wb.add_worksheet(OVERVIEW)
    sheets = [wb.add_worksheet(DETAIL, worksheet_class=StreamedSheet)]
    missing = wb.add_worksheet(MISSING)
    problems = wb.add_worksheet(PROBLEMS)
    sources = wb.add_worksheet(SOURCES)
    if len(inputs.rounds) > 1:
        sheets.append(wb.add_worksheet(HISTORY, worksheet_class=StreamedSheet))
    if inputs.head.tasks > LAY_OUT_APART_ABOVE and (os.cpu_count() or 1) > 1:
        data = _replay_pass(ledger.path, inputs, title, sheets, st.made)
    else:
        data = _task_pass(ledger, inputs, st, title, sheets).result()
    _overview(overview, wb, st, data, title)
    _missing(missing, st, data, title, ledger, inputs.key)
    _problems(problems, st, data, title)
    _sources(sources, st, data, title)
    if data.rollups:
        _collectives(wb.add_worksheet(COLLECTIVES), st, data, title)
    if data.flags or inputs.settings.explanation_field is not None:
        _explanations(wb.add_worksheet(EXPLANATIONS), st, data, title)
    if inputs.scorecard is not None and inputs.scorecard.divisions:
        _assessment(wb, wb.add_worksheet(ASSESSMENT), st, data, inputs.scorecard, title)
    wb.set_properties(
        {
            "title": title,
            "subject": data.round.title,
            "author": data.settings.office.name,
            "company": data.settings.office.name,
            "comments": "由 xlflow 根据已采用的报送文件汇总生成。",
            "created": data.made_at,
        }
    )
    wb.close()
    return data


def _task_pass(
    ledger: Ledger,
    inputs: _Inputs,
    st: _Styles,
    title: str,
    sheets: Sequence[Any],
    flush: Callable[[], None] = lambda: None,
) -> _Tally:
    """The detail sheet, and the history sheet if `sheets` has it, a task at a time; the
    figures for the overview counted on the way. `flush` is called every _BATCH tasks."""
    detail = _Detail(sheets[0], st, inputs, title)
    history = _History(sheets[1], st, inputs, title) if len(sheets) > 1 else None
    tally = _Tally(inputs)
    for n, row in enumerate(_rows(inputs, ledger), 1):
        tally.add(row)
        detail.add(row.state)
        if history is not None:
            history.add(row)
        if n % _BATCH == 0:
            flush()
    detail.close()
    if history is not None:
        history.close()
    return tally


# --- the task pass beside the writer ---
#
# At 40,000 tasks XlsxWriter's cell writing is some three quarters of a merge, and reading
# the ledger, combining the answers and laying out each row the rest. Beyond
# LAY_OUT_APART_ABOVE tasks a companion process does the second part, recording what
# _task_pass does to its sheets, and this process replays it on the real ones: the same
# code makes the same calls in the same order, so the workbook is the same, sooner.

LAY_OUT_APART_ABOVE = STREAM_ABOVE  # tasks
_BATCH = 100  # tasks a message

_STRING, _BLANK, _NUMBER, _ROW, _CALL = range(5)


@dataclass(frozen=True)
class _FormatRef:
    index: int  # in _Styles.made


@dataclass(frozen=True)
class _PassDone:
    counts: dict[str, Any]  # _Tally.counts(): the records stay where they are


@dataclass(frozen=True)
class _PassFailed:
    error: BaseException


class _RecordedBook:
    """Stands in for the workbook where the rows are laid out: a format is its place in
    the order made, and every call on a sheet is kept, to be replayed on the real one."""

    def __init__(self) -> None:
        self.formats = 0
        self.calls: list[tuple[Any, ...]] = []

    def add_format(self, properties: dict[str, Any] | None = None) -> _FormatRef:
        self.formats += 1
        return _FormatRef(self.formats - 1)

    def sheet(self, index: int) -> _RecordedSheet:
        return _RecordedSheet(index, self.calls)

    def take(self) -> list[tuple[Any, ...]]:
        calls, self.calls[:] = list(self.calls), []
        return calls


class _RecordedSheet:
    def __init__(self, index: int, calls: list[tuple[Any, ...]]) -> None:
        self.index, self.calls = index, calls

    def write_string(self, row: int, col: int, text: str, fmt: _FormatRef) -> None:
        self.calls.append((_STRING, self.index, row, col, text, fmt.index))

    def write_blank(self, row: int, col: int, _: None, fmt: _FormatRef) -> None:
        self.calls.append((_BLANK, self.index, row, col, None, fmt.index))

    def write_number(self, row: int, col: int, number: float, fmt: _FormatRef) -> None:
        self.calls.append((_NUMBER, self.index, row, col, number, fmt.index))

    def set_row(self, row: int, height: float) -> None:
        self.calls.append((_ROW, self.index, row, height))

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((_CALL, self.index, name, args, kwargs))

        return call


def _real(value: Any, formats: Sequence[Any]) -> Any:
    if isinstance(value, _FormatRef):
        return formats[value.index]
    if isinstance(value, dict):
        return {k: _real(v, formats) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_real(v, formats) for v in value)
    return value


def _replay(calls: list[tuple[Any, ...]], sheets: Sequence[Any], formats: Sequence[Any]) -> None:
    for call in calls:
        code, ws = call[0], sheets[call[1]]
        if code == _STRING:
            ws.write_string(call[2], call[3], call[4], formats[call[5]])
        elif code == _BLANK:
            ws.write_blank(call[2], call[3], None, formats[call[5]])
        elif code == _NUMBER:
            ws.write_number(call[2], call[3], call[4], formats[call[5]])
        elif code == _ROW:
            ws.set_row(call[2], call[3])
        else:
            getattr(ws, call[2])(*_real(call[3], formats), **_real(call[4], formats))


def _lay_out(conn: Any, ledger_path: Path, inputs: _Inputs, title: str, sheets: int) -> None:
    """The companion: _task_pass on recorded sheets, sent over `conn` a batch at a time,
    then the figures; or what went wrong."""
    try:
        book = _RecordedBook()
        st = _Styles(book, inputs.settings)
        recorded = [book.sheet(i) for i in range(sheets)]
        with Ledger(ledger_path) as ledger:
            tally = _task_pass(
                ledger, inputs, st, title, recorded, flush=lambda: conn.send(book.take())
            )
        conn.send(book.take())
        conn.send(_PassDone(tally.counts()))
    except BaseException as exc:  # whatever it was, the writer must hear of it
        try:
            conn.send(_PassFailed(exc))
        except Exception:  # an exception that cannot be pickled is told by its text
            with contextlib.suppress(Exception):
                conn.send(_PassFailed(RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _replay_pass(
    ledger_path: Path, inputs: _Inputs, title: str, sheets: Sequence[Any], formats: Sequence[Any]
) -> Consolidation:
    proc, conn = start_companion(_lay_out, ledger_path, inputs, title, len(sheets))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                proc.join(5)  # the pipe can end before the exit code is known
                code = proc.exitcode
                how = f"被信号 {-code} 终止" if code is not None and code < 0 else f"代码 {code}"
                raise HelperDied(
                    f"汇总时逐条整理任务的辅助进程意外退出（{how}），汇总表未生成；"
                    "多为内存不足或进程被结束。请重新运行 xlflow merge。"
                ) from None
            if isinstance(message, list):
                _replay(message, sheets, formats)
            elif isinstance(message, _PassDone):
                tally = _Tally(inputs)
                tally.add_counts(message.counts)
                return tally.result()
            else:
                raise message.error
    finally:
        stop_companion(proc, conn)


def _statuses(data: Consolidation) -> list[str]:
    order = list(data.settings.status_order)
    order.append(data.settings.status.missing_label)
    return order + sorted(s for s in data.statuses if s not in order)


def _overview(ws: Any, wb: Any, st: _Styles, data: Consolidation, title: str) -> None:
    """The page leadership reads first: returns, statuses, by group, by division, charts."""
    page = _Overview(ws, wb, st, data)
    page.heading(title)
    page.returns()
    status_rows = page.status_table()
    group_rows = page.by_group()
    page.by_division()
    last_row = page.charts(status_rows, group_rows)
    ws = page.ws
    _page(ws, title, data.round)
    ws.print_area(0, 0, last_row, page.ncols - 1)
    if len(data.divisions) <= 30:
        ws.fit_to_pages(1, 1)
    ws.activate()


class _Overview:
    """The overview sheet, written top to bottom; `r` is the next free row."""

    def __init__(self, ws: Any, wb: Any, st: _Styles, data: Consolidation) -> None:
        self.wb, self.st, self.data = wb, st, data
        self.ws = ws
        self.statuses = _statuses(data)
        self.ncols = max(len(self.statuses) + 2, 8)
        self.widths = [24.0] + [12.0] * (self.ncols - 1)
        for i, w in enumerate(self.widths):
            self.ws.set_column(i, i, w)
        self.r = 0

    def section(self, text: str) -> None:
        self.ws.merge_range(self.r, 0, self.r, self.ncols - 1, text, self.st.section)
        self.r += 1

    def heading(self, title: str) -> None:
        ws, st, rnd = self.ws, self.st, self.data.round
        ws.merge_range(0, 0, 0, self.ncols - 1, title, st.title)
        ws.set_row(0, 34)
        ws.merge_range(
            1, 0, 1, self.ncols - 1,
            f"轮次：{rnd.title}（{rnd.id}）    报送时限：{deadline_text(rnd.deadline)}    汇总时间：{self.data.made_at:%Y-%m-%d %H:%M}",
            st.subtitle,
        )  # fmt: skip
        self.r = 3

    def returns(self) -> None:
        """一、报送情况: the counts in boxes, who is missing or late, and the change since last round."""
        ws, st, data = self.ws, self.st, self.data
        late = [d.division for d in data.divisions if d.accepted and d.accepted.late]
        self.section("一、报送情况")
        boxes = [
            ("应报处室", len(data.divisions)),
            (Standing.ACCEPTED.label, len(data.accepted)),
            (
                Standing.REJECTED.label,
                sum(1 for d in data.divisions if d.standing is Standing.REJECTED),
            ),
            (
                Standing.MISSING.label,
                sum(1 for d in data.divisions if d.standing is Standing.MISSING),
            ),
            ("逾期报送", len(late)),
        ]
        # row by row: the workbook is streamed (see streamed_workbook)
        for i, (label, _) in enumerate(boxes):
            ws.write_string(self.r, i, label, st.big_label)
        for i, (_, n) in enumerate(boxes):
            ws.write_number(self.r + 1, i, n, st.big)
        ws.set_row(self.r + 1, 30)
        self.r += 2
        lines = [f"未报送或未通过核验：{'、'.join(data.missing) if data.missing else '无'}"]
        for name, done, waiting in data.collective_returns():
            lines.append(
                f"{name}：{len(done)}/{len(done) + len(waiting)} 个成员已报"
                + (f"，未报：{'、'.join(waiting)}" if waiting else "，全部已报")
            )
        if late:
            lines.append(f"逾期报送：{'、'.join(late)}")
        if data.flags:
            states = Counter(f.state for f in data.flags)
            parts = [
                f"{label} {n} 处"
                for label, n in (
                    ("已说明", states["explained"]),
                    ("待说明", states["unexplained"] + states["asked_again"]),
                    ("仅提醒", states["noted"]),
                )
                if n
            ]
            lines.append(
                f"需说明事项 {len(data.flags)} 处：{'，'.join(parts)}（见“{EXPLANATIONS}”工作表）"
            )
        if data.changes:
            c = data.changes
            lines.append(
                f"与上一轮次（{data.rounds[-2].title}）相比：状态改善 {c['improved']} 项，"
                f"变差 {c['worsened']} 项，持平 {c['same']} 项。"
            )
        for line in lines:
            ws.merge_range(self.r, 0, self.r, self.ncols - 1, line, st.note)
            ws.set_row(self.r, row_height([(line, 100)]))
            self.r += 1
        self.r += 1

    def status_table(self) -> tuple[int, int]:
        """二、任务完成状态: tasks and shares by status; returns the first and last status rows."""
        ws, st, data = self.ws, self.st, self.data
        self.section("二、任务完成状态")
        counts = data.status_counts()
        total = data.tasks
        for i, head in enumerate(("状态", "任务数", "占比")):
            ws.write_string(self.r, i, head, st.header)
        top = self.r + 1
        for status in self.statuses:
            self.r += 1
            ws.write_string(self.r, 0, status, st.center)
            ws.write_number(self.r, 1, counts.get(status, 0), st.number)
            ws.write_number(self.r, 2, counts.get(status, 0) / total if total else 0, st.share)
        bottom = self.r
        _status_formats(ws, st, data.settings, top, bottom, 0)
        self.r += 1
        ws.write_string(self.r, 0, "合计", st.total)
        ws.write_number(self.r, 1, total, st.total)
        ws.write_number(self.r, 2, 1 if total else 0, st.share)
        self.r += 2
        return top, bottom

    def crosstab(
        self, heading: str, label: str, keys: Sequence[str], rows: dict[str, Counter[str]]
    ) -> int:
        """A table of status counts per key; returns its header row."""
        ws, st = self.ws, self.st
        self.section(heading)
        ws.write_string(self.r, 0, label, st.header)
        for j, status in enumerate(self.statuses):
            ws.write_string(self.r, 1 + j, status, st.header)
        ws.write_string(self.r, 1 + len(self.statuses), "合计", st.header)
        ws.set_row(self.r, 30)
        head = self.r
        for key in keys:
            self.r += 1
            ws.write_string(self.r, 0, key, st.text)
            for j, status in enumerate(self.statuses):
                ws.write_number(self.r, 1 + j, rows[key].get(status, 0), st.number)
            ws.write_number(self.r, 1 + len(self.statuses), sum(rows[key].values()), st.total)
        self.r += 2
        return head

    def by_group(self) -> tuple[int, int]:
        """三、按分组统计; returns the header row and the last row."""
        groups = self.data.groups
        head = self.crosstab("三、按分组统计（按牵头处室所报状态）", "分组", list(groups), groups)
        return head, head + len(groups)

    def by_division(self) -> None:
        """四、按处室统计: each division's own answers on its own tasks."""
        data = self.data
        self.crosstab(
            "四、按处室统计（各处室对本处室承担任务所报状态）",
            "处室",
            [d.division for d in data.divisions],
            data.by_division,
        )

    def charts(self, status_rows: tuple[int, int], group_rows: tuple[int, int]) -> int:
        """五、图表: a pie of statuses and a stacked bar by group, native charts sized to the
        columns so that both stay inside the printed page; returns the last row."""
        wb, ws, data = self.wb, self.ws, self.data
        self.section("五、图表")
        r = self.r
        font, header_font = data.settings.form.font, data.settings.form.header_font
        top, bottom = status_rows
        pie = wb.add_chart({"type": "pie"})
        pie.add_series(
            {
                "name": "任务完成状态",
                "categories": [OVERVIEW, top, 0, bottom, 0],
                "values": [OVERVIEW, top, 1, bottom, 1],
                "data_labels": {"value": True, "percentage": False, "leader_lines": True},
                "points": [{"fill": {"color": _colour(data, s)}} for s in self.statuses],
            }
        )
        pie.set_title({"name": "任务完成状态", "name_font": {"size": 11, "name": header_font}})
        pie.set_legend({"position": "right", "font": {"name": font}})
        px = [int(w * 7 + 0.5) + 5 for w in self.widths]
        bar_col = 4
        pie.set_size({"width": sum(px[:bar_col]) - 15, "height": 300})
        ws.insert_chart(r, 0, pie, {"x_offset": 5, "y_offset": 5, "object_position": 1})
        head, last = group_rows
        bar = wb.add_chart({"type": "bar", "subtype": "stacked"})
        for j, status in enumerate(self.statuses):
            bar.add_series(
                {
                    "name": [OVERVIEW, head, 1 + j],
                    "categories": [OVERVIEW, head + 1, 0, last, 0],
                    "values": [OVERVIEW, head + 1, 1 + j, last, 1 + j],
                    "fill": {"color": _colour(data, status)},
                    "gap": 60,
                }
            )
        bar.set_title({"name": "各分组任务状态", "name_font": {"size": 11, "name": header_font}})
        bar.set_y_axis({"reverse": True, "num_font": {"name": font}})
        bar.set_x_axis({"major_unit": 1, "min": 0})
        bar.set_legend({"position": "bottom"})
        bar.set_size({"width": sum(px[bar_col:]) - 15, "height": 300})
        ws.insert_chart(r, bar_col, bar, {"x_offset": 10, "y_offset": 5, "object_position": 1})
        chart_rows = 16
        for k in range(chart_rows):
            # a streamed sheet writes a row's height only with a cell in it
            ws.write_blank(r + k, 0, None, self.st.plain)
            ws.set_row(r + k, 20)
        return r + chart_rows


def _colour(data: Consolidation, status: str) -> str:
    colours = dict(data.settings.status.colours)
    if status == data.settings.status.missing_label:
        return LOOK["chart_missing"]
    return colours.get(status, LOOK["chart_other"])


class _Detail:
    """The detail sheet (任务明细), a task per row in register order, the group merged down."""

    def __init__(self, ws: Any, st: _Styles, inputs: _Inputs, title: str) -> None:
        self.ws = ws
        self.st, self.inputs, self.title = st, inputs, title
        settings = inputs.settings
        reg = settings.register
        self.readonly = [c for c in reg.readonly_columns if c != reg.group_column]
        target_head = f"{inputs.target_year}年目标" if inputs.target_year else "目标"
        # the 说明 stands beside the value it explains, with what it explains
        self.text_fields = [
            f
            for f in settings.fields
            if f.key not in (settings.status.field, settings.status.percent_field, EXPLANATION_KEY)
        ]
        self.flags = by_task(inputs.flags)
        self.shows_explanations = settings.explanation_field is not None or bool(inputs.flags)
        columns: list[tuple[str, float]] = [("分组", 11), ("序号", 6)]
        for c in self.readonly:
            columns.append(("".join(c.split()), 16 if inputs.head.widths.get(c, 0) < 40 else 34))
        # a collective is named with its count of members, 各街道（3 个成员）: one line
        units = 19.0 if inputs.head.collectives else 12.0
        columns += [(target_head, 26), ("牵头处室", units), ("配合处室", units)]
        self.status_col = len(columns)
        columns += [("完成状态", 10), ("完成进度(%)", 8)]
        if self.shows_explanations:
            columns.append((settings.explanation_field.label if settings.explanation_field
                            else "说明", 26))  # fmt: skip
        self.first_text = len(columns)
        columns += [
            (f.label, 40 if f.key == settings.status.progress_field else 26)
            for f in self.text_fields
        ]
        self.note_col = len(columns)
        columns += [("备注", 18), ("来源文件", 20)]
        self.columns = columns
        self.last_col = len(columns) - 1
        for i, (_, width) in enumerate(columns):
            ws.set_column(i, i, width)
        ws.merge_range(0, 0, 0, self.last_col, title.replace("汇总表", "明细表"), st.title)
        ws.set_row(0, 34)
        ws.merge_range(
            1,
            0,
            1,
            self.last_col,
            f"轮次：{inputs.round.title}    汇总时间：{inputs.made_at:%Y-%m-%d %H:%M}    任务按清单顺序列示；完成状态、完成进度取牵头处室所报；多个处室报送的文字以【处室】标明。",
            st.subtitle,
        )
        self.header = 3
        for i, (name, _) in enumerate(columns):
            ws.write_string(self.header, i, name, st.header)
        ws.set_row(self.header, 30)
        self.r = self.header
        self.runs = iter(inputs.head.group_runs)
        self.left = 0  # rows still to come in the current group

    def add(self, state: TaskState) -> None:
        ws, st, columns = self.ws, self.st, self.columns
        self.r += 1
        r, task = self.r, state.task
        if self.left == 0:
            group, self.left = next(self.runs)
            if self.left > 1:
                ws.merge_down(r, 0, r + self.left - 1, group, st.group)
            else:
                ws.write_string(r, 0, group, st.group)
        else:
            ws.write_blank(r, 0, None, st.group)
        self.left -= 1
        ws.write_string(r, 1, task.id, st.center)
        cells: list[tuple[str, float]] = []
        for j, name in enumerate(self.readonly, start=2):
            text = task.column(name)
            write_text(ws, r, j, text, st.text)
            cells.append((text, columns[j][1]))
        tc = 2 + len(self.readonly)
        write_text(ws, r, tc, state.target, st.text)
        cells.append((state.target, columns[tc][1]))
        ws.write_string(r, tc + 1, "\n".join(units_shown(task, task.lead)), st.center)
        write_text(ws, r, tc + 2, "\n".join(units_shown(task, task.cooperating)), st.center)
        ws.write_string(r, self.status_col, state.status, st.center)
        write_value(ws, r, self.status_col + 1, state.percent, st.number)
        if self.shows_explanations:
            flags = self.flags.get(task.id, [])
            several = len({f.division for f in flags}) > 1 or len(state.answers) > 1
            said = "\n".join(flag_line(f, several) for f in flags)
            unexplained = any(not f.explained and f.state != "noted" for f in flags)
            write_text(ws, r, self.status_col + 2, said, st.to_explain if unexplained else st.text)
            cells.append((said, columns[self.status_col + 2][1]))
        for j, f in enumerate(self.text_fields):
            combined = state.texts.get(f.key, "")
            write_text(ws, r, self.first_text + j, combined, st.text)
            cells.append((combined, columns[self.first_text + j][1]))
        write_text(ws, r, self.note_col, state.note, st.flag if state.conflict else st.text)
        cells.append((state.note, columns[self.note_col][1]))
        sources = "\n".join(f"【{rep.division}】{Path(rep.source).name}" for rep in state.answers)
        write_text(ws, r, self.note_col + 1, sources, st.text)
        cells.append((sources, columns[self.note_col + 1][1]))
        ws.set_row(r, row_height(cells, min_lines=2))

    def close(self) -> None:
        ws, r, header = self.ws, self.r, self.header
        _status_formats(ws, self.st, self.inputs.settings, header + 1, r, self.status_col)
        ws.autofilter(header, 0, max(r, header), self.last_col)
        ws.freeze_panes(header + 1, 2)
        _page(ws, self.title, self.inputs.round, a3=True, header_row=header)
        ws.print_area(0, 0, max(r, header), self.last_col)


def _missing(
    ws: Any, st: _Styles, data: Consolidation, title: str, ledger: Ledger, key: str
) -> None:
    heads = [("处室", 18.0), ("情况", 12.0), ("待报任务", 60.0), ("退回的文件及原因", 70.0)]
    header = _list_sheet(ws, st, "未报送单位及待报任务", heads)
    r = header
    for d in data.divisions:
        if d.standing is Standing.ACCEPTED:
            continue
        r += 1
        pending = "\n".join(
            f"{t.id}. {task_label(t, data.settings.register)}（{role_label(role)}）"
            for t, role in ledger.tasks_of(key, d.division)
        )
        rejected = []
        for f in d.files:
            if f.verdict is not Verdict.REJECTED:
                continue
            errors = [i.message for i in f.issues if i.severity is Severity.ERROR]
            shown = "\n".join(f"  · {m}" for m in errors[:5])
            more = f"\n  ……共 {len(errors)} 处问题，详见回执" if len(errors) > 5 else ""
            rejected.append(f"{f.path}（{f.received:%m-%d %H:%M}）：\n{shown}{more}")
        situation = "已退回修改" if d.standing is Standing.REJECTED else Standing.MISSING.label
        if d.extension is not None:
            situation += f"\n（延期至 {d.extension.until:%m-%d}）"
        ws.write_string(r, 0, d.division, st.text)
        ws.write_string(r, 1, situation, st.center)
        write_text(ws, r, 2, pending, st.text)
        write_text(ws, r, 3, "\n\n".join(rejected), st.text)
        ws.set_row(r, row_height([(pending, 60), ("\n\n".join(rejected), 70)]))
    if r == header:
        ws.merge_range(
            header + 1, 0, header + 1, len(heads) - 1, "全部处室均已报送并通过核验。", st.text
        )
        r += 1
    _page(ws, title, data.round, header_row=header)
    ws.freeze_panes(header + 1, 0)


def _list_sheet(ws: Any, st: _Styles, heading: str, heads: Sequence[tuple[str, float]]) -> int:
    """A title and a header row of (label, width) columns; returns the header row."""
    for i, (_, width) in enumerate(heads):
        ws.set_column(i, i, width)
    ws.merge_range(0, 0, 0, len(heads) - 1, heading, st.title)
    ws.set_row(0, 32)
    header = 2
    for i, (label, _) in enumerate(heads):
        ws.write_string(header, i, label, st.header)
    return header


def _problems(ws: Any, st: _Styles, data: Consolidation, title: str) -> None:
    heads = [
        ("处室", 16),
        ("文件", 24),
        ("结论", 10),
        ("位置", 11),
        ("序号", 6),
        ("代码", 18),
        ("类别", 8),
        ("问题", 70),
    ]
    header = _list_sheet(ws, st, PROBLEMS, heads)
    verdict_of = {f.path: f.verdict for f in data.files}
    r = header
    for issue in data.problems:
        r += 1
        verdict = verdict_of.get(issue.file)
        row = [
            issue.division,
            issue.file,
            VERDICT_LABELS[verdict] if verdict else "",
            issue.location,
            issue.task_id,
            str(issue.code),
            "错误" if issue.severity is Severity.ERROR else "提醒",
        ]
        for i, text in enumerate(row):
            write_text(ws, r, i, text, st.text)
        write_text(
            ws, r, 7, issue.message, st.flag if issue.severity is Severity.ERROR else st.text
        )
        ws.set_row(r, row_height([(issue.message, 70), (issue.file, 24)]))
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    _page(ws, title, data.round, header_row=header)


def _sources(ws: Any, st: _Styles, data: Consolidation, title: str) -> None:
    heads = [
        ("文件", 30),
        ("收到时间", 17),
        ("处室", 16),
        ("结论", 12),
        ("被替代为 / 重复于", 26),
        ("格式及保存程序", 22),
        ("在 inbox 中", 9),
        ("来自邮件", 30),
        ("协调办公室决定", 30),
        ("汇总来源", 40),
        ("与上次报送相比", 40),
        ("sha256", 66),
    ]
    header = _list_sheet(ws, st, "报送文件来源", heads)
    r = header
    for f in data.files:
        r += 1
        app = f"{f.format} {f.application}".strip()
        row = [
            f.path,
            f"{f.received:%Y-%m-%d %H:%M:%S}",
            f.division,
            VERDICT_LABELS[f.verdict],
            f.superseded_by,
            app,
            "是" if f.present else "否（已存档）",
            f.origin.removeprefix("邮件："),
            "；".join(i.message for i in f.issues if i.code in DECISION_CODES),
            "；".join(i.message for i in f.issues if i.code is IssueCode.ROLLED_UP),
            "；".join(i.message for i in f.issues if i.code in CHANGE_CODES),
            f.sha256,
        ]
        for i, text in enumerate(row):
            write_text(ws, r, i, text, st.text)
        ws.set_row(r, row_height([(f.path, 30), (app, 22), (f.superseded_by, 26)]))
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    _page(ws, title, data.round, header_row=header)


def _explanations(ws: Any, st: _Styles, data: Consolidation, title: str) -> None:
    """需说明事项: every flagged row by division, what the value is, the 说明 or its want,
    and the coordinator's word on it."""
    heads = [
        ("处室", 16.0),
        ("序号", 6.0),
        ("任务", 24.0),
        ("事项", 14.0),
        ("情况", 40.0),
        ("说明", 40.0),
        ("状态", 12.0),
        ("汇总单位意见", 24.0),
    ]
    header = _list_sheet(ws, st, EXPLANATIONS, heads)
    order = {d.division: n for n, d in enumerate(data.divisions)}
    flags = sorted(
        data.flags,
        key=lambda f: (order.get(f.division, len(order)), f.division, f.task_id.zfill(6)),
    )
    r = header
    for flag in flags:
        r += 1
        review = flag.review
        opinion = ""
        if review is not None:
            verdict = "已认可" if review.verdict == "accepted" else "请再说明"
            opinion = f"{verdict}{'：' + review.note if review.note else ''}（{review.by}）"
        row = [
            flag.division, flag.task_id, data.names.get(flag.task_id, ""), flag.label,
            flag.situation, flag.explanation, flag.state_label, opinion,
        ]  # fmt: skip
        for i, text in enumerate(row):
            write_text(ws, r, i, text, st.text)
        if not flag.explained and flag.state != "noted":
            write_text(ws, r, 6, flag.state_label, st.to_explain)
        ws.set_row(r, row_height([(flag.situation, 40), (flag.explanation, 40), (row[2], 24)]))
    if r == header:
        ws.merge_range(
            header + 1, 0, header + 1, len(heads) - 1, "本轮次没有需要说明的事项。", st.text
        )
        r += 1
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    _page(ws, title, data.round, header_row=header)


_CHARTED = 40  # divisions the 考核情况 chart shows at most


def _assessment(
    wb: Any, ws: Any, st: _Styles, data: Consolidation, card: Scorecard, title: str
) -> None:
    """考核情况: the year's scorecard up to this round, a division per row, with a chart of
    each division's returns on time, late and never; one A4 page wide."""
    heads = [
        ("单位", 18.0), ("应报轮次", 7.0), ("按时", 6.0), (OVERDUE_LABEL, 6.0), ("未报", 6.0),
        ("按时率", 7.0), ("一次通过", 7.0), ("退回后通过", 8.0), ("返工次数", 7.0),
        ("平均提前天数", 8.0), ("状态变差", 7.0), ("进度下降", 7.0), ("连续两轮以上滞后的任务", 24.0),
    ]  # fmt: skip
    rounds = "、".join(r.title for r in card.rounds)
    header = _list_sheet(ws, st, f"{card.year or ''}年度考核情况（{rounds}）", heads)
    ws.set_row(header, 30)
    r = header
    for d in card.divisions:
        r += 1
        numbers = [
            len(d.rounds), d.on_time, d.late, d.never, d.on_time_rate, d.first_time,
            d.after_rework, d.rework_returns, d.average_days, len(d.worsened), len(d.fell),
        ]  # fmt: skip
        ws.write_string(r, 0, d.division, st.text)
        for j, value in enumerate(numbers, start=1):
            write_value(ws, r, j, value, st.share if j == 5 else st.number)
        lagging = "、".join(f"序号 {t}" for t in d.lagging)
        write_text(ws, r, 12, lagging, st.text)
        ws.set_row(r, row_height([(lagging, 24.0), (d.division, 18.0)]))
    last = r
    r += 2
    ws.merge_range(
        r, 0, r, len(heads) - 1,
        "按时、逾期按各单位自己的报送时限（含延期）判断；平均提前天数为正表示提前、为负表示推后；"
        "状态变差、进度下降为本单位所报与上一轮次相比。",
        st.note,
    )  # fmt: skip
    ws.set_row(r, 30)
    if len(card.divisions) > _CHARTED:
        # a bar per division is no picture beyond a few dozen: the table says it all
        _page(ws, title, data.round, header_row=header)
        ws.print_area(0, 0, r, len(heads) - 1)
        return
    chart = wb.add_chart({"type": "bar", "subtype": "stacked"})
    for col, name, colour in (
        (2, "按时", LOOK["good"]),
        (3, OVERDUE_LABEL, LOOK["warn"]),
        (4, "未报", LOOK["bad"]),
    ):
        chart.add_series(
            {
                "name": name,
                "categories": [ASSESSMENT, header + 1, 0, last, 0],
                "values": [ASSESSMENT, header + 1, col, last, col],
                "fill": {"color": colour},
                "border": {"color": LOOK["border"]},
                "gap": 60,
            }
        )
    chart.set_title(
        {
            "name": "各单位报送情况（轮次）",
            "name_font": {"size": 11, "name": data.settings.form.header_font},
        }
    )
    chart.set_y_axis({"reverse": True, "num_font": {"name": data.settings.form.font}})
    chart.set_x_axis({"major_unit": 1, "min": 0})
    chart.set_legend({"position": "bottom"})
    px = sum(int(w * 7 + 0.5) + 5 for _, w in heads)
    rows = max(14, len(card.divisions) + 6)
    chart.set_size({"width": px - 20, "height": rows * 20})
    ws.insert_chart(r + 2, 0, chart, {"x_offset": 10, "y_offset": 5, "object_position": 1})
    for k in range(rows + 1):
        ws.write_blank(r + 2 + k, 0, None, st.plain)
        ws.set_row(r + 2 + k, 20)
    # one A4 page, table and chart together, up to some thirty divisions; more go on
    # across pages with the header repeated
    many = len(card.divisions) > 30
    _page(ws, title, data.round, header_row=header if many else None)
    ws.print_area(0, 0, r + 2 + rows, len(heads) - 1)
    ws.fit_to_pages(1, 0 if many else 1)


def _collectives(ws: Any, st: _Styles, data: Consolidation, title: str) -> None:
    """集体汇总: one row per collective and task, rolled up from its members' answers."""
    heads = [
        ("集体", 16.0), ("序号", 6.0), ("任务", 26.0), ("牵头/配合", 8.0), ("成员数", 7.0),
        ("已报", 6.0), ("未报成员", 20.0), ("进展最慢的成员", 14.0), ("完成状态", 10.0),
        ("完成进度(%)", 8.0), ("各成员所报", 50.0),
    ]  # fmt: skip
    header = _list_sheet(
        ws, st, "集体汇总（各成员分别报送，完成状态、进度取进展最慢的成员）", heads
    )
    ws.set_row(header, 30)  # 完成进度(%) takes two lines
    r = header
    missing = data.settings.status.missing_label
    for task_id, name, c in data.rollups:
        r += 1
        each = "\n".join(
            f"{a.member}：{(a.status or '未填') if a.answered else missing}"
            + (f" {clean_cell(a.percent)}%" if a.percent is not None else "")
            for a in c.said
        )
        cells = [
            (c.collective, st.text), (task_id, st.center), (name, st.text),
            (role_label(c.role), st.center),
        ]  # fmt: skip
        for j, (text, fmt) in enumerate(cells):
            write_text(ws, r, j, text, fmt)
        ws.write_number(r, 4, len(c.said), st.number)
        ws.write_number(r, 5, len(c.reported), st.number)
        write_text(ws, r, 6, "、".join(c.missing), st.text)
        write_text(ws, r, 7, c.slowest, st.center)
        ws.write_string(r, 8, c.status, st.center)
        write_value(ws, r, 9, c.percent, st.number)
        write_text(ws, r, 10, each, st.text)
        ws.set_row(r, row_height([(each, 50), (name, 26), ("、".join(c.missing), 20)]))
    _status_formats(ws, st, data.settings, header + 1, max(r, header + 1), 8)
    ws.autofilter(header, 0, max(r, header), len(heads) - 1)
    ws.freeze_panes(header + 1, 0)
    _page(ws, title, data.round, header_row=header)


class _History:
    """The history sheet (历次进展): one row per task, a status and percent pair per round."""

    def __init__(self, ws: Any, st: _Styles, inputs: _Inputs, title: str) -> None:
        self.ws = ws
        self.st, self.inputs, self.title = st, inputs, title
        rounds = inputs.rounds
        ws.set_column(0, 0, 6)
        ws.set_column(1, 1, 30)
        last_col = 1 + 2 * len(rounds)
        ws.set_column(2, last_col, 10)
        ws.merge_range(
            0,
            0,
            0,
            last_col,
            "历次进展（各轮次完成状态及进度，按牵头处室所报"
            + ("；集体的任务逐个成员列示）" if inputs.head.collectives else "）"),
            st.title,
        )
        ws.set_row(0, 32)
        self.top, self.sub = 2, 3
        top, sub = self.top, self.sub
        ws.merge_down(top, 0, sub, "序号", st.header)
        ws.merge_down(top, 1, sub, "任务", st.header)
        for k, rnd in enumerate(rounds):
            c = 2 + 2 * k
            ws.merge_range(top, c, top, c + 1, rnd.title, st.header)
        ws.write_blank(sub, 0, None, st.header)
        ws.write_blank(sub, 1, None, st.header)
        for k in range(len(rounds)):
            c = 2 + 2 * k
            ws.write_string(sub, c, "完成状态", st.header)
            ws.write_string(sub, c + 1, "进度(%)", st.header)
        self.r = sub

    def add(self, row: TaskRow) -> None:
        ws, st = self.ws, self.st
        self.r += 1
        r, task = self.r, row.state.task
        name = task_label(task, self.inputs.settings.register)
        ws.write_string(r, 0, task.id, st.center)
        write_text(ws, r, 1, name, st.text)
        for k, (status, percent) in enumerate(row.history):
            ws.write_string(r, 2 + 2 * k, status, st.center)
            write_value(ws, r, 3 + 2 * k, percent, st.number)
        ws.set_row(r, row_height([(name, 30)]))
        # a collective's task: each member's own answers, on a row of its own below
        for collective, member, past in row.members:
            self.r += 1
            r = self.r
            ws.write_blank(r, 0, None, st.center)
            label = f"　└ {member}（{collective}）"
            write_text(ws, r, 1, label, st.text)
            for k, (status, percent) in enumerate(past):
                ws.write_string(r, 2 + 2 * k, status, st.center)
                write_value(ws, r, 3 + 2 * k, percent, st.number)
            ws.set_row(r, row_height([(label, 30)]))

    def close(self) -> None:
        ws, sub = self.ws, self.sub
        for k in range(len(self.inputs.rounds)):
            _status_formats(ws, self.st, self.inputs.settings, sub + 1, self.r, 2 + 2 * k)
        ws.freeze_panes(sub + 1, 2)
        _page(ws, self.title, self.inputs.round, header_row=sub)
        ws.repeat_rows(self.top, sub)
