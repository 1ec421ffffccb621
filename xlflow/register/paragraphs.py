"""Registers written as paragraphs: numbered tasks in a Word document, no table.

Two ways of naming the units are common:

- State Council style, in brackets at the end of the task:
  `1.拓展两个市场。……（税务总局、财政部、海关总署负责，排在第一位的部门为牵头部门，下同）`,
  `（A牵头，B、C配合）`, `（商务部、海关总署等有关部门负责）`;
- a district's 分解方案, on lines after the task: `牵头单位：区工信局`,
  `责任单位：高新区管委会，各街道`, with `责任领导：` and `完成时限：` beside them.

A task is a numbered paragraph that names its units. The headings above the tasks
(`一、……`, `（一）……`) become groups; the preamble and the closing requirements, which
name no units, are not tasks.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.model import RegisterSettings
from ..errors import RegisterError
from ..model import Register, Task
from ..units import open_list_note, parse_units

ID_HEADER = "序号"
NAME_HEADER = "任务名称"
CONTENT_HEADER = "任务内容"
LEAD_HEADER = "牵头单位"
COOP_HEADER = "配合单位"
DEADLINE_HEADER = "完成时限"
LEADER_HEADER = "责任领导"

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBERING = (
    (1, re.compile(r"^([一二三四五六七八九十百]+)[、．.]\s*")),
    (2, re.compile(r"^[（(]([一二三四五六七八九十百]+)[)）]\s*")),
    (3, re.compile(r"^(\d{1,3})[.．、](?!\d)\s*")),
    (4, re.compile(r"^[（(](\d{1,3})[)）]\s*")),
    (5, re.compile(r"^(\d{1,3})[)）]\s*")),
)
_LEAD_LABELS = ("牵头单位", "牵头部门", "牵头处室", "主要责任单位", "主责单位", "责任主体")
_COOP_LABELS = (
    "协同配合单位",
    "配合单位",
    "配合部门",
    "配合处室",
    "协办单位",
    "参与单位",
    "协同单位",
)
_UNIT_LABELS = ("责任单位", "责任部门", "责任处室", "承办单位", "实施单位")
_LEADER_LABELS = (
    "区政府分管领导", "县政府分管领导", "市政府分管领导", "分管区领导", "责任领导",
    "分管领导", "牵头领导", "联系领导", "责任人",
)  # fmt: skip
_DEADLINE_LABELS = ("完成时限", "时间节点", "完成时间", "时限要求", "办结时限")
_ALL_LABELS = sorted(
    _LEAD_LABELS + _COOP_LABELS + _UNIT_LABELS + _LEADER_LABELS + _DEADLINE_LABELS,
    key=len,
    reverse=True,
)
_LABEL = re.compile("(" + "|".join(_ALL_LABELS) + r")\s*[:：]\s*")
_ROLE_WORDS = re.compile(r"负责|牵头|配合|参与|协办|单位[:：]|部门[:：]")


def chinese_number(text: str) -> int:
    """一 -> 1, 十二 -> 12, 二十 -> 20 (enough for section numbers)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + _CN_DIGITS.get(units, 0)
    return _CN_DIGITS.get(text, 0)


@dataclass
class _Block:
    """A numbered paragraph and the lines that belong to it."""

    index: int  # 1-based paragraph number
    level: int
    number: str
    text: str
    labels: dict[str, str] = field(default_factory=dict)  # label -> text
    bracket: str = ""  # the units in brackets at the end of the text
    closed: bool = False  # its units were named: plain text after it is not its own


def _numbering(text: str) -> tuple[int, str, str] | None:
    for level, pattern in _NUMBERING:
        m = pattern.match(text)
        if m:
            return level, m.group(1), text[m.end() :]
    return None


def _trailing_bracket(text: str) -> tuple[str, str]:
    """(text without it, the units in a bracket at the very end), or (text, '')."""
    body = text.rstrip("。；; \t")
    if not body.endswith(("）", ")")):
        return text, ""
    depth = 0
    for i in range(len(body) - 1, -1, -1):
        ch = body[i]
        if ch in "）)":
            depth += 1
        elif ch in "（(":
            depth -= 1
            if depth == 0:
                inner = body[i + 1 : -1]
                if _ROLE_WORDS.search(inner):
                    return body[:i].rstrip(), inner
                return text, ""
    return text, ""


def _labels(text: str) -> tuple[str, dict[str, str]]:
    """(text before the first label, {label: value}) for `牵头单位：A；责任单位：B` runs."""
    found = list(_LABEL.finditer(text))
    if not found:
        return text, {}
    out: dict[str, str] = {}
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        out[m.group(1)] = text[m.end() : end].strip().strip("；;。，,")
    return text[: found[0].start()].rstrip(), out


