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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model import Lineage, Register, Task
from .lineage import LEAD, TIME_HEADER, order_key, what_else
from .matching import match
from .words import word_columns, words_by_id

KINDS = {
    "same": "同一任务",
    "renamed": "改号或文字修改",
    "split": "拆分",
    "merged": "合并",
    "retired": "撤销",
    "added": "新增",
}


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
    name: Callable[[Task], str] | None = None,
) -> Revision:
    """The changes from `old` to `new`. `skip` names the columns that are not a task's
    words (its units); `name` gives a task's short name."""
    links = match(old, new, skip)
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
            ids = tuple(sorted((x.new_id for x, _ in splits), key=order_key))
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
    if TIME_HEADER.search(part.split("由", 1)[0]):
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


__all__ = [
    "KINDS",
    "Change",
    "Revision",
    "changed_words",
    "confirmed",
    "describe",
    "revise",
]
