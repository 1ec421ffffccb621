"""Each task as the consolidated workbook, the history and the 通报 show it: the lead's
status and percent, every division's words, and a note where they disagree.

Light on purpose: `xlflow history` reads tasks this way without loading a workbook writer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..issues import Issue, IssueCode, warning
from ..model import FileRecord, Register, Role, Round, Task
from ..text import CELL_TEXT_LIMIT, cell_length, cut_to_cell
from ..wording import DETAIL, role_label


@dataclass(frozen=True)
class DivisionAnswer:
    """What one division said about one task."""

    division: str
    role: Role
    values: dict[str, Any]
    source: str


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


def task_state(
    task: Task, answers: Sequence[DivisionAnswer], settings: Settings, rnd: Round
) -> tuple[TaskState, list[Issue]]:
    """One task as the detail sheet shows it: the lead's status and percent, every
    division's words, and a note (and a problem) where they disagree."""
    status_key, percent_key = settings.status.field, settings.status.percent_field
    missing_label = settings.status.missing_label
    problems: list[Issue] = []
    lead = next((r for r in answers if r.role is Role.LEAD), None)
    notes = []
    if lead is not None:
        status = str(lead.values.get(status_key, "")) or missing_label
        percent = lead.values.get(percent_key)
    elif answers:
        status, percent = missing_label, None
        shown = "；".join(f"{r.division}：{r.values.get(status_key, '')}" for r in answers)
        notes.append(f"牵头处室未报送（配合处室报：{shown}）")
    else:
        status, percent = missing_label, None
    said = {r.values.get(status_key) for r in answers if r.values.get(status_key)}
    conflict = len(said) > 1
    if conflict:
        shown = "；".join(
            f"{r.division}（{role_label(r.role)}）：{r.values.get(status_key)}" for r in answers
        )
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
    )
    return state, problems + cut


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
        values_of = {
            d: (r.values[task.id], r.path) for d, r in accepted.items() if task.id in r.values
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
