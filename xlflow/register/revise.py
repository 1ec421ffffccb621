"""Register revisions: what changed between two versions of a register, task by task.

Between rounds an office revises its register: tasks are added, retired, renamed (or
renumbered), split in two (5 into 5-1 and 5-2), merged, handed to another division, or
given new targets. `revise` finds each change, with how alike the two texts are, and
the lineage of every task: which task of the old version each new one descends from.

A task keeps its lineage through a renumbering when its text is at least 80 % the same;
a match less sure than that is proposed, never taken on its own: the coordinator
confirms it (a mapping file, or --accept-uncertain).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import RegisterSettings
from ..errors import Invalid
from ..ledger import Ledger
from ..model import Lineage, Register, Role, Task
from ..wording import role_label

LEAD = role_label(Role.LEAD)
SURE = 0.8  # texts this alike are one task, renamed or renumbered
LIKELY = 0.5  # texts this alike may be: proposed for the coordinator to confirm
KINDS = {
    "same": "同一任务",
    "renamed": "改名或改号",
    "split": "拆分",
    "merged": "合并",
    "retired": "撤销",
    "added": "新增",
}
_KIND_OF = {label: kind for kind, label in KINDS.items()}


def content_key(register: Register) -> str:
    """A register's content, as a version is told apart: its tasks, nothing else (hashed a
    task at a time: a ministry's register is tens of thousands of them)."""
    h = hashlib.sha256()
    for t in register.tasks:
        row = [t.id, t.group, t.columns, t.lead, t.cooperating, t.targets]
        h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def task_text(task: Task, skip: Iterable[str] = ()) -> str:
    """The words of a task that say what it is: every column but its id, its units and
    its targets (those are compared on their own)."""
    left_out = set(skip)
    targets = {text for _, text in task.targets}
    parts = [
        text
        for header, text in task.columns
        if header not in left_out and text not in targets and text != task.id
    ]
    return re.sub(r"\s+", "", "".join(parts))


def similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    return round(difflib.SequenceMatcher(None, a, b, autojunk=False).ratio(), 3)


@dataclass(frozen=True)
class Change:
    """One change between the versions, as the coordinator reads it."""

    kind: str  # a key of KINDS, or handed | units | targets
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
            "uncertain": [_lineage_dict(x) for x in self.uncertain],
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
    m = _Matcher(old, new, tuple(skip), name or _name)
    m.by_id(by_id_only)
    if not by_id_only:
        m.splits()
        m.by_text()
        m.merges()
    return m.result()


