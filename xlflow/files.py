"""File-system helpers: atomic writes, hashing and the working-folder lock."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import FolderBusy

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

# Windows locks byte ranges, and a locked byte cannot be read by another process: lock one
# far past the holder's text, which the refused run reads to say who holds the folder.
_WINDOWS_LOCK_OFFSET = 1 << 20


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half.

    `durable` also waits for the disk; outputs that a re-run rebuilds can skip that.
    """
    with atomic_path(path, durable) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_path(path: Path, durable: bool = True) -> Iterator[Path]:
    """A temporary name beside `path` for a writer that wants a file name (a workbook
    streamed to disk): it becomes `path` when the block ends, and is gone if it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if durable:
        _fsync_dir(path.parent)


TEMP_SUFFIX = ".tmp"


class FolderChange:
    """Files of a working folder changed together, or not at all.

    `write` only plans; `apply` writes each file atomically, and if any write fails puts
    back every file already written (its old bytes, or no file where there was none)
    before the error goes on. `undo` does the same after a later step failed (the ledger's
    record), so a command never leaves settings that point at a register it did not take."""

    def __init__(self) -> None:
        self._planned: dict[Path, bytes] = {}
        self._done: list[tuple[Path, bytes | None]] = []

    def write(self, path: Path, data: bytes) -> None:
        self._planned[path] = data

    def apply(self) -> None:
        try:
            for path, data in self._planned.items():
                old = path.read_bytes() if path.is_file() else None
                atomic_write(path, data)
                self._done.append((path, old))
        except BaseException:
            self.undo()
            raise

    @classmethod
    @contextlib.contextmanager
    def guarding(cls, paths: Iterable[Path]) -> Iterator[None]:
        """Whatever the block writes to `paths` is put back as it was if the block fails:
        for steps that write through other functions (forward's directory, register and
        record), so a failure at any of them leaves the folder as it was."""
        change = cls()
        change._done = [(p, p.read_bytes() if p.is_file() else None) for p in paths]
        try:
            yield
        except BaseException:
            change.undo()
            raise

    def undo(self) -> None:
        for path, old in reversed(self._done):
            with contextlib.suppress(OSError):
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic_write(path, old)
        self._done.clear()


def sweep_temp_files(folder: Path) -> int:
    """Remove temporary files that a killed run left behind. Call only under the folder lock."""
    removed = 0
    if not folder.is_dir():
        return removed
    for path in folder.rglob(f".*{TEMP_SUFFIX}"):
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_copy(source: Path, target: Path) -> None:
    atomic_write(target, source.read_bytes())


def _fsync_dir(folder: Path) -> None:
    # a rename is durable only once its directory is synced (POSIX)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_HELD: set[str] = set()  # lock files this process holds: POSIX locks do not see those
_HELD_GUARD = threading.Lock()


def _busy(holder: str, what: str) -> FolderBusy:
    return FolderBusy(
        f"工作文件夹正被另一个 xlflow 命令使用（{holder}），{what}未执行。"
        "请等它结束后再运行（进程退出或被终止时锁会自动释放）。"
    )


@contextlib.contextmanager
def folder_lock(lock_path: Path, what: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on the working folder, so that two runs never interleave.

    Waits up to `wait_seconds`, then refuses with a message naming the other run.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    key = str(lock_path.resolve())
    with _HELD_GUARD:
        if key in _HELD:
            holder = lock_path.read_text(encoding="utf-8", errors="replace").strip()
            raise _busy(holder or "本进程中的另一项操作", what)
        _HELD.add(key)
    try:
        with open(lock_path, "a+", encoding="utf-8") as fh:
            yield from _hold(fh, what, wait_seconds)
    finally:
        with _HELD_GUARD:
            _HELD.discard(key)


def _try_lock(fh: Any) -> bool:
    """Take the folder lock without waiting: a POSIX record lock, or a Windows byte lock.
    Both belong to this process alone and are released by the system when it dies."""
    try:
        if fcntl is not None:
            # not inherited by worker processes forked while it is held
            fcntl.lockf(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        elif msvcrt is not None:
            fh.seek(_WINDOWS_LOCK_OFFSET)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _unlock(fh: Any) -> None:
    if fcntl is not None:
        fcntl.lockf(fh.fileno(), fcntl.LOCK_UN)
    elif msvcrt is not None:
        fh.seek(_WINDOWS_LOCK_OFFSET)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)


def _hold(fh: Any, what: str, wait_seconds: float) -> Iterator[None]:
    # Without fcntl and msvcrt (neither POSIX nor Windows) only the in-process guard holds.
    deadline = time.monotonic() + wait_seconds
    while not _try_lock(fh):
        if time.monotonic() >= deadline:
            fh.seek(0)
            raise _busy(fh.read().strip() or "另一个进程", what) from None
        time.sleep(0.1)
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}: {what}")
        fh.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fh.seek(0)
            fh.truncate()
            fh.flush()
            _unlock(fh)


def zip_folder(folder: Path, pattern: str = "*") -> bytes:
    """The files of `folder` matching `pattern` (not hidden ones, not in sub-folders) as one
    .zip, in name order: a download of a round's forms, receipts or mail drafts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        if folder.is_dir():
            for path in sorted(folder.glob(pattern)):
                if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
                    info = zipfile.ZipInfo(path.name, time.localtime(path.stat().st_mtime)[:6])
                    info.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(info, path.read_bytes())
    return buffer.getvalue()
