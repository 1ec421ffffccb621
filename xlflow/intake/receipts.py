"""Receipts (回执): what a division gets back, listing what to fix or saying it was accepted."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config.model import Settings
from ..excel import BORDER, LOOK, new_workbook, row_height, write_value
from ..files import atomic_write, folder_lock
from ..issues import (
    COORDINATOR_ONLY_CODES,
    DECISION_CODES,
    EXPLAIN_CODES,
    TO_EXPLAIN,
    Issue,
    IssueCode,
    Severity,
    Verdict,
)
from ..ledger.book import Ledger
from ..ledger.readers import FormStore, RecordReader
from ..model import FileRecord, FormSpec, Round
from ..pool import IsolatedPool, JobFailure, default_workers
from ..standing import RoundState, states_of
from ..text import display_width, safe_filename
from ..wording import VERDICT_LABELS, form_title, role_label, row_name
from ..workspace import Workspace

SUMMARY_SHEET = "回执"
VALUES_SHEET = "报送内容"
_RED = LOOK["bad"]
_AMBER = LOOK["warn"]


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


# --- the layout: what a receipt holds, cell by cell, whichever writer writes it ---


@dataclass(frozen=True)
class _Cell:
    row: int
    col: int
    value: str | int | float | None
    style: str
    comment: str = ""


@dataclass(frozen=True)
class _Merge:
    first_row: int
    first_col: int
    last_row: int
    last_col: int
    value: str
    style: str


@dataclass
class _Sheet:
    name: str
    widths: list[float]
    cells: list[_Cell] = field(default_factory=list)
    merges: list[_Merge] = field(default_factory=list)
    heights: dict[int, float] = field(default_factory=dict)
    freeze_header: bool = False


def _styles(settings: Settings) -> dict[str, dict[str, Any]]:
    body = {"font_name": settings.form.font, "font_size": 10.5, "text_wrap": True, "valign": "top"}
    border = dict(BORDER)
    title = {"font_name": settings.form.header_font, "font_size": 16, "bold": True}
    return {
        "title": {**title, "align": "center", "valign": "vcenter"},
        "label": {**body, **border, "bold": True, "bg_color": LOOK["shade"]},
        "text": {**body, **border},
        "head": {
            **body,
            **border,
            "bold": True,
            "bg_color": LOOK["header"],
            "align": "center",
            "valign": "vcenter",
        },
        "ok": {
            **body,
            **border,
            "bold": True,
            "font_size": 12,
            "bg_color": LOOK["good"],
            "font_color": LOOK["good_text"],
        },
        "bad": {
            **body,
            **border,
            "bold": True,
            "font_size": 12,
            "bg_color": _RED,
            "font_color": LOOK["bad_text"],
        },
        "err": {**body, **border, "bg_color": _RED},
        "warn": {**body, **border, "bg_color": _AMBER},
        "explain": {**body, **border, "bg_color": LOOK["explain"]},
        "good": {**body, **border, "bg_color": LOOK["good"]},
        "body": dict(body),
    }


def _category(issue: Issue) -> tuple[str, str]:
    """The receipt's 类别 of a problem, and its style."""
    if issue.code is IssueCode.EXPLAINED:
        return "已说明", "good"
    if issue.code is IssueCode.EXPLANATION_ASKED_AGAIN:
        return "请再说明", "explain"
    if issue.code is IssueCode.NEEDS_EXPLANATION:
        return ("必须说明", "err") if issue.severity is Severity.ERROR else ("需要说明", "explain")
    return ("必须修改", "err") if issue.severity is Severity.ERROR else ("提醒", "warn")