def _blocks(paragraphs: list[str]) -> list[_Block]:
    """Every numbered paragraph with the lines that belong to it, in document order."""
    blocks: list[_Block] = []
    current: _Block | None = None
    for index, raw in enumerate(paragraphs, start=1):
        text = raw.strip()
        if not text:
            continue
        numbered = _numbering(text)
        if numbered is None:
            before, labels = _labels(text)
            if labels and not before and current is not None:
                current.labels.update(labels)  # 牵头单位：… on its own line
                current.closed = True
            elif current is not None and not current.closed:
                current.text = _join(current.text, text)  # the task's text goes on
            else:
                current = None  # preamble or closing text
            continue
        level, number, rest = numbered
        rest, bracket = _trailing_bracket(rest)
        rest, labels = _labels(rest)
        current = _Block(index, level, number, rest.strip(), labels, bracket)
        current.closed = bool(bracket or labels)
        blocks.append(current)
    return blocks


def _join(before: str, after: str) -> str:
    """Text that runs on into the next paragraph: a sentence cut in two joins without a
    break; a new sentence starts a new line."""
    if before.endswith(("。", "！", "？", "；", ";", "!", "?")):
        return f"{before}\n{after}"
    return before + after


def _first_sentence(text: str) -> tuple[str, str]:
    """(title, the rest) where a task opens with a short title sentence: `拓展两个市场。……`."""
    head, sep, rest = text.partition("。")
    if sep and rest.strip() and len(head) <= 40:
        return head.strip(), rest.strip()
    return text.rstrip("。").strip(), ""


def _units(block: _Block, settings: RegisterSettings) -> tuple[list[str], list[str], bool]:
    lead: list[str] = []
    coop: list[str] = []
    is_open = False
    if block.bracket:
        parsed = parse_units(block.bracket, settings.separators, settings.lead_rule)
        lead += parsed.lead
        coop += parsed.cooperating
        is_open |= parsed.open_list
    single: list[str] = []
    for label, value in block.labels.items():
        if label in _LEAD_LABELS:
            parsed = parse_units(value, settings.separators, settings.lead_rule)
            lead += parsed.lead if parsed.explicit else parsed.units
            coop += parsed.cooperating if parsed.explicit else ()
            is_open |= parsed.open_list
        elif label in _COOP_LABELS:
            parsed = parse_units(value, settings.separators, settings.lead_rule)
            coop += parsed.units
            is_open |= parsed.open_list
        elif label in _UNIT_LABELS:
            single.append(value)
    for value in single:
        parsed = parse_units(value, settings.separators, settings.lead_rule)
        is_open |= parsed.open_list
        if lead:  # 责任单位 beside 牵头单位 co-operates
            coop += parsed.units
        else:
            lead += parsed.lead
            coop += parsed.cooperating
    lead = list(dict.fromkeys(lead))
    coop = [u for u in dict.fromkeys(coop) if u not in lead]
    return lead, coop, is_open


def _label_value(block: _Block, labels: tuple[str, ...]) -> str:
    return "；".join(v for k, v in block.labels.items() if k in labels and v)


@dataclass(frozen=True)
class ParagraphScan:
    """What the paragraphs hold: tasks, headings and what was left out, for init to show."""

    register: Register
    task_level: int
    skipped: tuple[str, ...]


def read_paragraphs(path: Path, document: Any, settings: RegisterSettings) -> Register:
    return scan_paragraphs(path, document, settings).register


def _grouped(
    blocks: list[_Block], task_level: int
) -> tuple[list[_Block], list[_Block], dict[int, str], list[str]]:
    """The task paragraphs, those at the task level without units, each paragraph's group
    and notes: numbered paragraphs above the task level are headings, the nearest one is
    the group, and a sub-item below it belongs to the task above."""
    stack: dict[int, str] = {}
    task_blocks: list[_Block] = []
    unitless: list[_Block] = []
    group_of: dict[int, str] = {}
    notes: list[str] = []
    previous: _Block | None = None
    for block in blocks:
        if block.level < task_level:
            title, _ = _first_sentence(block.text)
            stack = {k: v for k, v in stack.items() if k < block.level}
            stack[block.level] = _heading_prefix(block) + title
            previous = None
        elif block.level > task_level:
            # a sub-item belongs to the task above it
            if previous is not None:
                previous.text += "\n" + _heading_prefix(block) + block.text
                if _has_units(block):
                    notes.append(
                        f"第 {block.index} 段是任务 {previous.number} 下的分项，自带的责任单位未单独读取："
                        f"“{block.bracket or _label_value(block, _UNIT_LABELS)}”"
                    )
        else:
            group_of[block.index] = stack[max(stack)] if stack else ""
            if _has_units(block):
                task_blocks.append(block)
                previous = block
            else:
                unitless.append(block)
                previous = None
    return task_blocks, unitless, group_of, notes


