"""`xlflow register --update NEW`: a revised register read as `init` reads one, every
change shown before anything is written, and with `--apply` kept as a new version, with
the lineage of every task, in the ledger. Given the register already in use with a
mapping file, it corrects the pairs that version was recorded with.

Versions are recorded by content: the first round's forms record the register they were
made from as version 1, a revision applied here records the next, and a register edited
in place between rounds is recorded at the next generate, its tasks matched by id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config.load import settings_from_text
from ..config.writing import replace_register_section
from ..errors import Invalid
from ..files import FolderChange, atomic_write, folder_lock
from ..ledger.book import Ledger
from ..model import Register
from ..wording import task_label
from ..workspace import Workspace
from .directory import organise
from .init import check_register
from .lineage import content_key, current_version, unit_columns
from .load import load_directory, load_register, read_isolated
from .mapping import READ_MAPPING, mapping_csv, mapping_rows, mapping_xlsx, read_mapping
from .revise import Revision, confirmed, revise


@dataclass(frozen=True)
class Proposal:
    """A revised register read and compared with the one in use, before any mapping: the
    first half of `update_register`, kept so that taking it with the pairs confirmed (the
    console's 采用) does not read and compare it all again."""

    source: Path
    pairing: bool  # compared as for a mapping: the register in use with the version before
    detected: Any
    old: Register
    new: Register
    skip: tuple[str, ...]
    revision: Revision
    corrects: int | None


@dataclass(frozen=True)
class UpdateResult:
    source: Path
    revision: Revision
    applied: bool
    version: int | None = None  # the version recorded (or corrected), when applied
    mapping: Path | None = None  # the mapping file written, if asked
    corrects: int | None = None  # the version whose pairs a mapping corrects
    # every pair with both texts, as the mapping file and the console show them
    table: tuple[tuple[str, ...], ...] = ()
    proposal: Proposal | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "applied": self.applied,
            "version": self.version,
            "mapping": str(self.mapping) if self.mapping else None,
            "corrects": self.corrects,
            **self.revision.to_dict(),
        }


def update_register(
    ws: Workspace,
    new_file: Path,
    mapping: Path | None = None,
    write_mapping: Path | None = None,
    accept_uncertain: bool = False,
    apply: bool = False,
    pairing: bool = False,
    proposed: Proposal | None = None,
) -> UpdateResult:
    """Compare the revised register with the current one; with `apply`, take it.

    Given the register already in use and a mapping file, the mapping corrects the pairs
    recorded when that register was taken (a pair confirmed by mistake): it is compared
    with the version before it, and `apply` puts the corrected pairs in the ledger.
    `pairing` compares so before any mapping is written (the console, whose page is the
    mapping). `proposed`, a result's `proposal` for the same file, is taken as it is
    instead of being worked out again."""
    pairing = bool(mapping or write_mapping or pairing)
    if proposed is None or (proposed.source, proposed.pairing) != (new_file, pairing):
        proposed = propose(ws, new_file, pairing)
    detected, old, new, skip = proposed.detected, proposed.old, proposed.new, proposed.skip
    revision, corrects = proposed.revision, proposed.corrects
    name = _names(ws)
    if mapping is not None:
        if not mapping.is_file():
            raise Invalid(f"找不到对照表 {mapping}；先用 --write-mapping 写出，核对后再给出。")
        rows = read_isolated(READ_MAPPING, mapping, "对照表", ws.settings.limits, "对照表")
        lineage = read_mapping(rows, old, new, revision, skip)
        revision = confirmed(revision, lineage, old, new, skip, name)
    written = None
    table = tuple(tuple(row) for row in mapping_rows(revision, old, new, skip))
    if write_mapping is not None:
        if write_mapping.suffix.lower() == ".csv":
            atomic_write(write_mapping, mapping_csv(table))
        else:
            made = dt.datetime.fromtimestamp(new_file.stat().st_mtime).replace(microsecond=0)
            atomic_write(write_mapping, mapping_xlsx(table, made))
        written = write_mapping
    if not apply:
        return UpdateResult(new_file, revision, False, None, written, corrects, table, proposed)
    if revision.uncertain and not accept_uncertain:
        shown = "；".join(
            f"{x.old_id} → {x.new_id}（{revision.reason(x.old_id, x.new_id) or '证据不足'}）"
            for x in revision.uncertain
        )
        raise Invalid(
            f"有 {len(revision.uncertain)} 处对应不确定：{shown}。请用 --write-mapping 对照表.xlsx "
            "写出对照表，逐行确认后用 --mapping 给出（也可在控制台的“清单修订”页逐对确认）。未做任何改动。"
        )
    if revision.uncertain:
        lineage = (*revision.lineage, *revision.uncertain)
        revision = confirmed(revision, lineage, old, new, skip, name)
    if corrects is not None:
        with folder_lock(ws.lock_path, "更正清单对应关系"), Ledger(ws.ledger_path) as ledger:
            note = f"对应关系按对照表 {mapping.name if mapping else ''} 更正"
            ledger.correct_lineage(corrects, revision.lineage, note)
        return UpdateResult(new_file, revision, True, corrects, written, corrects, table)
    return replace(_apply(ws, new_file, detected, old, revision, written), table=table)


