"""Recognising a register nobody has described yet: its layout, columns and issuing office.

`detect_layout` guesses the settings a register needs and reads it with them, so a bad
guess fails here rather than at `generate`. Every guess carries the evidence it rests on,
and an unsure one says so, so that `init` can show the coordinator what was decided.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config.model import RegisterSettings
from ..errors import RegisterError
from ..model import Register
from ..text import header_key, task_id_text
from ..units import is_collective
from .load import describe_register
from .paragraphs import (
    CONTENT_HEADER,
    DEADLINE_HEADER,
    ID_HEADER,
    LEADER_HEADER,
    NAME_HEADER,
    document_lines,
    scan_paragraphs,
)
from .parse import (
    _MAX_HEADER_SCAN,
    Grid,
    _header_score,
    _read_source,
    _Source,
    find_header_row,
    header_at,
    read_register,
)

_ID_WORDS = ("序号", "编号", "no", "no.", "序", "id", "任务编号", "项目编号")
_LEAD_WORDS = (
    "牵头单位", "牵头部门", "牵头处室", "牵头科室", "主要责任单位", "主责单位", "责任主体",
    "牵头",
)  # fmt: skip
_COOP_WORDS = (
    "协同配合单位", "配合单位", "配合部门", "配合处室", "协办单位", "协办处室", "参与单位",
    "协同单位", "配合", "协办",
)  # fmt: skip
_DIV_WORDS = (
    "责任单位", "责任处室", "责任部门", "承办单位", "承办处室", "责任科室", "负责处室",
    "实施单位", "主办单位", "负责单位",
)  # fmt: skip
_DEADLINE_WORDS = ("时限", "时间节点", "完成时间", "完成期限", "截止时间", "截止日期")
_GROUP_WORDS = (
    "类别", "分类", "领域", "板块", "类型", "任务类别", "工作类别", "重点领域", "工作板块",
    "重点任务", "类别名称",
)  # fmt: skip
_NAME_WORDS = ("任务", "工作", "事项", "项目", "内容", "措施", "目标任务")
_SKIP_WORDS = ("备注",)
# the default fill-in fields: a register column of the same name would clash on the form
_FIELD_LABELS = ("完成状态", "完成进度", "完成进度(%)", "进展情况", "存在问题", "下步打算")
_OFFICE_END = (
    "人民政府办公室", "人民政府办公厅", "人民政府", "管理委员会", "管委会", "办公室", "办公厅",
    "委员会", "国务院", "局", "厅", "委", "办", "部",
)  # fmt: skip
_PLACE_END = ("省", "市", "县", "区", "州", "旗", "镇", "乡", "街道", "开发区", "新区", "园区")
_LEAD_RULE_NOTE = re.compile(
    r"(逗号|，)(之前|前面|前)的?(单位|部门)?(均|都)?(为|是)牵头|(顿号|、)(连接|分隔|隔开).{0,12}(逗号|，)(分隔|隔开)"
)


@dataclass(frozen=True)
class Guess:
    """One decision about a column (or about the layout), with what it rests on."""

    what: str  # 任务编号 / 分组 / 任务名称 / 牵头单位 / … in Chinese
    column: str
    evidence: str
    sure: bool = True


@dataclass(frozen=True)
class Detected:
    """What `detect_layout` found: settings, the register read with them, and why."""

    settings: RegisterSettings
    register: Register
    layout: str  # one line: where the table is, or how the paragraphs were read
    guesses: tuple[Guess, ...]
    office: str
    office_evidence: str
    warnings: tuple[str, ...]
    headers: tuple[str, ...] = ()
    shown: tuple[str, ...] = field(default=())  # columns a division sees, read-only

    @property
    def notes(self) -> tuple[str, ...]:
        """Everything as lines of text (what `init` used to print)."""
        lines = [self.layout]
        lines += [f"{g.what}：{g.column}（{g.evidence}）" for g in self.guesses]
        lines.append(f"单位名称：{self.office or '（未找到）'}（{self.office_evidence}）")
        reg = self.register
        lines.append(
            f"按此设置读到 {len(reg.tasks)} 项任务、{len(reg.groups)} 个分组、"
            f"{len(reg.divisions)} 个单位：{'、'.join(reg.divisions)}"
        )
        return tuple(lines + list(reg.notes) + list(self.warnings))

    def to_dict(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "settings": {k: v for k, v in asdict(self.settings).items() if k != "path"},
            "office": self.office,
            "office_evidence": self.office_evidence,
            "guesses": [asdict(g) for g in self.guesses],
            "warnings": list(self.warnings),
            "register": describe_register(self.register, self.settings).to_dict(),
        }


def detect_layout(path: Path, office: str | None = None) -> Detected:
    """Guess how a register is laid out, read it that way, and say what was guessed."""
    source = _read_source(path)
    best = _best_table(source.grids)
    if best is None:
        if source.document is not None:
            return _detect_paragraphs(path, source, office)
        raise RegisterError(_no_header_message(path, source.grids))
    grid, header_index = best
    return _detect_table(path, source, grid, header_index, office)


def _best_table(grids: Sequence[Grid]) -> tuple[Grid, int] | None:
    best: tuple[Grid, int] | None = None
    best_score = 0
    for grid in grids:
        index = find_header_row(grid)
        if index is None:
            continue
        names, _ = header_at(grid, index)
        keys = [header_key(h) for h in names]
        if not any(k in _ID_WORDS or k.startswith("序号") for k in keys):
            continue  # a table without task numbers is not the register (a letterhead, say)
        score = _header_score(grid.rows[index])
        if score > best_score:
            best, best_score = (grid, index), score
    return best


def _no_header_message(path: Path, grids: Sequence[Grid]) -> str:
    seen = []
    for grid in grids[:2]:
        for row in grid.rows[:4]:
            text = " | ".join(c for c in row if c)[:60]
            if text:
                seen.append(f"“{text}”")
    shown = "；前几行是：" + "、".join(seen) if seen else "；文件中没有内容"
    return (
        f"{path.name}: 在前 {_MAX_HEADER_SCAN} 行中没有找到任务清单的表头行"
        f"（应有“序号”列，以及“责任单位”或“牵头单位”等列）{shown}。"
        "请确认这是任务清单；表头不在前 30 行时，请在 xlflow.toml 中设置 header_row。"
    )


def _match(key: str, words: Sequence[str], exact: bool = False) -> str | None:
    for w in words:
        if (key == w) if exact else (w in key):
            return w
    return None


@dataclass
class _Body:
    """The rows under the header and where each item (a numbered row) starts."""

    rows: list[list[str]]
    starts: list[int]
    merged_down: frozenset[tuple[int, int]]


def _body(grid: Grid, first: int, id_col: int) -> _Body:
    rows = grid.rows[first:]
    down = frozenset((r - first, c) for r, c in grid.merged_down if r >= first)
    starts = []
    previous = ""
    for i, row in enumerate(rows):
        tid = task_id_text(row[id_col]) if id_col < len(row) else ""
        if tid and (i, id_col) not in down and tid != previous:
            starts.append(i)
            previous = tid
    return _Body(rows, starts, down)


def _repeats(body: _Body, col: int) -> tuple[int, int, int]:
    """(adjacent items sharing a value, distinct values, items with a value) in a column."""
    values = [body.rows[i][col] for i in body.starts]
    shared = sum(1 for a, b in itertools.pairwise(values) if a and a == b)
    filled = [v for v in values if v]
    return shared, len(set(filled)), len(filled)


@dataclass
class _Roles:
    """What each column of a register's header is, and the evidence for each guess."""

    headers: list[str]
    keys: list[str]
    used: set[int] = field(default_factory=set)
    guesses: list[Guess] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    id_col: int = 0
    leaders: list[int] = field(default_factory=list)
    deadlines: list[int] = field(default_factory=list)
    targets: list[tuple[int, str]] = field(default_factory=list)
    lead_col: int | None = None
    coop_col: int | None = None
    div_col: int | None = None
    group_col: int | None = None
    name_col: int | None = None
    text_cols: list[int] = field(default_factory=list)

    def find(self, words: Sequence[str], exact: bool = False) -> tuple[int, str] | None:
        for w in words:
            for i, k in enumerate(self.keys):
                if i not in self.used and k and ((k == w) if exact else (w in k)):
                    return i, w
        return None

    def take(self, column: int, what: str, evidence: str, sure: bool = True) -> int:
        self.used.add(column)
        self.guesses.append(Guess(what, self.headers[column], evidence, sure))
        return column

    def name(self, column: int | None) -> str:
        return self.headers[column] if column is not None else ""


