"""Reading the register of key tasks from .xlsx, .xls, .ods, .csv or .docx.

Registers come as offices publish them: title rows above the header, headers with line
breaks or on two levels, a category merged down its group or section-heading rows,
several units in one cell with their roles written in, an item with several measures
on sub-rows, a task whose text runs over two rows, or no table at all (numbered
paragraphs in a Word document, see `xlflow.paragraphs`). Every table is first turned
into a plain grid that remembers its merged cells, then read the same way whatever the
source format.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docx

from ..cells import cell_ref
from ..config.model import Limits, RegisterSettings
from ..errors import RegisterError
from ..issues import damage_words
from ..model import Register, Task
from ..reading.package import SPREADSHEET_SUFFIXES, check_package
from ..reading.reader import read_workbook
from ..reading.workbook import REFILL, text_of
from ..text import clean_cell, header_key, squash, task_id_text
from ..units import open_list_note, parse_units
from .paragraphs import read_paragraphs

MAX_REGISTER_MB = 50
MAX_REGISTER_ROWS = 100_000  # a ministry-wide list has tens of thousands; more is not a register
_MAX_HEADER_SCAN = 30
_MAX_NESTING = 4

_HEADER_WORDS = (
    "序号", "编号", "任务", "内容", "事项", "措施", "责任", "处室", "单位", "部门", "牵头",
    "配合", "协办", "目标", "时限", "类别", "分类", "领域", "备注", "分工", "进度", "领导",
    "时间", "项目", "工作", "主体",
)  # fmt: skip


@dataclass(frozen=True)
class Grid:
    """A table as rows of text.

    `spans` marks rows that are one merged cell across the whole width (section headings).
    `merged_down` and `merged_across` hold the cells whose text was copied from a merged
    cell above, or to the left (Word repeats a merged cell's text the same way).
    """

    name: str
    rows: list[list[str]]
    spans: frozenset[int] = frozenset()
    merged_down: frozenset[tuple[int, int]] = frozenset()
    merged_across: frozenset[tuple[int, int]] = frozenset()


def _pad(rows: list[list[str]]) -> list[list[str]]:
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def _expand(
    name: str,
    rows: list[list[str]],
    ranges: Sequence[tuple[tuple[int, int], tuple[int, int]]],
) -> Grid:
    """A grid with every merged range's text copied into the cells it covers."""
    rows = _pad(rows)
    width = len(rows[0]) if rows else 0
    spans: set[int] = set()
    down: set[tuple[int, int]] = set()
    across: set[tuple[int, int]] = set()
    for (r0, c0), (r1, c1) in ranges:
        if r0 >= len(rows) or c0 >= width:
            continue
        value = rows[r0][c0]
        for r in range(r0, min(r1 + 1, len(rows))):
            for c in range(c0, min(c1 + 1, width)):
                rows[r][c] = value
                if r > r0:
                    down.add((r, c))
                elif c > c0:
                    across.add((r, c))
        if c0 == 0 and c1 >= width - 1 and r0 == r1:
            spans.add(r0)
    return Grid(name, rows, frozenset(spans), frozenset(down), frozenset(across))


def _grids_from_workbook(path: Path, sheet: str) -> tuple[list[Grid], list[str]]:
    data = path.read_bytes()
    result = read_workbook(data, path.suffix, Limits(max_rows=MAX_REGISTER_ROWS))
    raw = result.workbook
    if raw is None:
        # each ends with 。; the advice to a division (refill the form sent) is not for
        # the coordinator's own register
        why = "".join(i.message.replace(REFILL, "") for i in result.issues) or "无法读取。"
        raise RegisterError(
            f"{path}: 无法作为表格文件读取。{why}请在 Excel/WPS 中打开任务清单确认后另存为 .xlsx，再重试。"
        )
    grids: list[Grid] = []
    warnings: list[str] = []
    for ws in raw.sheets:
        if (sheet and ws.name != sheet) or ws.visibility != "visible":
            continue
        missing = raw.formulas_without_value.get(ws.name, set())
        if missing:
            cells = "、".join(sorted(missing)[:5])
            raise RegisterError(
                f"{path}（{ws.name}）: 单元格 {cells} 是公式，但文件中没有保存计算结果，xlflow 不计算公式。"
                "请在 Excel/WPS 中打开后保存一次，或把公式复制后“选择性粘贴 → 数值”。"
            )
        formulas = raw.formulas.get(ws.name, set())
        if formulas:
            cells = "、".join(sorted(formulas)[:5])
            warnings.append(
                f"工作表“{ws.name}”的单元格 {cells} 是公式，已按文件中保存的计算结果读取。"
            )
        rows = []
        for r, row in enumerate(ws.rows):
            cells_text = []
            for c, value in enumerate(row):
                if (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and raw.is_percent(ws.name, cell_ref(r, c))
                ):
                    cells_text.append(f"{round(value * 100, 6):g}%")
                else:
                    cells_text.append(clean_cell(text_of(value)))
            rows.append(cells_text)
        grids.append(_expand(ws.name, rows, ws.merged))
    if sheet and not grids:
        raise RegisterError(f"{path}: 没有名为 {sheet!r} 的工作表")
    return grids, warnings


def _grid_from_csv(path: Path, what: str) -> list[Grid]:
    rows = csv_rows(path.read_bytes(), path, what)
    if len(rows) > MAX_REGISTER_ROWS:
        raise RegisterError(f"{path}: 有 {len(rows)} 行，超过{what}的上限 {MAX_REGISTER_ROWS} 行")
    return [Grid(path.stem, _pad(rows))]


def decoded_text(raw: bytes) -> str | None:
    """Text as Excel, WPS and LibreOffice save it: UTF-16 with its byte-order mark
    ("Unicode 文本"), UTF-8 with or without one, or GBK (Excel's "CSV (逗号分隔)" on Chinese
    Windows); None for bytes that are none of these."""
    encodings = ("utf-16",) if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else ()
    for encoding in (*encodings, "utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def csv_rows(raw: bytes, path: Path, what: str) -> list[list[str]]:
    """The rows of a CSV file as every spreadsheet program saves one: any of the encodings
    above, comma, semicolon or tab between cells, and CRLF, LF or CR alone ("CSV
    (Macintosh)") between rows. What is not such a file is refused in words about `what`
    (任务清单, 单位名录, 对照表)."""
    again = "请在 Excel 或 WPS 中打开它，另存为“CSV UTF-8（逗号分隔）”或 .xlsx 后重试。"
    text = decoded_text(raw)
    if text is None:
        raise RegisterError(
            f"{path}: {what}既不是 UTF-8、UTF-16 也不是 GBK 编码的文本，无法读取。{again}"
        )
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t，"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=None), dialect)  # CR, LF, CRLF alike
    try:
        return [[clean_cell(v) for v in row] for row in reader]
    except csv.Error as exc:
        if "field larger" in str(exc):
            why = f'第 {reader.line_num} 行起有一格超过 {csv.field_size_limit()} 字，多半是一个引号（"）没有配对'
        else:
            why = f"第 {reader.line_num} 行的引号或分隔符不成对"
        raise RegisterError(f"{path}: {what}不是规整的 CSV 文件（{why}）。{again}") from None


def read_csv_file(path: Path, what: str) -> list[list[str]]:
    """A CSV file's rows; run in a worker (`load.read_isolated`), as every file from outside is."""
    return csv_rows(path.read_bytes(), path, what)


def _cell_text(cell: Any, depth: int = 0) -> str:
    """A Word table cell's text, with any table nested in it read too (row by row)."""
    parts = [p.text for p in cell.paragraphs]
    for nested in cell.tables:
        if depth >= _MAX_NESTING:
            raise RegisterError(
                f"Word 表格中嵌套了 {depth + 1} 层以上的表格，xlflow 不读取这样的结构；请把嵌套的表格改为普通文字"
            )
        for row in nested.rows:
            parts.append(" ".join(_cell_text(c, depth + 1) for c in row.cells))
    return clean_cell("\n".join(parts))


def open_docx(path: Path) -> Any:
    """A Word document, after the same package checks as any untrusted file."""
    data = path.read_bytes()
    problem = check_package(data, Limits())
    if problem:
        raise RegisterError(f"{path}: {problem}。请在 Word/WPS 中打开确认后另存为 .docx，再重试。")
    try:
        return docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx and lxml raise many types on a damaged file
        raise RegisterError(
            f"{path}: 无法作为 Word 文件打开（{damage_words(exc)}）。请在 Word/WPS 中打开确认后另存为 .docx"
        ) from None


def _grids_from_docx(document: Any) -> list[Grid]:
    grids = []
    for n, table in enumerate(document.tables, start=1):
        rows: list[list[str]] = []
        spans: set[int] = set()
        down: set[tuple[int, int]] = set()
        across: set[tuple[int, int]] = set()
        above: list[Any] = []
        for i, row in enumerate(table.rows):
            # python-docx gives the same cell object for every grid position a merged cell
            # covers, so merged text is repeated where it belongs; the identity says which
            cells = row.cells
            tcs = [c._tc for c in cells]
            rows.append([_cell_text(c) for c in cells])
            for c, tc in enumerate(tcs):
                if c < len(above) and above[c] is tc:
                    down.add((i, c))
                elif c > 0 and tcs[c - 1] is tc:
                    across.add((i, c))
            if len(cells) > 1 and all(tc is tcs[0] for tc in tcs):
                spans.add(i)
            above = tcs
            if len(rows) > MAX_REGISTER_ROWS:
                raise RegisterError(f"Word 表格超过 {MAX_REGISTER_ROWS} 行，不像是任务清单")
        grids.append(
            Grid(f"表格{n}", _pad(rows), frozenset(spans), frozenset(down), frozenset(across))
        )
    return grids


SUFFIXES = (*SPREADSHEET_SUFFIXES, ".csv", ".txt", ".tsv", ".docx")


def _check_file(path: Path) -> str:
    if not path.is_file():
        raise RegisterError(f"找不到任务清单文件：{path}")
    suffix = path.suffix.lower()
    if suffix in (".doc", ".wps"):
        raise RegisterError(
            f"{path}: 这是旧版 Word/WPS 文档（{suffix}），xlflow 读取 .docx。"
            "请在 Word 或 WPS 中“另存为 → Word 文档（*.docx）”后再试。"
        )
    if suffix not in SUFFIXES:
        raise RegisterError(
            f"{path}: 不支持的任务清单格式 {suffix!r}；可用 .xlsx .xls .ods .csv .docx"
        )
    size = path.stat().st_size
    if size > MAX_REGISTER_MB * 1024 * 1024:
        raise RegisterError(
            f"{path}: 文件有 {size / 1048576:.0f} MB，超过任务清单的上限 {MAX_REGISTER_MB} MB，不像是任务清单"
        )
    return suffix


def read_grids(path: Path, sheet: str = "", what: str = "任务清单") -> list[Grid]:
    """Every table in the file as a grid of text; `what` the file is, for its messages."""
    return _read_source(path, sheet, what).grids


@dataclass
class _Source:
    grids: list[Grid]
    warnings: list[str] = field(default_factory=list)
    document: Any = None  # the Word document, for its paragraphs


def _read_source(path: Path, sheet: str = "", what: str = "任务清单") -> _Source:
    suffix = _check_file(path)
    if suffix in (".csv", ".txt", ".tsv"):
        return _Source(_grid_from_csv(path, what))
    if suffix == ".docx":
        document = open_docx(path)
        return _Source(_grids_from_docx(document), document=document)
    grids, warnings = _grids_from_workbook(path, sheet)
    return _Source(grids, warnings)


# --- headers: one row, or two levels (目标 over 2019年 / 2022年) ---

_YEAR_LABEL = re.compile(r"^(20\d{2})年?度?(目标|任务|指标)?$")
_ROLE_CHILD = ("牵头", "配合", "协办", "参与", "协同", "主责")


def _header_score(row: Sequence[str]) -> int:
    score = 0
    for cell in row:
        key = header_key(cell)
        if key and len(key) <= 20 and any(w in key for w in _HEADER_WORDS):
            score += 1
    return score


def _is_label(text: str) -> bool:
    return bool(text) and len(text) <= 16 and not re.search(r"[。；;]", text)


def _combined(parent: str, child: str) -> str:
    """The name of a column under a two-level header."""
    parent, child = squash(parent), squash(child)
    year = _YEAR_LABEL.match(child)
    if year:
        return f"{year.group(1)}年{year.group(2) or parent}"
    if child in _ROLE_CHILD:
        suffix = next((s for s in ("单位", "部门", "处室", "科室") if parent.endswith(s)), "单位")
        return child + suffix
    if any(w in child for w in ("单位", "部门", "处室", "领导", "时限", "时间")):
        return child
    return f"{parent}（{child}）"


def header_at(grid: Grid, index: int) -> tuple[list[str], int]:
    """The column names of a header starting at row `index`, and how many rows it takes.

    A second header row counts when it holds short labels under a parent merged across
    several columns (目标 over 2019年 and 2022年; 责任单位 over 牵头单位 and 配合单位), and
    every other column of it is merged down from the row above or empty.
    """
    top = grid.rows[index]
    names = [squash(h) for h in top]
    if index + 1 >= len(grid.rows) or index + 1 in grid.spans:
        return names, 1  # a section heading right under the header is not a second level
    sub = grid.rows[index + 1]
    children: dict[int, str] = {}
    for c, text in enumerate(sub):
        if not text or (index + 1, c) in grid.merged_down:
            continue
        if text == top[c] and (index + 1, c) not in grid.merged_across:
            continue
        if not _is_label(text) or task_id_text(text).isdigit():
            return names, 1
        children[c] = text
    if not children:
        return names, 1
    # each child sits under a parent that spans several columns (merged, or typed once)
    for c in children:
        parent_spans = (index, c) in grid.merged_across or (index, c + 1) in grid.merged_across
        typed_once = not top[c] and any(top[k] for k in range(c))
        if not (parent_spans or typed_once or top[c] == ""):
            return names, 1
    out = list(names)
    parent = ""
    for c in range(len(top)):
        if top[c]:
            parent = top[c]
        if c in children:
            out[c] = _combined(top[c] or parent, children[c])
    return out, 2


def find_header_row(grid: Grid, must_have: Sequence[str] = ()) -> int | None:
    """0-based index of the header row: the row that reads most like column titles and
    holds every name in `must_have` (a second header level counts)."""
    wanted = [header_key(m) for m in must_have if m]
    best, best_score = None, 1
    for i, row in enumerate(grid.rows[:_MAX_HEADER_SCAN]):
        if i in grid.spans:
            continue
        names, _ = header_at(grid, i)
        keys = {header_key(c) for c in names} | {header_key(c) for c in row}
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


_HEADING = re.compile(
    r"^([一二三四五六七八九十百]+[、.．]|[（(][一二三四五六七八九十百]+[)）]|第[一二三四五六七八九十百]+[部分章节类项]"
    r"|[一二三四五六七八九十百]+是)"
)


def _heading_text(grid: Grid, index: int, id_col: int, text_cols: set[int]) -> str | None:
    """The text of a section-heading row (一、深化改革), or None."""
    row = grid.rows[index]
    filled = [(c, v) for c, v in enumerate(row) if v]
    values = {v for _, v in filled}
    if len(values) != 1:
        return None
    value = next(iter(values))
    if index in grid.spans or _HEADING.match(value):
        return value
    # one cell alone: in the id column (or before the text) it heads a section
    cols = {c for c, _ in filled}
    if len(cols) == 1 and not cols <= text_cols and next(iter(cols)) <= id_col:
        return value
    return None


# --- reading a table with known columns ---

_TERMINAL = tuple("。！？；;!?")
_NUMBERED = re.compile(
    r"^([（(]?\d+[)）.．、]|[（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+、)"
)


@dataclass
class _Row:
    line: int  # 1-based row in the source
    cells: list[str]
    own: set[int]  # columns with text of this row's own (not merged from above)


@dataclass
class _Item:
    id: str
    rows: list[_Row]
    group: str


@dataclass(frozen=True)
class _Columns:
    id: int
    group: int | None
    divisions: int | None
    lead: int | None
    cooperating: int | None
    targets: list[tuple[int, int]]
    units: set[int]
    text: set[int]  # columns whose text may run on to the next row


def read_register(path: Path, settings: RegisterSettings) -> Register:
    """Read the register described by `settings`. Raises RegisterError naming the row."""
    source = _read_source(path, settings.sheet)
    if settings.layout == "paragraphs":
        if source.document is None:
            raise RegisterError(
                f'{path}: register.layout = "paragraphs" 只适用于 Word 文档（.docx）'
            )
        return read_paragraphs(path, source.document, settings)
    grids = source.grids
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
        if source.document is not None and not grids:
            raise RegisterError(
                f"{path}: 这个 Word 文件里没有表格。如果任务是按段落写的（“1.……（某某局负责）”），"
                '请在 xlflow.toml 的 [register] 中设置 layout = "paragraphs"，或用 xlflow init --register 重新识别'
            )
        raise RegisterError(
            f"{path}: 在{where}的前 {_MAX_HEADER_SCAN} 行中找不到同时含有 "
            f"{'、'.join(repr(m) for m in must)} 的表头行；请检查 xlflow.toml 的 [register] 列名，"
            f"或设置 header_row"
        )
    grid, header_index = chosen
    headers, depth = header_at(grid, header_index)
    body = _body(grids, grid, header_index, depth)
    return _read_body(path, settings, headers, body, header_index + depth, source.warnings)


def _body(grids: list[Grid], grid: Grid, header_index: int, depth: int) -> Grid:
    """The rows under the header; tables split across Word pages come as several tables
    with the same header, and are joined."""
    start = header_index + depth
    rows = list(grid.rows[start:])

    def shift(cells: frozenset[tuple[int, int]], offset: int) -> set[tuple[int, int]]:
        return {(r - offset, c) for r, c in cells if r >= offset}

    spans = {i - start for i in grid.spans if i >= start}
    down, across = shift(grid.merged_down, start), shift(grid.merged_across, start)
    header_keys = [header_key(h) for h in grid.rows[header_index]]
    for other in grids:
        if other is grid or not other.rows:
            continue
        if [header_key(h) for h in other.rows[0]] == header_keys:
            base = len(rows) - depth
            spans |= {base + i for i in other.spans if i >= depth}
            down |= {(base + r, c) for r, c in other.merged_down if r >= depth}
            across |= {(base + r, c) for r, c in other.merged_across if r >= depth}
            rows += other.rows[depth:]
    return Grid(grid.name, rows, frozenset(spans), frozenset(down), frozenset(across))


def _columns(
    where: str, settings: RegisterSettings, headers: list[str], header_line: int
) -> _Columns:
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
    readonly = [need(name, "readonly_columns") for name in settings.readonly_columns]
    if settings.name_column:
        readonly.append(need(settings.name_column, "name_column"))
    target_cols = [(year, need(col, f"targets.{year}")) for year, col in settings.targets]
    if missing:
        shown = "、".join(h for h in headers if h)
        raise RegisterError(
            f"{where} 第 {header_line} 行表头中没有这些列：{'、'.join(missing)}；"
            f"表头有：{shown}。请改正 xlflow.toml 中的列名。"
        )
    units = {c for c in (div_col, lead_col, coop_col) if c is not None}
    text = {c for c in readonly if c not in units and c != group_col}
    return _Columns(id_col, group_col, div_col, lead_col, coop_col, target_cols, units, text)


def _items(
    where: str, headers: list[str], body: Grid, cols: _Columns, first_line: int
) -> tuple[list[_Item], list[str]]:
    """The body's rows as items: a numbered row and the sub-rows or continuation rows under it."""
    items: list[_Item] = []
    notes: list[str] = []
    seen: dict[str, int] = {}
    section = ""
    current: _Item | None = None
    header_keys = [header_key(h) for h in headers]
    for i, row in enumerate(body.rows):
        line = first_line + i
        if not any(row):
            continue
        if [header_key(v) for v in row] == header_keys:
            # the header again, as a register printed over several pages repeats it
            notes.append(f"第 {line} 行重复了表头，已跳过。")
            current = None
            continue
        heading = _heading_text(body, i, cols.id, cols.text)
        if heading is not None:
            section, current = heading, None
            continue
        own = {c for c, v in enumerate(row) if v and (i, c) not in body.merged_down}
        raw_id = task_id_text(row[cols.id])
        merged_id = (i, cols.id) in body.merged_down
        if current is not None and (merged_id or not raw_id or raw_id == current.id):
            if not own:
                continue  # a row that is all merged cells adds nothing
            last = current.rows[-1]
            if not merged_id and not raw_id and _continues(last, row, own, cols.text):
                (c,) = own
                joined = last.cells[c] + row[c]
                notes.append(
                    f"第 {line} 行没有{headers[cols.id]}，只有“{headers[c]}”一格文字（“{row[c][:16]}”），"
                    f"看作序号 {current.id} 跨行的同一段文字，已接在第 {last.line} 行后面。"
                    "如它是单独的一项，请在该行补上序号。"
                )
                last.cells[c] = joined
                continue
            current.rows.append(_Row(line, list(row), own))
            continue
        if not raw_id:
            filled = "、".join(f"{headers[c]}={v[:12]!r}" for c, v in enumerate(row) if v)
            raise RegisterError(
                f"{where} 第 {line} 行有内容但没有{headers[cols.id]}（{filled}）；"
                f"请补上{headers[cols.id]}，或删除这一行"
            )
        if raw_id in seen:
            raise RegisterError(
                f"{where} 第 {line} 行的{headers[cols.id]} {raw_id!r} 与第 {seen[raw_id]} 行重复；"
                "每个任务的序号必须唯一（同一序号下的多行须紧挨在一起）"
            )
        seen[raw_id] = line
        group = section
        if cols.group is not None:
            group = squash(row[cols.group]) or (items[-1].group if items else "")
        current = _Item(raw_id, [_Row(line, list(row), own)], squash(group))
        items.append(current)
    return items, notes


def _continues(last: _Row, row: list[str], own: set[int], text_cols: set[int]) -> bool:
    """Whether a row without an id only carries on the text of the row above."""
    if len(own) != 1:
        return False
    (c,) = own
    if c not in text_cols:
        return False
    before, after = last.cells[c], row[c]
    return bool(before) and not before.endswith(_TERMINAL) and not _NUMBERED.match(after)


def _read_body(
    path: Path,
    settings: RegisterSettings,
    headers: list[str],
    body: Grid,
    header_line: int,
    warnings: Sequence[str] = (),
) -> Register:
    where = f"{path.name}（{body.name}）"
    cols = _columns(where, settings, headers, header_line)
    items, notes = _items(where, headers, body, cols, header_line + 1)
    notes = list(warnings) + notes
    tasks: list[Task] = []
    open_lists: list[str] = []
    for item in items:
        subrows = len(item.rows) > 1
        if subrows:
            ids = "、".join(f"{item.id}-{k}" for k in range(1, len(item.rows) + 1))
            notes.append(
                f"序号 {item.id} 下有 {len(item.rows)} 行（第 {item.rows[0].line}–{item.rows[-1].line} 行）："
                f"读作 {ids}，合并或空着的单元格取第一行的内容。"
            )
        first = item.rows[0].cells
        for k, sub in enumerate(item.rows, start=1):
            cells = [sub.cells[c] if sub.cells[c] else first[c] for c in range(len(first))]
            task_id = f"{item.id}-{k}" if subrows else item.id
            lead, coop, is_open = _units(cells, cols, settings)
            if is_open:
                open_lists.append(task_id)
            if not lead:
                column = settings.divisions_column or settings.lead_column
                raise RegisterError(
                    f"{where} 第 {sub.line} 行（{headers[cols.id]} {task_id}）没有责任处室："
                    f"{column!r} 列为空；请填上牵头处室"
                )
            tasks.append(
                Task(
                    id=task_id,
                    group=item.group,
                    columns=tuple((h, cells[c]) for c, h in enumerate(headers) if h),
                    lead=tuple(lead),
                    cooperating=tuple(coop),
                    targets=tuple((year, cells[c]) for year, c in cols.targets),
                    row=sub.line,
                )
            )
    if not tasks:
        raise RegisterError(f"{where}: 表头下面没有任何任务行")
    if open_lists:
        notes.append(open_list_note(open_lists))
    return Register(
        source=str(path),
        headers=tuple(h for h in headers if h),
        tasks=tuple(tasks),
        notes=tuple(notes),
    )


def _units(
    cells: list[str], cols: _Columns, settings: RegisterSettings
) -> tuple[list[str], list[str], bool]:
    if cols.divisions is not None:
        parsed = parse_units(cells[cols.divisions], settings.separators, settings.lead_rule)
        return list(parsed.lead), list(parsed.cooperating), parsed.open_list
    assert cols.lead is not None
    in_lead = parse_units(cells[cols.lead], settings.separators, settings.lead_rule)
    # every unit in a lead column leads, unless the cell itself says otherwise
    lead = list(in_lead.lead) if in_lead.explicit else list(in_lead.units)
    coop = [] if not in_lead.explicit else list(in_lead.cooperating)
    is_open = in_lead.open_list
    if cols.cooperating is not None:
        in_coop = parse_units(cells[cols.cooperating], settings.separators, settings.lead_rule)
        coop += list(in_coop.units)
        is_open |= in_coop.open_list
    seen: list[str] = []
    for unit in coop:
        if unit not in lead and unit not in seen:
            seen.append(unit)
    return lead, seen, is_open


def with_notes(register: Register, notes: Sequence[str]) -> Register:
    return replace(register, notes=register.notes + tuple(notes))
