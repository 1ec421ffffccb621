"""Register revisions: what changed between two versions of a register, task by task.

Between rounds an office revises its register: tasks are added, retired, reworded or
renumbered, split in two (5 into 5-1 and 5-2), merged, handed to another division, or
given new targets. `revise` pairs the tasks by their own words (`matching`), and says
each change in words, with the lineage of every task: which task of the old version
each new one descends from. A pair that is not sure is proposed, never taken on its own:
the coordinator confirms it (the mapping file, or the console).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.model import RegisterSettings
from ..ledger.book import Ledger
from ..model import Lineage, Register, Role, Task
from ..wording import role_label
from .matching import match, word_columns, words_by_id

LEAD = role_label(Role.LEAD)
KINDS = {
    "same": "同一任务",
    "renamed": "改号或文字修改",
    "split": "拆分",
    "merged": "合并",
    "retired": "撤销",
    "added": "新增",
}
# the time columns of a task: compared on their own, as what changed
_TIME = re.compile(r"时限|时间|日期|期限|节点")


def content_key(register: Register) -> str:
    """A register's content, as a version is told apart: its tasks, nothing else (hashed a
    task at a time: a ministry's register is tens of thousands of them)."""
    h = hashlib.sha256()
    for t in register.tasks:
        row = [t.id, t.group, t.columns, t.lead, t.cooperating, t.targets]
        h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class Change:
    """One change between the versions, as the coordinator reads it."""

    kind: str  # a key of KINDS, or handed | lead | units | targets | deadline
    old_ids: tuple[str, ...]
    new_ids: tuple[str, ...]
    text: str
    score: float = 1.0
    sure: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "old": list(self.old_ids),
            "new": list(self.new_ids),
            "text": self.text,
            "score": self.score,
            "sure": self.sure,
        }


@dataclass(frozen=True)
class Revision:
    """Every change between two versions, and the lineage it gives."""

    changes: tuple[Change, ...]
    lineage: tuple[Lineage, ...]
    uncertain: tuple[Lineage, ...] = field(default=())  # proposed, to be confirmed
    # why each proposed pair is not sure: (old id, new id, the reason in words)
    reasons: tuple[tuple[str, str, str], ...] = ()
    theirs: bool = False  # the lineage is the coordinator's own (a mapping file)

    def reason(self, old_id: str, new_id: str) -> str:
        return next((r for o, n, r in self.reasons if (o, n) == (old_id, new_id)), "")

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.kind] = out.get(c.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "changes": [c.to_dict() for c in self.changes],
            "lineage": [_lineage_dict(x) for x in self.lineage],
            "uncertain": [
                {**_lineage_dict(x), "why": self.reason(x.old_id, x.new_id)} for x in self.uncertain
            ],
            "by": "mapping" if self.theirs else "xlflow",
        }


def _lineage_dict(x: Lineage) -> dict[str, Any]:
    return {"old": x.old_id, "new": x.new_id, "kind": x.kind, "score": x.score, "note": x.note}


def revise(
    old: Register,
    new: Register,
    skip: Iterable[str] = (),
    by_id_only: bool = False,
    name: Callable[[Task], str] | None = None,
) -> Revision:
    """The changes from `old` to `new`. `skip` names the columns that are not a task's
    words (its units); `by_id_only` matches tasks by their ids alone (a register edited
    in place, with no revision recorded); `name` gives a task's short name."""
    links = match(old, new, skip, by_id_only)
    old_by, new_by = {t.id: t for t in old.tasks}, {t.id: t for t in new.tasks}
    lineage: list[Lineage] = []
    uncertain: list[Lineage] = []
    reasons: list[tuple[str, str, str]] = []
    for o, task in old_by.items():
        found = links.get(o)
        if not found:
            lineage.append(Lineage(o, "", "retired", 0.0))
            continue
        for x in found:
            row = Lineage(o, x.new_id, x.kind, x.score, what_else(task, new_by[x.new_id], x.kind))
            (lineage if x.sure else uncertain).append(row)
            if not x.sure:
                reasons.append((o, x.new_id, x.why))
    changes = describe(
        old, new, lineage, uncertain, skip, name or _name, dict(((o, n), r) for o, n, r in reasons)
    )
    return Revision(changes, tuple(lineage), tuple(uncertain), tuple(reasons))


