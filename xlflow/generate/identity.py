"""What makes a form known when it comes back: its signed identity, the metadata sheet, and
the hint a stranger's file is compared with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..cells import col_letter
from ..config.model import Settings
from ..config.writing import form_settings_table
from ..model import FormSpec
from ..signing import (
    META_NOTE,
    NAME_PREFIX,
    PROP_PREFIX,
    before_digest,
    identity,
)
from .formats import Formats, chunks
from .specs import display_header


def write_identity(
    wb: Any,
    meta: Any,
    fmt: Formats,
    spec: FormSpec,
    settings: Settings,
    field_cols: Mapping[str, int],
    contact_cells: Mapping[str, str],
    checks: Mapping[str, Any],
) -> None:
    """The identity intake recognises the file by: the veryHidden sheet (with each row's
    hash), and the signed keys again as defined names and custom properties."""
    meta_rows = metadata_rows(spec, settings, field_cols, contact_cells, checks)
    meta.write_string(0, 0, "xlflow", fmt.meta)
    meta.write_string(0, 1, META_NOTE, fmt.meta)
    for k, (key, value) in enumerate(meta_rows, start=1):
        meta.write_string(k, 0, key, fmt.meta)
        meta.write_string(k, 1, value, fmt.meta)
    table = len(meta_rows) + 2
    for j, head in enumerate(("task_id", "row_hash", "role")):
        meta.write_string(table, j, head, fmt.meta)
    for k, (row, digest) in enumerate(zip(spec.rows, spec.row_hashes, strict=True), start=1):
        meta.write_string(table + k, 0, row.task_id, fmt.meta)
        meta.write_string(table + k, 1, digest, fmt.meta)
        meta.write_string(table + k, 2, row.role.value, fmt.meta)
    meta.very_hidden()
    if settings.form.protect:
        meta.protect(settings.form.password)
    for key, value in identity(spec).items():
        for n, part in enumerate(chunks(value)):
            suffix = f"_{n + 1}" if n else ""
            wb.define_name(f"{NAME_PREFIX}{key}{suffix}", '="' + part.replace('"', '""') + '"')
            wb.set_custom_property(f"{PROP_PREFIX}{key}{suffix}", part)


def metadata_rows(
    spec: FormSpec,
    settings: Settings,
    field_cols: Mapping[str, int],
    contact_cells: Mapping[str, str],
    checks: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """Key/value rows of the metadata sheet: the signed identity, then the hints intake
    uses to find cells."""
    digest = before_digest(spec.before_round, spec.rows)
    return [
        *identity(spec).items(),
        ("round_title", spec.round.title),
        ("sheet", settings.form.sheet),
        ("target_year", str(spec.target_year or "")),
        ("columns", json.dumps({k: col_letter(c) for k, c in field_cols.items()})),
        ("contact", json.dumps(dict(contact_cells))),
        ("prefill_from", spec.prefill_from),
        # what the form needs to be made again by the unit it is sent to (xlflow forward)
        ("form_settings", json.dumps(form_hint(spec, settings), ensure_ascii=False)),
        # the previous answers the plausibility rules compare with, on the flag sheet, and
        # the digest of them that the signature covers
        *([("before", digest), ("before_round", spec.before_round)] if digest else []),
        *([("checks", json.dumps(dict(checks)))] if checks else []),
    ]


def form_hint(spec: FormSpec, settings: Settings) -> dict[str, Any]:
    """The settings tables a form is made with, and its round (see `form_settings_table`)."""
    rnd = spec.round
    reg = settings.register
    shown = {c: display_header(c) for c in reg.readonly_columns}
    return {
        **form_settings_table(settings),
        # which of the read-only columns name a task's group and the task itself
        "columns": {
            "group": shown.get(reg.group_column, ""),
            "name": shown.get(reg.name_column, ""),
        },
        # the tasks this unit answers as a member of a collective (各街道)
        "collectives": {r.task_id: r.collective for r in spec.rows if r.collective},
        "round": {
            "id": rnd.id,
            "title": rnd.title,
            "year": rnd.year,
            "deadline": rnd.deadline.isoformat() if rnd.deadline else "",
        },
    }
