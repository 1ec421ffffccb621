"""The unit directory (单位名录): every unit that answers, its other names, the collectives
it belongs to, and whom to write to.

Registers name units as people write them: `发改委` in one row and `市发展改革委` in the
next, `各街道` for a dozen streets. The directory says which names are one unit (they
fold into one form) and who the members of a collective are (each gets its own form,
with the collective's tasks and role). `organise` applies it to the register as parsed,
so every later step (forms, status, reminders, the consolidated workbook) sees units.

The coordinator keeps it in Excel as `templates/单位名录.xlsx` (or `.csv`, UTF-8 or GBK);
an older folder's `templates/divisions.csv` is read the same way. `init` drafts it from
the register; `xlflow directory --check` names each problem with its row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..cells import cell_ref
from ..issues import Issue, IssueCode, Severity, error, warning
from ..model import Register, Task
from ..text import header_key
from ..units import is_collective, normalise_unit

DIRECTORY_XLSX = "单位名录.xlsx"
DIRECTORY_CSV = "单位名录.csv"
LEGACY_CSV = "divisions.csv"  # what xlflow before the directory wrote, still read
SHEET = "单位名录"
HEADERS = ("单位", "简称/别名", "所属集体", "联系人", "电子邮箱", "联系电话", "备注")
NAME_SEPARATOR = "、"

# column -> the headers it is known by (header_key form)
_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("单位", "单位名称", "处室", "部门", "名称", "单位（处室）"),
    "aliases": ("简称/别名", "简称", "别名", "简称、别名", "其他名称", "又称"),
    "collectives": ("所属集体", "集体", "所属"),
    "person": ("联系人",),
    "email": ("电子邮箱", "邮箱", "email", "e-mail"),
    "phone": ("联系电话", "电话", "手机"),
    "note": ("备注", "说明"),
}
_EMAIL = re.compile(r"[^@\s,;，；<>()（）]+@[^@\s,;，；<>()（）]+\.[A-Za-z]{2,}")
_SPLIT = re.compile(r"[、,，;；/\n]")


@dataclass(frozen=True)
class Unit:
    """One row of the directory."""

    name: str
    aliases: tuple[str, ...] = ()
    collectives: tuple[str, ...] = ()
    person: str = ""
    email: str = ""
    phone: str = ""
    row: int = 0  # 1-based row in the file; 0 for a unit the directory does not list


def unit_key(name: str) -> str:
    """Names compare as one form: full-width letters, brackets and spaces do not count."""
    return normalise_unit(name)[0]


@dataclass(frozen=True)
class Directory:
    path: str
    units: tuple[Unit, ...] = ()
    problems: tuple[Issue, ...] = ()
    sheet: str = SHEET

    @functools.cached_property
    def _names(self) -> dict[str, Unit]:
        """Every name and alias -> its unit; on a clash the first row keeps the name (the
        clash is a problem of its own)."""
        out: dict[str, Unit] = {}
        for unit in self.units:
            out.setdefault(unit_key(unit.name), unit)
        for unit in self.units:
            for alias in unit.aliases:
                out.setdefault(unit_key(alias), unit)
        return out

    @functools.cached_property
    def _members(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for unit in self.units:
            for collective in unit.collectives:
                home = self.resolve(collective)
                if unit.name not in out.setdefault(home, []) and unit.name != home:
                    out[home].append(unit.name)
        return {name: tuple(members) for name, members in out.items()}

    def unit(self, name: str) -> Unit | None:
        return self._names.get(unit_key(name))

    def resolve(self, name: str) -> str:
        """The unit a name names, as the directory writes it; an unknown name as written."""
        unit = self.unit(name)
        return unit.name if unit is not None else name

    def members(self, collective: str) -> tuple[str, ...]:
        """The members of a collective (any of its names), in directory order."""
        return self._members.get(self.resolve(collective), ())

    @property
    def collectives(self) -> tuple[str, ...]:
        return tuple(self._members)

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    def contact(self, name: str) -> Unit:
        return self.unit(name) or Unit(name)


def find_directory(templates: Path) -> Path | None:
    """The folder's directory: 单位名录.xlsx, else 单位名录.csv, else the older divisions.csv."""
    for name in (DIRECTORY_XLSX, DIRECTORY_CSV, LEGACY_CSV):
        if (templates / name).is_file():
            return templates / name
    return None


