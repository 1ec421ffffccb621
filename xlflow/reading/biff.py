"""The record stream of an .xls (BIFF8) walked before python-calamine reads it: the OLE
container's sector chains, formulas and their cached text, percent formats, the used
range, and damage that would make calamine drop cells or move a value."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import olefile

from ..cells import cell_ref
from ..config.model import Limits
from ..issues import IssueCode, error
from .oleprops import creating_application, custom_properties
from .workbook import (
    Malformed,
    RawWorkbook,
    _corrupt,
    _invalid_cell,
    _malformed,
    _percent_format,
    _too_large,
    wps_name,
)


class _Biff:
    """Just enough of the BIFF8 record stream of an .xls workbook."""

    def __init__(self, stream: bytes) -> None:
        self.data = stream

    def records(self, start: int = 0) -> Iterator[tuple[int, int, bytes]]:
        """The records of the substream at `start`, to its EOF; an embedded chart's own
        BOF … EOF inside it is walked through, not taken for the end."""
        pos, data, depth = start, self.data, 0
        self.end = len(data)
        while pos + 4 <= len(data):
            kind, size = (
                int.from_bytes(data[pos : pos + 2], "little"),
                int.from_bytes(data[pos + 2 : pos + 4], "little"),
            )
            yield pos, kind, data[pos + 4 : pos + 4 + size]
            pos += 4 + size
            if kind == 0x0809:
                depth += 1
            elif kind == 0x000A:  # EOF of this substream, or of one inside it
                depth -= 1
                if depth <= 0:
                    self.end = pos
                    return


def _biff_string(body: bytes, offset: int, length_bytes: int) -> str:
    """An XLUnicodeString (length_bytes = 2) or ShortXLUnicodeString (1) at `offset`."""
    count = int.from_bytes(body[offset : offset + length_bytes], "little")
    flags = body[offset + length_bytes]
    pos = offset + length_bytes + 1
    if flags & 0x08:  # rich text: run count
        pos += 2
    if flags & 0x04:  # phonetic data size
        pos += 4
    if flags & 0x01:
        return body[pos : pos + 2 * count].decode("utf-16-le", "replace")
    return body[pos : pos + count].decode("latin-1")


def _scan_xls(data: bytes, raw: RawWorkbook, limits: Limits) -> None:
    """Check an .xls before python-calamine reads it, and note what calamine does not say:
    its OLE container must hold a workbook stream, and its BIFF records a used range within
    the limits and shared-string indexes that exist."""
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        broken = _broken_chain(ole)
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        stream = ole.openstream(name).read() if name else None
    except Exception:  # olefile raises several types on a damaged container
        raise Malformed(_corrupt("OLE 复合文档结构已损坏")) from None
    if broken:
        raise Malformed(_corrupt(f"OLE 结构损坏：{broken}的扇区链断开或循环"))
    raw.application = (
        wps_name(custom_properties(ole).get("KSOProductBuildVer", ""))
        # the stream WPS表格 adds to every .xls and .et it saves, with or without its build
        or ("WPS表格" if ole.exists("ETExtData") else "")
        or creating_application(ole)
    )
    if stream is None:
        raise Malformed(_corrupt("OLE 文件中没有工作簿数据流（Workbook）"))
    version = _bof_version(stream)
    if name == "Book" or version in _OLD_VERSIONS:
        raise Malformed(
            error(
                IssueCode.FORMAT_TOO_OLD,
                "这是 Excel 5.0/95 格式的 .xls（BIFF5），文件本身没有损坏，但 xlflow 只读取 "
                "Excel 97-2003 及更新的格式。请在 Excel 或 WPS 中打开它，另存为 .xlsx "
                "（或“Excel 97-2003 工作簿”）后重新报送。",
            )
        )
    scan_biff(stream, raw, limits)


# the version a workbook's first BOF record gives: BIFF5 (Excel 5.0/95) and BIFF7
_OLD_VERSIONS = frozenset((0x0500,))


def _bof_version(stream: bytes) -> int:
    if len(stream) >= 6 and int.from_bytes(stream[0:2], "little") == 0x0809:
        return int.from_bytes(stream[4:6], "little")
    return -1


_END_OF_CHAIN = 0xFFFFFFFE


def _chain_ok(table: Sequence[int], start: int, sectors: int) -> bool:
    """A sector chain ends, within the table, after at least `sectors` sectors, and
    visits none twice: olefile stops reading at a stream's size, but python-calamine
    follows a chain to its end, and a looping one grows its buffer until memory runs out."""
    seen: set[int] = set()
    at = start
    while at != _END_OF_CHAIN:
        if at >= len(table) or at in seen:
            return False
        seen.add(at)
        at = table[at]
    return len(seen) >= sectors


def _broken_chain(ole: olefile.OleFileIO) -> str:
    """The first part of an OLE container whose sector chain is broken, or ""."""
    if not _chain_ok(ole.fat, ole.first_dir_sector, 1):
        return "目录"
    cutoff, size = ole.minisectorcutoff, ole.sectorsize
    root = ole.root
    if (
        root is not None
        and root.size
        and not _chain_ok(ole.fat, root.isectStart, -(-root.size // size))
    ):
        return "根存储"
    mini = [
        e for e in ole.direntries if e is not None and e.entry_type == 2 and 0 < e.size < cutoff
    ]
    if mini:
        if not _chain_ok(ole.fat, ole.first_mini_fat_sector, 1):
            return "小扇区分配表"
        ole.loadminifat()
    for entry in ole.direntries:
        if entry is None or entry.entry_type != 2 or not entry.size:  # a stream
            continue
        big = entry.size >= cutoff
        table = ole.fat if big else ole.minifat
        unit = size if big else ole.minisectorsize
        if not _chain_ok(table, entry.isectStart, -(-entry.size // unit)):
            return f"数据流“{entry.name}”"
    return ""


def scan_biff(stream: bytes, raw: RawWorkbook, limits: Limits | None = None) -> None:
    """Formulas (and their cached text or error), and percent-formatted numbers, from BIFF8.

    With `limits`, a sheet whose DIMENSIONS record claims more than the limits, a LABELSST
    cell whose shared-string index does not exist, and a damaged record order
    (`_SheetWalk`) raise Malformed.
    """
    biff = _Biff(stream)
    book = _biff_globals(biff)
    for sheet_name, offset in book.sheets:
        cells = _SheetCells()
        kind = -1
        walk = _SheetWalk(sheet_name, book, limits) if limits is not None else None
        for n, (pos, kind, body) in enumerate(biff.records(offset)):
            if walk is not None and walk.step(n, pos, kind, body, cells.pending is not None):
                continue  # inside an embedded chart's own records
            cells.take(kind, body, book.is_percent)
        if walk is not None:
            walk.finish(kind, biff)
        raw.note_cells(sheet_name, cells.formulas, cells.errors, cells.percent)
        if cells.texts:
            raw.formula_texts[sheet_name] = cells.texts


@dataclass
class _BiffBook:
    """What the workbook globals say that the sheets need."""

    formats: set[int] = field(default_factory=lambda: {9, 10})  # percent number formats
    xf_percent: list[bool] = field(default_factory=list)  # by style index
    sheets: list[tuple[str, int]] = field(default_factory=list)  # name, stream offset
    shared: int = -1  # shared strings, -1 where there is no SST

    def is_percent(self, ixfe: int) -> bool:
        return 0 <= ixfe < len(self.xf_percent) and self.xf_percent[ixfe]


def _biff_globals(biff: _Biff) -> _BiffBook:
    book = _BiffBook()
    for _, kind, body in biff.records():
        if kind == 0x00FC and len(body) >= 8:  # SST: total, unique
            book.shared = int.from_bytes(body[4:8], "little")
        elif kind == 0x041E and len(body) > 4:  # FORMAT
            if _percent_format(_biff_string(body, 2, 2)):
                book.formats.add(int.from_bytes(body[0:2], "little"))
        elif kind == 0x00E0 and len(body) >= 4:  # XF
            book.xf_percent.append(int.from_bytes(body[2:4], "little") in book.formats)
        elif kind == 0x0085 and len(body) > 8:  # BOUNDSHEET
            book.sheets.append((_biff_string(body, 6, 1), int.from_bytes(body[0:4], "little")))
    return book


@dataclass
class _SheetCells:
    """What one sheet's cell records say that python-calamine does not."""

    formulas: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    percent: set[str] = field(default_factory=set)
    texts: dict[tuple[int, int], str] = field(default_factory=dict)
    pending: tuple[int, int] | None = None  # a text formula whose STRING comes next

    def take(self, kind: int, body: bytes, is_percent: Callable[[int], bool]) -> None:
        if kind in (0x0203, 0x027E) and len(body) >= 6:  # NUMBER, RK
            r, c, ixfe = (int.from_bytes(body[i : i + 2], "little") for i in (0, 2, 4))
            if is_percent(ixfe):
                self.percent.add(cell_ref(r, c))
        elif kind == 0x00BD and len(body) >= 6:  # MULRK
            r = int.from_bytes(body[0:2], "little")
            first = int.from_bytes(body[2:4], "little")
            for k in range((len(body) - 6) // 6):
                if is_percent(int.from_bytes(body[4 + 6 * k : 6 + 6 * k], "little")):
                    self.percent.add(cell_ref(r, first + k))
        elif kind == 0x0006 and len(body) >= 14:  # FORMULA
            self._formula(body, is_percent)
        elif kind == 0x0207 and self.pending is not None and len(body) >= 3:  # STRING
            text = self.texts[self.pending] = _biff_string(body, 0, 2)
            if text == "":  # as Excel stores an empty-string result
                self.errors.add(cell_ref(*self.pending))
            self.pending = None
        elif kind in _CELL_RECORDS:
            self.pending = None

    def _formula(self, body: bytes, is_percent: Callable[[int], bool]) -> None:
        r, c, ixfe = (int.from_bytes(body[i : i + 2], "little") for i in (0, 2, 4))
        self.formulas.add(cell_ref(r, c))
        self.pending = None
        result = body[6:14]
        if result[6:8] != b"\xff\xff":
            if is_percent(ixfe):
                self.percent.add(cell_ref(r, c))
        elif result[0] == 0:
            self.pending = (r, c)  # the text follows in a STRING record
        elif result[0] == 2:
            self.errors.add(cell_ref(r, c))  # #VALUE! and the like: no usable value
        elif result[0] == 3:
            # an empty-string result: no usable value, as in .xlsx and .ods
            self.texts[(r, c)] = ""
            self.errors.add(cell_ref(r, c))


# Records that may stand between a FORMULA and the STRING that holds its text result
_FORMULA_COMPANIONS = frozenset((0x04BC, 0x0221, 0x0236))  # SHRFMLA, ARRAY, TABLE
# Cell records a CONTINUE never follows: one there is a cell record whose type was damaged
# (python-calamine appends it to the record before it, and the cell vanishes)
_UNCONTINUED = frozenset((0x0201, 0x0203, 0x027E, 0x00FD, 0x0205, 0x00BD, 0x00BE, 0x0204, 0x00D6))
_CHART = 0x0020  # a BOF's substream type: an embedded chart


class _SheetWalk:
    """The order of one sheet's records, as python-calamine depends on it: it stops at the
    first BOF or EOF inside the sheet, and writes a STRING record's text to the cell of
    the last FORMULA it saw (A1 when there was none). Damage that would make it drop the
    rest of the sheet, or put a value in another cell, is refused here, naming where."""

    def __init__(self, sheet: str, book: _BiffBook, limits: Limits) -> None:
        self.sheet = sheet
        self.book = book
        self.limits = limits
        self.last_cell = ""  # the last cell read before a damaged record
        self.previous = -1  # the last record's type, FORMULA companions skipped
        self.previous_body = b""
        self.chart_depth = 0
        self.after_chart = False
        self.in_cells = False  # inside the cell table: rows, cells and their companions

    def _damaged(self, pos: int, what: str, body: bytes = b"") -> Malformed:
        where = f"单元格 {self.last_cell} 之后" if self.last_cell else "开头"
        guess = _cell_guess(body)
        seems = f"（看来原是单元格 {guess} 的记录）" if guess else ""
        return Malformed(
            error(
                IssueCode.BIFF_RECORD_DAMAGED,
                f"工作表“{self.sheet}”在{where}（数据流偏移 0x{pos:X}）{what}{seems}。"
                "按这样的记录读，后面的单元格会丢失或错位，读出的内容不可信，未采用。"
                "请用 Excel/WPS 打开该文件，核对内容后另存再报送，或用下发的原表重新填写。",
                sheet=self.sheet,
                cell=guess,
            )
        )

    def step(self, n: int, pos: int, kind: int, body: bytes, text_pending: bool) -> bool:
        """Check one record; True while inside an embedded chart (its records are the
        chart's, not the sheet's)."""
        if n == 0 and kind != 0x0809:
            raise _malformed(f"工作表“{self.sheet}”的记录", "工作表的记录不是从 BOF 开始")
        if self._order(n, pos, kind, body, text_pending):
            return True
        book = self.book
        _check_biff_record(self.sheet, kind, body, book.shared, len(book.xf_percent), self.limits)
        return False

    def _order(self, n: int, pos: int, kind: int, body: bytes, text_pending: bool) -> bool:
        if self.chart_depth:
            if kind == 0x0809:
                self.chart_depth += 1
            elif kind == 0x000A:
                self.chart_depth -= 1
            return True
        if kind == 0x0809 and n > 0:
            if len(body) >= 4 and int.from_bytes(body[2:4], "little") == _CHART:
                self.chart_depth, self.after_chart = 1, True
                return True
            raise self._damaged(pos, "出现了不应有的 BOF 记录（工作表开始标记）", body)
        if kind == 0x0207 and not (text_pending and self.previous == 0x0006):
            raise self._damaged(
                pos,
                f"有一条 STRING 记录（公式的文本结果）前面不是文本公式（前一条记录类型 0x{self.previous:04X}），"
                "公式记录已损坏",
                self.previous_body,
            )
        if kind == 0x003C and self.previous in _UNCONTINUED:
            raise self._damaged(pos, "有一条单元格记录被改成了 CONTINUE 记录", body)
        if kind in _CELL_TABLE:
            self.in_cells = True
        elif self.in_cells and kind not in _AFTER_CELLS and kind not in _LEGACY_RECORDS:
            raise self._damaged(
                pos, f"的单元格之间有一条类型未知的记录（0x{kind:04X}），单元格记录已损坏", body
            )
        elif kind in _AFTER_CELLS:
            self.in_cells = False
        if kind in _CELL_RECORDS or kind in (0x0204, 0x0207):
            if self.after_chart:
                raise self._damaged(pos, "在嵌入的图表之后还有单元格记录", body)
            if kind != 0x0207 and len(body) >= 4:
                self.last_cell = cell_ref(
                    int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
                )
        if kind not in _FORMULA_COMPANIONS:
            self.previous, self.previous_body = kind, body
        return False

    def finish(self, last: int, biff: _Biff) -> None:
        """The sheet ends with its EOF, and no cell record follows it: a record whose
        length was changed throws every record after it out of step, and an EOF with cells
        after it was a damaged record, where python-calamine would stop."""
        if last != 0x000A:
            raise _malformed(
                f"工作表“{self.sheet}”的记录", "工作表的记录没有以 EOF 结束，记录长度不一致"
            )
        data, pos = biff.data, biff.end
        if pos + 4 <= len(data):
            kind = int.from_bytes(data[pos : pos + 2], "little")
            if kind in _CELL_RECORDS or kind in (0x0204, 0x0207):
                size = int.from_bytes(data[pos + 2 : pos + 4], "little")
                raise self._damaged(
                    pos - 4,
                    "出现了提前的 EOF 记录（工作表结束标记），其后还有单元格记录",
                    data[pos + 4 : pos + 4 + size],
                )


def _cell_guess(body: bytes) -> str:
    """The cell a damaged record seems to have been, when its body starts as a cell's."""
    if len(body) < 6:
        return ""
    row, col = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
    return cell_ref(row, col) if col < 256 else ""


# BIFF8 records of one fixed size: BLANK, NUMBER, RK, LABELSST, BOOLERR, ROW, DIMENSIONS
_BIFF_SIZES = {0x0201: 6, 0x0203: 14, 0x027E: 10, 0x00FD: 10, 0x0205: 8, 0x0208: 16, 0x0200: 14}
# BIFF8 records that start with a cell's row and column; the MUL* ones end with the last column
_CELL_RECORDS = frozenset(
    (0x0006, 0x00BD, 0x00BE, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E)
)


# What the cell table of a sheet holds ([MS-XLS] 2.1.7.20.5, CELLTABLE): ROW and DBCELL,
# the cell records, a formula's companions (UNCALCED, SHRFMLA, ARRAY, TABLE, STRING,
# CONTINUE), LABEL and RSTRING as older writers leave them, and ENTEXU2
_CELL_TABLE = _CELL_RECORDS | frozenset(
    (0x0208, 0x00D7, 0x005E, 0x04BC, 0x0221, 0x0236, 0x0207, 0x003C, 0x0204, 0x00D6, 0x01C2)
)
# Records that may follow the cell table, in the order any writer puts them (drawings,
# notes, merged cells, validations, formats, links, the window, the sheet's features, EOF).
# Any other record among the cells is a damaged one: python-calamine skips a record it
# does not know, and the cell it was goes missing without a word.
_AFTER_CELLS = frozenset(
    (0x000A, 0x001C, 0x001D, 0x0041, 0x0050, 0x005D, 0x0090, 0x0099, 0x00A0, 0x00B0, 0x00E5,
     0x00EC, 0x00ED, 0x00EF, 0x015F, 0x01AA, 0x01AD, 0x01B0, 0x01B1, 0x01B2, 0x01B6, 0x01B8,
     0x01BA, 0x01BE, 0x023E, 0x0800, 0x0801, 0x0809, 0x0862, 0x0863, 0x0866, 0x0867, 0x0868,
     0x086C, 0x0872, 0x0879, 0x087A, 0x087B, 0x088B)
)  # fmt: skip


# Record types of Excel 2.x–4.x (dimensions, cells, row, beginning of file) that are not
# records of an .xls (BIFF8) at all. One in a sheet is a damaged record: python-calamine
# skips it, so a cell would go missing without a word, while another reader takes it for
# an old cell or a dimension and fails.
_LEGACY_RECORDS = frozenset(
    (0x0000, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0007, 0x0008, 0x0009, 0x0206, 0x0209, 0x0406, 0x0409)
)  # fmt: skip


# what an .xls (BIFF8) can hold; and the cell records that hold only a style (BLANK,
# MULBLANK), which WPS writes out to a formatted row's last column
_BIFF8_ROWS, _BIFF8_COLUMNS = 65536, 256
_FORMAT_ONLY = frozenset((0x0201, 0x00BE))


def _check_biff_record(
    sheet: str, kind: int, body: bytes, shared: int, styles: int, limits: Limits
) -> None:
    if kind in _LEGACY_RECORDS:
        raise _malformed(
            f"工作表“{sheet}”的记录", f"记录类型 0x{kind:04X} 不属于 Excel 97-2003 格式"
        )
    size = _BIFF_SIZES.get(kind)
    if size is not None and len(body) != size:
        raise _malformed(
            f"工作表“{sheet}”的记录", f"记录 0x{kind:04X} 长 {len(body)} 字节，应为 {size}"
        )
    if kind in (0x00BD, 0x00BE) and (
        len(body) < 8 or (len(body) - 6) % (6 if kind == 0x00BD else 2)
    ):
        raise _malformed(f"工作表“{sheet}”的记录", f"记录 0x{kind:04X} 的长度 {len(body)} 不对")
    rows = cols = 0
    if kind == 0x0200:  # DIMENSIONS: first row, last row + 1, first col, last col + 1
        if len(body) != 14:
            raise _malformed(
                f"工作表“{sheet}”的记录", f"DIMENSIONS 记录长 {len(body)} 字节，应为 14"
            )
        first_row, rows = int.from_bytes(body[0:4], "little"), int.from_bytes(body[4:8], "little")
        first_col, cols = (
            int.from_bytes(body[8:10], "little"),
            int.from_bytes(body[10:12], "little"),
        )
        if first_row > rows or first_col > cols:
            raise _malformed(f"工作表“{sheet}”的记录", "DIMENSIONS 记录的起始行列大于结束行列")
        if rows <= _BIFF8_ROWS and cols <= _BIFF8_COLUMNS:
            # within what an .xls can hold it is formatting's reach (WPS formats whole rows
            # and columns), which python-calamine does not allocate for: cells decide
            rows = cols = 0
    elif kind in _CELL_RECORDS and len(body) >= 4:
        # python-calamine sizes the sheet by every cell, whatever DIMENSIONS says
        rows = int.from_bytes(body[0:2], "little") + 1
        cols = int.from_bytes(body[2:4], "little") + 1
        if kind in (0x00BD, 0x00BE) and len(body) >= 6:
            cols = max(cols, int.from_bytes(body[-2:], "little") + 1)
        elif len(body) >= 6 and int.from_bytes(body[4:6], "little") >= styles:
            row, col = rows - 1, cols - 1
            raise Malformed(_invalid_cell(sheet, cell_ref(row, col), "单元格格式编号不存在"))
        if kind in _FORMAT_ONLY:
            rows = cols = 0  # a styled cell with nothing in it: formatting, not content
    if rows > limits.max_rows or cols > limits.max_columns:
        raise Malformed(_too_large(sheet, rows, cols, limits))
    if kind == 0x00FD and len(body) >= 10:  # LABELSST: row, col, xf, string index
        index = int.from_bytes(body[6:10], "little")
        if index >= max(shared, 0):
            row, col = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
            raise Malformed(
                _invalid_cell(
                    sheet,
                    cell_ref(row, col),
                    f"共享字符串编号 {index} 不存在（共 {max(shared, 0)} 个）",
                )
            )


def _apply_formula_texts(raw: RawWorkbook) -> None:
    """python-calamine reads an .xls formula's text result as 0; use the cached text."""
    for name, texts in raw.formula_texts.items():
        sheet = raw.sheet(name)
        if sheet is None:
            continue
        for (r, c), text in texts.items():
            if r < len(sheet.rows) and c < len(sheet.rows[r]):
                sheet.rows[r][c] = text