def propose(ws: Workspace, new_file: Path, pairing: bool = False) -> Proposal:
    """The revised register read as `init` reads one and compared with the one in use
    (with `pairing`, a register that is the one in use with the version before it)."""
    detected = check_register(new_file, ws.settings.office.name)
    old = load_register(ws)
    directory = load_directory(ws, detected.register)
    new = detected.register
    if directory is not None and not directory.errors:
        new = organise(new, directory)
    skip = unit_columns(ws.settings.register, detected.settings)
    corrects = None
    if pairing and content_key(new) == content_key(old):
        corrects, before = _version_before(ws, new)
        if before is not None:
            old = before
    revision = revise(old, new, skip, name=_names(ws))
    return Proposal(new_file, pairing, detected, old, new, skip, revision, corrects)


def _names(ws: Workspace) -> Callable[[Any], str]:
    """How the changes shown name a task: its label under the office's settings."""
    register = ws.settings.register

    def name(task: Any) -> str:
        return task_label(task, register)

    return name


def _version_before(ws: Workspace, current: Register) -> tuple[int | None, Register | None]:
    """The version the current register is recorded as, and the register before it."""
    if not ws.ledger_path.exists():
        return None, None
    with Ledger(ws.ledger_path) as ledger:
        version = ledger.version_of_key(content_key(current))
        if version is None or version < 2:
            return None, None
        return version, ledger.version_register(version - 1)


def _apply(
    ws: Workspace,
    new_file: Path,
    detected: Any,
    old: Register,
    revision: Revision,
    written: Path | None,
) -> UpdateResult:
    """The revised register taken: copied into templates/, named in the settings, and
    recorded in the ledger as the next version, all or nothing."""
    with folder_lock(ws.lock_path, "更新任务清单"), Ledger(ws.ledger_path) as ledger:
        current_version(ledger, old, ws.settings.register)
        target = _template_name(ws, new_file)
        reg = replace(detected.settings, path=f"templates/{target.name}")
        text = replace_register_section(ws.settings_path.read_text("utf-8"), reg)
        settings_from_text(text, str(ws.settings_path))  # read back before anything is written
        change = FolderChange()
        if new_file.resolve() != target.resolve():
            change.write(target, new_file.read_bytes())
        change.write(ws.settings_path, text.encode("utf-8"))
        change.apply()
        try:
            fresh = Workspace.open(ws.root)
            taken = load_register(fresh)
            note = f"xlflow register --update {new_file.name}"
            version = ledger.record_version(content_key(taken), taken, revision.lineage, note)
        except BaseException:
            change.undo()  # settings and templates as they were: nothing half-applied
            raise
    return UpdateResult(new_file, revision, True, version, written)


def _template_name(ws: Workspace, new_file: Path) -> Path:
    """Where the revised register goes in templates/: under its own name, unless that
    would overwrite another file of the folder (the unit directory, the 通报 template, an
    earlier register), which it never does: it is then kept as 名称-2.xlsx and so on."""
    current = ws.register_path.resolve()
    target = ws.templates / new_file.name
    n = 2
    while target.exists() and target.resolve() not in (current, new_file.resolve()):
        target = ws.templates / f"{new_file.stem}-{n}{new_file.suffix}"
        n += 1
    return target


__all__ = ["Proposal", "UpdateResult", "propose", "update_register"]