def _roles_by_header(path: Path, headers: list[str], header_line: int) -> _Roles:
    """The id, leader, deadline, target and unit columns, by the words in their headers."""
    roles = _Roles(headers, [header_key(h) for h in headers])
    keys = roles.keys
    shown = "、".join(h for h in headers if h)
    found = roles.find(_ID_WORDS, exact=True) or next(
        ((i, "序号") for i, k in enumerate(keys) if k.startswith("序号")), None
    )
    if found is None:
        raise RegisterError(
            f"{path.name}: 第 {header_line} 行表头（{shown}）中没有“序号”或“编号”列；"
            "xlflow 需要任务编号来识别每行任务。请在清单最左边加一列序号。"
        )
    roles.id_col = roles.take(found[0], "任务编号", f"表头为“{headers[found[0]]}”")
    for i, k in enumerate(keys):
        if i not in roles.used and ("领导" in k or k.endswith("责任人")):
            roles.leaders.append(
                roles.take(i, "责任领导", "表头含“领导/责任人”：写的是人名，只读显示，不作为单位")
            )
    for i, k in enumerate(keys):
        if i not in roles.used and _match(k, _DEADLINE_WORDS):
            roles.deadlines.append(
                roles.take(i, "完成时限", "表头含“时限/时间”：只读显示，不作为分组")
            )
    for i, k in enumerate(keys):
        m = re.search(r"(20\d{2})", k)
        if (
            i not in roles.used
            and m
            and (re.search("目标|任务|指标", k) or re.fullmatch(r"20\d{2}年?度?", k))
        ):
            roles.take(i, f"{m.group(1)} 年目标", "表头含年份和“目标”")
            roles.targets.append((int(m.group(1)), headers[i]))
    lead = roles.find(_LEAD_WORDS)
    if lead is not None:
        roles.lead_col = roles.take(lead[0], "牵头单位", f"表头含“{lead[1]}”：列出的单位都牵头")
        coop = roles.find(_COOP_WORDS) or roles.find(_DIV_WORDS)
        if coop is not None:
            why = (
                f"表头含“{coop[1]}”"
                if coop[1] in _COOP_WORDS
                else f"“{coop[1]}”与“{headers[lead[0]]}”并列，视为配合单位"
            )
            roles.coop_col = roles.take(coop[0], "配合单位", why)
    else:
        single = roles.find(_DIV_WORDS)
        if single is None:
            raise RegisterError(
                f"{path.name}: 第 {header_line} 行表头（{shown}）中找不到责任单位列"
                "（如“责任单位”“责任处室”“牵头单位”）。请把写单位的那一列的表头改成其中之一。"
            )
        roles.div_col = roles.take(
            single[0],
            "责任单位",
            f"表头含“{single[1]}”：第一个单位牵头，其余配合；单元格中写明“牵头/配合”的按写明的",
        )
    fields = {header_key(x) for x in _FIELD_LABELS}
    for i, k in enumerate(keys):
        if i not in roles.used and _match(k, _SKIP_WORDS):
            roles.used.add(i)
        elif i not in roles.used and k in fields:
            roles.used.add(i)
            roles.warnings.append(
                f"清单中的“{headers[i]}”列与填报表的填报项同名，填报表中不显示这一列（以免与填报栏混淆）。"
            )
    return roles


