"""Which form a returned file is: its division and round, from the identity `generate`
stamped into it (verified by its signature), or, where that is gone, from its content.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..issues import Issue, IssueCode, error, has_errors, warning
from ..model import FormSpec, IntakeContext, Provenance
from ..reading.workbook import RawWorkbook, text_of
from ..signing import (
    IDENTITY_KEYS,
    META_SHEET,
    NAME_PREFIX,
    PROP_PREFIX,
    ROLLUP_PROPERTY,
    SCHEMA,
    before_digest,
    verify,
)
from ..text import decode_ooxml_escapes, repair_mojibake, task_id_text
from .locate import find_task_sheet, locate_table


@dataclass
class Metadata:
    values: dict[str, str]
    row_hashes: dict[str, str] | None
    sheet_name: str = ""
    sheet_visibility: str = ""
    copies: tuple[tuple[str, dict[str, str]], ...] = ()  # (where, its identity), repaired
    format: str = ""  # xlsx, xls or ods


def _unquote_name(text: str) -> str:
    text = text.strip()
    if text.startswith("="):
        text = text[1:]
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def _joined(source: Mapping[str, str], prefix: str, key: str, unquote: bool) -> str | None:
    first = source.get(prefix + key)
    if first is None:
        return None
    parts = [first]
    n = 2
    while (more := source.get(f"{prefix}{key}_{n}")) is not None:
        parts.append(more)
        n += 1
    return "".join(_unquote_name(p) if unquote else p for p in parts)


def read_metadata(raw: RawWorkbook) -> Metadata | None:
    """The identity written by `generate`, from every place it was put.

    Each copy is read as a writer may have left it: `_xHHHH_` escapes decoded and UTF-8
    that was read as Latin-1 repaired. Where the copies disagree, `values` holds the first
    and `identify` decides which one to believe: the one whose signature verifies.
    """
    sheet_values: dict[str, str] = {}
    row_hashes: dict[str, str] | None = None
    meta_sheet = raw.sheet(META_SHEET)
    if meta_sheet is None:
        meta_sheet = next((s for s in raw.sheets if text_of(s.cell(0, 0)) == "xlflow"), None)
    if meta_sheet is not None:
        in_table = False
        for row in meta_sheet.rows:
            key = text_of(row[0]) if row else ""
            value = text_of(row[1]) if len(row) > 1 else ""
            if key == "task_id":
                in_table, row_hashes = True, {}
                continue
            if in_table and row_hashes is not None and key:
                row_hashes[task_id_text(key)] = value
            elif key and key != "xlflow":
                sheet_values[key] = value
    from_names = {
        key: v
        for key in IDENTITY_KEYS
        if (v := _joined(raw.defined_names, NAME_PREFIX, key, True)) is not None
    }
    from_props = {
        key: v
        for key in IDENTITY_KEYS
        if (v := _joined(raw.properties, PROP_PREFIX, key, False)) is not None
    }
    copies = tuple(
        (name, {k: _repaired(v) for k, v in values.items()})
        for name, values in ((SHEET, sheet_values), (NAMES, from_names), (PROPERTIES, from_props))
        if values
    )
    if not copies:
        return None
    merged: dict[str, str] = {}
    for key in IDENTITY_KEYS:
        seen = [values[key] for _, values in copies if key in values]
        if seen:
            merged[key] = seen[0]
    for key, value in copies[0][1].items() if copies[0][0] == SHEET else ():
        merged.setdefault(key, value)
    meta = Metadata(
        values=merged,
        row_hashes=row_hashes,
        sheet_name=meta_sheet.name if meta_sheet is not None else "",
        sheet_visibility=meta_sheet.visibility if meta_sheet is not None else "",
        copies=copies,
        format=raw.format,
    )
    return meta


SHEET, NAMES, PROPERTIES = "工作表", "定义名称", "文档属性"


def rollup_issue(raw: RawWorkbook) -> Issue | None:
    """A form rolled up by a unit from its own units' answers (`xlflow roll-up`) says so in
    a property: the provenance, shown on the receipt, the 来源 sheet and the console."""
    text = _joined(raw.properties, PROP_PREFIX, ROLLUP_PROPERTY, False)
    if not text:
        return None
    try:
        provenance = Provenance.from_dict(json.loads(text))
    except (ValueError, TypeError, AttributeError):
        return None  # a damaged note of provenance is no reason to refuse the answers
    files = "、".join(
        f"{unit}：{name}（sha256 {sha[:12]}…）" for unit, name, sha in provenance.files
    )
    return warning(
        IssueCode.ROLLED_UP,
        f"本表由{provenance.unit}汇总其下级单位的报送后上报：{provenance.line}"
        + (f"下级报送文件：{files}。" if files else ""),
    )


# the copies that survive Excel, WPS and LibreOffice in each format: a missing one says a
# program outside them rewrote the file (an .xls or .ods saved by LibreOffice keeps no
# string names xlflow reads, and an .xls no custom properties)
_CARRIED = {"xlsx": (SHEET, NAMES, PROPERTIES), "xls": (SHEET,), "ods": (SHEET, PROPERTIES)}


def _repaired(value: str) -> str:
    return repair_mojibake(decode_ooxml_escapes(value)).strip()


def _same(key: str, a: str, b: str) -> bool:
    if key == "schema":  # LibreOffice turns number properties into floats: 1 -> 1.0
        return a.removesuffix(".0") == b.removesuffix(".0")
    if key == "tasks":  # the same list, however a writer spaced or quoted it
        return bool(_loads(a, a) == _loads(b, b))
    return a == b


def _disagreements(copies: tuple[tuple[str, dict[str, str]], ...]) -> list[tuple[str, str]]:
    """(key, the copies' values shown) for each signed key the copies do not agree on."""
    out = []
    for key in IDENTITY_KEYS:
        seen = [(name, values[key]) for name, values in copies if key in values]
        if any(not _same(key, seen[0][1], v) for _, v in seen[1:]):
            out.append((key, "；".join(f"{name}：{v[:40]}" for name, v in seen)))
    return out


@dataclass(frozen=True)
class Identity:
    division: str
    round: str
    spec: FormSpec | None
    sheet_hint: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    contact: dict[str, str] = field(default_factory=dict)


def _loads(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return default


def _verified_copy(meta: Metadata, ctx: IntakeContext) -> tuple[str, dict[str, str]] | None:
    """The first copy of the identity whose signature verifies, with where it was."""
    for name, copy in meta.copies:
        tasks = _loads(copy.get("tasks", ""), None)
        if not isinstance(tasks, list) or not all(
            isinstance(t, str | int) and not isinstance(t, bool) for t in tasks
        ):
            continue
        task_ids = tuple(str(t) for t in tasks)
        division, round_id = copy.get("division", ""), copy.get("round", "")
        spec = ctx.forms.get(division) if round_id == ctx.round.id else None
        if meta.row_hashes is not None:
            hashes = tuple(meta.row_hashes.get(t, "") for t in task_ids)
        else:
            hashes = spec.row_hashes if spec is not None else ()
        signature = copy.get("signature", "")
        if (
            signature
            and division
            and verify(
                ctx.secret,
                signature,
                round_id=round_id,
                division=division,
                task_ids=task_ids,
                row_hashes=hashes,
                before=before_digest(spec.before_round, spec.rows)
                if spec is not None
                else copy.get("before", ""),
            )
        ):
            return name, copy
    return None


def _copy_notes(
    meta: Metadata, chosen: tuple[str, dict[str, str]], differ: list[tuple[str, str]]
) -> list[Issue]:
    """What the coordinator should know about the copies that are not the signed one:
    one that names another division or round, one that is mangled, one that is missing."""
    where, signed = chosen
    notes: list[Issue] = []
    for key, shown in differ:
        if key in ("division", "round"):
            message = (
                f"文件中签名核验通过的识别信息（{where}）为“{signed.get(key, '')}”，"
                f"但另一份副本写的是别的{'处室' if key == 'division' else '轮次'}（{shown}）。"
                "已按签名核验通过的一份处理；请核实这份文件是否被拼接或改动过。"
            )
        else:
            message = (
                f"文件中识别信息的副本被其他软件改写过（{key}：{shown}）；"
                f"已按签名核验通过的一份（{where}）处理，不影响采用。"
            )
        notes.append(warning(IssueCode.METADATA_COPY_DIFFERS, message))
    present = {name for name, _ in meta.copies}
    missing = [name for name in _CARRIED.get(meta.format, ()) if name not in present]
    if missing:
        notes.append(
            warning(
                IssueCode.METADATA_COPY_DIFFERS,
                f"保存这份文件的软件去掉了识别信息的副本（{'、'.join(missing)}）；"
                f"已按签名核验通过的一份（{where}）处理，不影响采用。",
            )
        )
    return notes


def _identity_shapes(
    values: Mapping[str, str],
) -> tuple[tuple[str, ...] | None, dict[str, dict[str, str]], list[Issue]]:
    """The task list and the column and contact hints, checked for their JSON shape.

    The task list is signed: one that is not a list of ids cannot be verified. The hints
    are not signed and only help find cells, so a mangled one is ignored with a warning.
    """
    issues: list[Issue] = []
    tasks = _loads(values.get("tasks", "[]"), None)
    task_ids: tuple[str, ...] | None = None
    if isinstance(tasks, list) and all(
        isinstance(t, str | int) and not isinstance(t, bool) for t in tasks
    ):
        task_ids = tuple(str(t) for t in tasks)
    else:
        issues.append(
            error(
                IssueCode.METADATA_INVALID,
                "文件中隐藏的识别信息格式不对（任务清单不是一组序号），无法核验这是哪份表格，已拒收。"
                "请使用下发给本处室的原表重新填写后报送。",
            )
        )
    hints: dict[str, dict[str, str]] = {}
    for key, what in (("columns", "填报列的位置"), ("contact", "联系人栏的位置")):
        value = _loads(values.get(key, "{}"), None)
        if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            hints[key] = value
        else:
            hints[key] = {}
            issues.append(
                warning(
                    IssueCode.METADATA_INVALID,
                    f"文件中隐藏的识别信息里“{what}”格式不对，已忽略，改按表头查找。不影响采用。",
                )
            )
    return task_ids, hints, issues


def identify(
    raw: RawWorkbook, ctx: IntakeContext, filename: str
) -> tuple[Identity | None, list[Issue]]:
    """Which division and round a file is, from its metadata or, failing that, its content."""
    meta = read_metadata(raw)
    issues: list[Issue] = []
    if meta is None:
        return _identify_by_content(raw, ctx, filename)
    chosen = _verified_copy(meta, ctx)
    values, notes = _chosen_values(meta, chosen)
    issues += notes
    division = values.get("division", "")
    round_id = values.get("round", "")
    if has_errors(issues):
        return Identity(division, round_id, None), issues
    if meta.sheet_visibility == "visible":
        issues.append(
            warning(
                IssueCode.METADATA_VISIBLE,
                f"隐藏的识别工作表“{meta.sheet_name}”被取消隐藏了。不影响采用，但请勿修改它。",
                sheet=meta.sheet_name,
            )
        )
    schema = values.get("schema", "").removesuffix(".0")
    if schema and schema != str(SCHEMA):
        issues.append(
            error(
                IssueCode.SCHEMA_UNSUPPORTED,
                f"这是另一版本 xlflow 生成的表格（schema {schema}），本版本无法核验。请使用本次下发的表格。",
            )
        )
        return Identity(division, round_id, None), issues
    task_ids, hints, shape_issues = _identity_shapes(values)
    issues += shape_issues
    if task_ids is None:
        return Identity(division, round_id, None), issues
    spec = ctx.forms.get(division) if round_id == ctx.round.id else None
    # the identity is a copy whose signature verified, or nothing verified
    genuine = chosen is not None
    if not genuine:
        issues.append(
            error(
                IssueCode.SIGNATURE_INVALID,
                f"文件自称是“{division or '（空）'}”{round_id or ''}的填报表，但签名核验不通过："
                "隐藏的识别信息被改动过，或不是本办公室下发的表格。已拒收。请使用下发给本处室的原表填写。",
            )
        )
        return Identity(division, round_id, None), issues
    if round_id != ctx.round.id:
        issues.append(_wrong_round(ctx, division, round_id))
        return Identity(division, round_id, None), issues
    if spec is None or spec.task_ids != task_ids:
        issues.append(
            error(
                IssueCode.SIGNATURE_INVALID,
                f"文件是“{division}”的表格，但与本轮次下发的表格不一致（可能是重新生成前的旧表）。请使用最新下发的表格。",
            )
        )
        return Identity(division, round_id, None), issues
    return (
        Identity(
            division,
            round_id,
            spec,
            sheet_hint=values.get("sheet", ""),
            columns=hints["columns"],
            contact=hints["contact"],
        ),
        issues,
    )


def _chosen_values(
    meta: Metadata, chosen: tuple[str, dict[str, str]] | None
) -> tuple[dict[str, str], list[Issue]]:
    """The identity's values: the copy whose signature verified (the others are only
    redundancy, their differences noted), else the first, each disagreement an error."""
    differ = _disagreements(meta.copies)
    if chosen is not None:
        return {**meta.values, **chosen[1]}, _copy_notes(meta, chosen, differ)
    issues = [
        error(
            IssueCode.METADATA_CONFLICT,
            f"文件中隐藏的识别信息前后不一致（{key}：{shown}），且没有一份能通过签名核验，"
            "可能被改动或拼接过。请使用下发给本处室的原表重新填写。",
        )
        for key, shown in differ
    ]
    return meta.values, issues


def _wrong_round(ctx: IntakeContext, division: str, round_id: str) -> Issue:
    """A form of another round: named, with both register versions and what changed."""
    older = ctx.older.get(round_id)
    if older is not None:
        what = older.changed.get(division, "")
        text = (
            f"这是“{older.round.title}”（{round_id}）的填报表，按任务清单第 {older.then} 版生成；"
            f"本次收集的“{ctx.round.title}”（{ctx.round.id}）使用第 {older.now} 版，"
            + (f"{division}的任务有变化：{what}。" if what else f"{division}的任务没有变化。")
            + "请使用本轮次下发的表格重新填报。"
        )
    else:
        text = (
            f"这是“{round_id}”轮次的填报表，本次收集的是“{ctx.round.title}”（{ctx.round.id}）。"
            "请使用本轮次下发的表格重新填报。"
        )
    return error(IssueCode.WRONG_ROUND, text)


def _identify_by_content(
    raw: RawWorkbook, ctx: IntakeContext, filename: str
) -> tuple[Identity | None, list[Issue]]:
    """No metadata at all (pasted into a new workbook): match task ids and text."""
    sheet = find_task_sheet(raw, ctx.settings)
    unidentified = error(
        IssueCode.UNIDENTIFIED,
        "无法识别这是哪个处室的填报表：文件中没有 xlflow 的识别信息，任务序号也对不上任何处室。"
        "请使用下发给本处室的原表填写后重新报送。",
    )
    if sheet is None:
        return None, [unidentified]
    table, _ = locate_table(sheet, None, ctx.settings)
    if table is None:
        return None, [unidentified]
    ids = set()
    for r in range(table.header_row + 1, len(sheet.rows)):
        tid = task_id_text(sheet.cell(r, table.id_col))
        if tid:
            ids.add(tid)
    head_text = " ".join(text_of(c) for row in sheet.rows[: table.header_row] for c in row)
    scored = []
    for division, spec in ctx.forms.items():
        expected = set(spec.task_ids)
        overlap = len(ids & expected) / max(1, len(ids | expected))
        named = f"填报单位：{division}" in head_text or division in filename
        scored.append((overlap + (0.5 if named else 0.0), overlap, division))
    scored.sort(reverse=True)
    if not scored or scored[0][1] < 0.5 or (len(scored) > 1 and scored[0][0] == scored[1][0]):
        return None, [unidentified]
    division = scored[0][2]
    return Identity(division, ctx.round.id, ctx.forms[division]), [
        warning(
            IssueCode.IDENTIFIED_BY_CONTENT,
            f"文件中没有 xlflow 的识别信息（可能把内容复制到了新文件），已按任务序号和内容识别为“{division}”的填报表。"
            "以后请直接在下发的原表中填写。",
        )
    ]


def filename_warning(filename: str, division: str, all_divisions: Iterable[str]) -> Issue | None:
    if division in filename:
        return None
    others = [d for d in all_divisions if d != division and d in filename]
    if not others:
        return None
    return warning(
        IssueCode.FILENAME_MISMATCH,
        f"文件名中写的是“{others[0]}”，但内容是“{division}”的填报表，已按“{division}”处理。请核实是否发错了文件。",
    )
