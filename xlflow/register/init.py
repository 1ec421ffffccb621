"""Making a working folder (`xlflow init`), and checking a register before making one
(`xlflow register --check`): its layout recognised, xlflow.toml written to match."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.load import settings_from_text
from ..config.model import Limits, RegisterSettings
from ..config.writing import replace_office, replace_register_section
from ..errors import FolderInvalid, FolderNotFound
from ..files import FolderChange, atomic_write
from ..ledger.book import Ledger
from ..windows import path_too_long
from ..workspace import (
    REPORT_TEMPLATE,
    SETTINGS_NAME,
    STATE_DIR,
    Workspace,
    bundled_file,
)
from .detect import Detected
from .directory import DIRECTORY_CSV, DIRECTORY_XLSX, Draft, draft_of
from .directory_file import write_draft
from .load import DETECT_LAYOUT, load_register, read_isolated


@dataclass(frozen=True)
class InitResult:
    root: Path
    settings_path: Path
    register_path: Path
    detection: Detected | None  # what was recognised in the coordinator's own register
    report_template: Path | None = None
    directory: Path | None = None  # the unit directory drafted from the register
    draft: Draft | None = None

    @property
    def detected(self) -> bool:
        return self.detection is not None

    @property
    def notes(self) -> tuple[str, ...]:
        return self.detection.notes if self.detection else ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "settings": str(self.settings_path),
            "register": str(self.register_path),
            "report_template": str(self.report_template),
            "directory": str(self.directory) if self.directory else None,
            "suggested_duplicates": [
                {"name": s.name, "other": s.other, "reason": s.reason}
                for s in (self.draft.suggestions if self.draft else ())
            ],
            "collectives": list(self.draft.collectives) if self.draft else [],
            "detected": self.detection.to_dict() if self.detection else None,
        }


def check_register(register: Path, office: str | None = None) -> Detected:
    """What `init --register` would read from a register, without making anything."""
    if not register.is_file():
        raise FolderNotFound(f"找不到任务清单文件：{register}")
    detected: Detected = read_isolated(DETECT_LAYOUT, register, office, Limits())
    return detected


def init_workspace(
    target: Path, register: Path | None = None, office: str | None = None
) -> InitResult:
    """Create a working folder; with the coordinator's own register, recognise its layout
    and issuing office (or take `office`), and write xlflow.toml to match."""
    root = target.resolve()
    if too_long := path_too_long(root):
        raise FolderInvalid(too_long + "未做任何改动。")
    for existing in (root / SETTINGS_NAME, root / "templates" / SETTINGS_NAME):
        if existing.exists():
            raise FolderInvalid(
                f"{root} 已经是 xlflow 工作文件夹（已有 {existing}），未做任何改动。"
            )
    template = bundled_file(SETTINGS_NAME).decode("utf-8")
    found: Detected | None = None
    if register is None:
        register_name = "key-task-list.xlsx"
        reg_bytes = bundled_file(register_name)
        settings_text = template if office is None else replace_office(template, office)
    else:
        found = check_register(register, office)
        register_name = register.name
        if register_name in (DIRECTORY_XLSX, DIRECTORY_CSV, REPORT_TEMPLATE, "divisions.csv"):
            register_name = f"任务清单-{register_name}"  # never in the place of another file
        reg_bytes = register.read_bytes()
        reg = RegisterSettings(
            **{**found.settings.__dict__, "path": f"templates/{register_name}"},
        )
        settings_text = replace_office(replace_register_section(template, reg), found.office)
    settings_from_text(settings_text, SETTINGS_NAME)  # read back before anything is written
    for sub in ("templates", "inbox", "outbox"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    register_path = root / "templates" / register_name
    settings_path = root / SETTINGS_NAME
    report_template = root / "templates" / REPORT_TEMPLATE
    gitignore = root / ".gitignore"
    made = [register_path, settings_path, root / "templates" / DIRECTORY_XLSX, report_template]
    # every file init writes is gone again if any step fails: no half-made folder
    with FolderChange.guarding([*made, gitignore]):
        atomic_write(register_path, reg_bytes)
        atomic_write(settings_path, settings_text.encode("utf-8"))
        ws = Workspace.open(root)
        draft = draft_of(load_register(ws))
        Ledger(ws.ledger_path).close()  # a folder SQLite cannot open is said now, not at generate
        atomic_write(root / "templates" / DIRECTORY_XLSX, write_draft(draft))
        atomic_write(report_template, bundled_file(REPORT_TEMPLATE))
        if not gitignore.exists():
            atomic_write(gitignore, f"{STATE_DIR}/\ninbox/\noutbox/\n".encode())
    return InitResult(
        root,
        settings_path,
        register_path,
        found,
        report_template,
        root / "templates" / DIRECTORY_XLSX,
        draft,
    )
