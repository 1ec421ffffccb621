"""The settings as values: every section of xlflow.toml as a frozen dataclass, with its
allowed values. `load` reads them, each section checked by `sections` and `fields`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..text import DEFAULT_SEPARATORS

LAYOUTS = ("table", "paragraphs")

FieldType = Literal["choice", "text", "number", "percent", "date", "phone"]
FIELD_TYPES: tuple[str, ...] = ("choice", "text", "number", "percent", "date", "phone")
SCHEMA_VERSION = 1
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


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
RULE_KEYS = {
    "percent_fell": {"severity", "threshold"},
    "percent_jump": {"severity", "threshold"},
    "done_below_full": {"severity"},
    "overdue": {"severity", "column"},
    "progress_copied": {"severity"},
    "lagging_without_problems": {"severity", "statuses", "field"},
}
THRESHOLDS = {"percent_fell": 0.0, "percent_jump": 60.0}


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
        PlausibilityRule(n, threshold=THRESHOLDS.get(n, 0.0)) for n in PLAUSIBILITY_RULES
    )

    def rule(self, name: str) -> PlausibilityRule:
        return next(r for r in self.rules if r.name == name)

    @property
    def active(self) -> tuple[PlausibilityRule, ...]:
        return tuple(r for r in self.rules if r.severity != "off")


MAIL_SECURITY = ("ssl", "starttls", "none")
PLAINTEXT_CONSENT = "允许明文发送密码"
"""How `xlflow mail` talks to the mail server: SSL from the start (IMAPS 993, SMTPS 465),
STARTTLS on the plain ports (143, 587), or none (a server on this machine only)."""


@dataclass(frozen=True)
class MailSettings:
    """The office's mail account (`xlflow mail`): where returns arrive and forms leave.
    The password is never here: `xlflow mail login` keeps it in the system's credential
    store, or XLFLOW_MAIL_PASSWORD gives it."""

    host: str = ""
    imap_port: int = 0  # 0: 993 with ssl, 143 otherwise
    smtp_host: str = ""  # "": the same host
    smtp_port: int = 0  # 0: 465 with ssl, 587 with starttls, 25 with none
    security: str = "ssl"
    user: str = ""
    sender: str = ""  # the From address; "": the user's
    folder: str = "INBOX"
    ca_file: str = ""  # an intranet server's own CA, trusted besides the system's
    plaintext_login: str = ""  # PLAINTEXT_CONSENT: a password sent unencrypted (security none)
    timeout_seconds: float = 60.0  # a server silent this long is given up on
    forms_text: str = (
        "{division}：\n\n附件是{round}的填报表，请在浅黄色单元格中填写，于{deadline}前回复本邮件报送。"
        "\n\n{office}"
    )
    receipts_text: str = (
        "{division}：\n\n附件是你单位报送的{round}填报表的核验回执，请查看；"
        "如需修改，请按回执修改后重新报送。\n\n{office}"
    )

    @property
    def configured(self) -> bool:
        return bool(self.host and self.user)

    @property
    def imap(self) -> tuple[str, int]:
        return self.host, self.imap_port or (993 if self.security == "ssl" else 143)

    @property
    def smtp(self) -> tuple[str, int]:
        default = {"ssl": 465, "starttls": 587}.get(self.security, 25)
        return self.smtp_host or self.host, self.smtp_port or default

    @property
    def from_address(self) -> str:
        return self.sender or self.user


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
    mail: MailSettings = field(default_factory=MailSettings)
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
