"""Receipts (回执): what a division gets back, listing what to fix or saying it was accepted."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import Settings
from .excel import new_workbook, row_height, write_text, write_value
from .files import atomic_write
from .forms import form_title
from .issues import VERDICT_LABELS, Issue, Severity, Verdict
from .ledger import FormStore, Ledger, RecordReader
from .model import FileRecord, FormSpec, Round
from .pool import IsolatedPool, JobFailure, default_workers
from .text import safe_filename
from .validate import task_name
from .workspace import Workspace

SUMMARY_SHEET = "回执"
VALUES_SHEET = "报送内容"
_RED = "#FFC7CE"
_AMBER = "#FFEB9C"


def counted_record(records: list[FileRecord]) -> FileRecord:
    """The file a division's receipt is about: its accepted one, else its newest."""
    accepted = [r for r in records if r.verdict is Verdict.ACCEPTED]
    if accepted:
        return accepted[-1]
    live = [r for r in records if r.verdict is Verdict.REJECTED] or records
    return max(live, key=lambda r: (r.mtime, r.path))


def receipt_name(division: str, record: FileRecord) -> str:
    if division:
        return f"{safe_filename(division)}-回执.xlsx"
    return f"未识别-{safe_filename(Path(record.name).stem, 60)}-回执.xlsx"


@dataclass(frozen=True)
class ReceiptInput:
    division: str
    round: Round
    record: FileRecord
    others: tuple[FileRecord, ...]
    spec: FormSpec | None


def render_receipt(item: ReceiptInput, settings: Settings) -> bytes:
    buf = io.BytesIO()
    wb = new_workbook(buf)
    body = {"font_name": settings.form.font, "font_size": 10.5, "text_wrap": True, "valign": "top"}
    border = {"border": 1, "border_color": "#808080"}
    f_title = wb.add_format(
        {
            "font_name": settings.form.header_font,
            "font_size": 16,
            "bold": True,
            "align": "center",
            "valign": "vcenter",
        }
    )
    f_label = wb.add_format({**body, **border, "bold": True, "bg_color": "#F2F2F2"})
    f_text = wb.add_format({**body, **border})
    f_head = wb.add_format(
        {
            **body,
            **border,
            "bold": True,
            "bg_color": "#D9D9D9",
            "align": "center",
            "valign": "vcenter",
        }
    )
    f_ok = wb.add_format(
        {
            **body,
            **border,
            "bold": True,
            "font_size": 12,
            "bg_color": "#C6EFCE",
            "font_color": "#006100",
        }
    )
    f_bad = wb.add_format(
        {**body, **border, "bold": True, "font_size": 12, "bg_color": _RED, "font_color": "#9C0006"}
    )
    f_err = wb.add_format({**body, **border, "bg_color": _RED})
    f_warn = wb.add_format({**body, **border, "bg_color": _AMBER})
    record = item.record
    title = form_title(settings, item.round, item.division or "") + "　回执"

    ws = wb.add_worksheet(SUMMARY_SHEET)
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 8)
    ws.set_column(2, 2, 12)
    ws.set_column(3, 3, 8)
    ws.set_column(4, 4, 80)
    ws.merge_range(0, 0, 0, 4, title, f_title)
    ws.set_row(0, 32)
    errors = [i for i in record.issues if i.severity is Severity.ERROR]
    warnings = [i for i in record.issues if i.severity is Severity.WARNING]
    if record.verdict is Verdict.ACCEPTED:
        verdict = "已采用。" + (
            "经核验，报送内容完整、符合要求。感谢配合！"
            if not warnings
            else f"有 {len(warnings)} 条提醒，不影响采用，请核对；如需更正，修改后重新报送即可。"
        )
        verdict_fmt = f_ok
    elif record.verdict is Verdict.REJECTED:
        verdict = (
            f"未采用（退回修改）。共 {len(errors)} 处必须修改"
            + (f"、{len(warnings)} 条提醒" if warnings else "")
            + "。请在原文件上按下表逐项修改后重新报送；不要新建文件。"
        )
        verdict_fmt = f_bad
    else:
        verdict = f"{VERDICT_LABELS[record.verdict]}。"
        verdict_fmt = f_text
    info = [
        ("填报单位", item.division or "（未能识别）"),
        ("填报轮次", item.round.title),
        ("报送文件", record.path),
        ("收到时间", f"{record.received:%Y-%m-%d %H:%M}"),
        ("核验结论", verdict),
    ]
    for k, (label, text) in enumerate(info, start=2):
        ws.merge_range(k, 0, k, 1, label, f_label)
        ws.merge_range(k, 2, k, 4, text, verdict_fmt if label == "核验结论" else f_text)
        ws.set_row(k, row_height([(text, 100)]))
    r = len(info) + 3
    if record.issues:
        for c, head in enumerate(("序号", "类别", "位置", "任务", "问题及修改方法")):
            ws.write_string(r, c, head, f_head)
        for n, issue in enumerate(sorted(record.issues, key=_issue_order), start=1):
            r += 1
            fmt = f_err if issue.severity is Severity.ERROR else f_warn
            ws.write_number(r, 0, n, f_text)
            ws.write_string(r, 1, "必须修改" if issue.severity is Severity.ERROR else "提醒", fmt)
            write_text(ws, r, 2, issue.location, f_text)
            write_text(ws, r, 3, issue.task_id, f_text)
            ws.write_string(r, 4, issue.message, f_text)
            ws.set_row(r, row_height([(issue.message, 80)]))
        r += 2
    if item.others:
        ws.merge_range(r, 0, r, 4, "本处室的其他报送文件", f_head)
        for other in item.others:
            r += 1
            note = VERDICT_LABELS[other.verdict]
            if other.superseded_by:
                note += f"（以 {other.superseded_by} 为准）"
            ws.merge_range(r, 0, r, 2, f"{other.received:%Y-%m-%d %H:%M}", f_text)
            ws.merge_range(r, 3, r, 4, f"{other.path}：{note}", f_text)
    r += 2
    office = settings.office
    contact = "，".join(x for x in (office.name, office.contact, office.phone, office.email) if x)
    ws.merge_range(r, 0, r, 4, f"如有疑问请联系：{contact}", wb.add_format({**body}))
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_footer("&C&9第 &P 页，共 &N 页")
    ws.activate()

    if item.spec is not None and (record.values or record.contact):
        _values_sheet(wb, item, settings, f_head, f_text, f_err, f_warn)
    wb.close()
    return buf.getvalue()


