"""Rolling a child round back up (`xlflow roll-up`): the sub-units' answers written into
the form the unit received, to send back to the level above.

The rolled-up form is the received form made again by the writer that made it, from what
the form itself holds: the same read-only text, row hashes and signature (copied, never
computed: the unit has not the secret above it), the same settings. Only the input cells
differ: they hold the answers, field by field by the rules in [rollup]. So the form above
verifies and validates it as any return. It says where the answers came from: a line at
the top (据某某、某某报送), a veryHidden sheet with every child file's sha256 and which
sub-unit said what, and a custom property the collect above reads.

A sub-unit that has not answered adds nothing: its part stays empty and it is named.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.model import Field, Settings
from ..errors import Invalid, NotFound
from ..files import atomic_write, folder_lock
from ..generate.sheets import render_form
from ..ledger.book import Ledger
from ..model import FileRecord, FormRow, FormSpec, Provenance, Register, Round, Task
from ..register.load import load_register
from ..standing import round_state
from ..text import clean_cell, safe_filename
from ..workspace import Workspace
from .forward import ReceivedForm, forwarded_rounds, read_received_form, received_copy

ROLLUP_DIR = "上报"  # outbox/ROUND/上报/: the rolled-up form, under the name it came with


@dataclass(frozen=True)
class RollupResult:
    path: Path
    round: str
    unit: str
    answered: tuple[str, ...]
    missing: tuple[str, ...]
    filled: int  # input cells given a value
    notes: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()  # what the parent's collect would refuse, with its sources
    written: bool = True  # False when refused holds something and it was not asked for anyway

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "round": self.round,
            "unit": self.unit,
            "answered": list(self.answered),
            "missing": list(self.missing),
            "filled": self.filled,
            "notes": list(self.notes),
            "refused": list(self.refused),
            "written": self.written,
        }


def roll_up(
    ws: Workspace,
    round_id: str | None = None,
    output: Path | None = None,
    today: dt.date | None = None,
    anyway: bool = False,
) -> RollupResult:
    """Write the child round's answers into a copy of the received form. A rolled-up value
    the parent's collect would refuse (texts joined past the field's length, a sum past its
    maximum) is named with the sub-units it came from, and the form is then not written
    unless `anyway`."""
    rounds = forwarded_rounds(ws.root)
    if not rounds:
        raise NotFound(f"{ws.root} 不是由 xlflow forward 建立的工作文件夹，没有可汇总上报的表格。")
    if round_id is None:
        if len(rounds) > 1:
            raise Invalid(f"这个文件夹分发过几个轮次（{'、'.join(rounds)}），请用 --round 指明。")
        round_id = next(iter(rounds))
    entry = rounds.get(round_id)
    if entry is None:
        raise NotFound(f"没有分发过轮次 {round_id!r}；分发过的有：{'、'.join(rounds)}")
    copy = received_copy(ws.root, round_id)
    received = read_received_form(copy, ws.settings.limits)
    settings = received.settings()
    register = load_register(ws)
    with folder_lock(ws.lock_path, "汇总上报"), Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        state = round_state(ledger, rnd, register.divisions)
    accepted = state.accepted
    units = tuple(d.division for d in state.divisions)
    answered = tuple(u for u in units if u in accepted)
    missing = tuple(u for u in units if u not in accepted)
    day = today or dt.date.today()
    rows, said, filled = _rows(received, register, settings, ws.settings, accepted)
    provenance = Provenance(
        unit=received.division,
        answered=answered,
        missing=missing,
        files=tuple((u, Path(accepted[u].path).name, accepted[u].sha256) for u in answered),
        said=tuple(said),
        at=dt.datetime.now().replace(microsecond=0).isoformat(),
    )
    spec = FormSpec(
        round=Round(received.round_id, received.round_title, received.year, received.deadline),
        division=received.division,
        title=received.title,
        target_year=received.target_year,
        rows=tuple(rows),
        signature=received.signature,
        row_hashes=tuple(r.row_hash for r in received.rows),
        contact_prefill=_contact(settings, ws.settings, day),
    )
    # under the name it came with, as an .xlsx whatever it was saved as on the way
    name = Path(safe_filename(entry.get("name") or received.name)).with_suffix(".xlsx").name
    path = output or ws.round_dir(rnd) / ROLLUP_DIR / name
    refused = tuple(_refused(rows, settings, said))
    if not refused or anyway:
        atomic_write(path, render_form(spec, settings, None, provenance))
    return RollupResult(
        path,
        round_id,
        received.division,
        answered,
        missing,
        filled,
        tuple(_notes(ws, missing, answered, spec)),
        refused,
        not refused or anyway,
    )


def _refused(
    rows: Sequence[FormRow], settings: Settings, said: Sequence[tuple[str, str, str, str]]
) -> list[str]:
    """What in the rolled-up rows the parent's rules refuse (the form's own fields: length
    and range), each with the sub-units whose answers made it."""
    out = []
    for row in rows:
        for key, value in row.prefill:
            f = settings.field_by_key(key)
            if f is None:
                continue
            why = _breaks(f, value)
            if why:
                units = "、".join(
                    u for tid, label, u, _ in said if tid == row.task_id and label == f.label
                )
                out.append(f"序号 {row.task_id} 的“{f.label}”{why}（来自 {units}）")
    return out


def _breaks(f: Field, value: Any) -> str:
    if isinstance(value, str) and f.max_length and len(value) > f.max_length:
        return f"合并后有 {len(value)} 字，超过上级规定的 {f.max_length} 字"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if f.max is not None and value > f.max:
            return f"汇总为 {value:g}，超过上级规定的上限 {f.max:g}"
        if f.min is not None and value < f.min:
            return f"汇总为 {value:g}，低于上级规定的下限 {f.min:g}"
    return ""


def _rows(
    received: ReceivedForm,
    register: Register,
    settings: Settings,
    own: Settings,
    accepted: Mapping[str, FileRecord],
) -> tuple[list[FormRow], list[tuple[str, str, str, str]], int]:
    """Each received row with its rolled-up values, what each sub-unit said, and how many
    input cells got a value."""
    rows: list[FormRow] = []
    said: list[tuple[str, str, str, str]] = []
    filled = 0
    status_key = settings.status.field
    order = settings.status_order
    for row in received.rows:
        task = register.task(row.task_id)
        units = task.divisions if task else ()
        answers = [(u, accepted[u].values.get(row.task_id, {})) for u in units if u in accepted]
        values: list[tuple[str, Any]] = []
        for f in settings.fields:
            rule = own.rollup.rule(f, status_key)
            given = [(u, v[f.key]) for u, v in answers if v.get(f.key) not in (None, "")]
            said += [(row.task_id, f.label, u, clean_cell(v)) for u, v in given]
            value = combine(rule, f, given, task, order, len(units) > 1)
            if value not in (None, ""):
                values.append((f.key, value))
                filled += 1
        rows.append(
            FormRow(
                task_id=row.task_id,
                role=row.role,
                readonly=row.readonly,
                prefill=tuple(values),
                name=dict(row.readonly).get(received.hint.get("columns", {}).get("name", ""))
                or row.task_id,
                collective=str(received.hint.get("collectives", {}).get(row.task_id, "")),
            )
        )
    return rows, said, filled


def combine(
    rule: str,
    f: Field,
    given: Sequence[tuple[str, Any]],
    task: Task | None,
    order: Sequence[str],
    labelled: bool,
) -> Any:
    """One answer from the sub-units' (unit, value) pairs by `rule`; None when nobody gave
    one. Never a value that no sub-unit gave, except as their min, mean, max or sum."""
    if not given:
        return None
    if rule == "lead":
        leads = task.lead if task else ()
        found = next((v for u, v in given if u in leads), None)
        return found
    if rule == "joined":
        if not labelled and len(given) == 1:
            return given[0][1]
        return "\n".join(f"【{u}】{v}" for u, v in given)
    if rule == "least_advanced":
        rank = {s: i for i, s in enumerate(order)}
        return max((v for _, v in given), key=lambda v: rank.get(str(v), len(rank)))
    numbers = [float(v) for _, v in given if isinstance(v, int | float)]
    if not numbers:
        return None
    if rule == "min":
        result = min(numbers)
    elif rule == "max":
        result = max(numbers)
    elif rule == "sum":
        result = sum(numbers)
    else:
        result = round(statistics.fmean(numbers), 1)
    return int(result) if float(result).is_integer() else result


def _contact(settings: Settings, own: Settings, day: dt.date) -> tuple[tuple[str, Any], ...]:
    """The contact block: the unit's own contact from its settings, and today's date."""
    out: list[tuple[str, Any]] = []
    for f in settings.contact:
        if f.type == "date":
            out.append((f.key, day.isoformat()))
        elif f.type == "phone" and own.office.phone:
            out.append((f.key, own.office.phone))
        elif f.type == "text" and f.required and own.office.contact:
            out.append((f.key, own.office.contact))
    return tuple(out)


def _notes(
    ws: Workspace, missing: Sequence[str], answered: Sequence[str], spec: FormSpec
) -> list[str]:
    notes = []
    if missing:
        notes.append(
            f"{'、'.join(missing)} 还没有报送（或未通过核验）：其部分空缺，已在表中注明。"
            "如要等齐再上报，收到后重新运行 xlflow collect 和 xlflow roll-up。"
        )
    if not answered:
        notes.append("下级单位都还没有报送：上报的表格是空的。")
    if not ws.settings.office.contact or not ws.settings.office.phone:
        notes.append(
            "填报人、联系电话没有填写：在本文件夹 xlflow.toml 的 [office] 中填写 contact、phone 后重新运行，"
            "或打开上报的表格手工填写，否则上级会退回。"
        )
    return notes


__all__ = ["ROLLUP_DIR", "RollupResult", "combine", "roll_up"]