def _verdict_text(record: FileRecord) -> tuple[str, str]:
    errors = [i for i in record.issues if i.severity is Severity.ERROR]
    to_explain = [
        i for i in record.issues if i.code in TO_EXPLAIN and i.severity is Severity.WARNING
    ]
    warnings = [
        i for i in record.issues if i.severity is Severity.WARNING and i.code not in EXPLAIN_CODES
    ]
    asked = (
        f"有 {len(to_explain)} 处需要说明：请在原表标橙的行的“说明”栏写明原因后重新报送，"
        "不影响本次采用。"
        if to_explain
        else ""
    )
    decided = next((i for i in record.issues if i.code in DECISION_CODES), None)
    if decided is not None and record.verdict is Verdict.ACCEPTED:
        return (
            decided.message.split("。")[0]
            + f"。下表中 {len(errors)} 处“必须修改”的内容未采用；下次报送请按要求填写。"
        ), "ok"
    if decided is not None and record.verdict is Verdict.EXCLUDED:
        return decided.message, "bad"
    if record.verdict is Verdict.ACCEPTED:
        return "已采用。" + asked + (
            ("经核验，报送内容完整、符合要求。感谢配合！" if not asked else "")
            if not warnings
            else f"有 {len(warnings)} 条提醒，不影响采用，请核对；如需更正，修改后重新报送即可。"
        ), "ok"
    if record.verdict is Verdict.REJECTED:
        return (
            f"未采用（退回修改）。共 {len(errors)} 处必须修改"
            + (f"、{len(warnings)} 条提醒" if warnings else "")
            + "。请在原文件上按下表逐项修改后重新报送；不要新建文件。"
        ), "bad"
    return f"{VERDICT_LABELS[record.verdict]}。", "text"


def receipt_layout(item: ReceiptInput, settings: Settings) -> list[_Sheet]:
    """A receipt: the verdict and every problem, then the values as returned, marked."""
    # what only the coordinator needs to know stays out of the division's receipt
    record = replace(
        item.record,
        issues=tuple(i for i in item.record.issues if i.code not in COORDINATOR_ONLY_CODES),
    )
    summary = _Sheet(SUMMARY_SHEET, [6, 8, 12, 8, 80])
    title = form_title(settings, item.round, item.division or "") + "　回执"
    summary.merges.append(_Merge(0, 0, 0, 4, title, "title"))
    summary.heights[0] = 32
    verdict, verdict_style = _verdict_text(record)
    info = [
        ("填报单位", item.division or "（未能识别）"),
        ("填报轮次", item.round.title),
        ("报送文件", record.path),
        *([("来自邮件", record.origin.removeprefix("邮件："))] if record.origin else []),
        ("收到时间", f"{record.received:%Y-%m-%d %H:%M}"),
        *([("保存软件", record.application)] if record.application else []),
        ("核验结论", verdict),
    ]
    if record.verdict is Verdict.ACCEPTED and record.values:
        info.append(("采用内容", _recorded(record, settings)))
    for k, (label, text) in enumerate(info, start=2):
        summary.merges.append(_Merge(k, 0, k, 1, label, "label"))
        summary.merges.append(
            _Merge(k, 2, k, 4, text, verdict_style if label == "核验结论" else "text")
        )
        summary.heights[k] = row_height([(text, 100)])
    r = len(info) + 3
    if record.issues:
        for c, head in enumerate(("序号", "类别", "位置", "任务", "问题及修改方法")):
            summary.cells.append(_Cell(r, c, head, "head"))
        for n, issue in enumerate(sorted(record.issues, key=_issue_order), start=1):
            r += 1
            category, style = _category(issue)
            summary.cells += [
                _Cell(r, 0, n, "text"),
                _Cell(r, 1, category, style),
                _Cell(r, 2, issue.location or None, "text"),
                _Cell(r, 3, issue.task_id or None, "text"),
                _Cell(r, 4, issue.message, "text"),
            ]
            summary.heights[r] = row_height([(issue.message, 80)])
        r += 2
    if item.others:
        summary.merges.append(_Merge(r, 0, r, 4, "本处室的其他报送文件", "head"))
        for other in item.others:
            r += 1
            note = VERDICT_LABELS[other.verdict]
            if other.superseded_by:
                note += f"（以 {other.superseded_by} 为准）"
            summary.merges.append(_Merge(r, 0, r, 2, f"{other.received:%Y-%m-%d %H:%M}", "text"))
            summary.merges.append(_Merge(r, 3, r, 4, f"{other.path}：{note}", "text"))
    r += 2
    office = settings.office
    contact = "，".join(x for x in (office.name, office.contact, office.phone, office.email) if x)
    summary.merges.append(_Merge(r, 0, r, 4, f"如有疑问请联系：{contact}", "body"))
    sheets = [summary]
    # the values as returned, each problem marked on its cell; a clean return needs none
    if item.spec is not None and record.issues and (record.values or record.contact):
        sheets.append(_values_layout(item, settings))
    return sheets


