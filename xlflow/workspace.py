"""The working folder: its settings, where its register, inbox, outbox and xlflow's own
state are. Reading the register is the register stage's (`load`, `init`)."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

from .config.load import load_settings
from .config.model import Settings
from .errors import FolderInvalid, FolderNotFound
from .model import Register, Round
from .windows import path_too_long

SETTINGS_NAME = "xlflow.toml"
STATE_DIR = ".xlflow"
REPORT_TEMPLATE = "通报模板.docx"  # the 通报's Word template, copied for the office to edit


def bundled_file(name: str) -> bytes:
    return resources.files("xlflow").joinpath("bundled", name).read_bytes()


def find_settings(root: Path) -> Path:
    """`xlflow.toml` in the folder itself, else in its `templates/`."""
    for candidate in (root / SETTINGS_NAME, root / "templates" / SETTINGS_NAME):
        if candidate.is_file():
            return candidate
    raise FolderNotFound(
        f"{root} 不是 xlflow 工作文件夹：找不到 {SETTINGS_NAME}（也不在 templates/ 里）。"
        f"用 `xlflow init {root}` 新建，或用 -w 指定工作文件夹。"
    )


@dataclass
class Workspace:
    root: Path
    settings: Settings
    settings_path: Path
    # the register as parsed, with the key it was parsed under (`register.load`)
    parsed_register: tuple[str, Register] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def open(cls, root: Path | str = ".") -> Workspace:
        base = Path(root).resolve()
        if not base.is_dir():
            raise FolderNotFound(f"工作文件夹不存在：{base}")
        if too_long := path_too_long(base):
            raise FolderInvalid(too_long)
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

    def round_dir(self, rnd: Round) -> Path:
        return self.outbox / rnd.slug


def as_workspace(value: Workspace | str | os.PathLike[str]) -> Workspace:
    """A working folder given as a Workspace or as its path (`"2019督查"`, a Path)."""
    if isinstance(value, Workspace):
        return value
    if isinstance(value, str | os.PathLike):
        return Workspace.open(Path(value))
    raise TypeError(
        f'需要工作文件夹：它的路径（如 "2019督查"）或 xlflow.Workspace，而不是 {type(value).__name__}'
    )


F = TypeVar("F", bound=Callable[..., Any])


def takes_folders(func: F) -> F:
    """`func(ws, …)` that also takes the folder's path as `ws`: the library's public
    functions, as pandas users call them (`xlflow.answers("2019督查")`)."""
    params = list(inspect.signature(func).parameters)
    if not params or params[0] != "ws":
        return func

    @functools.wraps(func)
    def call(ws: Any, *args: Any, **kwargs: Any) -> Any:
        return func(as_workspace(ws), *args, **kwargs)

    return cast(F, call)
