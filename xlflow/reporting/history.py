"""The history of every task across rounds, from the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import NotFound
from ..ledger import Ledger
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
        for rnd in rounds:
            accepted = round_state(ledger, rnd).accepted
            states, _ = task_states(register, ws.settings, rnd, accepted)
            for state in states:
                if state.task.id not in out:
                    continue
                out[state.task.id]["rounds"].append(
                    {
                        "round": rnd.id,
                        "title": rnd.title,
                        "status": state.status,
                        "percent": state.percent,
                        "conflict": state.conflict,
                        "reports": [
                            {
                                "division": r.division,
                                "role": r.role.value,
                                "values": r.values,
                                "file": r.source,
                            }
                            for r in state.answers
                        ],
                    }
                )
    return TaskHistory(tuple(r.id for r in rounds), tuple(out.values()))