def _recorded(record: FileRecord, settings: Settings) -> str:
    """What was taken from an accepted return, counted, so a division can see it was all read."""
    text = f"本处室 {len(record.values)} 项任务的填报内容均已记录"
    choice = next((f for f in settings.fields if f.choices), None)
    if choice is None:
        return text + "。"
    counts = Counter(str(v.get(choice.key) or "未填") for v in record.values.values())
    order = [*choice.choices, *sorted(k for k in counts if k not in choice.choices)]
    parts = "，".join(f"{k} {counts[k]} 项" for k in order if counts[k])
    return f"{text}（{choice.label}：{parts}）。"


_STYLE_RANK = {"err": 0, "explain": 1, "warn": 2, "good": 3}


def _issue_order(issue: Issue) -> tuple[int, str, str]:
    # what must be fixed, what to explain, what to note, what was explained
    return (_STYLE_RANK[_category(issue)[1]], issue.task_id.zfill(6), issue.cell)


def _values_layout(item: ReceiptInput, settings: Settings) -> _Sheet:
    assert item.spec is not None
    record = item.record
    fields = settings.fields
    heads = ["序号", "牵头/配合", "任务", *[f.label for f in fields]]
    # the second column also holds the contact labels below the table (处室负责人：)
    label = max((display_width(f"{f.label}：") for f in settings.contact), default=8)
    widths = [6.0, max(8.0, label + 1.0), 24.0, *[30.0 if f.is_long_text else 12.0 for f in fields]]
    sheet = _Sheet(VALUES_SHEET, widths, freeze_header=True)
    sheet.cells += [_Cell(0, c, head, "head") for c, head in enumerate(heads)]
    by_cell: dict[tuple[str, str], list[Issue]] = {}
    for issue in record.issues:
        by_cell.setdefault((issue.task_id, issue.field), []).append(issue)

    def marked(r: int, c: int, value: Any, issues: list[Issue]) -> _Cell:
        if not issues:
            return _Cell(r, c, value, "text")
        worst = min((_category(i) for i in issues), key=lambda c: _STYLE_RANK[c[1]])[1]
        return _Cell(r, c, value, worst, "\n".join(i.message for i in issues)[:2000])

    for n, row in enumerate(item.spec.rows, start=1):
        values = record.values.get(row.task_id, {})
        name = row_name(row, settings.register)
        sheet.cells += [
            marked(n, 0, row.task_id, by_cell.get((row.task_id, ""), [])),
            _Cell(n, 1, role_label(row.role), "text"),
            _Cell(n, 2, name, "text"),
        ]
        wrapped = [(name, 24.0)]
        for c, f in enumerate(fields, start=3):
            value = values.get(f.key)
            sheet.cells.append(marked(n, c, value, by_cell.get((row.task_id, f.key), [])))
            if isinstance(value, str):
                wrapped.append((value, widths[c]))
        sheet.heights[n] = row_height(wrapped)
    r = len(item.spec.rows) + 2
    for f in settings.contact:
        sheet.cells.append(_Cell(r, 1, f"{f.label}：", "text"))
        sheet.cells.append(marked(r, 2, record.contact.get(f.key), by_cell.get(("", f.key), [])))
        r += 1
    return sheet