def _issue_order(issue: Issue) -> tuple[int, str, str]:
    return (0 if issue.severity is Severity.ERROR else 1, issue.task_id.zfill(6), issue.cell)


def _values_sheet(
    wb: Any,
    item: ReceiptInput,
    settings: Settings,
    f_head: Any,
    f_text: Any,
    f_err: Any,
    f_warn: Any,
) -> None:
    assert item.spec is not None
    ws = wb.add_worksheet(VALUES_SHEET)
    record = item.record
    fields = settings.fields
    heads = ["序号", "牵头/配合", "任务", *[f.label for f in fields]]
    widths = [6.0, 8.0, 24.0, *[30.0 if f.is_long_text else 12.0 for f in fields]]
    for c, (head, width) in enumerate(zip(heads, widths, strict=True)):
        ws.set_column(c, c, width)
        ws.write_string(0, c, head, f_head)
    by_cell: dict[tuple[str, str], list[Issue]] = {}
    for issue in record.issues:
        by_cell.setdefault((issue.task_id, issue.field), []).append(issue)
    for n, row in enumerate(item.spec.rows, start=1):
        values = record.values.get(row.task_id, {})
        marks = by_cell.get((row.task_id, ""), [])
        _cell(ws, n, 0, row.task_id, marks, f_text, f_err, f_warn)
        ws.write_string(n, 1, row.role.label, f_text)
        name = task_name(row, settings)
        ws.write_string(n, 2, name, f_text)
        cells = [(name, 24.0)]
        for c, f in enumerate(fields, start=3):
            value = values.get(f.key)
            _cell(ws, n, c, value, by_cell.get((row.task_id, f.key), []), f_text, f_err, f_warn)
            if isinstance(value, str):
                cells.append((value, widths[c]))
        ws.set_row(n, row_height(cells))
    r = len(item.spec.rows) + 2
    for f in settings.contact:
        value = record.contact.get(f.key)
        ws.write_string(r, 1, f"{f.label}：", f_text)
        _cell(ws, r, 2, value, by_cell.get(("", f.key), []), f_text, f_err, f_warn)
        r += 1
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_footer("&C&9第 &P 页，共 &N 页")


def _cell(
    ws: Any, r: int, c: int, value: object, issues: list[Issue], plain: Any, err: Any, warn: Any
) -> None:
    if not issues:
        write_value(ws, r, c, value, plain)
        return
    worst = err if any(i.severity is Severity.ERROR for i in issues) else warn
    write_value(ws, r, c, value, worst)
    note = "\n".join(i.message for i in issues)
    ws.write_comment(r, c, note[:2000], {"author": "xlflow", "x_scale": 3, "y_scale": 3})


