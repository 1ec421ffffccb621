"""Value objects: tasks, divisions, rounds and the forms built from them."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from .config.model import Settings
from .errors import Invalid
from .issues import Issue, Verdict
from .text import safe_filename


class Role(StrEnum):
    LEAD = "lead"
    COOPERATING = "cooperating"


@dataclass(frozen=True)
class Task:
    """One row of the register."""

    id: str
    group: str
    columns: tuple[tuple[str, str], ...]  # (register header, text), in register order
    lead: tuple[str, ...]
    cooperating: tuple[str, ...]
    targets: tuple[tuple[int, str], ...]  # (milestone year, target text)
    row: int  # 1-based row (or table row) in the source register
    # a collective the register names here (各街道), answered by its members, who stand
    # in `lead` or `cooperating` in its place: (collective, its members on this task)
    collectives: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def column(self, header: str) -> str:
        for name, text in self.columns:
            if name == header:
                return text
        return ""

    @property
    def divisions(self) -> tuple[str, ...]:
        return self.lead + self.cooperating

    def collective_of(self, division: str) -> str:
        """The collective a division answers this task for, or ''."""
        for name, members in self.collectives:
            if division in members:
                return name
        return ""

    def role_of(self, division: str) -> Role | None:
        if division in self.lead:
            return Role.LEAD
        if division in self.cooperating:
            return Role.COOPERATING
        return None

    def target_for(self, year: int) -> tuple[int, str] | None:
        """The target for `year`: that milestone's, else the next one's, else the last."""
        if not self.targets:
            return None
        for milestone, text in self.targets:
            if milestone >= year:
                return milestone, text
        return self.targets[-1]


@dataclass(frozen=True)
class Assignment:
    task_id: str
    division: str
    role: Role


@dataclass(frozen=True)
class Register:
    source: str
    headers: tuple[str, ...]
    tasks: tuple[Task, ...]
    notes: tuple[str, ...] = ()  # how the layout was read: sub-rows, joined rows, open lists
    # what the unit directory (单位名录) made of the names: (name as written, the unit it
    # is a name of), and each collective answered member by member, with its members
    folded: tuple[tuple[str, str], ...] = ()
    collectives: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def groups(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.tasks:
            seen.setdefault(t.group, None)
        return tuple(seen)

    @property
    def divisions(self) -> tuple[str, ...]:
        """Every division, in order of first appearance."""
        seen: dict[str, None] = {}
        for t in self.tasks:
            for d in t.divisions:
                seen.setdefault(d, None)
        return tuple(seen)

    @property
    def assignments(self) -> tuple[Assignment, ...]:
        out: list[Assignment] = []
        for t in self.tasks:
            out += [Assignment(t.id, d, Role.LEAD) for d in t.lead]
            out += [Assignment(t.id, d, Role.COOPERATING) for d in t.cooperating]
        return tuple(out)

    @functools.cached_property
    def content(self) -> str:
        """Its content key (content_key), made once. A register read back from the ledger
        has the key kept beside it (`knowing_content`), so that no command hashes tens of
        thousands of tasks again to find its version."""
        return hash_tasks(self.tasks)

    def knowing_content(self, content: str) -> Register:
        """This register, its content key known to be `content` (as the ledger kept it
        when the register was parsed); "" leaves it to be made."""
        if content:
            self.__dict__["content"] = content  # the cached_property's own place
        return self

    @functools.cached_property
    def _by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    def task(self, task_id: str) -> Task | None:
        return self._by_id.get(task_id)

    @functools.cached_property
    def _index(self) -> dict[str, list[tuple[Task, Role]]]:
        out: dict[str, list[tuple[Task, Role]]] = {}
        for t in self.tasks:
            for d in t.lead:
                out.setdefault(d, []).append((t, Role.LEAD))
            for d in t.cooperating:
                out.setdefault(d, []).append((t, Role.COOPERATING))
        return out

    def index(self) -> dict[str, list[tuple[Task, Role]]]:
        """Every division's tasks with its role, in register order."""
        return self._index

    def tasks_of(self, division: str) -> list[tuple[Task, Role]]:
        return list(self._index.get(division, ()))


def content_key(register: Register) -> str:
    """A register's content, as a version is told apart: its tasks, nothing else."""
    return register.content


def hash_tasks(tasks: tuple[Task, ...]) -> str:
    """The tasks' content key, hashed a task at a time: a ministry's register is tens of
    thousands of them."""
    h = hashlib.sha256()
    for t in tasks:
        row = [t.id, t.group, t.columns, t.lead, t.cooperating, t.targets]
        h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


_HALVES = {"H1": "上半年", "H2": "下半年"}
_QUARTERS = {"Q1": "第一季度", "Q2": "第二季度", "Q3": "第三季度", "Q4": "第四季度"}
_CN_NUM = {"一": 1, "二": 2, "三": 3, "四": 4}


