"""填报说明, the instructions sheet: each field in words, the rules, and whom to call."""

from __future__ import annotations

from typing import Any

from ..config.fields import describe_field
from ..config.model import EXPLANATION_KEY, Settings
from ..excel import (
    row_height,
)
from ..model import FormSpec, Role
from ..plausibility import (
    RULE_LABELS,
    asked_rules,
    describe_rule,
)
from ..wording import deadline_text
from .formats import Formats
from .selfcheck import (
    COMPLETE,
)


def write_instructions(ws: Any, fmt: Formats, spec: FormSpec, settings: Settings) -> None:
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 90)
    ws.merge_range(0, 0, 0, 1, f"{spec.title}　填报说明", fmt.note_title)
    ws.set_row(0, 34)
    lead = sum(1 for r in spec.rows if r.role is Role.LEAD)
    coop = len(spec.rows) - lead
    office = settings.office
    contact = "，".join(x for x in (office.name, office.contact, office.phone, office.email) if x)
    by_key = settings.field_by_key
    rules = "\n".join(
        f"{f.label}："
        + (f"标为橙色的行填写原因，不超过 {f.max_length} 字；其他行不用填"
           if f.key == EXPLANATION_KEY else describe_field(f, by_key))
        for f in settings.fields
    )  # fmt: skip
    contact_rules = "、".join(
        f.label + ("（必填）" if f.required else "") for f in settings.contact
    )
    steps = [
        f"1. 在“{settings.form.sheet}”工作表中逐项填写本处室承担的 {len(spec.rows)} 项任务"
        f"（牵头 {lead} 项，配合 {coop} 项）。",
        "2. 只在浅黄色底纹的单元格中填写；任务内容、目标等已锁定，请勿修改，也不要插入、删除行或调整表格结构。",
        "3. 牵头任务请填写任务总体进展；配合任务请填写本处室承担部分的进展。",
        f"4. 在表格下方填写{contact_rules}。",
        "5. 填好后直接保存（Excel 或 WPS 均可，保存为 .xlsx 或 .xls），文件名可以不改，按时限通过邮件报送。"
        "请不要把内容复制到新建的文件中，否则系统无法识别。",
        "6. 报送后如需更正，修改原文件后重新报送即可，以最后收到的一份为准。",
    ]
    shared = sorted({r.collective for r in spec.rows if r.collective})
    if shared:
        steps.append(
            f"{len(steps) + 1}. 其中{'、'.join(f'“{c}”' for c in shared)}的任务由各成员单位分别填报："
            "请只填写本单位的情况，汇总时与其他成员的报送一并列示。"
        )
    if spec.prefill_from:
        steps.append(
            f"{len(steps) + 1}. 浅蓝色底纹的单元格已填入上一轮次（{spec.prefill_from}）的报送内容，请逐项核对并更新为本期情况。"
        )
    explanation = settings.explanation_field
    if asked_rules(settings) and explanation is not None:
        steps.append(
            f"{len(steps) + 1}. 数字或情况需要解释的行（如进度比上次低）会标为橙色：请在该行的"
            f"“{explanation.label}”栏写明原因，写好后该行变为绿色。其他行不用填写“{explanation.label}”。"
        )
    rows = [
        ("填报单位", spec.division),
        ("填报轮次", spec.round.title),
        ("报送时限", deadline_text(spec.round.deadline)),
        ("任务数量", f"{len(spec.rows)} 项（牵头 {lead} 项，配合 {coop} 项）"),
        ("填报步骤", "\n".join(steps)),
        ("各列要求", rules),
        (
            "自动检查",
            f"“{settings.form.sheet}”工作表标题下方的一行随填写自动更新：还有未填或不符合要求的内容时，"
            "显示“还有 N 处需要填写或修改（标红的单元格）”，相应单元格标为红色——必填项为空、"
            "不是下拉列表中的选项、数字超出范围或不是数字、超过字数上限、"
            "需要同时填写的内容未填（如完成状态为“进度滞后”时的存在问题），以及表格下方的填报人、联系电话。"
            f"全部改好后显示“{COMPLETE}”。",
        ),
        *explain_rows(spec, settings),
        ("联系方式", contact or "见通知"),
    ]
    for k, (label, text) in enumerate(rows, start=2):
        ws.write_string(k, 0, label, fmt.note_label)
        ws.write_string(k, 1, text, fmt.note_text)
        # a line to spare: the text is 11 pt and wraps a little sooner than estimated
        ws.set_row(k, row_height([(text, 90)]) + (15 if "\n" in text else 0))
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 1)  # one sheet of paper: the instructions are read before the form
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.set_footer("&C&9第 &P 页，共 &N 页")
    if settings.form.protect:
        ws.protect(settings.form.password)


def explain_rows(spec: FormSpec, settings: Settings) -> list[tuple[str, str]]:
    """The 填报说明 rows on 说明: when a row turns amber, and what the office does with it."""
    rules = asked_rules(settings)
    explanation = settings.explanation_field
    if not rules or explanation is None:
        return []
    then = f"（{spec.before_round}）" if spec.before_round else ""
    lines = [f"{n}. {describe_rule(r, settings)}" for n, r in enumerate(rules, start=1)]
    refused = [RULE_LABELS[r.name] for r in rules if r.severity == "error"]
    tail = [
        f"这些数字可能是真实的，只需说明原因，不必改动。与上一轮次{then}的比较按本单位当时报送并被采用的内容。",
        "标橙的行未写说明也可以报送，汇总单位会记下并可能再次询问；"
        + (f"其中“{'、'.join(refused)}”未说明的，本表将被退回。" if refused else "")
        + "说明会随数值一并报给领导。",
    ]
    return [
        (
            f"{explanation.label}栏",
            "以下情况该行标为橙色，请在“"
            + explanation.label
            + "”栏写明原因（写好后变为绿色）：\n"
            + "\n".join(lines + tail),
        )
    ]
