"""Exceptions that mean xlflow could not run at all, each of one kind.

Problems inside a returned file are never exceptions: they are `Issue` values
collected into a report (see `xlflow.issues`).

Every error raised is of a kind, so that each surface answers it as it should: the CLI
exits 3 for all of them, and the console answers 404 (`NotFound`), 400 (`Invalid`, the
settings and the register among them), 409 (`Busy`) or 500 (`DiskError`).
"""

from __future__ import annotations


class XlflowError(Exception):
    """xlflow could not do what was asked; the message says why and what to do."""


class NotFound(XlflowError):
    """What was named is not there: a round, a task, a division, a file, a folder."""


class Invalid(XlflowError):
    """What was asked cannot be done as asked: a round's name, a date, a decision, an
    upload, a template."""


class Busy(XlflowError):
    """Something else holds what is needed: the working folder, a port."""


class DiskError(XlflowError):
    """The machine failed xlflow: a file it keeps cannot be read or written (the ledger,
    the secret), a path is too long, or a helper process was killed."""


class SettingsError(Invalid):
    """xlflow.toml is missing or wrong. `problems` lists every problem found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path} 配置有误（{len(problems)} 处）：\n{lines}")

    def __reduce__(self) -> tuple[type[SettingsError], tuple[str, list[str]]]:
        # raised again in the caller after a worker process read the settings
        return (SettingsError, (self.path, self.problems))


class RegisterError(Invalid):
    """The register cannot be read: no header, a duplicate id, a task with no division."""


class WorkspaceError(XlflowError):
    """The working folder is missing something, or is busy; raised as one of its kinds."""


class FolderNotFound(WorkspaceError, NotFound):
    """The working folder, or a file it must hold, is not there."""


class FolderInvalid(WorkspaceError, Invalid):
    """The working folder cannot be made or used as asked (it exists already, say)."""


class FolderBusy(WorkspaceError, Busy):
    """Another xlflow run holds the working folder; try again when it has finished."""


class HelperDied(WorkspaceError, DiskError):
    """A helper process xlflow started died before it finished (memory ran out, it was
    killed); nothing was written."""


class StateDamaged(WorkspaceError, DiskError):
    """What xlflow keeps in .xlflow/ cannot be read or written: the ledger, the secret."""


# the kinds, in the order a surface should test them (the most specific first)
KINDS: tuple[type[XlflowError], ...] = (NotFound, Busy, DiskError, Invalid)


class MailError(Invalid):
    """The office's mail account cannot be used: it is not set up, its password is not
    known, or its server cannot be reached or refuses the account."""
