"""The working folder: settings, register, inbox, outbox and xlflow's own state."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from .config import Limits, RegisterSettings, Settings, load_settings
from .errors import RegisterError, WorkspaceError
from .files import atomic_write
from .layout import Detected, detect_layout
from .ledger import Ledger, code_fingerprint
from .model import Register, Round
from .pool import JobFailure, call_isolated
from .register import read_register

SETTINGS_NAME = "xlflow.toml"
STATE_DIR = ".xlflow"
DIVISIONS_CSV = "divisions.csv"
REPORT_TEMPLATE = "通报模板.docx"  # the 通报's Word template, copied for the office to edit
DIVISIONS_HEADER = ("处室", "联系人", "电子邮箱", "联系电话")


def bundled_file(name: str) -> bytes:
    return resources.files("xlflow").joinpath("bundled", name).read_bytes()


def find_settings(root: Path) -> Path:
    """`xlflow.toml` in the folder itself, else in its `templates/`."""
    for candidate in (root / SETTINGS_NAME, root / "templates" / SETTINGS_NAME):
        if candidate.is_file():
            return candidate
    raise WorkspaceError(
        f"{root} 不是 xlflow 工作文件夹：找不到 {SETTINGS_NAME}（也不在 templates/ 里）。"
        f"用 `xlflow init {root}` 新建，或用 -w 指定工作文件夹。"
    )


@dataclass
class Workspace:
    root: Path
    settings: Settings
    settings_path: Path
    _register: Register | None = field(default=None, repr=False)

    @classmethod
    def open(cls, root: Path | str = ".") -> Workspace:
        base = Path(root).resolve()
        if not base.is_dir():
            raise WorkspaceError(f"工作文件夹不存在：{base}")
        path = find_settings(base)
        return cls(base, load_settings(path), path)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def ledger_path(self) -> Path:
        return self.state / "ledger.sqlite"

    @property
    def archive(self) -> Path:
        return self.state / "archive"

    @property
    def lock_path(self) -> Path:
        return self.state / "lock"

    @property
    def secret_path(self) -> Path:
        return self.state / "secret"

    @property
    def register_path(self) -> Path:
        return (self.root / self.settings.register.path).resolve()

    @property
    def divisions_csv(self) -> Path:
        return self.templates / DIVISIONS_CSV

    def register(self) -> Register:
        """The register as parsed: read once per version of the file, the [register]
        settings and xlflow itself, and kept in the ledger for every later command."""
        if self._register is None:
            key, parsed = self._cache_register()
            if parsed is None:
                with Ledger(self.ledger_path) as ledger:
                    parsed = ledger.cached_register(key)
            assert parsed is not None
            self._register = parsed
        return self._register

    def register_key(self) -> str:
        """The key under which the ledger keeps the parsed register, parsing it first if
        it is not there; read it from the ledger a task at a time with this key."""
        return self._cache_register()[0]

    def _cache_register(self) -> tuple[str, Register | None]:
        """The key, and the register if it had to be parsed now."""
        path, settings = self.register_path, self.settings.register
        try:
            data = path.read_bytes()
        except OSError:
            read_register(path, settings)  # which says what is wrong
            raise
        key = hashlib.sha256(
            b"\0".join(
                [data, repr(settings).encode(), str(path).encode(), code_fingerprint().encode()]
            )
        ).hexdigest()
        with Ledger(self.ledger_path) as ledger:
            if ledger.register_head(key) is not None:
                return key, None
            register = read_isolated(read_register, path, settings, self.settings.limits)
            ledger.cache_register(key, register)
        return key, register

    def round_dir(self, rnd: Round) -> Path:
        return self.outbox / rnd.slug


@dataclass(frozen=True)
class InitResult:
    root: Path
    settings_path: Path
    register_path: Path
    detection: Detected | None  # what was recognised in the coordinator's own register
    report_template: Path | None = None

    @property
    def detected(self) -> bool:
        return self.detection is not None

    @property
    def notes(self) -> tuple[str, ...]:
        return self.detection.notes if self.detection else ()


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_register_section(reg: RegisterSettings) -> str:
    """The [register] part of xlflow.toml, with a comment on every key."""
    if reg.layout == "paragraphs":
        return (
            "\n".join(
                [
                    "# 任务清单（the register of key tasks）",
                    "[register]",
                    f"path = {_toml_str(reg.path)}",
                    'layout = "paragraphs"              # numbered paragraphs of a Word document, no table',
                    f"separators = [{', '.join(_toml_str(s) for s in reg.separators)}]",
                    f"lead_rule = {_toml_str(reg.lead_rule)}        # first_unit: the first unit named leads",
                    f"name_column = {_toml_str(reg.name_column)}",
                    "# what a division sees on its form, read-only",
                    "readonly_columns = ["
                    + ", ".join(_toml_str(c) for c in reg.readonly_columns)
                    + "]",
                    "",
                ]
            )
            + "\n"
        )
    lines = [
        "# 任务清单（the register of key tasks）",
        "[register]",
        f"path = {_toml_str(reg.path)}",
        'layout = "table"                   # a table (paragraphs: numbered Word paragraphs)',
        f"sheet = {_toml_str(reg.sheet)}                         # empty: the first sheet with a header row",
        f"header_row = {reg.header_row}                     # 0: find the header row by itself",
        f"id_column = {_toml_str(reg.id_column)}                  # the task id",
        f"group_column = {_toml_str(reg.group_column)}           # the category (empty: none or section rows)",
        f"name_column = {_toml_str(reg.name_column)}            # the task's short name",
    ]  # fmt: skip
    if reg.divisions_column:
        lines += [
            "# one column where the first named division leads:",
            f"divisions_column = {_toml_str(reg.divisions_column)}",
        ]
    else:
        lines += [
            "# separate lead and co-operating columns:",
            f"lead_column = {_toml_str(reg.lead_column)}",
            f"cooperating_column = {_toml_str(reg.cooperating_column)}",
        ]
    seps = ", ".join(_toml_str(s) for s in reg.separators)
    lines += [
        f"separators = [{seps}]",
        "# first_unit: the first unit named leads; first_group: every unit before the first ，",
        f"lead_rule = {_toml_str(reg.lead_rule)}",
        "# register columns a division sees on its form, read-only",
        "readonly_columns = [" + ", ".join(_toml_str(c) for c in reg.readonly_columns) + "]",
        "",
        "# the target column for each milestone year",
        "[register.targets]",
    ]
    lines += [f"{year} = {_toml_str(col)}" for year, col in reg.targets]
    return "\n".join(lines) + "\n\n"


def _replace_register_section(template: str, reg: RegisterSettings) -> str:
    start = template.index("# 任务清单")
    end = template.index("# 填报项")
    return template[:start] + render_register_section(reg) + template[end:]


def _replace_office(template: str, office: str) -> str:
    """The [office] table for another office: its name, and no contact of the bundled one."""
    start = template.index("[office]")
    end = template.index("\n\n", start)
    section = "\n".join(
        [
            "[office]",
            f"name = {_toml_str(office)}{' ' * max(1, 27 - len(office) * 2)}# 单位名称, used in the form title",
            'contact = ""                       # 联系人',
            'phone = ""                         # 联系电话',
            'email = ""                         # 电子邮箱（可留空）',
        ]
    )
    return template[:start] + section + template[end:]


# The coordinator's register is a file from outside too: python-docx, lxml, openpyxl's
# and xlflow's own readers parse it in a worker, as a returned file is read. Registers are
# larger than returns, so the time limit is more generous.
_REGISTER_TIMEOUT = 120.0
T = TypeVar("T")


def read_isolated(reader: Callable[[Path, Any], T], path: Path, option: Any, limits: Limits) -> T:
    """`reader(path, option)` in a worker; a crash, hang or runaway allocation is a
    RegisterError naming the file."""
    outcome = call_isolated(
        reader,
        (path, option),
        max(_REGISTER_TIMEOUT, limits.read_timeout_seconds),
        limits.worker_memory_mb,
    )
    if not isinstance(outcome, JobFailure):
        return outcome
    if outcome.kind == "timeout":
        what = f"读取超过 {max(_REGISTER_TIMEOUT, limits.read_timeout_seconds):g} 秒仍未完成"
    elif outcome.kind == "error":
        what = f"读取时出错（{outcome.detail}）"
    else:
        what = f"读取程序异常终止（{outcome.detail}）"
    raise RegisterError(
        f"{path}: 无法读取任务清单：{what}。请在 Excel/WPS/Word 中打开确认后另存，再重试。"
    )


def check_register(register: Path, office: str | None = None) -> Detected:
    """What `init --register` would read from a register, without making anything."""
    if not register.is_file():
        raise WorkspaceError(f"找不到任务清单文件：{register}")
    return read_isolated(detect_layout, register, office, Limits())


def write_divisions_csv(path: Path, divisions: list[str] | tuple[str, ...]) -> None:
    """The contact list `remind` reads: one row per division, contacts left empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(DIVISIONS_HEADER)
    for d in divisions:
        writer.writerow([d, "", "", ""])
    # utf-8-sig so that Excel on Chinese Windows opens it without mojibake
    atomic_write(path, buf.getvalue().encode("utf-8-sig"))


