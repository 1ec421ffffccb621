"""Each task as the consolidated workbook, the history and the 通报 show it: the lead's
status and percent, every division's words, and a note where they disagree.

Light on purpose: `xlflow history` reads tasks this way without loading a workbook writer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.model import Settings
from ..issues import Issue, IssueCode, warning
from ..model import FileRecord, Register, Role, Round, Task
from ..text import CELL_TEXT_LIMIT, cell_length, clean_cell, cut_to_cell
from ..wording import DETAIL, role_label


@dataclass(frozen=True)
class DivisionAnswer:
    """What one division said about one task."""

    division: str
    role: Role
    values: dict[str, Any]
    source: str


@dataclass(frozen=True)
class MemberAnswer:
    """One member's answer to a collective's task; `answered` is False where it sent none."""

    member: str
    answered: bool
    status: str = ""
    percent: float | int | None = None


@dataclass(frozen=True)
class CollectiveRollup:
    """A collective's answer to one task, rolled up from its members': how many reported,
    who has not, and the least advanced member's status and percent."""

    collective: str
    role: Role
    said: tuple[MemberAnswer, ...]  # every member, in directory order
    slowest: str = ""  # the least advanced member that reported
    status: str = ""  # its status, or the missing label when no member reported
    percent: float | int | None = None

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(a.member for a in self.said)

    @property
    def reported(self) -> tuple[str, ...]:
        return tuple(a.member for a in self.said if a.answered)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(a.member for a in self.said if not a.answered)

    def note(self, missing_label: str) -> str:
        """One line for the detail sheet: the count, who is missing, each member's answer."""
        head = (
            f"{self.collective}（{role_label(self.role)}）："
            f"已报 {len(self.reported)}/{len(self.said)}"
        )
        if self.missing:
            head += f"，未报：{'、'.join(self.missing)}"
        each = "；".join(
            f"{a.member} {(a.status or '未填') if a.answered else missing_label}"
            + (f" {clean_cell(a.percent)}%" if a.percent is not None else "")
            for a in self.said
        )
        slow = ""
        if self.slowest and self.role is Role.LEAD and len(self.reported) > 1:
            slow = f"；完成状态、进度取进展最慢的{self.slowest}"
        return f"{head}。各成员：{each}{slow}"


def roll_up(
    collective: str,
    role: Role,
    members: Sequence[str],
    said: Mapping[str, tuple[Any, Any]],
    rank: Mapping[str, int],
    missing_label: str,
) -> CollectiveRollup:
    """The collective's answer from its members' (status, percent) by member: the least
    advanced member's (by the status order, then the lower percent). A member that has
    not answered is named, never counted as having said anything."""
    answers: list[MemberAnswer] = []
    slowest: tuple[tuple[int, float], MemberAnswer] | None = None
    for member in members:
        if member not in said:
            answers.append(MemberAnswer(member, False))
            continue
        status, percent = said[member]
        answer = MemberAnswer(
            member,
            True,
            str(status) if status not in (None, "") else "",
            percent if isinstance(percent, int | float) else None,
        )
        answers.append(answer)
        # the higher the key, the less advanced: a later status, then a lower percent
        key = (
            rank.get(answer.status, len(rank)),
            -float(answer.percent) if answer.percent is not None else 0.0,
        )
        if slowest is None or key > slowest[0]:
            slowest = (key, answer)
    if slowest is None:
        return CollectiveRollup(collective, role, tuple(answers), "", missing_label, None)
    found = slowest[1]
    return CollectiveRollup(
        collective,
        role,
        tuple(answers),
        found.member,
        found.status or missing_label,
        found.percent,
    )


@dataclass(frozen=True)
class TaskState:
    task: Task
    target: str
    status: str
    percent: float | int | None
    answers: tuple[DivisionAnswer, ...]
    note: str = ""
    conflict: bool = False
    texts: dict[str, str] = field(default_factory=dict)  # text field key -> combined text
    rollups: tuple[CollectiveRollup, ...] = ()  # each collective on the task, from its members


def task_state(
    task: Task, answers: Sequence[DivisionAnswer], settings: Settings, rnd: Round
) -> tuple[TaskState, list[Issue]]:
    """One task as the detail sheet shows it: the lead's status and percent (a collective
    lead's, its least advanced member's), every division's words, and a note (and a
    problem) where they disagree."""
    status_key, percent_key = settings.status.field, settings.status.percent_field
    missing_label = settings.status.missing_label
    problems: list[Issue] = []
    rank = {status: i for i, status in enumerate(settings.status_order)}
    rollups = _rollups(task, answers, status_key, percent_key, rank, missing_label)
    members = {m for _, group in task.collectives for m in group}
    named = [r for r in answers if r.division not in members]  # units named by themselves
    lead = next((r for r in named if r.role is Role.LEAD), None)
    lead_rollup = next((c for c in rollups if c.role is Role.LEAD and c.reported), None)
    notes = []
    if lead is not None:
        status = str(lead.values.get(status_key, "")) or missing_label
        percent = lead.values.get(percent_key)
    elif lead_rollup is not None:
        status, percent = lead_rollup.status, lead_rollup.percent
    elif answers:
        status, percent = missing_label, None
        shown = "；".join(f"{r.division}：{r.values.get(status_key, '')}" for r in answers)
        notes.append(f"牵头处室未报送（配合处室报：{shown}）")
    else:
        status, percent = missing_label, None
    # a collective speaks with one voice here, its least advanced member's: its members
    # differing among themselves is what a collective is, not a conflict
    voices = [
        (f"{r.division}（{role_label(r.role)}）", r.values.get(status_key))
        for r in named
        if r.values.get(status_key)
    ]
    voices += [
        (f"{c.collective}（{role_label(c.role)}，取{c.slowest}）", c.status)
        for c in rollups
        if c.reported and c.status != missing_label
    ]
    conflict = len({said for _, said in voices}) > 1
    if conflict:
        shown = "；".join(f"{who}：{said}" for who, said in voices)
        notes.append(f"各处室所报状态不一致：{shown}")
        problems.append(
            warning(
                IssueCode.STATUS_CONFLICT,
                f"序号 {task.id} 各处室所报完成状态不一致（{shown}）；汇总表按牵头处室的状态列示，请核实。",
                task_id=task.id,
                division="、".join(r.division for r in answers),
                sheet=DETAIL,
            )
        )
    notes += [c.note(missing_label) for c in rollups]
    found = task.target_for(rnd.year) if rnd.year else None
    texts, cut = _combined_texts(task, answers, settings)
    state = TaskState(
        task=task,
        target=found[1] if found else "",
        status=status,
        percent=percent,
        answers=tuple(answers),
        note="；".join(notes),
        conflict=conflict,
        texts=texts,
        rollups=rollups,
    )
    return state, problems + cut


