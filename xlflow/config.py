"""Settings: `xlflow.toml`, read into frozen dataclasses.

Every problem in the file is collected and reported at once, each naming the key,
what is wrong and the allowed values.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from .errors import Invalid, SettingsError
from .text import DEFAULT_SEPARATORS
from .units import LEAD_RULES

LAYOUTS = ("table", "paragraphs")

FieldType = Literal["choice", "text", "number", "percent", "date", "phone"]
FIELD_TYPES: tuple[str, ...] = ("choice", "text", "number", "percent", "date", "phone")
SCHEMA_VERSION = 1
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass(frozen=True)
class Condition:
    """`required_when`: this field is required when `field` holds one of `values`."""

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: FieldType
    required: bool = False
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    required_when: Condition | None = None
    prompt: str = ""
    width: float | None = None

    @property
    def is_long_text(self) -> bool:
        return self.type == "text" and (self.max_length is None or self.max_length > 60)


@dataclass(frozen=True)
class RegisterSettings:
    path: str = "templates/key-task-list.xlsx"
    layout: str = "table"  # table | paragraphs (numbered paragraphs of a Word document)
    sheet: str = ""
    header_row: int = 0
    id_column: str = "序号"
    group_column: str = ""
    name_column: str = ""
    divisions_column: str = ""
    lead_column: str = ""
    cooperating_column: str = ""
    separators: tuple[str, ...] = DEFAULT_SEPARATORS
    lead_rule: str = "first_unit"  # first_unit | first_group (see xlflow.units)
    readonly_columns: tuple[str, ...] = ()
    targets: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class OfficeSettings:
    name: str = "市科技局"
    contact: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class FormSettings:
    title: str = "{office}{round}重点任务进展情况填报表"
    sheet: str = "填报"
    protect: bool = True
    password: str = ""
    font: str = "宋体"
    header_font: str = "黑体"
    # a return on a form of an older register version (an earlier round's): refuse it,
    # or take_unchanged: its answers to the tasks that did not change, with a warning
    older_forms: str = "refuse"


OLDER_FORMS = ("refuse", "take_unchanged")


@dataclass(frozen=True)
class StatusSettings:
    """Which fields carry a task's status, percent and progress text, and the status colours.

    The status choices are ordered best first; a move towards the front is an improvement.
    """

    field: str = "status"
    percent_field: str = "percent"
    progress_field: str = "progress"
    colours: tuple[tuple[str, str], ...] = (
        ("已完成", "#C6EFCE"),
        ("按计划推进", "#DDEBF7"),
        ("进度滞后", "#FFC7CE"),
        ("未启动", "#E7E6E6"),
    )
    missing_label: str = "未报送"


@dataclass(frozen=True)
class ReportSettings:
    """The Word 通报 written by `xlflow report` (see docs/report.md)."""

    title: str = "关于{round}重点任务推进情况的通报"
    template: str = "templates/通报模板.docx"  # missing: the bundled one
    document_number: str = "{office}〔{year}〕  号"  # 发文字号, numbered by hand
    lagging: tuple[str, ...] = ("进度滞后",)  # statuses listed one by one with their reasons
    problems_field: str = "problems"
    next_steps_field: str = "next_steps"


@dataclass(frozen=True)
class Limits:
    """Per-file limits for reading untrusted returns (see docs/security.md)."""

    max_file_mb: float = 25.0
    max_uncompressed_mb: float = 200.0
    max_compression_ratio: float = 200.0
    max_zip_members: int = 1000
    max_rows: int = 10000
    max_columns: int = 200
    read_timeout_seconds: float = 30.0
    worker_memory_mb: int = 1536


ROLLUP_RULES = ("lead", "joined", "least_advanced", "min", "mean", "max", "sum")
"""How `xlflow roll-up` makes one answer from its sub-units' answers: the lead sub-unit's;
texts joined under each unit's name; the least advanced status; a number's min, mean, max
or sum over the units that answered."""


@dataclass(frozen=True)
class RollupSettings:
    """[rollup]: a rule per field key; a field not named takes its type's default."""

    rules: tuple[tuple[str, str], ...] = ()

    def rule(self, f: Field, status_key: str) -> str:
        given = dict(self.rules).get(f.key)
        if given:
            return given
        if f.key == status_key:
            return "least_advanced"
        if f.type == "percent":
            return "min"
        return "joined" if f.type == "text" else "lead"


PLAUSIBILITY_RULES = (
    "percent_fell",
    "percent_jump",
    "done_below_full",
    "overdue",
    "progress_copied",
    "lagging_without_problems",
)
"""核实性审核: values that may be true and still need a word of explanation (xlflow.plausibility)."""

SEVERITIES = ("explain", "warning", "error", "off")
EXPLANATION_KEY = "explanation"
_RULE_KEYS = {
    "percent_fell": {"severity", "threshold"},
    "percent_jump": {"severity", "threshold"},
    "done_below_full": {"severity"},
    "overdue": {"severity", "column"},
    "progress_copied": {"severity"},
    "lagging_without_problems": {"severity", "statuses", "field"},
}
_THRESHOLDS = {"percent_fell": 0.0, "percent_jump": 60.0}