class _Matcher:
    """The matching, a step at a time: the same id, the parts of a split, the best pairs by
    text, and what is left over found inside another task (a merge)."""

    def __init__(
        self, old: Register, new: Register, skip: tuple[str, ...], name: Callable[[Task], str]
    ) -> None:
        self.name = name
        self.old_text = {t.id: task_text(t, skip) for t in old.tasks}
        self.new_text = {t.id: task_text(t, skip) for t in new.tasks}
        self.old_by, self.new_by = {t.id: t for t in old.tasks}, {t.id: t for t in new.tasks}
        # old id -> (new id, kind, score, sure)
        self.matched: dict[str, list[tuple[str, str, float, bool]]] = {}
        self.taken: set[str] = set()

    def link(self, o: str, n: str, kind: str, score: float, sure: bool = True) -> None:
        self.matched.setdefault(o, []).append((n, kind, score, sure))
        self.taken.add(n)

    def by_id(self, only: bool) -> None:
        for o in self.old_by:
            if o not in self.new_by:
                continue
            a, b = self.old_text[o], self.new_text[o]
            score = similarity(a, b)
            if only or score >= LIKELY:
                self.link(o, o, "same" if a == b else "renamed", score, only or score >= SURE)

    def splits(self) -> None:
        """5 gone, and 5-1, 5-2 (or 5（1）) in its place."""
        for o in self.old_by:
            if o in self.matched:
                continue
            for n in [n for n in self.new_by if n not in self.taken and _is_part(n, o)]:
                self.link(o, n, "split", similarity(self.old_text[o], self.new_text[n]))

    def by_text(self) -> None:
        """Renumbered or renamed: the best remaining pairs by text, best first."""
        pairs = sorted(
            (
                (similarity(self.old_text[o], self.new_text[n]), o, n)
                for o in self.old_by
                if o not in self.matched
                for n in self.new_by
                if n not in self.taken
            ),
            reverse=True,
        )
        for score, o, n in pairs:
            if score < LIKELY:
                break
            if o not in self.matched and n not in self.taken:
                self.link(o, n, "renamed", score, score >= SURE)

    def merges(self) -> None:
        """An old task left over whose words are found in a new one that grew by them: a
        task new to this version, or one whose text is now longer than its own
        predecessor's by a good part of the old task's. (Tasks that share words, as the
        sub-rows of one item do, are no merge when none of them grew.)"""
        before = {n: self.old_text[o] for o, links in self.matched.items() for n, *_ in links}
        for o in self.old_by:
            if o in self.matched or not self.old_text[o]:
                continue
            found = []
            for n in self.new_by:
                grown = len(self.new_text[n]) - len(before.get(n, ""))
                if n in before and grown < len(self.old_text[o]) / 3:
                    continue
                found.append((_contained(self.old_text[o], self.new_text[n]), n))
            best = max(found, default=(0.0, ""))
            if best[0] >= SURE:
                self.link(o, best[1], "merged", best[0], True)

    def result(self) -> Revision:
        lineage: list[Lineage] = []
        uncertain: list[Lineage] = []
        changes: list[Change] = []
        for o, task in self.old_by.items():
            links = self.matched.get(o)
            if not links:
                lineage.append(Lineage(o, "", "retired", 0.0))
                changes.append(Change("retired", (o,), (), f"撤销：序号 {o} {self.name(task)}"))
                continue
            for n, kind, score, sure in links:
                note = _what_else(task, self.new_by[n])
                (lineage if sure else uncertain).append(Lineage(o, n, kind, score, note))
                changes += _described(
                    kind, task, self.new_by[n], score, sure, note, links, self.name
                )
        for n, task in self.new_by.items():
            if n not in self.taken:
                changes.append(Change("added", (), (n,), f"新增：序号 {n} {self.name(task)}"))
        return Revision(tuple(_unique(changes)), tuple(lineage), tuple(uncertain))


def _unique(changes: list[Change]) -> list[Change]:
    seen: set[tuple[str, tuple[str, ...], tuple[str, ...], str]] = set()
    out = []
    for c in changes:
        k = (c.kind, c.old_ids, c.new_ids, c.text)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def _is_part(new_id: str, old_id: str) -> bool:
    return bool(re.fullmatch(re.escape(old_id) + r"(-\d+|（\d+）|\(\d+\)|\.\d+)", new_id))


def _contained(part: str, whole: str) -> float:
    """How much of `part` is found in `whole` (1: all of it)."""
    if not part:
        return 0.0
    blocks = difflib.SequenceMatcher(None, part, whole, autojunk=False).get_matching_blocks()
    return round(sum(b.size for b in blocks) / len(part), 3)


def _name(task: Task) -> str:
    texts = [t for _, t in task.columns if t and t != task.id]
    name = texts[1] if len(texts) > 1 else (texts[0] if texts else "")
    return name[:30]


def _what_else(old: Task, new: Task) -> str:
    """Besides the words: the lead handed over, units added or removed, targets changed."""
    notes = []
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
    return "；".join(notes)