def _rollups(
    task: Task,
    answers: Sequence[DivisionAnswer],
    status_key: str,
    percent_key: str,
    rank: Mapping[str, int],
    missing_label: str,
) -> tuple[CollectiveRollup, ...]:
    if not task.collectives:
        return ()
    said = {a.division: (a.values.get(status_key), a.values.get(percent_key)) for a in answers}
    out = []
    for collective, members in task.collectives:
        role = task.role_of(members[0]) or Role.COOPERATING
        out.append(roll_up(collective, role, members, said, rank, missing_label))
    return tuple(out)


def earlier_status(
    task: Task,
    said: Mapping[str, tuple[Any, Any]],
    rank: Mapping[str, int],
    missing_label: str,
) -> tuple[str, Any]:
    """(status, percent) of a task in an earlier round, read as `task_state` reads it: the
    lead's, or a collective lead's least advanced member's."""
    members = {m for _, group in task.collectives for m in group}
    lead = next((d for d in task.lead if d in said and d not in members), None)
    if lead is not None:
        status, percent = said[lead]
        return (str(status) if status is not None else "") or missing_label, percent
    for collective, group in task.collectives:
        if task.role_of(group[0]) is Role.LEAD:
            rolled = roll_up(collective, Role.LEAD, group, said, rank, missing_label)
            if rolled.reported:
                return rolled.status, rolled.percent
    return missing_label, None


def answers_of(
    task: Task, values_of: Mapping[str, tuple[dict[str, Any], str]]
) -> list[DivisionAnswer]:
    """The task's divisions that answered it, leads first: (values, file) by division."""
    out = []
    for division in task.divisions:
        said = values_of.get(division)
        if said is not None:
            role = task.role_of(division) or Role.COOPERATING
            out.append(DivisionAnswer(division, role, said[0], said[1]))
    return out


def task_states(
    register: Register,
    settings: Settings,
    rnd: Round,
    accepted: dict[str, FileRecord],
) -> tuple[list[TaskState], list[Issue]]:
    """Every task of a register, from the accepted records (with their values)."""
    states: list[TaskState] = []
    problems: list[Issue] = []
    for task in register.tasks:
        # the task's own divisions, not every accepted file: a province's year was
        # tasks x files lookups (400 million at 10,000 returns)
        values_of = {
            d: (r.values[task.id], r.path)
            for d in task.divisions
            if (r := accepted.get(d)) is not None and task.id in r.values
        }
        state, found = task_state(task, answers_of(task, values_of), settings, rnd)
        states.append(state)
        problems += found
    return states, problems


_CUT_NOTE = "……（合并后超出单元格上限 32767 字，以下从略；完整内容见来源文件）"


def _combined_texts(
    task: Task, answers: Sequence[DivisionAnswer], settings: Settings
) -> tuple[dict[str, str], list[Issue]]:
    """Each text field with every division's words, labelled 【处室】 where several answer.

    A cell holds at most 32,767 characters. Labelled texts joined together can pass that,
    so a combined text is shortened with a visible note, and reported, never cut silently.
    """
    out: dict[str, str] = {}
    problems: list[Issue] = []
    skip = (settings.status.field, settings.status.percent_field)
    for f in settings.fields:
        if f.key in skip:
            continue
        parts = []
        for rep in answers:
            value = rep.values.get(f.key)
            if value in (None, ""):
                continue
            text = str(value)
            parts.append(f"【{rep.division}】{text}" if len(task.divisions) > 1 else text)
        combined = "\n".join(parts)
        if cell_length(combined) > CELL_TEXT_LIMIT:
            combined = cut_to_cell(combined, CELL_TEXT_LIMIT - cell_length(_CUT_NOTE)) + _CUT_NOTE
            problems.append(
                warning(
                    IssueCode.CELL_TEXT_LIMIT,
                    f"序号 {task.id} 的“{f.label}”合并各处室内容后超过单元格上限 {CELL_TEXT_LIMIT} 字，"
                    "汇总表中已截短并注明；完整内容见各处室的报送文件。",
                    task_id=task.id,
                    sheet=DETAIL,
                    field=f.key,
                )
            )
        out[f.key] = combined
    return out, problems


def status_change(rank: Mapping[str, int], before: str, now: str) -> str:
    """improved, worsened, same or not_comparable; `rank` orders the statuses best first."""
    if now not in rank or before not in rank:
        return "not_comparable"
    if rank[now] < rank[before]:
        return "improved"
    return "worsened" if rank[now] > rank[before] else "same"
