"""xlflow: distribute, collect, validate and consolidate key-task progress workbooks.

The library never prints; the `xlflow` command is a thin layer over these functions::

    from xlflow import Workspace, parse_round, generate_forms, collect, merge

    ws = Workspace.open("my-office")
    generate_forms(ws, parse_round("2019-H1"))
    report = collect(ws, "2019-H1")
    data, path = merge(ws, "2019-H1")

Each name is loaded from its module the first time it is used (PEP 562), so that
`xlflow status` does not load the workbook writers, nor `xlflow collect` the Word reader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "CollectReport": "intake",
    "Consolidation": "consolidate",
    "Field": "config",
    "FileRecord": "model",
    "FormSpec": "model",
    "GenerateResult": "forms",
    "Issue": "issues",
    "IssueCode": "issues",
    "Register": "model",
    "RegisterError": "errors",
    "Role": "model",
    "Round": "model",
    "RoundState": "standing",
    "RoundStatus": "standing",
    "Settings": "config",
    "SettingsError": "errors",
    "Severity": "issues",
    "Standing": "standing",
    "Task": "model",
    "Verdict": "issues",
    "Workspace": "workspace",
    "WorkspaceError": "errors",
    "XlflowError": "errors",
    "collect": "intake",
    "consolidate": "consolidate",
    "describe_register": "register",
    "detect_layout": "layout",
    "generate_forms": "forms",
    "init_workspace": "workspace",
    "load_settings": "config",
    "merge": "consolidate",
    "parse_round": "model",
    "read_register": "register",
    "receipts_for_round": "receipts",
    "report_context": "report",
    "round_state": "standing",
    "round_status": "status",
    "task_history": "history",
    "write_reminders": "remind",
    "write_report": "report",
}

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
    "RoundState",
    "RoundStatus",
    "Settings",
    "SettingsError",
    "Severity",
    "Standing",
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
    "report_context",
    "round_state",
    "round_status",
    "task_history",
    "write_reminders",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xlflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .config import Field, Settings, load_settings
    from .consolidate import Consolidation, consolidate, merge
    from .errors import RegisterError, SettingsError, WorkspaceError, XlflowError
    from .forms import GenerateResult, generate_forms
    from .history import task_history
    from .init import init_workspace
    from .intake import CollectReport, collect
    from .issues import Issue, IssueCode, Severity, Verdict
    from .layout import detect_layout
    from .model import FileRecord, FormSpec, Register, Role, Round, Task, parse_round
    from .receipts import receipts_for_round
    from .register import describe_register, read_register
    from .remind import write_reminders
    from .report import report_context, write_report
    from .standing import RoundState, RoundStatus, Standing, round_state
    from .status import round_status
    from .workspace import Workspace
