"""What changed between two returns of one division: the cells, named in full up to a
number, and the note a receipt and status show."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..issues import (
    CHANGE_CODES,
    Issue,
    IssueCode,
    Verdict,
    warning,
)
from ..model import FileRecord
from ..text import clean_cell

SHOWN_CHANGES = 20  # cells named in full; the count says the rest


def changed_cells(
    before: FileRecord, after: FileRecord, labels: Mapping[str, str]
) -> list[tuple[str, str, Any, Any]]:
    """(where, field label, old, new) for every value and contact detail that differs."""
    out: list[tuple[str, str, Any, Any]] = []
    for tid in dict.fromkeys([*before.values, *after.values]):
        old, new = before.values.get(tid, {}), after.values.get(tid, {})
        for key in dict.fromkeys([*old, *new]):
            if not same_value(old.get(key), new.get(key)):
                out.append((f"序号 {tid}", labels.get(key, key), old.get(key), new.get(key)))
    for key in dict.fromkeys([*before.contact, *after.contact]):
        if not same_value(before.contact.get(key), after.contact.get(key)):
            out.append(
                ("联系人", labels.get(key, key), before.contact.get(key), after.contact.get(key))
            )
    return out


def same_value(a: Any, b: Any) -> bool:
    return ((a in (None, "")) and (b in (None, ""))) or a == b


def shown_value(value: Any) -> str:
    if value in (None, ""):
        return "（空）"
    text = clean_cell(value)
    return f"“{text[:30]}……”" if len(text) > 30 else f"“{text}”"


def compared(
    records: list[FileRecord],
    labels: Mapping[str, str],
    full: Callable[[FileRecord], FileRecord],
) -> list[FileRecord]:
    """A division's second return in a round says what changed from its previous one, cell
    by cell, or that nothing did (同上次报送，无变化): the receipt, status and the 来源
    sheet show it. The same bytes again are a duplicate, not a return: left alone.

    Records come without their values (they wait in the spool or the ledger): `full`
    gives a record with them, asked only for divisions with more than one return."""
    order = sorted(range(len(records)), key=lambda i: (records[i].mtime, records[i].path))
    out = [
        replace(r, issues=tuple(x for x in r.issues if x.code not in CHANGE_CODES)) for r in records
    ]
    returns: dict[str, list[int]] = {}
    for i in order:
        r = out[i]
        if r.verdict is not Verdict.SKIPPED and r.division:
            returns.setdefault(r.division, []).append(i)
    for indices in returns.values():
        if len(indices) < 2:
            continue
        before: FileRecord | None = None
        for i in indices:
            r = full(out[i])
            if not r.values:
                continue
            if before is not None and before.sha256 != r.sha256:
                note = change_note(before, r, labels)
                out[i] = replace(out[i], issues=(*out[i].issues, note))
            before = r
    return out


def change_note(before: FileRecord, after: FileRecord, labels: Mapping[str, str]) -> Issue:
    changes = changed_cells(before, after, labels)
    when = f"{before.received:%m-%d %H:%M}"
    if not changes:
        return warning(
            IssueCode.SAME_AS_LAST_RETURN,
            f"同上次报送，无变化：与 {when} 收到的“{before.name}”所填内容完全相同。",
            file=after.path,
            division=after.division,
        )
    shown = "；".join(
        f"{where} {label}：{shown_value(old)} → {shown_value(new)}"
        for where, label, old, new in changes[:SHOWN_CHANGES]
    )
    more = f"；另有 {len(changes) - SHOWN_CHANGES} 处" if len(changes) > SHOWN_CHANGES else ""
    return warning(
        IssueCode.CHANGED_SINCE_LAST_RETURN,
        f"与上次报送（{when} 收到的“{before.name}”）相比改动了 {len(changes)} 处：{shown}{more}。",
        file=after.path,
        division=after.division,
    )
