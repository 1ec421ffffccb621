"""How the tasks of one register version descend from the version before (lineage), and
how a task is followed back through them: what `generate`, `collect`, `history` and the
汇总表 need of a revision, without the matching that makes one (`revise`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ..config.model import RegisterSettings
from ..ledger.book import Ledger
from ..model import Lineage, Register, Role, Task, content_key
from ..wording import role_label
from .words import likeness, words_by_id

LEAD = role_label(Role.LEAD)
# the time columns of a task: compared on their own, as what changed
TIME_HEADER = re.compile(r"时限|时间|日期|期限|节点")


def what_else(old: Task, new: Task, kind: str = "renamed") -> str:
    """Besides the words: the lead handed over, units added or removed, targets and
    deadlines changed. A merge says who leads the task it went into, not a handover."""
    notes = []
    if kind == "merged":
        if old.lead != new.lead and new.lead:
            notes.append(f"并入后由 {'、'.join(new.lead)} {LEAD}")
    else:
        if old.lead != new.lead and old.lead and new.lead:
            notes.append(f"由 {'、'.join(old.lead)} 改为 {'、'.join(new.lead)} {LEAD}")
        added = [u for u in new.divisions if u not in old.divisions and u not in new.lead]
        removed = [u for u in old.divisions if u not in new.divisions and u not in old.lead]
        if added:
            notes.append(f"增加 {'、'.join(added)}")
        if removed:
            notes.append(f"不再由 {'、'.join(removed)} 承担")
    if old.targets != new.targets:
        years = sorted({y for y, _ in old.targets} | {y for y, _ in new.targets})
        was, now = dict(old.targets), dict(new.targets)
        changed = [str(y) for y in years if was.get(y) != now.get(y)]
        notes.append(f"{'、'.join(changed)}年目标改变")
    for header, text in new.columns:
        if (
            TIME_HEADER.search(header)
            and old.column(header) != text
            and old.column(header)
            and text
        ):
            notes.append(f"{header}由 {old.column(header)} 改为 {text}")
    return "；".join(notes)


def ancestors(
    chain: Mapping[int, Sequence[Lineage]], task_id: str, version: int, back_to: int
) -> list[tuple[str, list[str]]]:
    """The tasks of version `back_to` that task `task_id` of `version` descends from, each
    with the events on the way (拆分自 5, 合并自 3, 由 A 改为 B 牵头, 原序号 4)."""
    current: list[tuple[str, list[str]]] = [(task_id, [])]
    for v in range(version, back_to, -1):
        rows = chain.get(v, ())
        earlier: list[tuple[str, list[str]]] = []
        for tid, events in current:
            for x in rows:
                if x.new_id != tid or x.kind == "retired":
                    continue
                event = list(events)
                if x.kind == "split":
                    event.append(f"拆分自 {x.old_id}")
                elif x.kind == "merged":
                    event.append(f"合并自 {x.old_id}")
                elif x.old_id != x.new_id:
                    event.append(f"原序号 {x.old_id}")
                elif x.kind == "renamed":
                    event.append("文字有修改")
                if x.note:
                    event.append(x.note)
                earlier.append((x.old_id, event))
        current = earlier
    return current


def division_changes(
    old: Register,
    new: Register,
    chain: Mapping[int, Sequence[Lineage]],
    v_old: int,
    v_new: int,
    division: str,
) -> str:
    """What changed for one division between two versions, in a sentence: its tasks
    added, no longer its own, split, renumbered, or with their lead handed over."""
    mine_old = {t.id for t, _ in old.tasks_of(division)}
    parts: list[str] = []
    kept: set[str] = set()
    for task, _ in new.tasks_of(division):
        came = ancestors(chain, task.id, v_new, v_old)
        ids = [o for o, _ in came]
        kept |= set(ids)
        if not came or not set(ids) & mine_old:
            parts.append(f"新增序号 {task.id}")
            continue
        events = [e for _, evs in came for e in evs]
        if events:
            parts.append(f"序号 {task.id}（{'；'.join(dict.fromkeys(events))}）")
    gone = [t for t in sorted(mine_old - kept, key=order_key)]
    if gone:
        parts.append(f"不再承担序号 {'、'.join(gone)}")
    return "；".join(parts)


def order_key(task_id: str) -> tuple[tuple[int, ...], str]:
    """Task ids in their natural order: 5-2 before 5-10, 9 before 10."""
    return tuple(int(n) for n in re.findall(r"\d+", task_id)), task_id


def unchanged_tasks(
    chain: Mapping[int, Sequence[Lineage]], ids: Iterable[str], version: int, back_to: int
) -> list[str]:
    """Of the tasks `ids` of `version`, those that are the very same task in `back_to`: the
    same id, the same words, units and targets."""
    out = []
    for task_id in ids:
        came = ancestors(chain, task_id, version, back_to)
        if len(came) == 1 and came[0][0] == task_id and not came[0][1]:
            out.append(task_id)
    return out


def unit_columns(*settings: RegisterSettings) -> tuple[str, ...]:
    """The columns that hold a task's id, group and units, not its words."""
    out: list[str] = []
    for s in settings:
        out += [s.id_column, s.group_column, s.divisions_column, s.lead_column]
        out.append(s.cooperating_column)
    return tuple(c for c in dict.fromkeys(out) if c)


