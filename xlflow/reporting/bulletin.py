"""The Word 通报 of a round: its figures, from the ledger, written into the office's template.

Every number comes from the same pass over the ledger that writes the consolidated workbook
(`workbook.figures.consolidate`), so the document and the 汇总表 never disagree. The document
itself is the office's own Word template with Jinja2 fields (docxtpl): an office changes
its letterhead, wording or 文号 in Word, and every field it may use is in `report_context`
and docs/report.md.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate  # type: ignore[import-untyped]
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import Invalid, NotFound
from ..files import atomic_write, folder_lock, sweep_temp_files
from ..model import Round
from ..standing import Standing
from ..text import safe_filename, without_invalid_xml
from ..wording import deadline_text, task_label
from ..workspace import REPORT_TEMPLATE, Workspace, bundled_file
from .scorecard import Scorecard, scorecard
from .tasks import status_change
from .workbook.figures import Consolidation, TaskRow, consolidate

LINE_CHARS = 45  # of 进展情况 in the appendix: its first sentence, cut here


@dataclass(frozen=True)
class ReportResult:
    path: Path
    context: dict[str, Any]  # every figure and text the template was given

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), **self.context}


def _number(value: Any) -> float | int | None:
    """A percent as a number, or None where the lead reported none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _share(count: int, total: int) -> str:
    """A share as the 总览 sheet shows it (0.0%)."""
    return f"{count / total:.1%}" if total else "0.0%"


def one_line(text: str, limit: int = LINE_CHARS) -> str:
    """The first sentence of a text, cut at `limit` characters with an ellipsis."""
    whole = text.strip()
    first = re.split(r"(?<=[。；！？;!?])|\n", whole, maxsplit=1)[0].strip()
    if len(first) > limit:
        return first[:limit] + "……"
    return first + ("……" if first != whole else "")


def _quoted(text: str) -> str:
    """A division's words on one line, as quoted in a sentence."""
    return "；".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _listed(names: list[str]) -> str:
    return "、".join(names)


_DIGITS = "〇一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 -> 一, 10 -> 十, 12 -> 十二, 20 -> 二十, 99 -> 九十九; 100 and more in digits."""
    if not 0 < n < 100:
        return str(n)
    tens, units = divmod(n, 10)
    if tens == 0:
        return _DIGITS[units]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[units] if units else "")


