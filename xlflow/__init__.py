"""xlflow: distribute, collect, validate and consolidate key-task progress workbooks.

The library never prints; the `xlflow` command is a thin layer over these functions::

    from xlflow import Workspace, parse_round, generate_forms, collect, merge

    ws = Workspace.open("my-office")
    generate_forms(ws, parse_round("2019-H1"))
    report = collect(ws, "2019-H1")
    data, path = merge(ws, "2019-H1")
"""

from __future__ import annotations

from .config import Field, Settings, load_settings
from .consolidate import Consolidation, consolidate, merge
from .errors import RegisterError, SettingsError, WorkspaceError, XlflowError
from .forms import GenerateResult, generate_forms
from .history import task_history
from .intake import CollectReport, collect
from .issues import Issue, IssueCode, Severity, Verdict
from .layout import detect_layout
from .model import FileRecord, FormSpec, Register, Role, Round, Task, parse_round
from .receipts import receipts_for_round
from .register import describe_register, read_register
from .remind import write_reminders
from .status import RoundStatus, round_status
from .workspace import Workspace, init_workspace

__version__ = "0.1.0"

__all__ = [
    "CollectReport",
    "Consolidation",
    "Field",
    "FileRecord",
    "FormSpec",
    "GenerateResult",
    "Issue",
    "IssueCode",
    "Register",
    "RegisterError",
    "Role",
    "Round",
    "RoundStatus",
    "Settings",
    "SettingsError",
    "Severity",
    "Task",
    "Verdict",
    "Workspace",
    "WorkspaceError",
    "XlflowError",
    "__version__",
    "collect",
    "consolidate",
    "describe_register",
    "detect_layout",
    "generate_forms",
    "init_workspace",
    "load_settings",
    "merge",
    "parse_round",
    "read_register",
    "receipts_for_round",
    "round_status",
    "task_history",
    "write_reminders",
]
