"""What each division's form holds: its rows, read-only columns and previous answers
(`FormSpecs`, made one at a time), and the file name it is written under."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any, overload

from ..config.model import Settings
from ..ledger.book import Ledger
from ..ledger.readers import AcceptedFiles
from ..model import FileRecord, FormRow, FormSpec, Register, Round
from ..plausibility import (
    previous_fields,
    rules_in_use,
    task_deadline,
)
from ..register.lineage import ancestors, lineage_chain
from ..signing import (
    before_digest,
    row_hash,
    sign_form,
)
from ..text import safe_filename
from ..wording import form_title, role_label, task_label


def readonly_headers(register: Register, settings: Settings, year: int | None) -> list[str]:
    headers = list(settings.register.readonly_columns)
    target = target_header(register, settings, year)
    if target:
        headers.append(target)
    return headers


def target_header(register: Register, settings: Settings, year: int | None) -> str:
    if year is None or not settings.register.targets:
        return ""
    for milestone, column in settings.register.targets:
        if milestone >= year:
            return display_header(column)
    return display_header(settings.register.targets[-1][1])


def display_header(name: str) -> str:
    return "".join(name.split())


class FormSpecs(Sequence[FormSpec]):
    """What each division's form holds, signed, made when asked for.

    A ministry's round has thousands of forms of dozens of tasks each; made all at once
    they took some 200 MiB at 10,000 forms. Here each is made when a worker needs it and
    kept only until `release`, once the ledger has it.

    `previous` maps a division to its accepted return of the round in `prefill_from`;
    its values and contact details are carried into the new form. `earlier` is what the
    plausibility rules compare with (`EarlierAnswers`).
    """

    def __init__(
        self,
        register: Register,
        settings: Settings,
        rnd: Round,
        secret: bytes,
        previous: Mapping[str, FileRecord] | None = None,
        prefill_from: str = "",
        divisions: Sequence[str] = (),
        earlier: EarlierAnswers | None = None,
    ) -> None:
        self.earlier = earlier or EarlierAnswers()
        self.register = register
        self.settings = settings
        self.round = rnd
        self.secret = secret
        self.previous = previous or {}
        self.prefill_from = prefill_from
        chosen = set(divisions)
        self.divisions = tuple(d for d in register.divisions if not chosen or d in chosen)
        self._target_header = target_header(register, settings, rnd.year)
        self._headers = [display_header(c) for c in settings.register.readonly_columns]
        self._made: dict[int, FormSpec] = {}

    def __len__(self) -> int:
        return len(self.divisions)

    @overload
    def __getitem__(self, index: int) -> FormSpec: ...

    @overload
    def __getitem__(self, index: slice) -> list[FormSpec]: ...

    def __getitem__(self, index: int | slice) -> FormSpec | list[FormSpec]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        spec = self._made.get(index)
        if spec is None:
            spec = self._made[index] = self._make(self.divisions[index])
        return spec

    def __iter__(self) -> Iterator[FormSpec]:
        for index in range(len(self)):
            yield self[index]
            self.release(index)

    def release(self, index: int) -> None:
        """Forget a made spec; asked for again, it is made again (the same)."""
        self._made.pop(index, None)

    def _make(self, division: str) -> FormSpec:
        settings, rnd = self.settings, self.round
        rows: list[FormRow] = []
        target_year = None
        earlier = self.previous.get(division)
        carried = earlier.values if earlier else {}
        before = self.earlier.of(division)
        for task, role in self.register.index().get(division, ()):
            readonly = [
                (h, task.column(c))
                for h, c in zip(self._headers, settings.register.readonly_columns, strict=True)
            ]
            if self._target_header and rnd.year is not None:
                found = task.target_for(rnd.year)
                if found:
                    target_year = found[0]
                readonly.append((self._target_header, found[1] if found else ""))
            values = carried.get(task.id, {})
            rows.append(
                FormRow(
                    task_id=task.id,
                    role=role,
                    name=task_label(task, settings.register),
                    collective=task.collective_of(division),
                    readonly=tuple(readonly),
                    prefill=tuple(
                        (f.key, values[f.key])
                        for f in settings.fields
                        if values.get(f.key) not in (None, "")
                    ),
                    before=before.get(task.id, ()),
                    due=self.earlier.due.get(task.id, ""),
                )
            )
        hashes = tuple(
            row_hash(r.task_id, role_label(r.role), [t for _, t in r.readonly]) for r in rows
        )
        task_ids = tuple(r.task_id for r in rows)
        before_round = self.earlier.title if any(r.before for r in rows) else ""
        digest = before_digest(before_round, rows)
        signature = sign_form(self.secret, rnd.id, division, task_ids, hashes, before=digest)
        # who fills in and their phone rarely change; the date always does
        contact = tuple(
            (f.key, earlier.contact[f.key])
            for f in settings.contact
            if earlier and f.type != "date" and earlier.contact.get(f.key) not in (None, "")
        )
        return FormSpec(
            round=rnd,
            division=division,
            title=form_title(settings, rnd, division),
            target_year=target_year,
            rows=tuple(rows),
            prefill_from=self.prefill_from if earlier else "",
            signature=signature,
            row_hashes=hashes,
            contact_prefill=contact,
            before_round=before_round,
        )


@dataclass(frozen=True)
class EarlierAnswers:
    """What a round's plausibility rules compare with: each division's accepted answer in
    the round before (its status, percent and progress, by the current task ids), and each
    task's deadline where it passed before this round's."""

    title: str = ""
    answers: Mapping[str, FileRecord] = default(default_factory=dict)
    ids: Mapping[str, str] | None = None  # current task id -> its id then; None: the same
    keys: tuple[str, ...] = ()
    due: Mapping[str, str] = default(default_factory=dict)

    def of(self, division: str) -> dict[str, tuple[tuple[str, Any], ...]]:
        """current task id -> the division's answer to it then (the return read once)."""
        record = self.answers.get(division) if self.keys else None
        if record is None:
            return {}
        out = {}
        for task_id, then in (self.ids or {t: t for t in record.values}).items():
            values = record.values.get(then, {})
            said = tuple((k, values[k]) for k in self.keys if values.get(k) not in (None, ""))
            if said:
                out[task_id] = said
        return out