# --- reading ---


def header_of(rows: Sequence[Sequence[str]]) -> tuple[int, dict[str, int]] | None:
    """The header row of a directory sheet and the column of each known header."""
    wanted = {key: {header_key(h) for h in names} for key, names in _COLUMNS.items()}
    for index, row in enumerate(rows[:20]):
        found: dict[str, int] = {}
        for col, text in enumerate(row):
            k = header_key(text)
            for key, names in wanted.items():
                if k in names and key not in found:
                    found[key] = col
        if "name" in found:
            return index, found
    return None


def _names(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in _SPLIT.split(text):
        name = unit_key(part)
        if name and name not in out:
            out.append(name)
    return tuple(out)


def units_from_rows(
    path: Path, name: str, rows: Sequence[Sequence[str]], header: int, cols: Mapping[str, int]
) -> Directory:
    """The directory in a sheet's rows of text, under the header row `header`."""
    sheet = name or SHEET
    grid_rows = rows
    units: list[Unit] = []
    problems: list[Issue] = []

    def cell(row: Sequence[str], key: str) -> str:
        col = cols.get(key)
        return row[col].strip() if col is not None and col < len(row) else ""

    for index in range(header + 1, len(grid_rows)):
        row = grid_rows[index]
        name = unit_key(cell(row, "name"))
        rest = [cell(row, k) for k in ("aliases", "collectives", "person", "email", "phone")]
        if not name:
            if any(rest):
                problems.append(
                    error(
                        IssueCode.DIRECTORY_NAME_MISSING,
                        f"第 {index + 1} 行填了内容但没有写“单位”：请写上单位名称，或删除这一行。",
                        sheet=sheet,
                        cell=cell_ref(index, cols["name"]),
                    )
                )
            continue
        email = cell(row, "email")
        units.append(
            Unit(
                name=name,
                aliases=tuple(a for a in _names(cell(row, "aliases")) if a != name),
                collectives=_names(cell(row, "collectives")),
                person=cell(row, "person"),
                email=email,
                phone=cell(row, "phone"),
                row=index + 1,
            )
        )
        if email and not all(_EMAIL.fullmatch(e) for e in _emails(email)):
            problems.append(
                warning(
                    IssueCode.DIRECTORY_EMAIL_INVALID,
                    f"第 {index + 1} 行 {name} 的电子邮箱“{email}”不是有效的邮箱地址"
                    "（应像 name@example.gov.cn；几个地址用“;”隔开）：催报草稿不会填这个收件人。",
                    sheet=sheet,
                    cell=cell_ref(index, cols["email"]),
                    division=name,
                )
            )
    directory = Directory(str(path), tuple(units), (), sheet)
    problems += _clashes(directory, cols)
    return replace(directory, problems=tuple(problems))


def _emails(text: str) -> list[str]:
    return [e.strip() for e in re.split(r"[;；,，\s]+", text) if e.strip()]


def valid_emails(text: str) -> list[str]:
    """The well-formed addresses in a 电子邮箱 cell (several are split by ; or ，)."""
    return [e for e in _emails(text) if _EMAIL.fullmatch(e)]


def _clashes(directory: Directory, cols: Mapping[str, int]) -> list[Issue]:
    """A unit on two rows; an alias given to two units, or that is another unit's name."""
    problems: list[Issue] = []
    sheet = directory.sheet
    first: dict[str, Unit] = {}
    for unit in directory.units:
        earlier = first.setdefault(unit.name, unit)
        if earlier is not unit:
            problems.append(
                error(
                    IssueCode.DIRECTORY_DUPLICATE_UNIT,
                    f"第 {unit.row} 行的单位 {unit.name} 与第 {earlier.row} 行重复："
                    "同一单位只写一行，其他名称写在“简称/别名”中。",
                    sheet=sheet,
                    cell=cell_ref(unit.row - 1, cols["name"]),
                    division=unit.name,
                )
            )
    owner: dict[str, Unit] = {}
    for unit in directory.units:
        for alias in unit.aliases:
            named = first.get(alias)
            if named is not None and named.name != unit.name:
                problems.append(
                    error(
                        IssueCode.DIRECTORY_ALIAS_CONFLICT,
                        f"第 {unit.row} 行把“{alias}”写作 {unit.name} 的别名，但第 {named.row} 行"
                        f"“{alias}”是另一个单位：如果是同一单位，删除第 {named.row} 行；"
                        "如果不是，从别名中删去。",
                        sheet=sheet,
                        cell=cell_ref(unit.row - 1, cols.get("aliases", 1)),
                        division=unit.name,
                    )
                )
            holder = owner.setdefault(alias, unit)
            if holder.name != unit.name:
                problems.append(
                    error(
                        IssueCode.DIRECTORY_ALIAS_CONFLICT,
                        f"别名“{alias}”同时写给了 {holder.name}（第 {holder.row} 行）和 "
                        f"{unit.name}（第 {unit.row} 行）：一个名称只能指一个单位，请删去其中一处。",
                        sheet=sheet,
                        cell=cell_ref(unit.row - 1, cols.get("aliases", 1)),
                        division=unit.name,
                    )
                )
    return problems


def check_against(directory: Directory, register: Register | None) -> list[Issue]:
    """What the directory says that neither it nor the register knows: a 所属集体 that is
    no unit of the directory and no name in the register (a typo leaves members out)."""
    known = {unit_key(u.name) for u in directory.units}
    known |= {unit_key(a) for u in directory.units for a in u.aliases}
    if register is not None:
        known |= {unit_key(name) for t in register.tasks for name in _written(t)}
        known |= {unit_key(name) for name, _ in register.folded}
        known |= {unit_key(name) for name, _ in register.collectives}
    problems = []
    for unit in directory.units:
        for collective in unit.collectives:
            if unit_key(collective) in known:
                continue
            problems.append(
                error(
                    IssueCode.DIRECTORY_UNKNOWN_COLLECTIVE,
                    f"第 {unit.row} 行 {unit.name} 的所属集体“{collective}”既不在任务清单中，"
                    "也不是名录中的单位：请改成清单中的写法（如“各街道”），或在名录中加一行这个集体。",
                    sheet=directory.sheet,
                    cell=f"第 {unit.row} 行",
                    division=unit.name,
                )
            )
    return problems


def _written(task: Task) -> tuple[str, ...]:
    """The names a task's row was read with, before the directory (its collectives too)."""
    return task.lead + task.cooperating + tuple(name for name, _ in task.collectives)


# --- applying it to the register ---


def organise(register: Register, directory: Directory) -> Register:
    """The register with every name folded into its unit, and each collective that has
    members in the directory replaced by them, each with the collective's role."""
    if not directory.units:
        return register
    folded: dict[str, str] = {}
    expanded: dict[str, tuple[str, ...]] = {}
    tasks = []
    for task in register.tasks:
        roles: dict[str, bool] = {}  # unit -> leads (insertion order is the order shown)
        via: dict[str, list[str]] = {}
        for leads, names in ((True, task.lead), (False, task.cooperating)):
            for name in names:
                unit = directory.resolve(name)
                if unit != name:
                    folded.setdefault(name, unit)
                members = directory.members(unit)
                if members:
                    expanded[unit] = members
                    via.setdefault(unit, []).extend(m for m in members if m not in via[unit])
                for answering in members or (unit,):
                    roles[answering] = roles.get(answering, False) or leads
        tasks.append(
            replace(
                task,
                lead=tuple(u for u, leads in roles.items() if leads),
                cooperating=tuple(u for u, leads in roles.items() if not leads),
                collectives=tuple((c, tuple(m)) for c, m in via.items()),
            )
        )
    return replace(
        register,
        tasks=tuple(tasks),
        folded=tuple(folded.items()),
        collectives=tuple(expanded.items()),
    )


# --- drafting it from the register (init) ---

# names that one unit goes by, short and long: a pair with the same long form is one unit
KNOWN_ABBREVIATIONS: dict[str, str] = {
    "发改委": "发展改革委",
    "发展和改革委员会": "发展改革委",
    "发展改革委员会": "发展改革委",
    "经信局": "经济和信息化局",
    "经信委": "经济和信息化委员会",
    "科技局": "科学技术局",
    "人社局": "人力资源和社会保障局",
    "住建局": "住房和城乡建设局",
    "自规局": "自然资源和规划局",
    "生态环境局": "生态环境局",
    "交通局": "交通运输局",
    "农业局": "农业农村局",
    "文旅局": "文化和旅游局",
    "文广旅局": "文化广电旅游局",
    "卫健委": "卫生健康委",
    "卫生健康委员会": "卫生健康委",
    "卫健局": "卫生健康局",
    "应急局": "应急管理局",
    "市场监管局": "市场监督管理局",
    "医保局": "医疗保障局",
    "退役军人局": "退役军人事务局",
    "国资委": "国有资产监督管理委员会",
    "国资局": "国有资产管理局",
    "大数据局": "大数据发展管理局",
    "城管局": "城市管理局",
    "综合执法局": "综合行政执法局",
    "外办": "外事办公室",
    "金融办": "金融工作办公室",
    "商务委": "商务委员会",
    "教育委": "教育委员会",
    "政府办": "政府办公室",
    "政府办公厅": "政府办公室",
    "宣传部": "委宣传部",
    "组织部": "委组织部",
    "编办": "机构编制委员会办公室",
    "人防办": "人民防空办公室",
    "行政审批局": "行政审批服务局",
    "税务局": "税务局",
}
_LEVEL_PREFIX = re.compile(r"^(省|市|区|县|镇|乡|街道)+")


def _long_form(name: str) -> str:
    """A unit's name without its level (市/区/县) and with known abbreviations spelled out."""
    bare = _LEVEL_PREFIX.sub("", unit_key(name)) or unit_key(name)
    return KNOWN_ABBREVIATIONS.get(bare, bare)


@dataclass(frozen=True)
class Suggestion:
    """Two names that may be one unit, for the coordinator to confirm, with the reason."""

    name: str
    other: str
    reason: str


def suggest_duplicates(names: Iterable[str]) -> list[Suggestion]:
    """Pairs of names that look like one unit: one inside the other once 市/区/县 are
    ignored, or the same known abbreviation. Collectives are left out."""
    units = [n for n in dict.fromkeys(names) if not is_collective(n)]
    out: list[Suggestion] = []
    for i, a in enumerate(units):
        for b in units[i + 1 :]:
            reason = _why_same(a, b)
            if reason:
                out.append(Suggestion(a, b, reason))
    return out


def _why_same(a: str, b: str) -> str:
    bare_a, bare_b = (_LEVEL_PREFIX.sub("", unit_key(n)) or unit_key(n) for n in (a, b))
    long_a, long_b = _long_form(a), _long_form(b)
    if bare_a == bare_b:
        return f"去掉“市”“区”“县”后相同：都是“{bare_a}”"
    if long_a == long_b:
        return f"同一简称：“{bare_a}”和“{bare_b}”都是“{long_a}”"
    short, long = sorted((bare_a, bare_b), key=len)
    if len(short) >= 3 and short in long:
        return f"去掉“市”“区”“县”后，“{short}”包含在“{long}”中"
    return ""


@dataclass(frozen=True)
class Draft:
    """What init drafts: the rows, the collectives to fill in, the suggested duplicates."""

    units: tuple[str, ...]
    collectives: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]


def draft_of(register: Register) -> Draft:
    names = register.divisions
    return Draft(
        units=tuple(n for n in names if not is_collective(n)),
        collectives=tuple(n for n in names if is_collective(n)),
        suggestions=tuple(suggest_duplicates(names)),
    )


__all__ = [
    "DIRECTORY_CSV",
    "DIRECTORY_XLSX",
    "Directory",
    "Draft",
    "Suggestion",
    "Unit",
    "check_against",
    "draft_of",
    "find_directory",
    "header_of",
    "organise",
    "suggest_duplicates",
    "units_from_rows",
    "valid_emails",
]
