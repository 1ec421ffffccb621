"""What xlflow has written for a round so far: the files the web console offers to download."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..intake.receipts import receipt_name
from ..ledger.book import Ledger
from ..reporting.bulletin import output_path as report_path
from ..reporting.workbook.book import output_path as consolidated_path
from ..standing import RoundStatus
from ..workspace import Workspace


@dataclass(frozen=True)
class RoundOutputs:
    """What xlflow has written for a round so far, as it lies in outbox/ now."""

    folder: Path
    forms: dict[str, Path]  # division -> its form
    receipts: dict[str, Path]  # division (or, for an unidentified file, its inbox path) -> receipt
    consolidated: Path | None
    report: Path | None
    reminders: tuple[Path, ...]


def round_outputs(ws: Workspace, status: RoundStatus) -> RoundOutputs:
    """The forms, receipts, consolidated workbook, 通报 and mail drafts of a round on disk."""
    rnd = status.round
    folder = ws.round_dir(rnd)
    with Ledger(ws.ledger_path) as ledger:
        recorded = {d: ledger.form_file(rnd.id, d) for d in ledger.form_divisions(rnd.id)}
    forms = {
        d: folder / "forms" / entry[0].name
        for d, entry in recorded.items()
        if entry is not None and (folder / "forms" / entry[0].name).is_file()
    }
    receipts: dict[str, Path] = {}
    for d in status.divisions:
        if d.counted is not None:
            receipts[d.division] = folder / "receipts" / receipt_name(d.division, d.counted)
    for f in status.state.unidentified:
        receipts[f.path] = folder / "receipts" / receipt_name("", f)
    merged, notice = consolidated_path(ws, rnd), report_path(ws, rnd)
    drafts = folder / "reminders"
    return RoundOutputs(
        folder,
        forms,
        {k: p for k, p in receipts.items() if p.is_file()},
        merged if merged.is_file() else None,
        notice if notice.is_file() else None,
        tuple(sorted(drafts.glob("*.eml"))) if drafts.is_dir() else (),
    )
