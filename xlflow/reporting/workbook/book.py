"""Merging the accepted returns into the consolidated status workbook (汇总表): `merge`,
and the list of its sheets.

The workbook is streamed beyond STREAM_ABOVE tasks: a task becomes its row of the detail
sheet, and of the history sheet, at once, and only counts are kept for the overview,
which is written last. However many tasks and returns a round has, Python holds one task,
and XlsxWriter sends each row to disk once the next begins (constant_memory)."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ...excel import (
    StreamedSheet,
    abandon,
    streamed_workbook,
)
from ...files import atomic_path, folder_lock, sweep_temp_files
from ...ledger.book import Ledger
from ...model import Round
from ...register.load import register_key
from ...text import safe_filename
from ...wording import (
    form_title,
)
from ...workspace import Workspace
from ..scorecard import scorecard
from . import (
    assessment,
    collectives,
    detail,
    explanations,
    history,
    missing,
    overview,
    problems,
    sources,
)
from .figures import Consolidation, Inputs, read_inputs
from .look import Page, Styles
from .passes import replay_pass, task_pass


def output_path(ws: Workspace, rnd: Round) -> Path:
    title = form_title(ws.settings, rnd, "")
    return ws.round_dir(rnd) / f"{safe_filename(title)}-汇总-{rnd.slug}.xlsx"


SCRATCH = ".merge-"
STREAM_ABOVE = 5000  # tasks
LAY_OUT_APART_ABOVE = STREAM_ABOVE  # tasks: beyond, a companion lays the rows out (passes)


@dataclass(frozen=True)
class Merged:
    """The consolidated workbook written, and what it says in figures."""

    consolidation: Consolidation
    path: Path
    inline_strings: bool = False  # streamed, its text inline (over STREAM_ABOVE tasks)

    @property
    def note(self) -> str:
        """What to tell whoever opens it in WPS 2021, where it was streamed."""
        if not self.inline_strings:
            return ""
        return (
            f"本轮有 {self.consolidation.tasks} 项任务（超过 {STREAM_ABOVE} 项），汇总表逐行写入，"
            "文字没有放入共享字符串表：WPS 2021 可能打不开它。请先用 Excel 或新版 WPS 打开后另存一次，再发给领导。"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.consolidation.summary(self.path),
            "inline_strings": self.inline_strings,
            "note": self.note,
        }


def merge(ws: Workspace, round_id: str) -> Merged:
    """Write outbox/ROUND/<title>-汇总-ROUND.xlsx atomically, a row at a time."""
    with folder_lock(ws.lock_path, "汇总"):
        sweep_temp_files(ws.outbox)
        for left in ws.state.glob(f"{SCRATCH}*"):  # by a merge that was killed
            shutil.rmtree(left, ignore_errors=True)
        key = register_key(ws)
        with Ledger(ws.ledger_path) as ledger:
            inputs = read_inputs(ws, ledger, round_id, key)
            card = scorecard(ws, inputs.round.year, inputs.round.id)
            inputs = replace(inputs, scorecard=card)
            path = output_path(ws, inputs.round)
            with (
                atomic_path(path) as tmp,
                tempfile.TemporaryDirectory(dir=ws.state, prefix=SCRATCH) as scratch,
            ):
                data = write_workbook(tmp, Path(scratch), inputs, ledger)
    return Merged(data, path, inputs.head.tasks > STREAM_ABOVE)


def write_workbook(path: Path, scratch: Path, inputs: Inputs, ledger: Ledger) -> Consolidation:
    """The consolidated workbook, its sheets in reading order; the detail and history rows
    are written as the tasks come, the overview and the lists once they are counted."""
    # Up to STREAM_ABOVE tasks the cells are held (a few MiB) and the text goes into a
    # shared strings table, as Excel writes it; beyond, rows go to disk as they come.
    wb = streamed_workbook(path, scratch, inputs.made_at, inputs.head.tasks > STREAM_ABOVE)
    try:
        return fill_workbook(wb, inputs, ledger)
    except BaseException:
        abandon(wb)
        raise


# Every sheet of the 汇总表, in reading order. Each is a module of this package with its
# NAME, `wanted(inputs, data)` (None while the tasks are still to pass, where the counts
# decide: such a sheet comes after every one that does not) and either STREAMED rows the
# pass writes a task at a time, or `write(sheet, page)` once the tasks are counted. A new
# sheet is a new module, named here.
SHEETS = (
    overview,
    detail,
    missing,
    problems,
    sources,
    history,
    collectives,
    explanations,
    assessment,
)


def fill_workbook(wb: Any, inputs: Inputs, ledger: Ledger) -> Consolidation:
    st = Styles(wb, inputs.settings)
    title = f"{inputs.settings.office.name}{inputs.round.title}重点任务进展情况汇总表"
    added: list[tuple[Any, Any]] = []
    later: list[Any] = []
    for sheet in SHEETS:
        want = sheet.wanted(inputs, None)
        if want is None:
            later.append(sheet)
            continue
        assert not later, f"{sheet.NAME} is decided before the pass, after one decided after it"
        if want:
            kind = StreamedSheet if sheet.STREAMED else None
            added.append((sheet, wb.add_worksheet(sheet.NAME, worksheet_class=kind)))
    streamed = [ws for sheet, ws in added if sheet.STREAMED]
    if inputs.head.tasks > LAY_OUT_APART_ABOVE and (os.cpu_count() or 1) > 1:
        data = replay_pass(ledger.path, inputs, title, streamed, st.made)
    else:
        data = task_pass(ledger, inputs, st, title, streamed).result()
    page = Page(wb, st, data, inputs, title, ledger)
    for sheet, ws in added:
        if not sheet.STREAMED:
            sheet.write(ws, page)
    for sheet in later:
        if sheet.wanted(inputs, data):
            sheet.write(wb.add_worksheet(sheet.NAME), page)
    wb.set_properties(
        {
            "title": title,
            "subject": data.round.title,
            "author": data.settings.office.name,
            "company": data.settings.office.name,
            "comments": "由 xlflow 根据已采用的报送文件汇总生成。",
            "created": data.made_at,
        }
    )
    wb.close()
    return data