def _roles_by_content(roles: _Roles, grid: Grid, first: int) -> None:
    """The group column (its values repeat over adjacent tasks) and the task's name (the
    leftmost text column left), from the rows themselves."""
    body = _body(grid, first, roles.id_col)
    candidates = [i for i, h in enumerate(roles.headers) if h and i not in roles.used]
    lengths = {
        i: statistics.fmean([len(body.rows[s][i]) for s in body.starts] or [0]) for i in candidates
    }
    longest = max(lengths, key=lambda i: lengths[i]) if lengths else None
    group_col, group_guess = _group_column(roles.headers, roles.keys, body, candidates, longest)
    if group_col is not None and group_guess is not None:
        roles.used.add(group_col)
        roles.guesses.append(group_guess)
        roles.group_col = group_col
    roles.text_cols = [i for i in candidates if i not in roles.used]
    if roles.text_cols:
        roles.name_col = roles.text_cols[0]
        named = _match(roles.keys[roles.name_col], _NAME_WORDS)
        roles.guesses.append(
            Guess(
                "任务名称",
                roles.headers[roles.name_col],
                f"表头含“{named}”，是最左边的文字列"
                if named
                else "最左边的文字列（表头不像任务名，不太确定）",
                sure=bool(named),
            )
        )


def _detect_table(
    path: Path, source: _Source, grid: Grid, header_index: int, office: str | None
) -> Detected:
    headers, depth = header_at(grid, header_index)
    roles = _roles_by_header(path, headers, header_index + 1)
    first = header_index + depth
    _roles_by_content(roles, grid, first)
    title_lines = [c for row in grid.rows[:header_index] for c in row if c]
    lead_rule, rule_evidence = _lead_rule(title_lines + [c for row in grid.rows for c in row[:1]])
    shown = [roles.name(roles.group_col)] if roles.group_col is not None else []
    shown += [headers[i] for i in roles.text_cols + roles.deadlines + roles.leaders]
    settings = RegisterSettings(
        path="",
        layout="table",
        sheet=grid.name if len(source.grids) > 1 and path.suffix.lower() != ".docx" else "",
        header_row=0,
        id_column=headers[roles.id_col],
        group_column=roles.name(roles.group_col),
        name_column=roles.name(roles.name_col),
        divisions_column=roles.name(roles.div_col),
        lead_column=roles.name(roles.lead_col),
        cooperating_column=roles.name(roles.coop_col),
        lead_rule=lead_rule,
        readonly_columns=tuple(shown),
        targets=tuple(sorted(roles.targets)),
    )
    guesses, warnings = roles.guesses, [*source.warnings, *roles.warnings]
    if lead_rule != "first_unit":
        guesses.append(Guess("牵头规则", "first_group", rule_evidence))
    register = _read_with(path, settings)
    if roles.group_col is None:
        if any(i >= first for i in grid.spans) or len(register.groups) > 1:
            guesses.append(
                Guess("分组", "（小标题行）", "取自表格中横跨整行或单独成行的小标题，如“一、……”")
            )
        else:
            warnings.append(
                "没有找到分组列或小标题行：全部任务视为一组。如有分组列，请在 xlflow.toml 中设置 group_column。"
            )
    if not roles.targets:
        warnings.append(
            "没有找到按年份的目标列（如“2024年目标”）：填报表不显示年度目标。如有，请在 [register.targets] 中设置。"
        )
    rows = (
        f"第 {header_index + 1}–{header_index + 2} 行（两层表头）"
        if depth == 2
        else f"第 {header_index + 1} 行"
    )
    where = f"“{grid.name}”" if len(source.grids) > 1 or source.document is not None else ""
    layout = f"表格{where}：表头在{rows}：{'、'.join(h for h in headers if h)}"
    around = title_lines
    if source.document is not None:  # a Word table's title is a paragraph above it
        lines = document_lines(source.document)
        around = lines[:8] + title_lines + lines[-4:]
    name, evidence = detect_office(around, office)
    return _finish(settings, register, layout, guesses, name, evidence, warnings, headers, shown)