def _digest(item: ReceiptInput, settings_source: str) -> str:
    payload: dict[str, Any] = {
        "division": item.division,
        "round": [item.round.id, item.round.title],
        "record": [
            item.record.path,
            item.record.sha256,
            item.record.mtime,
            str(item.record.verdict),
        ],
        "issues": [i.to_dict() for i in item.record.issues],
        # the values follow from the bytes (sha256) read under these rules (context)
        "context": item.record.context,
        "others": [[o.path, str(o.verdict), o.superseded_by, o.mtime] for o in item.others],
        "settings": settings_source,
    }
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def receipt_inputs(
    rnd: Round, records: list[FileRecord], forms: Mapping[str, FormSpec], load_forms: bool = True
) -> list[ReceiptInput]:
    by_division: dict[str, list[FileRecord]] = {}
    unidentified: list[FileRecord] = []
    for r in records:
        if r.verdict is Verdict.SKIPPED:
            continue
        if r.division:
            by_division.setdefault(r.division, []).append(r)
        elif r.present:
            unidentified.append(r)
    items = []
    for division, mine in by_division.items():
        counted = counted_record(mine)
        others = tuple(r for r in mine if r is not counted)
        items.append(
            ReceiptInput(
                division, rnd, counted, others, forms.get(division) if load_forms else None
            )
        )
    for r in unidentified:
        items.append(ReceiptInput("", rnd, r, (), None))
    return items


def write_receipts(
    ws: Workspace,
    rnd: Round,
    records: list[FileRecord],
    forms: Mapping[str, FormSpec],
    ledger: Ledger,
) -> list[Path]:
    """One receipt per division with a file (and per unidentified file); unchanged ones are kept.

    `records` may be light (without values): the workers that render read each
    division's full record from the ledger, which must hold this round's rows already.
    """
    out_dir = ws.round_dir(rnd) / "receipts"
    settings_text = ws.settings_path.read_text(encoding="utf-8")
    paths = []
    digests = ledger.receipt_digests(rnd.id)
    fresh: dict[str, str] = {}
    todo: list[tuple[ReceiptInput, Path]] = []
    for item in receipt_inputs(rnd, records, forms, load_forms=False):
        path = out_dir / receipt_name(item.division, item.record)
        digest = _digest(item, settings_text)
        fresh[path.name] = digest
        if digests.get(path.name) != digest or not path.exists() or path.stat().st_size == 0:
            todo.append((item, path))
        paths.append(path)
    # Rendering is the slow part of a large round: spread it over the cores. Forms and
    # values are read from the ledger in the worker, so a job is only a few names.
    jobs = [(item.division, item.record, item.others, path) for item, path in todo]
    reader = RecordReader(ws.ledger_path, rnd.id)
    pool: IsolatedPool[_Job, Path] = IsolatedPool(
        _render_to,
        (ws.settings, rnd, forms, reader),
        default_workers(len(jobs)),
        300,
        ws.settings.limits.worker_memory_mb,
    )
    for index, outcome in pool.run(jobs):
        if isinstance(outcome, JobFailure):
            item, path = todo[index]
            full = ledger.file(rnd.id, item.record.path, item.record.sha256) or item.record
            item = replace(item, record=full, spec=forms.get(item.division))
            atomic_write(path, render_receipt(item, ws.settings), durable=False)  # once more, here
    ledger.save_receipt_digests(rnd.id, fresh)
    return paths


_Job = tuple[str, FileRecord, tuple[FileRecord, ...], Path]


def _render_to(
    context: tuple[Settings, Round, Mapping[str, FormSpec], RecordReader], job: _Job
) -> Path:
    settings, rnd, forms, reader = context
    division, record, others, path = job
    full = reader.get(record.path, record.sha256) or record
    item = ReceiptInput(division, rnd, full, others, forms.get(division))
    atomic_write(path, render_receipt(item, settings), durable=False)
    return path


def receipts_for_round(ws: Workspace, round_id: str) -> tuple[Round, list[Path]]:
    """(Re)write the receipts of a round from the ledger, as `collect` does."""
    from .files import folder_lock
    from .intake import load_round

    with folder_lock(ws.lock_path, "生成回执"), Ledger(ws.ledger_path) as ledger:
        rnd = load_round(ledger, round_id)
        paths = write_receipts(
            ws, rnd, ledger.files(rnd.id, with_values=False), FormStore(ws.ledger_path, rnd), ledger
        )
    return rnd, paths