def confirmed(
    revision: Revision,
    lineage: Sequence[Lineage],
    old: Register,
    new: Register,
    skip: Iterable[str] = (),
    name: Callable[[Task], str] | None = None,
) -> Revision:
    """The revision with its lineage as the coordinator gave it: every pair theirs, and
    the changes said from those pairs, not from xlflow's guesses."""
    changes = describe(old, new, lineage, (), skip, name or _name, {}, theirs=True)
    return Revision(changes, tuple(lineage), (), (), theirs=True)


def describe(
    old: Register,
    new: Register,
    lineage: Sequence[Lineage],
    uncertain: Sequence[Lineage],
    skip: Iterable[str],
    name: Callable[[Task], str],
    reasons: Mapping[tuple[str, str], str],
    theirs: bool = False,
) -> tuple[Change, ...]:
    """Every change the pairs make, in words: 改号, 文字修改 with the words changed, 拆分,
    合并, 撤销, 新增, and what else changed (lead, units, targets, deadline)."""
    old_words, new_words = words_by_id(old, new, tuple(skip))
    old_by, new_by = {t.id: t for t in old.tasks}, {t.id: t for t in new.tasks}
    rows = [(x, True) for x in lineage] + [(x, False) for x in uncertain]
    by_old: dict[str, list[tuple[Lineage, bool]]] = {}
    for x, sure in rows:
        if x.kind not in ("retired", "added") and x.old_id in old_by and x.new_id in new_by:
            by_old.setdefault(x.old_id, []).append((x, sure))
    taken = {x.new_id for links in by_old.values() for x, _ in links}
    out: list[Change] = []

    def mark(x: Lineage, sure: bool) -> str:
        if theirs:
            return "（对照表确认）"
        return (
            "" if sure else f"（不确定，请确认：{reasons.get((x.old_id, x.new_id)) or '证据不足'}）"
        )

    for o, task in old_by.items():
        links = by_old.get(o)
        if not links:
            out.append(Change("retired", (o,), (), f"撤销：序号 {o} {name(task)}"))
            continue
        splits = [(x, s) for x, s in links if x.kind == "split"]
        if splits:
            ids = tuple(sorted((x.new_id for x, _ in splits), key=_order_key))
            sure = all(s for _, s in splits)
            x0 = next((x for x, s in splits if not s), splits[0][0])
            text = f"拆分{mark(x0, sure)}：序号 {o} 拆为 {'、'.join(ids)}"
            out.append(Change("split", (o,), ids, text, min(x.score for x, _ in splits), sure))
        for x, sure in links:
            out += _link_changes(x, sure, task, new_by[x.new_id], old_words, new_words, name, mark)
    for n, task in new_by.items():
        if n not in taken:
            out.append(Change("added", (), (n,), f"新增：序号 {n} {name(task)}"))
    return tuple(_unique(out))


def _link_changes(
    x: Lineage,
    sure: bool,
    task: Task,
    now: Task,
    old_words: Mapping[str, str],
    new_words: Mapping[str, str],
    name: Callable[[Task], str],
    mark: Callable[[Lineage, bool], str],
) -> list[Change]:
    """What one pair says: merged, reworded or renumbered, and what else changed."""
    o = x.old_id
    out: list[Change] = []
    if x.kind == "merged":
        text = f"合并{mark(x, sure)}：序号 {o} 并入 {x.new_id}（原任务文字的 {x.score:.0%} 见于 {x.new_id}）"
        out.append(Change("merged", (o,), (x.new_id,), text, x.score, sure))
    elif x.kind in ("same", "renamed"):
        said = _renamed(task, now, old_words[o], new_words[x.new_id], x.score, name)
        if said:
            label, body = said
            text = f"{label}{mark(x, sure)}：{body}"
            out.append(Change("renamed", (o,), (x.new_id,), text, x.score, sure))
        elif mark(x, sure):
            text = f"同一任务{mark(x, sure)}：序号 {o}"
            out.append(Change("same", (o,), (x.new_id,), text, x.score, sure))
    for part in x.note.split("；") if x.note else []:
        text = f"序号 {x.new_id}：{part}"
        out.append(Change(_note_kind(part), (o,), (x.new_id,), text, x.score, sure))
    return out