def current_version(ledger: Ledger, register: Register, settings: RegisterSettings) -> int:
    """The version of `register` in the ledger, recorded now if it is not there: a first
    version, or one edited in place since the last, its tasks matched by id."""
    key = content_key(register)
    found = ledger.version_of_key(key)
    if found is not None:
        return found
    latest = ledger.latest_version()
    if latest is None:
        return ledger.record_version(key, register)
    earlier = ledger.version_register(latest[0])
    lineage = lineage_by_id(earlier, register, unit_columns(settings))
    return ledger.record_version(key, register, lineage, "清单在两轮之间被直接修改，按序号对应")


def lineage_by_id(old: Register, new: Register, skip: Iterable[str]) -> list[Lineage]:
    """A register edited in place, with no revision recorded: each task is the task of its
    id, and one whose id is gone is retired."""
    old_words, new_words = words_by_id(old, new, tuple(skip))
    by_new = {t.id: t for t in new.tasks}
    out = []
    for task in old.tasks:
        now = by_new.get(task.id)
        if now is None:
            out.append(Lineage(task.id, "", "retired", 0.0))
            continue
        was, words = old_words[task.id], new_words[task.id]
        kind = "same" if was == words else "renamed"
        out.append(
            Lineage(task.id, task.id, kind, likeness(was, words), what_else(task, now, kind))
        )
    return out


class Versions:
    """The register versions of a ledger as the rounds were made from them: the lineage
    between versions, the version of each round, and the register of a round (the current
    one for rounds of its version, else the version's own, loaded once)."""

    def __init__(self, ledger: Ledger, current: Register) -> None:
        self.ledger, self.current = ledger, current
        self.now = ledger.version_of_key(content_key(current))
        self.chain = lineage_chain(ledger)
        self._registers: dict[int, Register] = {}

    def of_round(self, round_id: str) -> int | None:
        """The version a round's forms were made from (the current one if not recorded)."""
        v = self.ledger.round_version(round_id)
        return self.now if v is None else v

    def register(self, version: int | None) -> Register:
        if version is None or version == self.now:
            return self.current
        if version not in self._registers:
            self._registers[version] = self.ledger.version_register(version)
        return self._registers[version]


def lineage_chain(ledger: Ledger) -> dict[int, list[Lineage]]:
    """Every version's lineage from the version before, by version."""
    latest = ledger.latest_version()
    return {v: ledger.lineage(v) for v in range(2, (latest[0] if latest else 1) + 1)}


__all__ = [
    "LEAD",
    "TIME_HEADER",
    "Versions",
    "ancestors",
    "content_key",
    "current_version",
    "division_changes",
    "lineage_by_id",
    "lineage_chain",
    "order_key",
    "unchanged_tasks",
    "unit_columns",
    "what_else",
]