@dataclass(frozen=True)
class Round:
    """A reporting round: an id safe in file names and a Chinese title."""

    id: str
    title: str
    year: int | None
    deadline: dt.date | None = None

    @property
    def slug(self) -> str:
        return safe_filename(self.id)


_DATE = re.compile(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*")


def parse_date(text: str | None) -> dt.date | None:
    """A date as people type it, for the command and the console alike: 2019-07-10, and
    2019/7/10, 2019.7.10 or 2019年7月10日; None for nothing typed."""
    if text is None or not text.strip():
        return None
    found = _DATE.fullmatch(text)
    try:
        if found is None:
            raise ValueError(text)
        return dt.date(*(int(part) for part in found.groups()))
    except ValueError:
        raise Invalid(f"“{text.strip()}”不是日期；请写成 YYYY-MM-DD，如 2019-07-10。") from None


def parse_round(
    text: str,
    *,
    title: str | None = None,
    year: int | None = None,
    deadline: dt.date | None = None,
) -> Round:
    """Understand `2019-H1`, `2019年上半年`, `2019-Q3`, `2019年第三季度`, `2019年1-6月`,
    `2019-06`, `2019年度` or `2019`; anything else is kept as given."""
    raw = text.strip()
    if not raw:
        raise Invalid("轮次不能为空；例如 --round 2019-H1")
    if re.search(r'[\\/:*?"<>|\x00-\x1f]', raw):
        raise Invalid(f'轮次 {raw!r} 含有文件名不允许的字符 \\ / : * ? " < > |；例如 2019-H1')
    rid, rtitle = raw, raw
    m = re.fullmatch(r"(\d{4})-?(H[12]|Q[1-4])", raw, re.I)
    if m:
        y, part = m.group(1), m.group(2).upper()
        rid = f"{y}-{part}"
        rtitle = f"{y}年" + (_HALVES.get(part) or _QUARTERS[part])
    elif m := re.fullmatch(r"(\d{4})年(上|下)半年", raw):
        rid = f"{m.group(1)}-H{1 if m.group(2) == '上' else 2}"
    elif m := re.fullmatch(r"(\d{4})年第([一二三四1-4])季度", raw):
        q = _CN_NUM.get(m.group(2)) or int(m.group(2))
        rid, rtitle = f"{m.group(1)}-Q{q}", f"{m.group(1)}年{_QUARTERS[f'Q{q}']}"
    elif m := re.fullmatch(r"(\d{4})年(\d{1,2})-(\d{1,2})月", raw):
        rid = f"{m.group(1)}-M{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    elif m := re.fullmatch(r"(\d{4})-M(\d{2})-(\d{2})", raw):
        rtitle = f"{m.group(1)}年{int(m.group(2))}-{int(m.group(3))}月"
    elif m := re.fullmatch(r"(\d{4})-(\d{2})", raw):
        rtitle = f"{m.group(1)}年{int(m.group(2))}月"
    elif m := re.fullmatch(r"(\d{4})年(\d{1,2})月", raw):
        rid = f"{m.group(1)}-{int(m.group(2)):02d}"
    elif m := re.fullmatch(r"(\d{4})(年度?)?", raw):
        rid, rtitle = m.group(1), f"{m.group(1)}年度"
    if year is None:
        ym = re.match(r"(\d{4})", rid)
        year = int(ym.group(1)) if ym else None
    return Round(id=rid, title=title or rtitle, year=year, deadline=deadline)


@dataclass(frozen=True)
class FormRow:
    """One task row of a division's form, as sent."""

    task_id: str
    role: Role
    readonly: tuple[tuple[str, str], ...]  # (form header, text): register columns and the target
    prefill: tuple[tuple[str, str], ...] = ()  # (field key, value carried from an earlier round)
    name: str = ""  # the task's short name, as every output calls it (xlflow.wording)
    collective: str = ""  # the collective (各街道) this unit answers the task as a member of
    # the division's previous answer (field key, value), that plausibility rules compare with
    before: tuple[tuple[str, Any], ...] = ()
    due: str = ""  # the task's deadline (ISO), where it passed before the round's


@dataclass(frozen=True)
class FormSpec:
    """Everything that goes into one division's form; also what intake compares against."""

    round: Round
    division: str
    title: str
    target_year: int | None
    rows: tuple[FormRow, ...]
    prefill_from: str = ""
    signature: str = ""
    row_hashes: tuple[str, ...] = field(default=())
    contact_prefill: tuple[tuple[str, Any], ...] = ()
    before_round: str = ""  # the title of the round whose answers `before` holds

    @property
    def task_ids(self) -> tuple[str, ...]:
        return tuple(r.task_id for r in self.rows)

    def row(self, task_id: str) -> FormRow | None:
        for r in self.rows:
            if r.task_id == task_id:
                return r
        return None


@dataclass(frozen=True)
class Lineage:
    """How one task of a register version descends from one of the version before:
    the same task (same), renamed or renumbered (renamed), one of the parts of a task
    split in two or more (split), or a task merged into another (merged). A task added
    has no lineage row; a task retired has kind retired and no new id."""

    old_id: str
    new_id: str
    kind: str  # same | renamed | split | merged | retired | added
    score: float = 1.0  # how alike the two texts are, 0 to 1
    note: str = ""  # what else changed: 由 A 改为 B 牵头, 目标改变, units added or removed


@dataclass(frozen=True)
class Review:
    """The coordinator's word on one explanation (说明): accepted, or asked again. It is
    about the explanation as it read (`said`); a new explanation of the same row is a new
    one, to be reviewed again."""

    round: str
    division: str
    task_id: str
    rule: str
    said: str
    verdict: str  # accepted | ask_again
    note: str
    by: str
    at: str  # ISO time

    def to_dict(self) -> dict[str, str]:
        # `said` is the 说明 itself, which the flag beside it already carries
        return {k: v for k, v in asdict(self).items() if k != "said"}


REVIEW_VERDICTS = ("accepted", "ask_again")


@dataclass(frozen=True)
class Extension:
    """A division's own deadline in a round (延期), given by the coordinator; kept until
    undone, and on record after."""

    round: str
    division: str
    until: dt.date
    reason: str
    by: str
    at: str  # ISO time

    def to_dict(self) -> dict[str, str]:
        return {
            "division": self.division,
            "until": self.until.isoformat(),
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
        }


@dataclass(frozen=True)
class Provenance:
    """Where a rolled-up form's answers came from (`xlflow roll-up`): the unit that rolled
    them up, its sub-units that answered and those that did not, each child file, and
    which sub-unit said what."""

    unit: str
    answered: tuple[str, ...]
    missing: tuple[str, ...]
    files: tuple[tuple[str, str, str], ...]  # (sub-unit, file name, sha256)
    said: tuple[tuple[str, str, str, str], ...] = ()  # (task id, field label, sub-unit, value)
    at: str = ""  # when it was rolled up

    @property
    def line(self) -> str:
        """The visible line: 据某某、某某报送, and who did not answer."""
        text = f"据{'、'.join(self.answered)}报送" if self.answered else "下级单位均未报送"
        if self.missing:
            text += f"；{'、'.join(self.missing)}未报送，其部分空缺"
        return f"{text}（{self.unit}汇总，下级报送文件 {len(self.files)} 份）。"

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "answered": list(self.answered),
            "missing": list(self.missing),
            "files": [list(f) for f in self.files],
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        return cls(
            unit=str(data.get("unit", "")),
            answered=tuple(str(x) for x in data.get("answered", ())),
            missing=tuple(str(x) for x in data.get("missing", ())),
            files=tuple((str(a), str(b), str(c)) for a, b, c in data.get("files", ())),
            at=str(data.get("at", "")),
        )


@dataclass(frozen=True)
class Decision:
    """The coordinator's word on one file, by its content: accept it despite its errors,
    or exclude it. Kept until undone; it never touches the file."""

    round: str
    sha256: str
    action: str  # accept | exclude
    reason: str
    by: str
    at: str  # ISO time
    path: str  # the file's name when decided

    def to_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "reason": self.reason,
            "by": self.by,
            "at": self.at,
            "path": self.path,
            "sha256": self.sha256,
        }


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file seen in the inbox for a round: what it was, and what xlflow made of it."""

    path: str  # relative to inbox/
    size: int
    mtime: float
    sha256: str
    round: str
    verdict: Verdict = Verdict.SKIPPED
    division: str = ""
    identified_round: str = ""
    issues: tuple[Issue, ...] = ()
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> field key -> value
    contact: dict[str, Any] = field(default_factory=dict)
    format: str = ""
    application: str = ""
    superseded_by: str = ""
    first_seen: str = ""
    present: bool = True
    context: str = ""
    late: bool = False
    origin: str = ""  # the mail it came in: 邮件：发件人…；主题…；日期…

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def received(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.mtime)


@dataclass(frozen=True)
class IntakeContext:
    """What a returned file is checked against (the settings, the forms sent, the secret,
    last round's answers): what a worker of collect needs, inherited by forked workers."""

    settings: Settings
    round: Round
    forms: Mapping[str, FormSpec]
    secret: bytes
    previous: Mapping[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    previous_round: str = ""
    archive: str = ""
    # each earlier round made from another register version than this round, by its id
    older: Mapping[str, OlderVersion] = field(default_factory=dict)


@dataclass(frozen=True)
class OlderVersion:
    """An earlier round made from an older register version: what a return on its form
    is told, and what may be taken from it (settings [form] older_forms)."""

    round: Round
    then: int  # its register version
    now: int  # the version of the round being collected
    changed: Mapping[str, str]  # division -> what changed for it, in a sentence
    unchanged: Mapping[str, tuple[str, ...]]  # division -> its tasks that did not change
    forms: Mapping[str, FormSpec]  # the forms sent in that round, by division
