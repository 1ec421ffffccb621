"""**generate**: one signed fill-in workbook per division, written with XlsxWriter, on all the
cores when there are many (`generate_forms`)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config.model import Settings
from ..errors import NotFound
from ..files import atomic_write, folder_lock, sha256_bytes, sweep_temp_files
from ..ledger.book import Ledger
from ..ledger.readers import AcceptedFiles
from ..model import FileRecord, FormSpec, Round
from ..pool import IsolatedPool, default_workers
from ..register.lineage import current_version
from ..register.load import load_register
from ..signing import (
    load_or_create_secret,
)
from ..workspace import Workspace
from .sheets import render_form
from .specs import FormSpecs, earlier_answers, form_filename


@dataclass(frozen=True)
class GeneratedForm:
    division: str
    path: Path
    task_ids: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class GenerateResult:
    round: Round
    forms: tuple[GeneratedForm, ...]
    prefill_from: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round.id,
            "forms": [
                {"division": f.division, "path": str(f.path), "task_ids": list(f.task_ids)}
                for f in self.forms
            ],
        }


Render = tuple[Settings, dt.datetime | None, Path]


def render_to(context: Render, spec: FormSpec) -> GeneratedForm:
    settings, created, out_dir = context
    data = render_form(spec, settings, created)
    path = out_dir / form_filename(spec)
    atomic_write(path, data, durable=False)
    return GeneratedForm(spec.division, path, spec.task_ids, sha256_bytes(data))


def write_forms(
    specs: FormSpecs, settings: Settings, created: dt.datetime | None, out_dir: Path
) -> Iterator[tuple[int, GeneratedForm]]:
    """(index, form) of every form as it is written, on all the cores when there are many."""
    context = (settings, created, out_dir)
    workers = default_workers(len(specs))
    if workers == 1:
        for index in range(len(specs)):
            yield index, render_to(context, specs[index])
        return
    pool: IsolatedPool[FormSpec, GeneratedForm] = IsolatedPool(
        render_to, context, workers, 300, settings.limits.worker_memory_mb
    )
    for index, outcome in pool.run(specs):
        # a worker that died is no reason to lose the form: make it here, where an error shows
        done = outcome if isinstance(outcome, GeneratedForm) else render_to(context, specs[index])
        yield index, done


def generate_forms(
    ws: Workspace,
    rnd: Round,
    prefill_from: str = "",
    divisions: Sequence[str] = (),
) -> GenerateResult:
    """Write one form per division into outbox/ROUND/forms/ and record them in the ledger."""
    register = load_register(ws)
    unknown = [d for d in divisions if d not in register.divisions]
    if unknown:
        raise NotFound(
            f"任务清单中没有处室 {'、'.join(unknown)}；处室有：{'、'.join(register.divisions)}"
        )
    with folder_lock(ws.lock_path, "生成填报表"), Ledger(ws.ledger_path) as ledger:
        sweep_temp_files(ws.round_dir(rnd))
        secret = load_or_create_secret(ws.secret_path)
        previous: Mapping[str, FileRecord] = {}
        source = ""
        if prefill_from:
            earlier = ledger.find_round(prefill_from)
            if earlier is None:
                raise NotFound(
                    f"没有轮次 {prefill_from!r} 的记录，无法预填；已有轮次："
                    f"{'、'.join(r.id for r in ledger.rounds()) or '（无）'}"
                )
            source = earlier.id
            previous = AcceptedFiles(ledger, source)
        record = ledger.record_round(rnd, source)
        version = current_version(ledger, register, ws.settings.register)
        compared = earlier_answers(ledger, register, ws.settings, record, version)
        specs = FormSpecs(
            register, ws.settings, record, secret, previous, source, divisions, compared
        )
        created = ledger.round_created_at(rnd.id)
        forms: list[GeneratedForm | None] = [None] * len(specs)
        staged = ledger.staged_forms(rnd.id)
        for index, form in write_forms(specs, ws.settings, created, ws.round_dir(rnd) / "forms"):
            spec = specs[index]
            staged.add(index, spec, form.path, form.sha256)
            forms[index] = replace(form, task_ids=spec.task_ids)  # the register's own strings
            specs.release(index)
        if hasattr(os, "sync"):
            os.sync()  # one flush for every form written, before the ledger records them
        staged.record()
        ledger.record_units(record.id, register)
        ledger.set_round_version(record.id, version)
    return GenerateResult(record, tuple(f for f in forms if f is not None), source)
