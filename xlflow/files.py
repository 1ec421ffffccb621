"""File-system helpers: atomic writes, hashing and the working-folder lock."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import WorkspaceError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


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


@contextlib.contextmanager
def folder_lock(lock_path: Path, what: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on the working folder, so that two runs never interleave.

    Waits up to `wait_seconds`, then refuses with a message naming the other process.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        yield from _hold(fh, lock_path, what, wait_seconds)


def _hold(fh: Any, lock_path: Path, what: str, wait_seconds: float) -> Iterator[None]:
    try:
        if fcntl is not None:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        fh.seek(0)
                        holder = fh.read().strip() or "另一个进程"
                        raise WorkspaceError(
                            f"工作文件夹正被另一个 xlflow 命令使用（{holder}），{what}未执行。"
                            "请等它结束后再运行（进程退出或被终止时锁会自动释放）。"
                        ) from None
                    time.sleep(0.1)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}: {what}")
        fh.flush()
        yield
    finally:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