def _described(
    kind: str,
    old: Task,
    new: Task,
    score: float,
    sure: bool,
    note: str,
    links: Sequence[tuple[str, str, float, bool]],
    name: Callable[[Task], str],
) -> list[Change]:
    out: list[Change] = []
    pct = f"{score * 100:.0f}%"
    mark = "" if sure else "（不确定，请确认）"
    if kind == "renamed":
        where = f"序号 {old.id}" if old.id == new.id else f"序号 {old.id} → {new.id}"
        out.append(
            Change(
                "renamed",
                (old.id,),
                (new.id,),
                f"改名{mark}：{where}，文字相似 {pct}：{name(old)} → {name(new)}",
                score,
                sure,
            )
        )
    elif kind == "split":
        ids = tuple(sorted((n for n, k, _, _ in links if k == "split"), key=_order_key))
        out.append(
            Change(
                "split",
                (old.id,),
                ids,
                f"拆分：序号 {old.id} 拆为 {'、'.join(ids)}",
                score,
                sure,
            )
        )
    elif kind == "merged":
        out.append(
            Change(
                "merged",
                (old.id,),
                (new.id,),
                f"合并{mark}：序号 {old.id} 并入 {new.id}（文字 {pct} 见于 {new.id}）",
                score,
                sure,
            )
        )
    if note:
        for part in note.split("；"):
            what = "handed" if part.endswith(LEAD) else ("targets" if "目标" in part else "units")
            out.append(Change(what, (old.id,), (new.id,), f"序号 {new.id}：{part}", score, sure))
    return out


# --- the mapping file: the coordinator's word on each match ---

MAPPING_HEADER = ("原序号", "新序号", "关系", "相似度", "确认")


def mapping_csv(revision: Revision) -> bytes:
    """Every lineage row, sure and uncertain, for the coordinator to confirm or correct:
    确认 是 takes a row, 否 drops it; a row can be added (关系 改名或改号, 拆分, 合并)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MAPPING_HEADER)
    for row in revision.lineage:
        writer.writerow([row.old_id, row.new_id, KINDS[row.kind], f"{row.score:.2f}", "是"])
    for row in revision.uncertain:
        writer.writerow([row.old_id, row.new_id, KINDS[row.kind], f"{row.score:.2f}", "？"])
    return buf.getvalue().encode("utf-8-sig")


def read_mapping(
    rows: Sequence[Sequence[str]], old: Register, new: Register, revision: Revision
) -> tuple[Lineage, ...]:
    """The lineage as the coordinator confirmed it in a mapping file (its rows, read in a
    worker by `parse.read_csv_file`, in any encoding and line end Excel or WPS saves)."""
    if not rows or tuple(c.strip() for c in rows[0][:5]) != MAPPING_HEADER:
        raise Invalid(
            f"对照表第一行应为：{'，'.join(MAPPING_HEADER)}（用 --write-mapping 写出的格式）。"
        )
    old_ids, new_ids = {t.id for t in old.tasks}, {t.id for t in new.tasks}
    known = {(x.old_id, x.new_id): x for x in (*revision.lineage, *revision.uncertain)}
    out: list[Lineage] = []
    for n, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row] + [""] * 5
        o, nid, label, _, yes = cells[:5]
        if not any(cells[:5]):
            continue
        if yes not in ("是", "否"):
            raise Invalid(f"对照表第 {n} 行的“确认”应填“是”或“否”，现为“{yes}”。")
        if yes == "否":
            continue
        kind = _KIND_OF.get(label)
        if kind is None:
            raise Invalid(
                f"对照表第 {n} 行的“关系”应为 {'、'.join(KINDS.values())} 之一，现为“{label}”。"
            )
        if o not in old_ids or (kind != "retired" and nid not in new_ids):
            raise Invalid(f"对照表第 {n} 行：原序号 {o!r} 或新序号 {nid!r} 不在相应的清单中。")
        found = known.get((o, nid))
        out.append(
            Lineage(o, nid, kind, found.score if found else 0.0, found.note if found else "")
        )
    return tuple(out)


def confirmed(revision: Revision, lineage: Sequence[Lineage]) -> Revision:
    """The revision with its lineage as given (confirmed): nothing left uncertain."""
    return Revision(revision.changes, tuple(lineage), ())


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
    """The columns that hold a task's id and units, not its words."""
    out: list[str] = []
    for s in settings:
        out += [s.id_column, s.divisions_column, s.lead_column, s.cooperating_column]
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
    "confirmed",
    "content_key",
    "current_version",
    "division_changes",
    "lineage_chain",
    "mapping_csv",
    "read_mapping",
    "revise",
    "similarity",
    "task_text",
    "unchanged_tasks",
    "unit_columns",
]