# --- writing it ---


def _write_xlsxwriter(sheets: list[_Sheet], settings: Settings) -> bytes:
    """Any receipt, comments included, through XlsxWriter."""
    buf = io.BytesIO()
    wb = new_workbook(buf)
    formats = {key: wb.add_format(spec) for key, spec in _styles(settings).items()}
    for n, sheet in enumerate(sheets):
        ws = wb.add_worksheet(sheet.name)
        for c, width in enumerate(sheet.widths):
            ws.set_column(c, c, width)
        for m in sheet.merges:
            ws.merge_range(
                m.first_row, m.first_col, m.last_row, m.last_col, m.value, formats[m.style]
            )
        for cell in sheet.cells:
            write_value(ws, cell.row, cell.col, cell.value, formats[cell.style])
            if cell.comment:
                ws.write_comment(
                    cell.row,
                    cell.col,
                    cell.comment,
                    {"author": "xlflow", "x_scale": 3, "y_scale": 3},
                )
        for row, height in sheet.heights.items():
            ws.set_row(row, height)
        if sheet.freeze_header:
            ws.freeze_panes(1, 0)
            ws.repeat_rows(0)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.set_footer("&C&9第 &P 页，共 &N 页")
        if n == 0:
            ws.activate()
    wb.close()
    return buf.getvalue()


def render_receipt(item: ReceiptInput, settings: Settings) -> bytes:
    """The receipt as xlsx bytes."""
    return _write_xlsxwriter(receipt_layout(item, settings), settings)


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
    """One receipt per division with a file (about its counted file, listing the others),
    and one per file that could not be identified."""
    divisions = dict.fromkeys(r.division for r in records if r.division)
    items = []
    for state in states_of(records, divisions):
        if not state.files:
            continue
        counted = state.counted or state.files[-1]
        items.append(
            ReceiptInput(
                state.division,
                rnd,
                counted,
                tuple(f for f in state.files if f is not counted),
                forms.get(state.division) if load_forms else None,
            )
        )
    unidentified = RoundState(rnd, (), tuple(records)).unidentified
    items += [ReceiptInput("", rnd, r, (), None) for r in unidentified]
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
    try:
        for index, outcome in pool.run(jobs):
            if isinstance(outcome, JobFailure):
                item, path = todo[index]
                full = ledger.file(rnd.id, item.record.path, item.record.sha256) or item.record
                item = replace(item, record=full, spec=forms.get(item.division))
                atomic_write(path, render_receipt(item, ws.settings), durable=False)  # once more
    finally:
        reader.close()  # used here when the pool runs in this process
    ledger.save_receipt_digests(rnd.id, fresh)
    return paths


_Job = tuple[str, FileRecord, tuple[FileRecord, ...], Path]


def _render_to(
    context: tuple[Settings, Round, Mapping[str, FormSpec], RecordReader], job: _Job
) -> Path:
    settings, rnd, forms, reader = context
    division, record, others, path = job
    full = reader.get(record.path, record.sha256) or record
    # the form sent is needed only to mark the values of a return with problems
    item = ReceiptInput(division, rnd, full, others, forms.get(division) if full.issues else None)
    atomic_write(path, render_receipt(item, settings), durable=False)
    return path


def receipts_for_round(ws: Workspace, round_id: str) -> tuple[Round, list[Path]]:
    """(Re)write the receipts of a round from the ledger, as `collect` does."""
    with folder_lock(ws.lock_path, "生成回执"), Ledger(ws.ledger_path) as ledger:
        rnd = ledger.load_round(round_id)
        forms = FormStore(ws.ledger_path, rnd)
        try:
            paths = write_receipts(ws, rnd, ledger.files(rnd.id, with_values=False), forms, ledger)
        finally:
            forms.close()
    return rnd, paths
