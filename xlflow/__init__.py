"""xlflow: distribute, collect, validate and consolidate key-task progress workbooks.

The library never prints; the `xlflow` command is a thin layer over these functions::

    from xlflow import Workspace, parse_round, generate_forms, collect, merge

    ws = Workspace.open("my-office")
    generate_forms(ws, parse_round("2019-H1"))
    report = collect(ws, "2019-H1")
    merged = merge(ws, "2019-H1")  # merged.path, merged.consolidation, merged.to_dict()

Each name is loaded from its module the first time it is used (PEP 562), so that
`xlflow status` does not load the workbook writers, nor `xlflow collect` the Word reader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "CollectReport": "intake.collect",
    "Consolidation": "reporting.workbook.figures",
    "Field": "config.model",
    "FileRecord": "model",
    "FormSpec": "model",
    "GenerateResult": "generate.forms",
    "Issue": "issues",
    "IssueCode": "issues",
    "Register": "model",
    "RegisterError": "errors",
    "Role": "model",
    "Round": "model",
    "RoundState": "standing",
    "RoundStatus": "standing",
    "Settings": "config.model",
    "SettingsError": "errors",
    "Severity": "issues",
    "Standing": "standing",
    "Task": "model",
    "Verdict": "issues",
    "Workspace": "workspace",
    "WorkspaceError": "errors",
    "XlflowError": "errors",
    "answers": "reporting.data",
    "collect": "intake.collect",
    "directory_report": "register.load",
    "export": "reporting.data",
    "extend": "intake.extensions",
    "forward": "relay.forward",
    "roll_up": "relay.rollup",
    "review_explanations": "intake.decisions",
    "flags_of": "reporting.explanations",
    "scorecard": "reporting.scorecard",
    "tasks": "reporting.data",
    "update_register": "register.update",
    "consolidate": "reporting.workbook.figures",
    "describe_register": "register.load",
    "detect_layout": "register.detect",
    "generate_forms": "generate.forms",
    "init_workspace": "register.init",
    "load_settings": "config.load",
    "merge": "reporting.workbook.book",
    "parse_round": "model",
    "read_register": "register.parse",
    "receipts_for_round": "intake.receipts",
    "report_context": "reporting.bulletin",
    "round_state": "standing",
    "round_status": "reporting.status",
    "task_history": "reporting.history",
    "write_reminders": "intake.remind",
    "write_report": "reporting.bulletin",
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
    "answers",
    "collect",
    "consolidate",
    "describe_register",
    "detect_layout",
    "directory_report",
    "export",
    "extend",
    "flags_of",
    "forward",
    "generate_forms",
    "init_workspace",
    "load_settings",
    "merge",
    "parse_round",
    "read_register",
    "receipts_for_round",
    "report_context",
    "review_explanations",
    "roll_up",
    "round_state",
    "round_status",
    "scorecard",
    "task_history",
    "tasks",
    "update_register",
    "write_reminders",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xlflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    if callable(value) and not isinstance(value, type):
        value = importlib.import_module(".workspace", __name__).takes_folders(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .config.load import load_settings
    from .config.model import Field, Settings
    from .errors import RegisterError, SettingsError, WorkspaceError, XlflowError
    from .generate.forms import GenerateResult, generate_forms
    from .intake.collect import CollectReport, collect
    from .intake.decisions import review_explanations
    from .intake.extensions import extend
    from .intake.receipts import receipts_for_round
    from .intake.remind import write_reminders
    from .issues import Issue, IssueCode, Severity, Verdict
    from .model import FileRecord, FormSpec, Register, Role, Round, Task, parse_round
    from .register.detect import detect_layout
    from .register.init import init_workspace
    from .register.load import describe_register, directory_report
    from .register.parse import read_register
    from .register.update import update_register
    from .relay.forward import forward
    from .relay.rollup import roll_up
    from .reporting.bulletin import report_context, write_report
    from .reporting.data import answers, export, tasks
    from .reporting.explanations import flags_of
    from .reporting.history import task_history
    from .reporting.scorecard import scorecard
    from .reporting.status import round_status
    from .reporting.workbook.book import merge
    from .reporting.workbook.figures import Consolidation, consolidate
    from .standing import RoundState, RoundStatus, Standing, round_state
    from .workspace import Workspace