def scan_paragraphs(path: Path, document: Any, settings: RegisterSettings) -> ParagraphScan:
    """Read the numbered paragraphs of a Word document as tasks."""
    blocks = _blocks([p.text for p in document.paragraphs])
    with_units = [b for b in blocks if _has_units(b)]
    if not with_units:
        raise RegisterError(
            f"{path.name}: Word 文件中没有表格，也没有写明责任单位的编号段落"
            f"（找到 {len(blocks)} 个编号段落，但都没有“（某某局负责）”或“牵头单位：”）。"
            "xlflow 需要知道每项任务由谁负责：请在任务后写明责任单位，或把清单做成表格"
            "（序号、任务、责任单位各占一列）。"
        )
    task_level = Counter(b.level for b in with_units).most_common(1)[0][0]
    task_blocks, unitless, group_of, notes = _grouped(blocks, task_level)
    task_groups = {group_of[b.index] for b in task_blocks}
    skipped: list[str] = []
    for block in unitless:
        if group_of[block.index] in task_groups:
            raise RegisterError(
                f"{path.name} 第 {block.index} 段“{_heading_prefix(block)}{block.text[:30]}”编号与任务相同，"
                "但没有写责任单位。请在段末写明，如“（某某局负责）”，或另起一行“牵头单位：某某局”。"
            )
        skipped.append(f"第 {block.index} 段“{_heading_prefix(block)}{block.text[:20]}”")
    numbers = [b.number for b in task_blocks]
    restart = len(set(numbers)) != len(numbers)
    group_numbers: dict[str, int] = {}
    tasks: list[Task] = []
    open_lists: list[str] = []
    for block in task_blocks:
        group = group_of[block.index]
        group_numbers.setdefault(group, len(group_numbers) + 1)
        task_id = f"{group_numbers[group]}-{block.number}" if restart else block.number
        lead, coop, is_open = _units(block, settings)
        if not lead:
            raise RegisterError(
                f"{path.name} 第 {block.index} 段（任务 {task_id}）写了单位，但读不出牵头单位："
                f"“{block.bracket or _label_value(block, _UNIT_LABELS)}”"
            )
        if is_open:
            open_lists.append(task_id)
        name, content = _first_sentence(block.text)
        columns = (
            (ID_HEADER, task_id),
            (NAME_HEADER, name),
            (CONTENT_HEADER, content),
            (LEAD_HEADER, "、".join(lead)),
            (COOP_HEADER, "、".join(coop)),
            (DEADLINE_HEADER, _label_value(block, _DEADLINE_LABELS)),
            (LEADER_HEADER, _label_value(block, _LEADER_LABELS)),
        )
        tasks.append(
            Task(
                id=task_id,
                group=group,
                columns=columns,
                lead=tuple(lead),
                cooperating=tuple(coop),
                targets=(),
                row=block.index,
            )
        )
    if open_lists:
        notes.append(open_list_note(open_lists))
    if restart:
        notes.append(
            "任务编号在各部分重新从 1 开始，序号写成“部分-编号”，如第二部分的第 3 项为 2-3。"
        )
    if skipped:
        notes.append(
            f"{len(skipped)} 个编号段落没有写责任单位，也不在任务所在的部分中，未作为任务："
            + "、".join(skipped[:6])
            + ("等" if len(skipped) > 6 else "")
        )
    headers = [h for h, _ in tasks[0].columns]
    return ParagraphScan(
        Register(source=str(path), headers=tuple(headers), tasks=tuple(tasks), notes=tuple(notes)),
        task_level,
        tuple(skipped),
    )


def _unit_label(label: str) -> bool:
    return label in _LEAD_LABELS or label in _COOP_LABELS or label in _UNIT_LABELS


def _has_units(block: _Block) -> bool:
    return bool(block.bracket) or any(_unit_label(k) and v for k, v in block.labels.items())


def _heading_prefix(block: _Block) -> str:
    return {
        1: f"{block.number}、",
        2: f"（{block.number}）",
        3: f"{block.number}.",
        4: f"（{block.number}）",
        5: f"{block.number}）",
    }[block.level]


def document_lines(document: Any) -> list[str]:
    """The non-empty paragraphs of a Word document, for finding its title and issuer."""
    return [p.text.strip() for p in document.paragraphs if p.text.strip()]