def _group_column(
    headers: list[str],
    keys: list[str],
    body: _Body,
    candidates: list[int],
    longest: int | None,
) -> tuple[int | None, Guess | None]:
    """The column whose value repeats (or is merged) over adjacent items; never the longest
    text column. A header such as 类别 alone is enough when the values are short."""
    items = len(body.starts)
    structural = []
    for i in candidates:
        if i == longest:
            continue
        shared, distinct, filled = _repeats(body, i)
        if filled and shared >= 1 and distinct <= max(1, int(items * 0.6)):
            structural.append((i, distinct))
    for i, distinct in structural:
        named = _match(keys[i], _GROUP_WORDS, exact=True)
        how = f"{distinct} 个值在相邻的任务间重复或合并（共 {items} 项任务）"
        if named:
            return i, Guess("分组", headers[i], f"表头为“{headers[i]}”，{how}")
        return i, Guess("分组", headers[i], f"{how}；表头不像分组名，不太确定", sure=False)
    for i in candidates:
        if i != longest and _match(keys[i], _GROUP_WORDS[:-2], exact=True):
            values = [body.rows[s][i] for s in body.starts]
            if values and statistics.fmean(len(v) for v in values) <= 20:
                return i, Guess("分组", headers[i], f"表头为“{headers[i]}”")
    return None, None


def _lead_rule(lines: Sequence[str]) -> tuple[str, str]:
    for line in lines:
        if _LEAD_RULE_NOTE.search(line):
            return (
                "first_group",
                f"清单中写明：“{line[:40]}”——顿号连接的单位为一组，第一个逗号前的一组牵头",
            )
    return "first_unit", "第一个单位牵头"


def _read_with(path: Path, settings: RegisterSettings) -> Register:
    try:
        return read_register(path, settings)
    except RegisterError as exc:
        raise RegisterError(f"按自动识别的设置读取时出错：{exc}") from None