@dataclass(frozen=True)
class PlausibilityRule:
    """One rule of [plausibility]. severity: explain (flagged amber on the form; accepted
    with a needs-explanation warning until a 说明 is written), error (the same, but an
    unexplained row is rejected), warning (noted, no explanation asked), off."""

    name: str
    severity: str = "explain"
    threshold: float = 0.0  # percent_fell: points it may fall; percent_jump: points it may rise
    statuses: tuple[str, ...] = ()  # lagging_without_problems: the statuses that need a reason
    field: str = ""  # lagging_without_problems: the field that holds the reason
    column: str = ""  # overdue: a register column giving each task's deadline (完成时限)

    @property
    def asks(self) -> bool:
        """Whether the division is asked to explain (on the form and in collect)."""
        return self.severity in ("explain", "error")


@dataclass(frozen=True)
class PlausibilitySettings:
    explanation: str = "说明"  # the label of the 说明 column; "" = none
    rules: tuple[PlausibilityRule, ...] = tuple(
        PlausibilityRule(n, threshold=_THRESHOLDS.get(n, 0.0)) for n in PLAUSIBILITY_RULES
    )

    def rule(self, name: str) -> PlausibilityRule:
        return next(r for r in self.rules if r.name == name)

    @property
    def active(self) -> tuple[PlausibilityRule, ...]:
        return tuple(r for r in self.rules if r.severity != "off")