def init_workspace(
    target: Path, register: Path | None = None, office: str | None = None
) -> InitResult:
    """Create a working folder; with the coordinator's own register, recognise its layout
    and issuing office (or take `office`), and write xlflow.toml to match."""
    root = target.resolve()
    for existing in (root / SETTINGS_NAME, root / "templates" / SETTINGS_NAME):
        if existing.exists():
            raise WorkspaceError(
                f"{root} 已经是 xlflow 工作文件夹（已有 {existing}），未做任何改动。"
            )
    template = bundled_file(SETTINGS_NAME).decode("utf-8")
    found: Detected | None = None
    if register is None:
        register_name = "key-task-list.xlsx"
        reg_bytes = bundled_file(register_name)
        settings_text = template if office is None else _replace_office(template, office)
    else:
        found = check_register(register, office)
        register_name = register.name
        reg_bytes = register.read_bytes()
        reg = RegisterSettings(
            **{**found.settings.__dict__, "path": f"templates/{register_name}"},
        )
        settings_text = _replace_office(_replace_register_section(template, reg), found.office)
    for sub in ("templates", "inbox", "outbox"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    register_path = root / "templates" / register_name
    atomic_write(register_path, reg_bytes)
    settings_path = root / SETTINGS_NAME
    atomic_write(settings_path, settings_text.encode("utf-8"))
    try:
        ws = Workspace.open(root)
        divisions = ws.register().divisions
        Ledger(ws.ledger_path).close()  # a folder SQLite cannot open is said now, not at generate
    except Exception:
        # leave nothing half-made behind
        settings_path.unlink(missing_ok=True)
        raise
    write_divisions_csv(root / "templates" / DIVISIONS_CSV, divisions)
    report_template = root / "templates" / REPORT_TEMPLATE
    atomic_write(report_template, bundled_file(REPORT_TEMPLATE))
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        atomic_write(gitignore, f"{STATE_DIR}/\ninbox/\noutbox/\n".encode())
    return InitResult(root, settings_path, register_path, found, report_template)
