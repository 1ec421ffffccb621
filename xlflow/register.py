"""Reading the register of key tasks from .xlsx, .xls, .ods, .csv or .docx.

Registers come as people keep them: title rows above the header, headers with line
breaks, a category merged down its group or section-heading rows, several divisions
in one cell with mixed separators. Everything is turned into a plain grid first
(merged cells expanded), then read the same way whatever the source format.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import RegisterSettings
from .errors import RegisterError
from .model import Register, Role, Task
from .text import clean_cell, header_key, split_names, squash, task_id_text

_HEADER_WORDS = (
    "序号", "编号", "任务", "内容", "事项", "措施", "责任", "处室", "单位", "部门", "牵头",
    "配合", "协办", "目标", "时限", "类别", "分类", "领域", "备注", "分工", "进度",
)  # fmt: skip
_MAX_HEADER_SCAN = 30


@dataclass(frozen=True)
class Grid:
    """A table as rows of text. `spans` marks rows whose text came from one merged cell
    across the whole width (section headings)."""

    name: str
    rows: list[list[str]]
    spans: frozenset[int]


def _pad(rows: list[list[str]]) -> list[list[str]]:
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def _grid_from_openpyxl(path: Path, sheet: str) -> list[Grid]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:
        raise RegisterError(f"{path}: 无法作为 Excel 文件打开（{exc}）") from None
    grids = []
    for ws in wb.worksheets:
        if sheet and ws.title != sheet:
            continue
        rows = [[clean_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
        rows = _pad(rows)
        width = len(rows[0]) if rows else 0
        spans: set[int] = set()
        for rng in ws.merged_cells.ranges:
            r0, c0, r1, c1 = rng.min_row - 1, rng.min_col - 1, rng.max_row - 1, rng.max_col - 1
            value = rows[r0][c0] if r0 < len(rows) else ""
            for r in range(r0, min(r1 + 1, len(rows))):
                for c in range(c0, min(c1 + 1, width)):
                    rows[r][c] = value
            if c0 == 0 and c1 >= width - 1 and r0 == r1:
                spans.add(r0)
        grids.append(Grid(ws.title, rows, frozenset(spans)))
    return grids


def _grid_from_calamine(path: Path, sheet: str) -> list[Grid]:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise RegisterError(f"{path}: 无法作为表格文件打开（{exc}）") from None
    grids = []
    for name in wb.sheet_names:
        if sheet and name != sheet:
            continue
        ws = wb.get_sheet_by_name(name)
        rows = _pad([[clean_cell(v) for v in row] for row in ws.to_python(skip_empty_area=False)])
        width = len(rows[0]) if rows else 0
        spans: set[int] = set()
        for (r0, c0), (r1, c1) in ws.merged_cell_ranges or []:
            value = rows[r0][c0] if r0 < len(rows) and c0 < width else ""
            for r in range(r0, min(r1 + 1, len(rows))):
                for c in range(c0, min(c1 + 1, width)):
                    rows[r][c] = value
            if c0 == 0 and c1 >= width - 1 and r0 == r1:
                spans.add(r0)
        grids.append(Grid(name, rows, frozenset(spans)))
    return grids


def _grid_from_csv(path: Path) -> list[Grid]:
    raw = path.read_bytes()
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise RegisterError(f"{path}: 既不是 UTF-8 也不是 GBK 编码的文本，无法读取")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t，"
        )
    except csv.Error:
        dialect = csv.excel
    rows = [[clean_cell(v) for v in row] for row in csv.reader(io.StringIO(text), dialect)]
    return [Grid(path.stem, _pad(rows), frozenset())]


def _grid_from_docx(path: Path) -> list[Grid]:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:
        raise RegisterError(f"{path}: 无法作为 Word 文件打开（{exc}）") from None
    grids = []
    for n, table in enumerate(document.tables, start=1):
        rows: list[list[str]] = []
        spans: set[int] = set()
        for i, row in enumerate(table.rows):
            # python-docx returns the same cell object for every grid position a merged
            # cell covers, so merged text is already repeated where it belongs.
            cells = row.cells
            rows.append([clean_cell(c.text) for c in cells])
            if len(cells) > 1 and all(c._tc is cells[0]._tc for c in cells):
                spans.add(i)
        grids.append(Grid(f"表格{n}", _pad(rows), frozenset(spans)))
    return grids


def read_grids(path: Path, sheet: str = "") -> list[Grid]:
    """Every table in the file as a grid of text."""
    if not path.is_file():
        raise RegisterError(f"找不到任务清单文件：{path}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        grids = _grid_from_openpyxl(path, sheet)
    elif suffix in (".xls", ".ods", ".xlsb"):
        grids = _grid_from_calamine(path, sheet)
    elif suffix in (".csv", ".txt", ".tsv"):
        grids = _grid_from_csv(path)
    elif suffix == ".docx":
        grids = _grid_from_docx(path)
    else:
        raise RegisterError(
            f"{path}: 不支持的任务清单格式 {suffix!r}；可用 .xlsx .xls .ods .csv .docx"
        )
    if sheet and not grids:
        raise RegisterError(f"{path}: 没有名为 {sheet!r} 的工作表")
    return grids


def _header_score(row: Sequence[str]) -> int:
    score = 0
    for cell in row:
        key = header_key(cell)
        if key and len(key) <= 20 and any(w in key for w in _HEADER_WORDS):
            score += 1
    return score


def find_header_row(grid: Grid, must_have: Sequence[str] = ()) -> int | None:
    """0-based index of the header row: the row that reads most like column titles and
    holds every name in `must_have`."""
    wanted = [header_key(m) for m in must_have if m]
    best, best_score = None, 1
    for i, row in enumerate(grid.rows[:_MAX_HEADER_SCAN]):
        if i in grid.spans:
            continue
        keys = {header_key(c) for c in row}
        if wanted and not all(w in keys for w in wanted):
            continue
        score = _header_score(row) + (10 if wanted else 0)
        if score > best_score:
            best, best_score = i, score
    return best


def _column_index(headers: Sequence[str], name: str) -> int | None:
    key = header_key(name)
    for i, h in enumerate(headers):
        if header_key(h) == key:
            return i
    return None


def _is_heading(grid: Grid, index: int) -> str | None:
    row = grid.rows[index]
    values = {c for c in row if c}
    if len(values) != 1:
        return None
    if index in grid.spans or sum(1 for c in row if c) == 1:
        return next(iter(values))
    return None


def read_register(path: Path, settings: RegisterSettings) -> Register:
    """Read the register described by `settings`. Raises RegisterError naming the row."""
    grids = read_grids(path, settings.sheet)
    must = [settings.id_column]
    must += [c for c in (settings.divisions_column, settings.lead_column) if c]
    chosen: tuple[Grid, int] | None = None
    for grid in grids:
        if settings.header_row:
            if settings.header_row <= len(grid.rows):
                chosen = (grid, settings.header_row - 1)
                break
            continue
        index = find_header_row(grid, must)
        if index is not None:
            chosen = (grid, index)
            break
    if chosen is None:
        where = f"工作表 {settings.sheet!r}" if settings.sheet else "任何工作表或表格"
        raise RegisterError(
            f"{path}: 在{where}的前 {_MAX_HEADER_SCAN} 行中找不到同时含有 "
            f"{'、'.join(repr(m) for m in must)} 的表头行；请检查 xlflow.toml 的 [register] 列名，"
            f"或设置 header_row"
        )
    grid, header_index = chosen
    # Tables split across Word pages come as several tables with the same header.
    rows = list(grid.rows[header_index + 1 :])
    spans = {i - header_index - 1 for i in grid.spans if i > header_index}
    header_keys = [header_key(h) for h in grid.rows[header_index]]
    for other in grids:
        if other is grid or not other.rows:
            continue
        if [header_key(h) for h in other.rows[0]] == header_keys:
            spans |= {len(rows) + i - 1 for i in other.spans if i > 0}
            rows += other.rows[1:]
    headers = [squash(h) for h in grid.rows[header_index]]
    body = Grid(grid.name, rows, frozenset(spans))
    return _read_body(path, settings, headers, body, header_index)


def _read_body(
    path: Path,
    settings: RegisterSettings,
    headers: list[str],
    body: Grid,
    header_index: int,
) -> Register:
    where = f"{path.name}（{body.name}）"

    missing: list[str] = []

    def need(name: str, key: str) -> int:
        index = _column_index(headers, name)
        if index is None:
            missing.append(f"{name!r}（register.{key}）")
            return 0
        return index

    id_col = need(settings.id_column, "id_column")
    group_col = need(settings.group_column, "group_column") if settings.group_column else None
    div_col = (
        need(settings.divisions_column, "divisions_column") if settings.divisions_column else None
    )
    lead_col = need(settings.lead_column, "lead_column") if settings.lead_column else None
    coop_col = (
        need(settings.cooperating_column, "cooperating_column")
        if settings.cooperating_column
        else None
    )
    for name in settings.readonly_columns:
        need(name, "readonly_columns")
    if settings.name_column:
        need(settings.name_column, "name_column")
    target_cols = [(year, need(col, f"targets.{year}")) for year, col in settings.targets]
    if missing:
        shown = "、".join(h for h in headers if h)
        raise RegisterError(
            f"{where} 第 {header_index + 1} 行表头中没有这些列：{'、'.join(missing)}；"
            f"表头有：{shown}。请改正 xlflow.toml 中的列名。"
        )

    tasks: list[Task] = []
    seen: dict[str, int] = {}
    section = ""
    group = ""
    for i, row in enumerate(body.rows):
        line = header_index + i + 2  # 1-based row number in the source
        if not any(row):
            continue
        heading = _is_heading(body, i)
        if heading is not None:
            section = heading
            continue
        task_id = task_id_text(row[id_col])
        if not task_id:
            filled = "、".join(f"{headers[c]}={v[:12]!r}" for c, v in enumerate(row) if v)
            raise RegisterError(
                f"{where} 第 {line} 行有内容但没有{headers[id_col]}（{filled}）；"
                f"请补上{headers[id_col]}，或删除这一行"
            )
        if task_id in seen:
            raise RegisterError(
                f"{where} 第 {line} 行的{headers[id_col]} {task_id!r} 与第 {seen[task_id]} 行重复；"
                "每个任务的序号必须唯一"
            )
        seen[task_id] = line
        # A category cell wraps its text to fit a narrow column; the line break is layout.
        group = (squash(row[group_col]) or group) if group_col is not None else squash(section)
        if div_col is not None:
            names = split_names(row[div_col], settings.separators)
            lead, coop = names[:1], names[1:]
        else:
            assert lead_col is not None
            lead = split_names(row[lead_col], settings.separators)
            coop = split_names(row[coop_col], settings.separators) if coop_col is not None else []
            coop = [d for d in coop if d not in lead]
        if not lead:
            column = settings.divisions_column or settings.lead_column
            raise RegisterError(
                f"{where} 第 {line} 行（{headers[id_col]} {task_id}）没有责任处室：{column!r} 列为空；"
                "请填上牵头处室"
            )
        tasks.append(
            Task(
                id=task_id,
                group=group,
                columns=tuple((h, row[c]) for c, h in enumerate(headers) if h),
                lead=tuple(lead),
                cooperating=tuple(coop),
                targets=tuple((year, row[c]) for year, c in target_cols),
                row=line,
            )
        )
    if not tasks:
        raise RegisterError(f"{where}: 表头下面没有任何任务行")
    return Register(source=str(path), headers=tuple(h for h in headers if h), tasks=tuple(tasks))


@dataclass(frozen=True)
class Detected:
    """What `detect_layout` guessed about a register of unknown layout."""

    settings: RegisterSettings
    notes: tuple[str, ...]
    headers: tuple[str, ...]


_ID_WORDS = ("序号", "编号", "no", "no.", "序", "id", "任务编号")
_LEAD_WORDS = ("牵头单位", "牵头处室", "牵头部门", "牵头")
_COOP_WORDS = (
    "配合单位",
    "配合处室",
    "配合部门",
    "协办单位",
    "协办处室",
    "责任单位",
    "配合",
    "协办",
)
_DIV_WORDS = ("责任处室", "责任单位", "责任部门", "承办处室", "承办单位", "责任科室", "负责处室")
_GROUP_WORDS = (
    "类别",
    "分类",
    "重点任务",
    "领域",
    "板块",
    "类型",
    "任务类别",
    "工作类别",
    "重点工作",
)
_SKIP_READONLY = ("备注",)


def detect_layout(path: Path) -> Detected:
    """Guess the header row and columns of a register nobody has described yet."""
    grids = read_grids(path)
    best: tuple[Grid, int] | None = None
    best_score = 0
    for grid in grids:
        index = find_header_row(grid)
        if index is None:
            continue
        score = _header_score(grid.rows[index])
        if score > best_score:
            best, best_score = (grid, index), score
    if best is None:
        raise RegisterError(
            f"{path}: 找不到表头行（应含“序号”“责任处室”“目标”等列名）。"
            "请确认这是任务清单，或手工编写 xlflow.toml"
        )
    grid, header_index = best
    headers = [squash(h) for h in grid.rows[header_index]]
    keys = [header_key(h) for h in headers]
    notes: list[str] = []
    used: set[int] = set()

    def pick(words: Sequence[str], exact: bool = False) -> int | None:
        for w in words:
            for i, k in enumerate(keys):
                if i in used or not k:
                    continue
                if (k == w) if exact else (w in k):
                    return i
        return None

    id_col = pick(_ID_WORDS, exact=True)
    if id_col is None:
        raise RegisterError(
            f"{path}: 第 {header_index + 1} 行表头中没有“序号”或“编号”列；xlflow 需要任务编号来识别每行任务"
        )
    used.add(id_col)
    targets: list[tuple[int, str]] = []
    for i, k in enumerate(keys):
        m = re.search(r"(20\d{2})", k)
        if m and ("目标" in k or re.fullmatch(r"20\d{2}年?", k)):
            targets.append((int(m.group(1)), headers[i]))
            used.add(i)
    lead_col = pick(_LEAD_WORDS)
    if lead_col is not None:
        used.add(lead_col)
        coop_col = pick(_COOP_WORDS)
        if coop_col is not None:
            used.add(coop_col)
        div_col = None
    else:
        coop_col = None
        div_col = pick(_DIV_WORDS)
        if div_col is None:
            raise RegisterError(
                f"{path}: 第 {header_index + 1} 行表头中找不到责任处室列（如“责任处室”“牵头单位”）"
            )
        used.add(div_col)
    group_col = pick(_GROUP_WORDS, exact=True)
    body = grid.rows[header_index + 1 :]
    if group_col is None:
        # a category column repeats its value down the group (merged or filled)
        for i in range(len(headers)):
            if i in used or not headers[i]:
                continue
            values = [r[i] for r in body if any(r) and r[i]]
            if len(values) >= 4 and len(set(values)) <= len(values) / 2:
                group_col = i
                break
    if group_col is not None:
        used.add(group_col)
    text_cols = [i for i, h in enumerate(headers) if h and i not in used]
    name_col = text_cols[0] if text_cols else None
    readonly = [headers[group_col]] if group_col is not None else []
    readonly += [headers[i] for i in text_cols if header_key(headers[i]) not in _SKIP_READONLY]

    settings = RegisterSettings(
        path="",
        sheet=grid.name if len(grids) > 1 and path.suffix.lower() != ".docx" else "",
        header_row=0,
        id_column=headers[id_col],
        group_column=headers[group_col] if group_col is not None else "",
        name_column=headers[name_col] if name_col is not None else "",
        divisions_column=headers[div_col] if div_col is not None else "",
        lead_column=headers[lead_col] if lead_col is not None else "",
        cooperating_column=headers[coop_col] if coop_col is not None else "",
        readonly_columns=tuple(readonly),
        targets=tuple(sorted(targets)),
    )
    notes.append(
        f"表头在第 {header_index + 1} 行（{grid.name}）：{'、'.join(h for h in headers if h)}"
    )
    notes.append(f"任务编号列：{settings.id_column}")
    if settings.divisions_column:
        notes.append(f"责任处室列：{settings.divisions_column}（第一个处室为牵头，其余为配合）")
    else:
        coop = settings.cooperating_column or "（无）"
        notes.append(f"牵头单位列：{settings.lead_column}；配合单位列：{coop}")
    if settings.group_column:
        notes.append(f"分组列：{settings.group_column}")
    elif any(i in grid.spans for i in range(header_index + 1, len(grid.rows))):
        notes.append("分组：取自横跨整行的小标题行")
    else:
        notes.append("没有找到分组列；全部任务视为一组。如有分组列，请设置 group_column")
    if targets:
        notes.append("目标列：" + "；".join(f"{y} 年 → {c}" for y, c in settings.targets))
    else:
        notes.append(
            "没有找到按年份的目标列（如“2019年目标”）；表单将不显示目标，请检查 [register.targets]"
        )
    notes.append(f"填报表只读显示的列：{'、'.join(settings.readonly_columns) or '（无）'}")
    # Read it once with the guess, so a bad guess fails here and not at generate time.
    register = read_register(path, settings)
    notes.append(
        f"按此设置读到 {len(register.tasks)} 项任务、{len(register.groups)} 个分组、"
        f"{len(register.divisions)} 个处室：{'、'.join(register.divisions)}"
    )
    return Detected(replace(settings), tuple(notes), tuple(h for h in headers if h))


def task_label(task: Task, settings: RegisterSettings) -> str:
    """A task's short name: the register's name column, else its first text column."""
    if settings.name_column:
        name = task.column(squash(settings.name_column)) or task.column(settings.name_column)
        if name:
            return name.replace("\n", "")
    skip = {header_key(settings.id_column), header_key(settings.group_column)}
    for header, text in task.columns:
        if header_key(header) not in skip and text:
            return text.replace("\n", "")
    return task.id


def describe_register(register: Register, settings: RegisterSettings) -> dict[str, Any]:
    """The parsed register as plain data: counts, groups, tasks and divisions."""
    divisions = []
    for d in register.divisions:
        tasks = register.tasks_of(d)
        divisions.append(
            {
                "division": d,
                "lead": sum(1 for _, role in tasks if role is Role.LEAD),
                "cooperating": sum(1 for _, role in tasks if role is Role.COOPERATING),
                "task_ids": [t.id for t, _ in tasks],
            }
        )
    return {
        "source": register.source,
        "counts": {
            "tasks": len(register.tasks),
            "groups": len(register.groups),
            "divisions": len(register.divisions),
            "assignments": len(register.assignments),
        },
        "groups": list(register.groups),
        "tasks": [
            {
                "id": t.id,
                "group": t.group,
                "name": task_label(t, settings),
                "lead": list(t.lead),
                "cooperating": list(t.cooperating),
                "targets": {str(y): text for y, text in t.targets},
            }
            for t in register.tasks
        ],
        "divisions": divisions,
    }
