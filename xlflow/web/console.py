"""What every page of the console shares: its settings (`WebConfig`), the working folder
and the collect jobs (`Console`, kept on the Flask app), and the small helpers that turn
a path or a time into what a page shows."""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, url_for
from werkzeug.datastructures import FileStorage

from ..config.model import Limits
from ..workspace import Workspace
from .jobs import Jobs

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class WebConfig:
    root: Path
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None  # required for every request when set (listening beyond loopback)

    @property
    def allowed_hosts(self) -> frozenset[str] | None:
        """The Host headers accepted; None where the server listens on every address."""
        if self.host in ("0.0.0.0", "::", ""):
            return None
        names = {self.host}
        if self.host in LOOPBACK:
            names |= {"127.0.0.1", "localhost", "[::1]"}
        hosts = {f"{n}:{self.port}" for n in names}
        if self.port == 80:
            hosts |= names
        return frozenset(hosts)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


class OpenedFolder:
    """The working folder, opened again when its settings file changes: 采用 a revised
    register names it there, and an editor may change anything there while the console
    runs; a page must never act on the settings as they were."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._stamp = _stamp(ws.settings_path)
        self._lock = threading.Lock()

    def current(self) -> Workspace:
        stamp = _stamp(self._ws.settings_path)
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._ws = Workspace.open(self._ws.root)
                    self._stamp = stamp
        return self._ws


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


@dataclass(frozen=True)
class Console:
    """One console over one working folder."""

    config: WebConfig
    folder: OpenedFolder
    jobs: Jobs
    csrf_token: str

    @property
    def ws(self) -> Workspace:
        return self.folder.current()

    @property
    def limits(self) -> Limits:
        return self.ws.settings.limits


EXTENSION = "xlflow"


def console() -> Console:
    """The console of the app handling this request."""
    found: Console = current_app.extensions[EXTENSION]
    return found


def outbox_link(path: Path | None) -> str | None:
    """Where a page downloads a file of outbox/ from."""
    if path is None:
        return None
    outbox = console().ws.outbox.resolve()
    rel = path.resolve().relative_to(outbox).as_posix()
    return url_for("downloads.download", rel=rel)


def short_time(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    text = value.isoformat(timespec="minutes") if isinstance(value, dt.datetime) else value
    return text.replace("T", " ")[:16]


# A browser writes a file's name in the form as it is, with no escapes (a quote becomes
# %22); an old one (Internet Explorer, some 360 and QQ browser modes) sends the whole
# Windows path. Werkzeug >= 3.1.9 reads backslashes in it as escapes and drops them, which
# would glue C:\Users\张三\桌面\x.xlsx into one name: the raw header keeps them.
_SENT_NAME = re.compile(r'filename="([^"]*)"')


def sent_name(upload: FileStorage) -> str:
    """The name a browser sent for an uploaded file, as it sent it."""
    disposition = upload.headers.get("Content-Disposition", "")
    if "filename*=" not in disposition and (found := _SENT_NAME.search(disposition)):
        return found.group(1)
    return upload.filename or ""