@dataclass(frozen=True)
class Settings:
    office: OfficeSettings = field(default_factory=OfficeSettings)
    form: FormSettings = field(default_factory=FormSettings)
    register: RegisterSettings = field(default_factory=RegisterSettings)
    fields: tuple[Field, ...] = ()
    contact: tuple[Field, ...] = ()
    status: StatusSettings = field(default_factory=StatusSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    limits: Limits = field(default_factory=Limits)
    rollup: RollupSettings = field(default_factory=RollupSettings)
    plausibility: PlausibilitySettings = field(default_factory=PlausibilitySettings)
    source: str = ""

    def field_by_key(self, key: str) -> Field | None:
        for f in self.fields:
            if f.key == key:
                return f
        return None

    @property
    def status_field(self) -> Field | None:
        return self.field_by_key(self.status.field)

    @property
    def percent_field(self) -> Field | None:
        return self.field_by_key(self.status.percent_field)

    @property
    def progress_field(self) -> Field | None:
        return self.field_by_key(self.status.progress_field)

    @property
    def status_order(self) -> tuple[str, ...]:
        f = self.status_field
        return f.choices if f else ()

    @property
    def explanation_field(self) -> Field | None:
        """The 说明 column a division explains a flagged row in, if the form has one."""
        return self.field_by_key(EXPLANATION_KEY) if self.plausibility.explanation else None


T = TypeVar("T")


class _Checker:
    """Reads one TOML table, remembering every problem instead of stopping at the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def get(
        self,
        table: dict[str, Any],
        where: str,
        key: str,
        kind: type[T] | tuple[type, ...],
        default: T,
        describe: str,
    ) -> T:
        if key not in table:
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML true/false are bools, and bool is an int subclass: never accept one for a number
        ok = isinstance(value, kinds) and not (bool not in kinds and isinstance(value, bool))
        if not ok:
            self.problems.append(f"{where}{key}: 应为{describe}，实际是 {value!r}")
            return default
        return cast(T, value)

    def unknown(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                self.problems.append(
                    f"{where}{key}: 不认识的设置项；可用的有 {', '.join(sorted(allowed))}"
                )


def _str_list(c: _Checker, table: dict[str, Any], where: str, key: str) -> tuple[str, ...] | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        c.problems.append(f'{where}{key}: 应为文本列表，如 ["a", "b"]，实际是 {value!r}')
        return None
    return tuple(value)


def _number(c: _Checker, table: dict[str, Any], where: str, key: str) -> float | None:
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        c.problems.append(f"{where}{key}: 应为数字，实际是 {value!r}")
        return None
    return float(value)


def _read_field(c: _Checker, raw: Any, where: str, allowed_types: tuple[str, ...]) -> Field | None:
    if not isinstance(raw, dict):
        c.problems.append(f"{where}: 应为一个表（键 = 值），实际是 {raw!r}")
        return None
    allowed = {
        "key", "label", "type", "required", "choices", "min", "max",
        "max_length", "required_when", "prompt", "width",
    }  # fmt: skip
    c.unknown(raw, where + ".", allowed)
    key = c.get(raw, where + ".", "key", str, "", "文本")
    label = c.get(raw, where + ".", "label", str, "", "文本")
    ftype = c.get(raw, where + ".", "type", str, "text", "文本")
    ok = True
    if not key or not _KEY.match(key):
        c.problems.append(
            f'{where}.key: 应为小写英文字母开头、只含 a-z 0-9 _ 的键名，如 "status"，实际是 {key!r}'
        )
        ok = False
    if not label.strip():
        c.problems.append(f'{where}.label: 不能为空，应为表头文字，如 "完成状态"')
        ok = False
    if ftype not in allowed_types:
        c.problems.append(f"{where}.type: {ftype!r} 不可用；可用的有 {', '.join(allowed_types)}")
        ok = False
    choices = _str_list(c, raw, where + ".", "choices") or ()
    if ftype == "choice" and not choices:
        c.problems.append(f'{where}.choices: type = "choice" 时必须给出选项列表')
        ok = False
    if choices and ftype != "choice":
        c.problems.append(f'{where}.choices: 只有 type = "choice" 才能设置选项')
    lo = _number(c, raw, where + ".", "min")
    hi = _number(c, raw, where + ".", "max")
    if ftype == "percent":
        lo = 0.0 if lo is None else lo
        hi = 100.0 if hi is None else hi
    if lo is not None and hi is not None and lo > hi:
        c.problems.append(f"{where}: min ({lo:g}) 大于 max ({hi:g})")
    max_length = c.get(raw, where + ".", "max_length", int, 0, "正整数") or None
    if max_length is not None and not 0 < max_length <= 32767:
        c.problems.append(f"{where}.max_length: 应在 1 到 32767 之间，实际是 {max_length}")
    condition = None
    if "required_when" in raw:
        rw = raw["required_when"]
        if (
            not isinstance(rw, dict)
            or not isinstance(rw.get("field"), str)
            or not isinstance(rw.get("equals"), str | list)
        ):
            c.problems.append(
                f'{where}.required_when: 应写成 {{ field = "status", equals = "进度滞后" }}，'
                f"实际是 {rw!r}"
            )
        else:
            eq = rw["equals"]
            values = (eq,) if isinstance(eq, str) else tuple(str(v) for v in eq)
            condition = Condition(rw["field"], values)
    width = _number(c, raw, where + ".", "width")
    if not ok:
        return None
    return Field(
        key=key,
        label=label.strip(),
        type=cast(FieldType, ftype),
        required=c.get(raw, where + ".", "required", bool, False, "true 或 false"),
        choices=choices,
        min=lo,
        max=hi,
        max_length=max_length,
        required_when=condition,
        prompt=c.get(raw, where + ".", "prompt", str, "", "文本"),
        width=width,
    )


def _table(c: _Checker, data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        c.problems.append(f"[{name}]: 应为一个表，实际是 {value!r}")
        return {}
    return value


def settings_from_dict(data: dict[str, Any], source: str = "xlflow.toml") -> Settings:
    """Build Settings from parsed TOML; raise SettingsError listing every problem."""
    problems: list[str] = []
    c = _Checker(problems)
    c.unknown(
        data,
        "",
        {
            "schema", "office", "form", "register", "fields", "contact", "status", "report",
            "limits", "rollup", "plausibility",
        },
    )  # fmt: skip
    schema = c.get(data, "", "schema", int, SCHEMA_VERSION, "整数")
    if schema != SCHEMA_VERSION:
        problems.append(f"schema: 本版本 xlflow 只认识 schema = {SCHEMA_VERSION}，实际是 {schema}")

    office = _office_settings(c, data)
    form = _form_settings(c, data)
    register = _register_settings(c, data)
    fields, contact = _field_settings(c, data)
    status = _status_settings(c, data, fields)
    report = _report_settings(c, data, fields)
    limits = _limit_settings(c, data)
    rollup = _rollup_settings(c, data, fields, status)
    plausibility = _plausibility_settings(c, data, fields, report)
    fields = _with_explanation(c, fields, contact, plausibility)
    if problems:
        raise SettingsError(source, problems)
    return Settings(
        office=office,
        form=form,
        register=register,
        fields=fields,
        contact=contact,
        status=status,
        report=report,
        limits=limits,
        rollup=rollup,
        plausibility=plausibility,
        source=source,
    )


def _plausibility_settings(
    c: _Checker, data: dict[str, Any], fields: tuple[Field, ...], report: ReportSettings
) -> PlausibilitySettings:
    table = _table(c, data, "plausibility")
    c.unknown(table, "plausibility.", {"explanation", *PLAUSIBILITY_RULES})
    explanation = c.get(table, "plausibility.", "explanation", str, "说明", "文本").strip()
    rules = []
    keys = {f.key for f in fields}
    for name in PLAUSIBILITY_RULES:
        where = f"plausibility.{name}."
        raw = table.get(name, {})
        if isinstance(raw, str):  # the short form: percent_fell = "error"
            raw = {"severity": raw}
        if not isinstance(raw, dict):
            c.problems.append(
                f'plausibility.{name}: 应写成 {{ severity = "explain" }}，实际是 {raw!r}'
            )
            raw = {}
        c.unknown(raw, where, _RULE_KEYS[name])
        severity = c.get(raw, where, "severity", str, "explain", "文本")
        if severity not in SEVERITIES:
            c.problems.append(
                f"{where}severity: 应为 {'、'.join(SEVERITIES)} 之一，实际是 {severity!r}"
            )
            severity = "explain"
        threshold = _number(c, raw, where, "threshold")
        if threshold is not None and threshold < 0:
            c.problems.append(f"{where}threshold: 应为不小于 0 的百分点数，实际是 {threshold:g}")
            threshold = None
        statuses = _str_list(c, raw, where, "statuses")
        reason = c.get(raw, where, "field", str, report.problems_field, "填报项 key")
        if name == "lagging_without_problems" and fields and reason and reason not in keys:
            c.problems.append(
                f"{where}field: 没有 key 为 {reason!r} 的填报项；可用的有 {', '.join(keys)}"
            )
        rules.append(
            PlausibilityRule(
                name=name,
                severity=severity,
                threshold=_THRESHOLDS.get(name, 0.0) if threshold is None else threshold,
                statuses=(report.lagging if statuses is None else statuses)
                if name == "lagging_without_problems"
                else (),
                field=reason if name == "lagging_without_problems" else "",
                column=c.get(raw, where, "column", str, "", "任务清单的列名"),
            )
        )
    return PlausibilitySettings(explanation=explanation, rules=tuple(rules))


def explanation_prompt(label: str) -> str:
    return f"本行标为橙色时必填：写明原因（如进度下降、提前完成、逾期未完成的原因）。其余情况不用填写{label}。"


def _with_explanation(
    c: _Checker,
    fields: tuple[Field, ...],
    contact: tuple[Field, ...],
    plausibility: PlausibilitySettings,
) -> tuple[Field, ...]:
    """The fields, with the 说明 column last unless [[fields]] declares it (key explanation)."""
    label = plausibility.explanation
    if not label or not fields or any(f.key == EXPLANATION_KEY for f in fields):
        return fields
    if any(f.label == label for f in (*fields, *contact)):
        c.problems.append(
            f"plausibility.explanation: 表头 {label!r} 已被其他填报项使用；请换一个，"
            f'或把它声明为 key = "{EXPLANATION_KEY}" 的填报项'
        )
        return fields
    return (
        *fields,
        Field(
            key=EXPLANATION_KEY,
            label=label,
            type="text",
            max_length=500,
            prompt=explanation_prompt(label),
            width=20.0,
        ),
    )


_RULE_TYPES = {
    "least_advanced": ("choice",),
    "min": ("number", "percent"),
    "mean": ("number", "percent"),
    "max": ("number", "percent"),
    "sum": ("number", "percent"),
    "joined": ("text",),
}


def _rollup_settings(
    c: _Checker, data: dict[str, Any], fields: tuple[Field, ...], status: StatusSettings
) -> RollupSettings:
    table = _table(c, data, "rollup")
    by_key = {f.key: f for f in fields}
    rules: list[tuple[str, str]] = []
    for key, rule in table.items():
        if key not in by_key:
            c.problems.append(
                f"rollup.{key}: 没有 key 为 {key!r} 的填报项；可用的有 {', '.join(by_key)}"
            )
            continue
        if rule not in ROLLUP_RULES:
            c.problems.append(f"rollup.{key}: {rule!r} 不可用；可用的有 {', '.join(ROLLUP_RULES)}")
            continue
        kinds = _RULE_TYPES.get(str(rule))
        if kinds and by_key[key].type not in kinds:
            c.problems.append(
                f"rollup.{key}: {rule!r} 只适用于 type 为 {'、'.join(kinds)} 的填报项，"
                f"{key!r} 是 {by_key[key].type}"
            )
            continue
        if rule == "least_advanced" and key != status.field:
            c.problems.append(
                f"rollup.{key}: least_advanced 按完成状态的选项顺序判断，只适用于 status.field"
            )
            continue
        rules.append((key, str(rule)))
    return RollupSettings(tuple(rules))


def _office_settings(c: _Checker, data: dict[str, Any]) -> OfficeSettings:
    o = _table(c, data, "office")
    c.unknown(o, "office.", {"name", "contact", "phone", "email"})
    d_office = OfficeSettings()
    office = OfficeSettings(
        name=c.get(o, "office.", "name", str, d_office.name, "文本"),
        contact=c.get(o, "office.", "contact", str, "", "文本"),
        phone=c.get(o, "office.", "phone", str, "", "文本"),
        email=c.get(o, "office.", "email", str, "", "文本"),
    )
    return office


def _form_settings(c: _Checker, data: dict[str, Any]) -> FormSettings:
    problems = c.problems
    f = _table(c, data, "form")
    c.unknown(
        f, "form.", {"title", "sheet", "protect", "password", "font", "header_font", "older_forms"}
    )
    d_form = FormSettings()
    form = FormSettings(
        title=c.get(f, "form.", "title", str, d_form.title, "文本"),
        sheet=c.get(f, "form.", "sheet", str, d_form.sheet, "文本"),
        protect=c.get(f, "form.", "protect", bool, True, "true 或 false"),
        password=c.get(f, "form.", "password", str, "", "文本"),
        font=c.get(f, "form.", "font", str, d_form.font, "字体名称"),
        header_font=c.get(f, "form.", "header_font", str, d_form.header_font, "字体名称"),
        older_forms=c.get(f, "form.", "older_forms", str, d_form.older_forms, "文本"),
    )
    if form.older_forms not in OLDER_FORMS:
        problems.append(
            f"form.older_forms: 应为 {' 或 '.join(OLDER_FORMS)}，实际是 {form.older_forms!r}"
        )
    bad_sheet = set(form.sheet) & set("[]:*?/\\")
    if not form.sheet or len(form.sheet) > 31 or bad_sheet:
        problems.append(
            f"form.sheet: 工作表名须为 1-31 个字符，且不含 []:*?/\\，实际是 {form.sheet!r}"
        )
    try:
        form.title.format(office="", round="", division="", year="")
    except (KeyError, IndexError, ValueError) as exc:
        problems.append(
            f"form.title: 只能使用 {{office}} {{round}} {{division}} {{year}} 占位符（{exc}）"
        )
    return form


def _register_settings(c: _Checker, data: dict[str, Any]) -> RegisterSettings:
    problems = c.problems
    r = _table(c, data, "register")
    allowed_register = {
        "path", "layout", "sheet", "header_row", "id_column", "group_column", "name_column",
        "divisions_column", "lead_column", "cooperating_column", "separators", "lead_rule",
        "readonly_columns", "targets",
    }  # fmt: skip
    c.unknown(r, "register.", allowed_register)
    targets: list[tuple[int, str]] = []
    raw_targets = r.get("targets", {})
    if not isinstance(raw_targets, dict):
        problems.append(f'register.targets: 应为 年份 = "列名" 的表，实际是 {raw_targets!r}')
    else:
        for year, column in raw_targets.items():
            if not re.fullmatch(r"\d{4}", str(year)) or not isinstance(column, str):
                problems.append(
                    f'register.targets.{year}: 应写成 2019 = "2019年目标"（四位年份 = 列名）'
                )
            else:
                targets.append((int(year), column))
    targets.sort()
    d_reg = RegisterSettings()
    register = RegisterSettings(
        path=c.get(r, "register.", "path", str, d_reg.path, "文件路径"),
        layout=c.get(r, "register.", "layout", str, d_reg.layout, "文本"),
        sheet=c.get(r, "register.", "sheet", str, "", "工作表名"),
        header_row=c.get(r, "register.", "header_row", int, 0, "行号（0 表示自动识别）"),
        id_column=c.get(r, "register.", "id_column", str, d_reg.id_column, "列名"),
        group_column=c.get(r, "register.", "group_column", str, "", "列名"),
        name_column=c.get(r, "register.", "name_column", str, "", "列名"),
        divisions_column=c.get(r, "register.", "divisions_column", str, "", "列名"),
        lead_column=c.get(r, "register.", "lead_column", str, "", "列名"),
        cooperating_column=c.get(r, "register.", "cooperating_column", str, "", "列名"),
        separators=_str_list(c, r, "register.", "separators") or DEFAULT_SEPARATORS,
        lead_rule=c.get(r, "register.", "lead_rule", str, d_reg.lead_rule, "文本"),
        readonly_columns=_str_list(c, r, "register.", "readonly_columns") or (),
        targets=tuple(targets),
    )
    if register.header_row < 0:
        problems.append("register.header_row: 应为 0（自动识别）或正整数行号")
    if register.layout not in LAYOUTS:
        problems.append(
            f"register.layout: {register.layout!r} 不可用；可用的有 {', '.join(LAYOUTS)}"
            "（table：表格；paragraphs：Word 文档中按段落编号的任务）"
        )
    if register.lead_rule not in LEAD_RULES:
        problems.append(
            f"register.lead_rule: {register.lead_rule!r} 不可用；可用的有 {', '.join(LEAD_RULES)}"
            "（first_unit：第一个单位牵头；first_group：第一个逗号前的单位都牵头）"
        )
    # a paragraph register names its units in the paragraphs themselves
    if register.layout == "table" and not register.divisions_column and not register.lead_column:
        problems.append(
            "register: 需要 divisions_column（一列，第一个处室为牵头）"
            "或 lead_column（牵头单位列，可另设 cooperating_column）"
        )
    if register.divisions_column and register.lead_column:
        problems.append("register: divisions_column 与 lead_column 只能设置一个")
    return register


def _field_settings(
    c: _Checker, data: dict[str, Any]
) -> tuple[tuple[Field, ...], tuple[Field, ...]]:
    problems = c.problems
    fields = _read_fields(c, data, "fields", tuple(t for t in FIELD_TYPES if t != "phone"))
    contact = _read_fields(c, data, "contact", ("text", "phone", "date", "number", "choice"))
    keys = [fl.key for fl in fields] + [fl.key for fl in contact]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"fields/contact: 键 {key!r} 重复；每个填报项的 key 必须唯一")
    labels = [fl.label for fl in fields] + [fl.label for fl in contact]
    for label in sorted({lb for lb in labels if labels.count(lb) > 1}):
        problems.append(f"fields/contact: 表头 {label!r} 重复；每个填报项的 label 必须唯一")
    by_key = {fl.key: fl for fl in fields}
    for fl in fields:
        cond = fl.required_when
        if cond is None:
            continue
        other = by_key.get(cond.field)
        if other is None:
            problems.append(
                f"fields ({fl.key}).required_when.field: 没有 key 为 {cond.field!r} 的填报项；"
                f"可用的有 {', '.join(by_key)}"
            )
        elif other.choices:
            for v in cond.values:
                if v not in other.choices:
                    problems.append(
                        f"fields ({fl.key}).required_when.equals: {v!r} 不是 {other.label} 的选项；"
                        f"可用的有 {'、'.join(other.choices)}"
                    )
    if not fields:
        problems.append("[[fields]]: 至少需要一个填报项")
    return fields, contact


def _status_settings(
    c: _Checker, data: dict[str, Any], fields: tuple[Field, ...]
) -> StatusSettings:
    problems = c.problems
    by_key = {fl.key: fl for fl in fields}
    s = _table(c, data, "status")
    c.unknown(
        s, "status.", {"field", "percent_field", "progress_field", "colours", "missing_label"}
    )
    d_status = StatusSettings()
    colours = d_status.colours
    if "colours" in s:
        raw_colours = s["colours"]
        if not isinstance(raw_colours, dict) or not all(
            isinstance(v, str) and re.fullmatch(r"#[0-9A-Fa-f]{6}", v) for v in raw_colours.values()
        ):
            problems.append(
                'status.colours: 应写成 { "已完成" = "#C6EFCE", ... }（状态 = 六位十六进制颜色）'
            )
        else:
            colours = tuple((str(k), str(v)) for k, v in raw_colours.items())
    status = StatusSettings(
        field=c.get(s, "status.", "field", str, d_status.field, "填报项 key"),
        percent_field=c.get(s, "status.", "percent_field", str, d_status.percent_field, "key"),
        progress_field=c.get(s, "status.", "progress_field", str, d_status.progress_field, "key"),
        colours=colours,
        missing_label=c.get(s, "status.", "missing_label", str, d_status.missing_label, "文本"),
    )
    for name, key in (
        ("field", status.field),
        ("percent_field", status.percent_field),
        ("progress_field", status.progress_field),
    ):
        if fields and key and key not in by_key:
            problems.append(
                f"status.{name}: 没有 key 为 {key!r} 的填报项；可用的有 {', '.join(by_key)}"
            )
    if status.field in by_key and by_key[status.field].type != "choice":
        problems.append(f'status.field: 填报项 {status.field!r} 应为 type = "choice"')
    return status


def _report_settings(
    c: _Checker, data: dict[str, Any], fields: tuple[Field, ...]
) -> ReportSettings:
    r = _table(c, data, "report")
    d = ReportSettings()
    c.unknown(r, "report.", set(d.__dataclass_fields__))
    lagging = _str_list(c, r, "report.", "lagging")
    report = ReportSettings(
        title=c.get(r, "report.", "title", str, d.title, "文本"),
        template=c.get(r, "report.", "template", str, d.template, "文件路径"),
        document_number=c.get(r, "report.", "document_number", str, d.document_number, "文本"),
        lagging=d.lagging if lagging is None else lagging,
        problems_field=c.get(r, "report.", "problems_field", str, d.problems_field, "key"),
        next_steps_field=c.get(r, "report.", "next_steps_field", str, d.next_steps_field, "key"),
    )
    keys = [fl.key for fl in fields]
    for name in ("problems_field", "next_steps_field"):
        key = getattr(report, name)
        if fields and key and key not in keys:
            c.problems.append(
                f"report.{name}: 没有 key 为 {key!r} 的填报项；可用的有 {', '.join(keys)}；"
                '不需要时写 ""'
            )
    return report


def _limit_settings(c: _Checker, data: dict[str, Any]) -> Limits:
    problems = c.problems
    lim = _table(c, data, "limits")
    d = Limits()
    c.unknown(lim, "limits.", set(d.__dataclass_fields__))
    limit_values: dict[str, Any] = {}
    for name in d.__dataclass_fields__:
        default = getattr(d, name)
        kind: type = int if isinstance(default, int) else float
        value = _number(c, lim, "limits.", name)
        if value is None:
            continue
        if value <= 0:
            problems.append(f"limits.{name}: 应为正数，实际是 {value:g}")
            continue
        limit_values[name] = kind(value)
    limits = Limits(**limit_values)
    return limits


def _read_fields(
    c: _Checker, data: dict[str, Any], name: str, types: tuple[str, ...]
) -> tuple[Field, ...]:
    raw = data.get(name, [])
    if not isinstance(raw, list):
        c.problems.append(f"[[{name}]]: 应为表数组（每项以 [[{name}]] 开头），实际是 {raw!r}")
        return ()
    out: list[Field] = []
    for i, item in enumerate(raw, start=1):
        label = item.get("label", "") if isinstance(item, dict) else ""
        fl = _read_field(c, item, f"[[{name}]] 第 {i} 项{f'（{label}）' if label else ''}", types)
        if fl is not None:
            out.append(fl)
    return tuple(out)


def load_settings(path: Path) -> Settings:
    """Read and check `xlflow.toml`. Raises SettingsError naming every problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SettingsError(
            str(path), ["找不到设置文件；用 `xlflow init 文件夹` 新建一个工作文件夹"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(str(path), [f"无法读取：{exc}"]) from None
    return settings_from_text(text, str(path))


def settings_from_text(text: str, source: str = "xlflow.toml") -> Settings:
    """Settings from the text of an `xlflow.toml`: what a command that rewrites the
    settings reads back before it writes them."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(source, [f"TOML 语法错误：{exc}"]) from None
    return settings_from_dict(data, source)


def describe_field(f: Field, by_key: Callable[[str], Field | None] | None = None) -> str:
    """One line in Chinese: what a division must write in this field."""
    parts: list[str] = []
    if f.type == "choice":
        parts.append("从下拉列表选择：" + "、".join(f.choices))
    elif f.type == "percent":
        parts.append(f"填 {f.min:g}–{f.max:g} 之间的数字（不带 % 号）")
    elif f.type == "number":
        rng = []
        if f.min is not None:
            rng.append(f"不小于 {f.min:g}")
        if f.max is not None:
            rng.append(f"不大于 {f.max:g}")
        parts.append("填数字" + (f"，{'，'.join(rng)}" if rng else ""))
    elif f.type == "date":
        parts.append("填日期，如 2019-06-30")
    elif f.type == "phone":
        parts.append("填电话号码，如 0574-87654321 或 13800000000")
    else:
        parts.append("填文字")
        if f.max_length:
            parts.append(f"不超过 {f.max_length} 字")
    if f.required:
        parts.append("必填")
    elif f.required_when:
        other = by_key(f.required_when.field) if by_key else None
        name = other.label if other else f.required_when.field
        parts.append(f"{name}为“{'、'.join(f.required_when.values)}”时必填")
    else:
        parts.append("选填")
    return "；".join(parts)


# --- writing the settings: xlflow init makes xlflow.toml for a register it recognised ---


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but for DEL, which TOML forbids raw
    and JSON leaves alone. A lone surrogate (a byte that was not UTF-8 in a file name)
    cannot be written at all, and is refused by name."""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise Invalid(
            f"“{value.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')}”中有不是 "
            "UTF-8 的字节，无法写入 xlflow.toml；请把文件或名称改为正常的中文或英文名称后重试。"
        )
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_register_section(reg: RegisterSettings) -> str:
    """The [register] part of xlflow.toml, with a comment on every key."""
    if reg.layout == "paragraphs":
        return (
            "\n".join(
                [
                    "# 任务清单（the register of key tasks）",
                    "[register]",
                    f"path = {toml_string(reg.path)}",
                    'layout = "paragraphs"              # numbered paragraphs of a Word document, no table',
                    f"separators = [{', '.join(toml_string(s) for s in reg.separators)}]",
                    f"lead_rule = {toml_string(reg.lead_rule)}        # first_unit: the first unit named leads",
                    f"name_column = {toml_string(reg.name_column)}",
                    "# what a division sees on its form, read-only",
                    "readonly_columns = ["
                    + ", ".join(toml_string(c) for c in reg.readonly_columns)
                    + "]",
                    "",
                ]
            )
            + "\n"
        )
    lines = [
        "# 任务清单（the register of key tasks）",
        "[register]",
        f"path = {toml_string(reg.path)}",
        'layout = "table"                   # a table (paragraphs: numbered Word paragraphs)',
        f"sheet = {toml_string(reg.sheet)}                         # empty: the first sheet with a header row",
        f"header_row = {reg.header_row}                     # 0: find the header row by itself",
        f"id_column = {toml_string(reg.id_column)}                  # the task id",
        f"group_column = {toml_string(reg.group_column)}           # the category (empty: none or section rows)",
        f"name_column = {toml_string(reg.name_column)}            # the task's short name",
    ]  # fmt: skip
    if reg.divisions_column:
        lines += [
            "# one column where the first named division leads:",
            f"divisions_column = {toml_string(reg.divisions_column)}",
        ]
    else:
        lines += [
            "# separate lead and co-operating columns:",
            f"lead_column = {toml_string(reg.lead_column)}",
            f"cooperating_column = {toml_string(reg.cooperating_column)}",
        ]
    seps = ", ".join(toml_string(s) for s in reg.separators)
    lines += [
        f"separators = [{seps}]",
        "# first_unit: the first unit named leads; first_group: every unit before the first ，",
        f"lead_rule = {toml_string(reg.lead_rule)}",
        "# register columns a division sees on its form, read-only",
        "readonly_columns = [" + ", ".join(toml_string(c) for c in reg.readonly_columns) + "]",
        "",
        "# the target column for each milestone year",
        "[register.targets]",
    ]
    lines += [f"{year} = {toml_string(col)}" for year, col in reg.targets]
    return "\n".join(lines) + "\n\n"


def field_table(f: Field) -> dict[str, Any]:
    """A field as its [[fields]] table in xlflow.toml: what `_read_field` reads back."""
    out: dict[str, Any] = {"key": f.key, "label": f.label, "type": f.type}
    if f.required:
        out["required"] = True
    if f.choices:
        out["choices"] = list(f.choices)
    if f.min is not None and not (f.type == "percent" and f.min == 0):
        out["min"] = f.min
    if f.max is not None and not (f.type == "percent" and f.max == 100):
        out["max"] = f.max
    if f.max_length:
        out["max_length"] = f.max_length
    if f.required_when is not None:
        out["required_when"] = {
            "field": f.required_when.field,
            "equals": list(f.required_when.values),
        }
    if f.prompt:
        out["prompt"] = f.prompt
    if f.width is not None:
        out["width"] = f.width
    return out


def form_settings_table(settings: Settings) -> dict[str, Any]:
    """What a form needs to be made again elsewhere, as settings tables: the office, the
    form's look, the fields and the contact block (never the sheet password)."""
    office, form, status = settings.office, settings.form, settings.status
    return {
        "office": {
            "name": office.name,
            "contact": office.contact,
            "phone": office.phone,
            "email": office.email,
        },
        "form": {
            "title": form.title,
            "sheet": form.sheet,
            "protect": form.protect,
            "font": form.font,
            "header_font": form.header_font,
        },
        "fields": [field_table(f) for f in settings.fields],
        "contact": [field_table(f) for f in settings.contact],
        "status": {
            "field": status.field,
            "percent_field": status.percent_field,
            "progress_field": status.progress_field,
            "missing_label": status.missing_label,
            "colours": dict(status.colours),
        },
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return toml_string(str(value))


def render_fields_section(fields: list[dict[str, Any]], contact: list[dict[str, Any]]) -> str:
    """The [[fields]] and [[contact]] tables of xlflow.toml, as the form that carried them
    had them (`xlflow forward`)."""
    lines = [
        "# 填报项（the columns a division fills in），照上级下发的填报表，请勿改动：",
        "# 汇总后的答复要写回上级的表格。",
    ]
    for name, tables in (("fields", fields), ("contact", contact)):
        for table in tables:
            lines += ["", f"[[{name}]]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n\n"


def replace_fields_section(
    template: str, fields: list[dict[str, Any]], contact: list[dict[str, Any]]
) -> str:
    """xlflow.toml's text with its [[fields]] and [[contact]] written anew."""
    start = template.index("# 填报项")
    end = template.index("# Which fields the consolidated workbook")
    return template[:start] + render_fields_section(fields, contact) + template[end:]


def replace_rollup_section(template: str, settings: Settings) -> str:
    """xlflow.toml's text with [rollup] naming each of `settings`' fields and its rule."""
    start = template.index("# 汇总下级报送")
    end = template.index("# 通报")
    head = template[start : template.index("[rollup]", start)]
    status_key = settings.status.field
    lines = ["[rollup]"]
    lines += [
        f"{f.key} = {toml_string(settings.rollup.rule(f, status_key))}" for f in settings.fields
    ]
    return template[:start] + head + "\n".join(lines) + "\n\n" + template[end:]


def replace_register_section(template: str, reg: RegisterSettings) -> str:
    """xlflow.toml's text with its [register] section written anew."""
    start = template.index("# 任务清单")
    end = template.index("# 填报项")
    return template[:start] + render_register_section(reg) + template[end:]


def replace_office(template: str, office: str) -> str:
    """The [office] table for another office: its name, and no contact of the bundled one."""
    start = template.index("[office]")
    end = template.index("\n\n", start)
    section = "\n".join(
        [
            "[office]",
            f"name = {toml_string(office)}{' ' * max(1, 27 - len(office) * 2)}# 单位名称, used in the form title",
            'contact = ""                       # 联系人',
            'phone = ""                         # 联系电话',
            'email = ""                         # 电子邮箱（可留空）',
        ]
    )
    return template[:start] + section + template[end:]