def _date_text(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


class _Tasks:
    """What the document says about tasks, gathered as the consolidation pass goes by."""

    def __init__(self, ws: Workspace) -> None:
        self.settings = ws.settings
        self.rank = {s: i for i, s in enumerate(self.settings.status_order)}
        self.appendix: list[dict[str, Any]] = []
        self.lagging: list[dict[str, Any]] = []
        self.worsened: list[dict[str, Any]] = []
        self.by_group: dict[str, list[dict[str, Any]]] = {}

    def add(self, row: TaskRow) -> None:
        settings, report = self.settings, self.settings.report
        state, task = row.state, row.state.task
        name = task_label(task, settings.register)
        lead = _listed(list(task.lead)) or _listed(list(task.cooperating))
        progress = state.texts.get(settings.status.progress_field, "")
        percent = _number(state.percent)
        item = {
            "no": len(self.appendix) + 1,
            "id": task.id,
            "name": name,
            "group": task.group,
            "lead": lead,
            "status": state.status,
            "percent": percent,
            "percent_text": f"{percent:g}%" if percent is not None else "",
            "progress": _quoted(progress),
            "progress_line": one_line(progress),
            "problems": _quoted(state.texts.get(report.problems_field, "")),
            "next_steps": _quoted(state.texts.get(report.next_steps_field, "")),
        }
        self.appendix.append(item)
        self.by_group.setdefault(task.group, []).append(item)
        if state.status in report.lagging:
            self.lagging.append({**item, "index": len(self.lagging) + 1})
        if len(row.history) > 1:
            before = row.history[-2][0]
            if status_change(self.rank, before, state.status) == "worsened":
                self.worsened.append({**item, "before": before})

    def order_key(self, item: dict[str, Any]) -> tuple[int, float]:
        """Further along first: a better status, then a higher percent."""
        rank = self.rank.get(item["status"], len(self.rank))
        percent = item["percent"] if item["percent"] is not None else -1.0
        return (rank, -percent)


def _counts(data: Consolidation, statuses: list[str], total: int) -> list[dict[str, Any]]:
    return [
        {
            "status": s,
            "count": data.statuses.get(s, 0),
            "share": _share(data.statuses.get(s, 0), total),
        }
        for s in statuses
    ]


def _shares(counts: list[dict[str, Any]]) -> str:
    return "；".join(f"{c['status']}{c['count']}项，占{c['share']}" for c in counts)


def _groups(data: Consolidation, tasks: _Tasks, statuses: list[str]) -> list[dict[str, Any]]:
    out = []
    for k, (group, counter) in enumerate(data.groups.items(), start=1):
        items = tasks.by_group.get(group, [])
        total = sum(counter.values())
        counts = [{"status": s, "count": counter.get(s, 0)} for s in statuses if counter.get(s)]
        reported = [i for i in items if i["status"] in tasks.rank]
        ranked = sorted(reported, key=tasks.order_key)
        # a group whose tasks all stand alike has no most advanced and most behind
        differ = len(ranked) > 1 and tasks.order_key(ranked[0]) != tasks.order_key(ranked[-1])
        most_advanced = ranked[0] if differ else None
        most_behind = ranked[-1] if differ else None
        sentence = (
            f"共{total}项，其中" + "，".join(f"{c['status']}{c['count']}项" for c in counts) + "。"
        )
        if most_advanced is not None and most_behind is not None:
            sentence += (
                f"进展最快的是“{most_advanced['name']}”（{most_advanced['lead']}，"
                f"{most_advanced['status']}{_progress_of(most_advanced)}）；"
                f"最慢的是“{most_behind['name']}”（{most_behind['lead']}，"
                f"{most_behind['status']}{_progress_of(most_behind)}）。"
            )
        out.append(
            {
                "index": k,
                "number": f"（{chinese_numeral(k)}）",
                "name": group or "未分组",
                "tasks": total,
                "counts": counts,
                "most_advanced": most_advanced,
                "most_behind": most_behind,
                "sentence": sentence,
            }
        )
    return out


def _progress_of(item: dict[str, Any]) -> str:
    return f"，完成{item['percent_text']}" if item["percent_text"] else ""


def _returns(data: Consolidation) -> dict[str, Any]:
    on_time = [d.division for d in data.divisions if d.standing is Standing.ACCEPTED and not d.late]
    late = [d.division for d in data.divisions if d.standing is Standing.ACCEPTED and d.late]
    rejected = [d.division for d in data.divisions if d.standing is Standing.REJECTED]
    missing = [d.division for d in data.divisions if d.standing is Standing.MISSING]
    expected = len(data.divisions)
    parts = [f"应报送处室{expected}个，已报送并采用{len(on_time) + len(late)}个"]
    if late:
        parts.append(f"其中按时报送{len(on_time)}个、逾期报送{len(late)}个（{_listed(late)}）")
    else:
        parts.append("均按时报送")
    if rejected:
        parts.append(f"报送后退回修改、尚未采用{len(rejected)}个（{_listed(rejected)}）")
    parts.append(f"未报送{len(missing)}个" + (f"（{_listed(missing)}）" if missing else ""))
    extended = [
        f"{d.division}延期至{_date_text(d.extension.until)}"
        for d in data.divisions
        if d.extension is not None
    ]
    if extended:
        parts.append("经同意延期报送的：" + "、".join(extended))
    return {
        "extended": extended,
        "expected": expected,
        "accepted": len(on_time) + len(late),
        "on_time": on_time,
        "late": late,
        "rejected": rejected,
        "missing": missing,
        "on_time_count": len(on_time),
        "late_count": len(late),
        "rejected_count": len(rejected),
        "missing_count": len(missing),
        "sentence": "，".join(parts) + "。",
    }


def report_context(ws: Workspace, round_id: str) -> dict[str, Any]:
    """Every figure and text of a round's 通报, as the template's fields (docs/report.md)."""
    return _context(ws, round_id)[1]


def _context(ws: Workspace, round_id: str) -> tuple[Round, dict[str, Any]]:
    tasks = _Tasks(ws)
    data = consolidate(ws, round_id, tasks.add)
    settings, rnd = ws.settings, data.round
    missing_label = settings.status.missing_label
    statuses = [*settings.status_order, missing_label]
    statuses += [s for s in data.statuses if s not in statuses]
    total = data.tasks
    counts = _counts(data, statuses, total)
    percents = [i["percent"] for i in tasks.appendix if i["percent"] is not None]
    average = sum(percents) / len(percents) if percents else None
    issued = data.made_at.date()
    fill = {"office": settings.office.name, "round": rnd.title, "year": rnd.year or issued.year}
    comparison = None
    if data.changes and len(data.rounds) > 1:
        comparison = {
            "previous": data.rounds[-2].title,
            "improved": data.changes["improved"],
            "worsened": data.changes["worsened"],
            "same": data.changes["same"],
            "not_comparable": data.changes["not_comparable"],
            "worsened_tasks": tasks.worsened,
            "sentence": (
                f"与{data.rounds[-2].title}相比，完成状态好转的{data.changes['improved']}项，"
                f"退后的{data.changes['worsened']}项，未变的{data.changes['same']}项"
                + (
                    f"，无法比较的（两轮之一未报送）{data.changes['not_comparable']}项"
                    if data.changes["not_comparable"]
                    else ""
                )
                + "。"
            ),
        }
    returns = _returns(data)
    return rnd, {
        "office": settings.office.name,
        "title": settings.report.title.format(**fill),
        "document_number": settings.report.document_number.format(**fill),
        "round": {
            "id": rnd.id,
            "title": rnd.title,
            "year": rnd.year,
            "deadline": deadline_text(rnd.deadline),
        },
        "recipients": [d.division for d in data.divisions],
        "recipients_line": _listed([d.division for d in data.divisions]) + "：",
        "date": _date_text(issued),
        "overall": {
            "tasks": total,
            "counts": counts,
            "by_status": {c["status"]: c["count"] for c in counts},
            "sentence": f"本轮共有重点任务{total}项。其中" + _shares(counts) + "。",
            "average_percent": round(average, 1) if average is not None else None,
            "average_text": f"{average:.1f}%" if average is not None else "",
            "with_percent": len(percents),
            "conflicts": data.conflicts,
        },
        "returns": returns,
        "groups": _groups(data, tasks, statuses),
        "lagging": tasks.lagging,
        "lagging_statuses": "、".join(settings.report.lagging),
        "comparison": comparison,
        "appendix": tasks.appendix,
        "scorecard": _assessment(scorecard(ws, rnd.year, rnd.id)),
        "explanations": _explanations(data),
    }


def _explanations(data: Consolidation) -> dict[str, Any]:
    """需说明事项 as template fields: each flagged row with its 说明, and a sentence."""
    items = [
        {**f.to_dict(), "task": data.names.get(f.task_id, ""), "situation": f.situation}
        for f in data.flags
    ]
    explained = [i for i in items if i["state"] in ("explained", "asked_again")]
    wanting = [i for i in items if i["state"] == "unexplained"]
    sentence = ""
    if items:
        sentence = f"本轮有{len(items)}处数值需要说明，已说明{len(explained)}处"
        if wanting:
            who = sorted({i["division"] for i in wanting})
            sentence += f"，尚未说明{len(wanting)}处（{_listed(who)}）"
        sentence += "。"
    return {
        "items": items,
        "explained": explained,
        "unexplained": wanting,
        "count": len(items),
        "sentence": sentence,
    }


def _assessment(card: Scorecard) -> dict[str, Any]:
    """The year's scorecard as template fields: each division's figures, and a sentence."""
    divisions = [d.to_dict() for d in card.divisions]
    for d in divisions:
        rate = d["on_time_rate"]
        d["on_time_text"] = f"{rate * 100:.0f}%" if rate is not None else ""
    late = [d["division"] for d in divisions if d["late"]]
    never = [d["division"] for d in divisions if d["never"]]
    reworked = [d["division"] for d in divisions if d["after_rework"]]
    parts = [f"{card.year or ''}年以来共{len(card.rounds)}个轮次"]
    if late:
        parts.append(f"有逾期报送的{len(late)}个（{_listed(late)}）")
    if never:
        parts.append(f"有未报送轮次的{len(never)}个（{_listed(never)}）")
    if reworked:
        parts.append(f"经退回修改后才通过的{len(reworked)}个（{_listed(reworked)}）")
    if not (late or never):
        parts.append("各单位均按时报送")
    return {
        "year": card.year,
        "rounds": [r.title for r in card.rounds],
        "divisions": divisions,
        "sentence": "，".join(parts) + "。",
    }


def template_path(ws: Workspace, template: Path | None) -> Path | None:
    """The template to use: the one given, else the working folder's, else None (bundled)."""
    if template is not None:
        if not template.is_file():
            raise NotFound(
                f"找不到通报模板 {template}；不给 --template 时使用 templates/{REPORT_TEMPLATE}"
            )
        return template
    own = ws.root / ws.settings.report.template
    return own if own.is_file() else None


def output_path(ws: Workspace, rnd: Round) -> Path:
    name = f"{ws.settings.office.name}{rnd.title}重点任务推进情况-通报"
    return ws.round_dir(rnd) / f"{safe_filename(name)}.docx"


def _xml_safe(value: Any) -> Any:
    """The context without the control characters a cell may hold and XML may not."""
    if isinstance(value, str):
        return without_invalid_xml(value)
    if isinstance(value, dict):
        return {k: _xml_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_xml_safe(v) for v in value]
    return value


def render_report(template: bytes, context: dict[str, Any]) -> bytes:
    """The document: the template with its fields filled, every text escaped."""
    # a misspelt field is an error, not an empty place in the document; and a template is
    # a file from outside, so it runs sandboxed
    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
    try:
        doc = DocxTemplate(io.BytesIO(template))
        doc.render(_xml_safe(context), env)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Invalid(f"通报模板不是可用的 Word 文档（.docx）：{exc}") from None
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"（第 {line} 处）" if line else ""
        raise Invalid(
            f"通报模板中的字段写法有误{where}：{exc}。字段写法见 docs/report.md，"
            "如 {{ overall.tasks }}、{%p for t in lagging %}"
        ) from None
    out = io.BytesIO()
    doc.save(out)
    return _stable_zip(out.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """The same package with a fixed time on every member, so that the same ledger gives
    the same file, byte for byte (python-docx stamps each member with the clock)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            fixed = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = item.external_attr
            zout.writestr(fixed, zin.read(item))
    return out.getvalue()


def write_report(ws: Workspace, round_id: str, template: Path | None = None) -> ReportResult:
    """Write outbox/ROUND/<office><round>重点任务推进情况-通报.docx atomically."""
    source = template_path(ws, template)
    body = source.read_bytes() if source else bundled_file(REPORT_TEMPLATE)
    with folder_lock(ws.lock_path, "通报"):
        sweep_temp_files(ws.outbox)
        rnd, context = _context(ws, round_id)
        document = render_report(body, context)
        path = output_path(ws, rnd)
        atomic_write(path, document)
    return ReportResult(path, context)