def _detect_paragraphs(path: Path, source: _Source, office: str | None) -> Detected:
    scan = scan_paragraphs(path, source.document, RegisterSettings(layout="paragraphs"))
    register = scan.register
    tables = len(source.grids)
    what = "没有表格" if not tables else f"有 {tables} 个表格，但都不像任务清单"
    bracket = sum(1 for t in register.tasks if t.lead)  # every task has units here
    layout = (
        f"Word 文件{what}：{bracket} 个编号段落写明了责任单位，按段落读作任务"
        f"（编号为“{_level_example(scan.task_level)}”的段落是任务，上一级标题是分组）"
    )
    guesses = [
        Guess("任务编号", ID_HEADER, "段首的编号"),
        Guess("任务名称", NAME_HEADER, "段首第一句（到第一个句号）；其余文字为任务内容"),
        Guess("责任单位", "段末括号或“牵头单位：”行", "第一个单位牵头，写明“牵头/配合”的按写明的"),
        Guess("分组", "上一级标题", "任务前最近的“一、”或“（一）”标题"),
    ]
    shown = [NAME_HEADER]
    if any(t.column(CONTENT_HEADER) for t in register.tasks):
        shown.append(CONTENT_HEADER)
    for header in (DEADLINE_HEADER, LEADER_HEADER):
        if any(t.column(header) for t in register.tasks):
            shown.append(header)
            guesses.append(Guess(header, header, f"任务后的“{header}：”行，只读显示"))
    settings = RegisterSettings(
        path="",
        layout="paragraphs",
        id_column=ID_HEADER,
        name_column=NAME_HEADER,
        readonly_columns=tuple(shown),
    )
    lines = document_lines(source.document)
    name, evidence = detect_office(lines[:8] + lines[-4:], office)
    warnings = [
        "段落式清单没有按年份的目标列：填报表不显示年度目标。",
    ]
    return _finish(settings, register, layout, guesses, name, evidence, warnings, (), shown)


def _level_example(level: int) -> str:
    return {1: "一、", 2: "（一）", 3: "1.", 4: "（1）", 5: "1）"}.get(level, "1.")


def detect_office(lines: Sequence[str], given: str | None = None) -> tuple[str, str]:
    """The issuing office: from --office, the title (XX县2024年…, XX局关于…), or the
    signature line at the end of a document. ('', why not) when nothing says."""
    if given:
        return given, "由 --office 指定"
    for line in lines:
        text = re.sub(r"\s+", "", line)
        m = re.match(r"^(.{2,30}?)(关于|印发)", text)
        if m and m.group(1).endswith(_OFFICE_END):
            return m.group(1), f"取自标题“{text[:40]}”"
        m = re.match(r"^(.{2,30}?)(20\d{2})年", text)
        if m and m.group(1).endswith(_OFFICE_END + _PLACE_END):
            return m.group(1), f"取自标题“{text[:40]}”"
    for line in reversed(lines):
        text = re.sub(r"\s+", "", line)
        if (
            2 <= len(text) <= 24
            and text.endswith(_OFFICE_END)
            and not re.search(r"[，。；：]", text)
        ):
            return text, f"取自文末的落款“{text}”"
    return "", "清单的标题和落款中没有找到发文单位；填报表标题暂不写单位名称，可用 --office 指定"


def _finish(
    settings: RegisterSettings,
    register: Register,
    layout: str,
    guesses: list[Guess],
    office: str,
    office_evidence: str,
    warnings: list[str],
    headers: Sequence[str],
    shown: Sequence[str],
) -> Detected:
    for g in guesses:
        if not g.sure:
            warnings.append(
                f"不太确定：{g.what}取“{g.column}”列（{g.evidence}）。如不对，请改 xlflow.toml。"
            )
    if not office:
        warnings.append("没有找到单位名称：" + office_evidence + "。")
    collective = [d for d in register.divisions if is_collective(d)]
    if collective:
        warnings.append(
            f"{'、'.join(collective)} 是集体名称，代表多个单位：在单位名录中列出成员，"
            "每个成员各生成一份填报表；不列成员则只生成一份，请发给其牵头汇总的单位，"
            "由其组织填写后统一报送（可用 xlflow forward 分发给下级单位）。"
        )
    return Detected(
        settings=replace(settings),
        register=register,
        layout=layout,
        guesses=tuple(guesses),
        office=office,
        office_evidence=office_evidence,
        warnings=tuple(warnings),
        headers=tuple(h for h in headers if h),
        shown=tuple(shown),
    )
