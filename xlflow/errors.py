"""Exceptions that mean xlflow could not run at all.

Problems inside a returned file are never exceptions: they are `Issue` values
collected into a report (see `xlflow.issues`).
"""

from __future__ import annotations


class XlflowError(Exception):
    """xlflow could not do what was asked; the message says why and what to do."""


class SettingsError(XlflowError):
    """xlflow.toml is missing or wrong. `problems` lists every problem found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path} 配置有误（{len(problems)} 处）：\n{lines}")

    def __reduce__(self) -> tuple[type[SettingsError], tuple[str, list[str]]]:
        # raised again in the caller after a worker process read the settings
        return (SettingsError, (self.path, self.problems))


class RegisterError(XlflowError):
    """The register cannot be read: no header, a duplicate id, a task with no division."""


class WorkspaceError(XlflowError):
    """The working folder is missing something, or is busy."""


class FolderBusy(WorkspaceError):
    """Another xlflow run holds the working folder; try again when it has finished."""