def earlier_answers(
    ledger: Ledger, register: Register, settings: Settings, rnd: Round, version: int
) -> EarlierAnswers:
    """The answers and deadlines a round's forms are checked against (see EarlierAnswers):
    of the round it prefills from, else of the round made before it, as collect compares."""
    rules = {r.name for r in rules_in_use(settings)}
    due = past_deadlines(register, settings, rnd, ledger) if "overdue" in rules else {}
    then = ledger.compared_round(rnd.id)
    keys = tuple(previous_fields(settings).values())
    if then is None or not rules & {"percent_fell", "percent_jump", "progress_copied"}:
        return EarlierAnswers(due=due)
    ids: dict[str, str] | None = None
    then_version = ledger.round_version(then.id)
    if then_version is not None and then_version != version:
        chain = lineage_chain(ledger)
        ids = {}
        for task in register.tasks:
            found = ancestors(chain, task.id, version, then_version)
            # each part of a task split since is compared with the task's answer; a task
            # merged from several has no one answer to be compared with
            if len(found) == 1 and not any(e.startswith("合并") for e in found[0][1]):
                ids[task.id] = found[0][0]
    return EarlierAnswers(then.title, AcceptedFiles(ledger, then.id), ids, keys, due)


def past_deadlines(
    register: Register, settings: Settings, rnd: Round, ledger: Ledger
) -> dict[str, str]:
    """task id -> its deadline, for the tasks whose deadline passed by the round's: its
    deadline, but no later than the end of the year it reports on (a round on 2019 sent
    late is still judged as of 2019), else the day it was made."""
    created = ledger.round_created_at(rnd.id)
    made = created.date() if created else dt.date.today()
    year_end = dt.date(rnd.year, 12, 31) if rnd.year else made
    today = min(rnd.deadline or made, year_end)
    column = settings.plausibility.rule("overdue").column
    out: dict[str, str] = {}
    for task in register.tasks:
        has = {year: bool(text.strip()) for year, text in task.targets}
        deadline = task_deadline(task.column(column) if column else None,
                                 settings.register.targets, has)  # fmt: skip
        if deadline is not None and deadline < today:
            out[task.id] = deadline.isoformat()
    return out


def form_filename(spec: FormSpec) -> str:
    return f"{safe_filename(spec.division)}_{spec.round.slug}_填报表.xlsx"