def _note_kind(part: str) -> str:
    if part.startswith("由 ") and part.endswith(LEAD):
        return "handed"
    if part.startswith("并入后"):
        return "lead"
    if part.endswith("年目标改变"):
        return "targets"
    if _TIME.search(part.split("由", 1)[0]):
        return "deadline"
    return "units"


def _renamed(
    old: Task, new: Task, was: str, now: str, score: float, name: Callable[[Task], str]
) -> tuple[str, str] | None:
    """改号, 文字修改 or both, with the words that changed; None for the very same task."""
    moved = old.id != new.id
    if was == now:
        return ("改号", f"序号 {old.id} → {new.id} {name(new)}") if moved else None
    where = f"序号 {old.id} → {new.id}" if moved else f"序号 {new.id}"
    words = changed_words(_display(old), _display(new))
    label = "改号并修改文字" if moved else "文字修改"
    return label, f"{where}（文字相似 {score:.0%}）：{words}"


def _display(task: Task) -> str:
    """A task's words as shown: its name and content, without spaces."""
    return re.sub(r"\s+", "", "".join(text for _, text in word_columns(task)))


def changed_words(was: str, now: str, most: int = 3) -> str:
    """The words that changed, as a person says it: “省级”改为“市级”，删去“…”，增加“…”."""
    ops = [
        op
        for op in difflib.SequenceMatcher(None, was, now, autojunk=False).get_opcodes()
        if op[0] != "equal"
    ]
    if not ops:
        return "只改了标点或空格"
    merged: list[list[int]] = []
    for _, i1, i2, j1, j2 in ops:  # edits a character or two apart are one edit
        if merged and i1 - merged[-1][1] <= 2 and j1 - merged[-1][3] <= 2:
            merged[-1][1], merged[-1][3] = i2, j2
        else:
            merged.append([i1, i2, j1, j2])
    if len(merged) > most:
        return f"多处修改（{len(merged)} 处）"
    parts = []
    for i1, i2, j1, j2 in merged:
        a, b = _short(was[i1:i2]), _short(now[j1:j2])
        if a and b:
            parts.append(f"“{a}”改为“{b}”")
        elif a:
            parts.append(f"删去“{a}”")
        else:
            parts.append(f"增加“{b}”")
    return "，".join(parts)


def _short(text: str, most: int = 24) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _unique(changes: list[Change]) -> list[Change]:
    seen: set[tuple[str, tuple[str, ...], tuple[str, ...], str]] = set()
    out = []
    for c in changes:
        k = (c.kind, c.old_ids, c.new_ids, c.text)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def _name(task: Task) -> str:
    texts = [t for _, t in task.columns if t and t != task.id]
    name = texts[1] if len(texts) > 1 else (texts[0] if texts else "")
    return name[:30]


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
        if _TIME.search(header) and old.column(header) != text and old.column(header) and text:
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
    gone = [t for t in sorted(mine_old - kept, key=_order_key)]
    if gone:
        parts.append(f"不再承担序号 {'、'.join(gone)}")
    return "；".join(parts)


def _order_key(task_id: str) -> tuple[tuple[int, ...], str]:
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
    lineage = revise(earlier, register, unit_columns(settings), by_id_only=True).lineage
    return ledger.record_version(key, register, lineage, "清单在两轮之间被直接修改，按序号对应")


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
    "Change",
    "Revision",
    "Versions",
    "ancestors",
    "changed_words",
    "confirmed",
    "content_key",
    "current_version",
    "describe",
    "division_changes",
    "lineage_chain",
    "revise",
    "unchanged_tasks",
    "unit_columns",
    "what_else",
]
