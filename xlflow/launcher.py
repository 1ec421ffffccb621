"""The double click: xlflow started with no arguments (xlflow.exe on Windows, a desktop
entry on Linux) opens its console in the browser, on the working folder it used last.

The folder is remembered per user (`launcher.json` in the user's settings folder). The
first time it is a new folder in the user's documents, made by `init` with the bundled
register, so the console has something to show. A folder dropped onto xlflow.exe (which
Windows passes as the only argument) or named to `xlflow start` becomes the one used and
remembered. Nothing here prints: the command says where it runs and how to stop it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import FolderInvalid
from .files import atomic_write
from .register.init import init_workspace

FOLDER_NAME = "xlflow工作文件夹"


def settings_path() -> Path:
    """Where the launcher remembers the folder: %APPDATA%\\xlflow on Windows, else
    $XDG_CONFIG_HOME/xlflow (~/.config/xlflow)."""
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "xlflow" / "launcher.json"


def default_folder() -> Path:
    """The first working folder: in the user's documents where there is such a folder
    (文档 on a Chinese Linux desktop, Documents on Windows), else in their home."""
    home = Path.home()
    for name in ("Documents", "文档", "My Documents"):
        if (home / name).is_dir():
            return home / name / FOLDER_NAME
    return home / FOLDER_NAME


def remembered() -> Path | None:
    try:
        data = json.loads(settings_path().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    folder = data.get("folder") if isinstance(data, dict) else None
    return Path(folder) if isinstance(folder, str) and folder else None


def remember(folder: Path) -> None:
    payload = json.dumps({"folder": str(folder)}, ensure_ascii=False, indent=2)
    atomic_write(settings_path(), payload.encode("utf-8"))


def wants_launcher(argv: list[str]) -> bool:
    """No arguments (a double click), or one existing folder (dropped onto the program)."""
    return not argv or (len(argv) == 1 and not argv[0].startswith("-") and Path(argv[0]).is_dir())


@dataclass(frozen=True)
class Start:
    folder: Path
    made: bool  # the folder was made now, with the bundled register


def choose_folder(given: Path | None = None) -> Start:
    """The working folder to open: the one given, else the one used last, else a new one;
    made a working folder (init, bundled register) where it is not one yet; remembered."""
    folder = (given or remembered() or default_folder()).expanduser().resolve()
    made = False
    settings = (folder / "xlflow.toml", folder / "templates" / "xlflow.toml")
    if not any(p.is_file() for p in settings):
        if folder.exists() and any(p for p in folder.iterdir() if not p.name.startswith(".")):
            raise FolderInvalid(
                f"“{folder}”不是 xlflow 工作文件夹（没有 xlflow.toml），里面又已经有别的文件，"
                "为免弄乱，不在这里新建。请换一个空文件夹，或拖入一个 xlflow 工作文件夹。"
            )
        init_workspace(folder)
        made = True
    remember(folder)
    return Start(folder, made)
