"""The history of every task across rounds, from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import NotFound
from ..ledger.book import Ledger
from ..model import Register, Round
from ..register.lineage import Versions, ancestors
from ..register.load import load_register
from ..standing import round_state
from ..wording import task_label
from ..workspace import Workspace
from .tasks import task_states


@dataclass(frozen=True)
class TaskHistory:
    """Each task's status, percent and every division's report, round by round."""

    rounds: tuple[str, ...]  # every round's id, oldest first
    tasks: tuple[dict[str, Any], ...]  # id, name, group, and its rounds

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": list(self.rounds), "tasks": list(self.tasks)}


class _Lineage:
    """Where each task of the register was in the versions earlier rounds were made from,
    and what happened on the way (拆分自 5, 合并自 3, 原序号 4, 由 A 改为 B 牵头)."""

    def __init__(self, ledger: Ledger, register: Register) -> None:
        self.versions = Versions(ledger, register)
        self.now, self.chain = self.versions.now, self.versions.chain
        self.previous: int | None = None  # the version of the round before
        self.step: tuple[int | None, int | None] = (None, None)

    def version_of(self, round_id: str) -> int | None:
        v = self.versions.of_round(round_id)
        self.step = (self.previous, v)
        self.previous = v
        return v

    def register_of(self, version: int | None) -> Register:
        return self.versions.register(version)

    def ids_at(self, task_id: str, version: int | None) -> tuple[list[str], str]:
        """The task's ids in `version`, and what changed since the round before."""
        if version is None or self.now is None or version == self.now:
            here = [task_id]
        else:
            here = [i for i, _ in ancestors(self.chain, task_id, self.now, version)]
        before, _ = self.step
        if before is None or before == version or version is None:
            return here, ""
        events: list[str] = []
        for i in here:
            came = ancestors(self.chain, i, version, before)
            events += [e for _, evs in came for e in evs] if came else ["新增"]
        return here, "；".join(dict.fromkeys(events))


def _entry(rnd: Round, found: list[Any], ids: list[str], event: str) -> dict[str, Any]:
    """One task in one round: the state of the task (or the first of the tasks) it was then."""
    state = found[0] if found else None
    return {
        "round": rnd.id,
        "title": rnd.title,
        "status": state.status if state else "",
        "percent": state.percent if state else None,
        "conflict": state.conflict if state else False,
        "task_ids": ids,
        "event": event if ids else "本轮次尚无此任务",
        "reports": [
            {
                "division": r.division,
                "role": r.role.value,
                "values": r.values,
                "file": r.source,
                **({"task_id": s.task.id} if len(found) > 1 else {}),
            }
            for s in found
            for r in s.answers
        ],
    }


def task_history(ws: Workspace, task_id: str | None = None) -> TaskHistory:
    """Each task's status, percent and every division's report, round by round."""
    register = load_register(ws)
    if task_id is not None and register.task(task_id) is None:
        raise NotFound(
            f"任务清单中没有序号 {task_id!r}；序号有：{'、'.join(t.id for t in register.tasks)}"
        )
    tasks = [t for t in register.tasks if task_id is None or t.id == task_id]
    out: dict[str, dict[str, Any]] = {
        t.id: {
            "id": t.id,
            "name": task_label(t, ws.settings.register),
            "group": t.group,
            "rounds": [],
        }
        for t in tasks
    }
    with Ledger(ws.ledger_path) as ledger:
        rounds = ledger.rounds()
        lines = _Lineage(ledger, register)
        for rnd in rounds:
            accepted = round_state(ledger, rnd).accepted
            version = lines.version_of(rnd.id)
            states, _ = task_states(lines.register_of(version), ws.settings, rnd, accepted)
            by_id = {s.task.id: s for s in states}
            for task in tasks:
                ids, event = lines.ids_at(task.id, version)
                found = [by_id[i] for i in ids if i in by_id]
                out[task.id]["rounds"].append(_entry(rnd, found, ids, event))
    return TaskHistory(tuple(r.id for r in rounds), tuple(out.values()))
