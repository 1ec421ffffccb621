"""What Windows offers where POSIX has rlimits, death signals and file modes: a Job Object
that caps each worker's memory and ends every worker when the process that made them is
gone, and a file readable by its owner alone.

Written with ctypes over kernel32 and advapi32, which every Windows has: pywin32 would do
the same through a 10 MB dependency, for five calls. Nothing here runs elsewhere; each
function is a no-op or returns an empty answer off Windows.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import re
import sys
import threading
from collections.abc import Callable, Iterator
from ctypes import wintypes
from pathlib import Path
from typing import Any

ON_WINDOWS = sys.platform == "win32"
if ON_WINDOWS:
    import winreg

_JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
_LIMIT_PROCESS_MEMORY = 0x100
_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
_LIMIT_DIE_ON_UNHANDLED_EXCEPTION = 0x400


class _IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount",
    )]  # fmt: skip


class _BasicLimits(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_longlong),
        ("PerJobUserTimeLimit", ctypes.c_longlong),
        ("LimitFlags", wintypes.DWORD),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", wintypes.DWORD),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", wintypes.DWORD),
        ("SchedulingClass", wintypes.DWORD),
    ]


class _ExtendedLimits(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", _BasicLimits),
        ("IoInfo", _IoCounters),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class WorkerJob:
    """One Job Object for the workers of this process: each worker's committed memory is
    capped at `memory_mb` (as RLIMIT_AS caps its address space on Linux), and when the
    last handle to the job closes (this process ends, however it ends) Windows ends every
    worker in it."""

    def __init__(self, memory_mb: int) -> None:
        kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        self._kernel32 = kernel32
        kernel32.CreateJobObjectW.restype = wintypes.HANDLE
        self.handle = kernel32.CreateJobObjectW(None, None)
        if not self.handle:
            raise OSError(ctypes.get_last_error(), "CreateJobObjectW")  # type: ignore[attr-defined]
        limits = _ExtendedLimits()
        flags = _LIMIT_KILL_ON_JOB_CLOSE | _LIMIT_DIE_ON_UNHANDLED_EXCEPTION
        if memory_mb:  # 0: no cap (merge's companion), only the end with this process
            flags |= _LIMIT_PROCESS_MEMORY
            limits.ProcessMemoryLimit = memory_mb * 1024 * 1024
        limits.BasicLimitInformation.LimitFlags = flags
        ok = kernel32.SetInformationJobObject(
            wintypes.HANDLE(self.handle),
            _JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
            ctypes.byref(limits),
            ctypes.sizeof(limits),
        )
        if not ok:
            raise OSError(ctypes.get_last_error(), "SetInformationJobObject")  # type: ignore[attr-defined]

    def take(self, process_handle: int) -> bool:
        """Put a worker (by its process handle) in the job; False if Windows refused."""
        return bool(
            self._kernel32.AssignProcessToJobObject(
                wintypes.HANDLE(self.handle), wintypes.HANDLE(process_handle)
            )
        )


class _MemoryCounters(ctypes.Structure):
    _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD)] + [
        (name, ctypes.c_size_t) for name in (
            "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage",
            "QuotaPagedPoolUsage", "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage",
            "PagefileUsage", "PeakPagefileUsage", "PrivateUsage",
        )
    ]  # fmt: skip


def committed_bytes() -> int:
    """This process's private committed memory (what a Job Object's limit counts)."""
    kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    kernel32.K32GetProcessMemoryInfo.argtypes = [wintypes.HANDLE, ctypes.c_void_p, wintypes.DWORD]
    counters = _MemoryCounters()
    counters.cb = ctypes.sizeof(counters)
    if not kernel32.K32GetProcessMemoryInfo(
        kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb
    ):
        return 0
    return int(counters.PrivateUsage)


# Windows opens a path of at most 260 characters unless long paths are enabled for the
# machine; xlflow's own names inside a working folder take up to about 100 of them
# (.xlflow\archive\<sha256>.xlsx, outbox\<round>\forms\<division>_<round>_填报表.xlsx).
PATH_LIMIT = 260
ROOM_INSIDE = 100
WINDOWS_PATHS = ON_WINDOWS  # the paths are Windows' (a test imitates them elsewhere)


def long_paths_enabled() -> bool:
    """True where Windows opens paths past 260 characters (the machine's
    LongPathsEnabled, which Python's own manifest then uses)."""
    try:
        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\FileSystem")  # type: ignore[attr-defined]  # fmt: skip
        value, _ = winreg.QueryValueEx(key, "LongPathsEnabled")  # type: ignore[attr-defined]
        return bool(value)
    except (NameError, OSError):  # winreg: Windows only
        return False


def path_too_long(root: Path) -> str:
    """Why a working folder is too deep for Windows to open the files xlflow keeps in it,
    or "": said before anything is written (Windows would say only 有更多可用数据)."""
    if not WINDOWS_PATHS:
        return ""
    length = len(str(root))
    if length + ROOM_INSIDE <= PATH_LIMIT or long_paths_enabled():
        return ""
    return (
        f"工作文件夹的路径太长（{length} 个字符）：Windows 的完整路径最多 {PATH_LIMIT} 个字符，"
        f"文件夹里的文件名还要再占约 {ROOM_INSIDE} 个。请把工作文件夹移到较短的路径下"
        "（如 D:\\督查\\2024）后再运行，或请管理员启用 Windows 的长路径支持（LongPathsEnabled）。"
    )


_JOBS: dict[int, WorkerJob] = {}


def worker_job(memory_mb: int) -> WorkerJob | None:
    """The job for workers capped at `memory_mb`, made once and kept open for this
    process's life; None off Windows or where Windows cannot make one."""
    if not ON_WINDOWS:
        return None
    if memory_mb not in _JOBS:
        try:
            _JOBS[memory_mb] = WorkerJob(memory_mb)
        except OSError:
            return None
    return _JOBS[memory_mb]


_PROC_THREAD_ATTRIBUTE_JOB_LIST = 0x0002000D
_EXTENDED_STARTUPINFO_PRESENT = 0x00080000
_CREATE_UNICODE_ENVIRONMENT = 0x00000400


class _StartupInfo(ctypes.Structure):
    _fields_ = [
        ("cb", wintypes.DWORD), ("lpReserved", wintypes.LPWSTR), ("lpDesktop", wintypes.LPWSTR),
        ("lpTitle", wintypes.LPWSTR), ("dwX", wintypes.DWORD), ("dwY", wintypes.DWORD),
        ("dwXSize", wintypes.DWORD), ("dwYSize", wintypes.DWORD),
        ("dwXCountChars", wintypes.DWORD), ("dwYCountChars", wintypes.DWORD),
        ("dwFillAttribute", wintypes.DWORD), ("dwFlags", wintypes.DWORD),
        ("wShowWindow", wintypes.WORD), ("cbReserved2", wintypes.WORD),
        ("lpReserved2", ctypes.c_void_p), ("hStdInput", wintypes.HANDLE),
        ("hStdOutput", wintypes.HANDLE), ("hStdError", wintypes.HANDLE),
    ]  # fmt: skip


class _StartupInfoEx(ctypes.Structure):
    _fields_ = [("StartupInfo", _StartupInfo), ("lpAttributeList", ctypes.c_void_p)]


class _ProcessInformation(ctypes.Structure):
    _fields_ = [
        ("hProcess", wintypes.HANDLE), ("hThread", wintypes.HANDLE),
        ("dwProcessId", wintypes.DWORD), ("dwThreadId", wintypes.DWORD),
    ]  # fmt: skip


def create_in_job(
    job: WorkerJob, application: str, command: str, env: dict[str, str] | None
) -> tuple[int, int, int, int] | None:
    """Start a process already in `job` (Windows 10 and later take a job list at creation):
    (process handle, thread handle, pid, tid) as `_winapi.CreateProcess` gives them, or
    None where Windows cannot, for the caller to start it the old way."""
    kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.InitializeProcThreadAttributeList.argtypes = [
        ctypes.c_void_p, wintypes.DWORD, wintypes.DWORD, ctypes.POINTER(ctypes.c_size_t),
    ]  # fmt: skip
    kernel32.UpdateProcThreadAttribute.argtypes = [
        ctypes.c_void_p, wintypes.DWORD, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
        ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    kernel32.DeleteProcThreadAttributeList.argtypes = [ctypes.c_void_p]
    kernel32.CreateProcessW.argtypes = [
        wintypes.LPCWSTR, wintypes.LPWSTR, ctypes.c_void_p, ctypes.c_void_p, wintypes.BOOL,
        wintypes.DWORD, ctypes.c_void_p, wintypes.LPCWSTR, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    size = ctypes.c_size_t()
    kernel32.InitializeProcThreadAttributeList(None, 1, 0, ctypes.byref(size))
    attributes = ctypes.create_string_buffer(size.value)
    if not kernel32.InitializeProcThreadAttributeList(attributes, 1, 0, ctypes.byref(size)):
        return None
    try:
        jobs = (wintypes.HANDLE * 1)(job.handle)
        if not kernel32.UpdateProcThreadAttribute(
            attributes, 0, _PROC_THREAD_ATTRIBUTE_JOB_LIST, jobs, ctypes.sizeof(jobs), None, None
        ):
            return None
        startup = _StartupInfoEx()
        startup.StartupInfo.cb = ctypes.sizeof(startup)
        startup.lpAttributeList = ctypes.cast(attributes, ctypes.c_void_p)
        flags = _EXTENDED_STARTUPINFO_PRESENT
        block = None
        if env is not None:
            flags |= _CREATE_UNICODE_ENVIRONMENT
            block = ctypes.create_unicode_buffer("".join(f"{k}={v}\0" for k, v in env.items()))
        created = _ProcessInformation()
        if not kernel32.CreateProcessW(
            application, ctypes.create_unicode_buffer(command), None, None, False, flags,
            block, None, ctypes.byref(startup), ctypes.byref(created),
        ):  # fmt: skip
            return None
        return (
            int(created.hProcess),
            int(created.hThread),
            created.dwProcessId,
            created.dwThreadId,
        )
    finally:
        kernel32.DeleteProcThreadAttributeList(attributes)


class _Starting(threading.local):
    job: WorkerJob | None = None


_STARTING = _Starting()


class WinapiStartingInJob:
    """multiprocessing's `_winapi`, as its Windows spawner calls it, except that a process
    started while `starting_in(job)` holds in this thread is created inside the job.

    Put in the job after it starts, a worker of a parent killed in that moment keeps
    running, unwatched, for as long as its interpreter takes to start: seconds, more under
    load (created suspended instead, it would stay suspended for ever). multiprocessing
    offers no creation flags, and copying its spawner would tie xlflow to one Python's
    version of it; this wraps the one call, and passes every other through unchanged.
    Where Windows cannot create into a job, the process is put in it once started.
    """

    def __init__(
        self,
        winapi: Any,
        create: Callable[[WorkerJob, str, str, dict[str, str] | None], tuple[int, int, int, int] | None],
    ) -> None:  # fmt: skip
        self._winapi = winapi
        self._create = create

    def __getattr__(self, name: str) -> Any:
        return getattr(self._winapi, name)

    def CreateProcess(  # the name multiprocessing calls
        self, application: Any, command: Any, *rest: Any
    ) -> tuple[int, int, int, int]:
        job = _STARTING.job
        if job is not None:
            process_attrs, thread_attrs, inherit, flags, env, cwd, startup = rest
            plain = (process_attrs, thread_attrs, inherit, flags, cwd, startup)
            if plain == (None, None, False, 0, None, None) and (  # what the spawner passes
                created := self._create(job, application, command, env)
            ):
                return created
        started = self._winapi.CreateProcess(application, command, *rest)
        if job is not None:
            job.take(started[0])  # refused (a job Windows cannot nest): it runs unjobbed
        return started  # type: ignore[no-any-return]


@contextlib.contextmanager
def starting_in(job: WorkerJob | None) -> Iterator[None]:
    """Processes multiprocessing spawns in this thread meanwhile are in `job` from their
    first instruction (see `WinapiStartingInJob`); nothing changes off Windows."""
    if job is None:
        yield
        return
    if ON_WINDOWS:
        spawner: Any = importlib.import_module("multiprocessing.popen_spawn_win32")
        if not isinstance(spawner._winapi, WinapiStartingInJob):
            spawner._winapi = WinapiStartingInJob(spawner._winapi, create_in_job)
    _STARTING.job = job
    try:
        yield
    finally:
        _STARTING.job = None


# Owner only: a protected DACL (nothing inherited from the folder) with one entry that
# gives the user running xlflow full access. SDDL, as `icacls` and PowerShell show it.
_OWNER_ONLY = "D:P(A;;FA;;;{sid})"
_DACL = 0x4
_PROTECTED_DACL = 0x80000000
_SDDL_REVISION = 1


def restrict_to_owner(path: Path) -> None:
    """Make `path` readable and writable by its owner alone (Windows); elsewhere the file
    mode (0o600) does it."""
    if ON_WINDOWS:
        set_file_access(path, _OWNER_ONLY.format(sid=current_user_sid()))


def set_file_access(path: Path, sddl: str) -> None:
    """Give `path` the DACL `sddl` says (Windows only): restrict_to_owner's, or, in a test,
    one that lets every user read it."""
    advapi32: Any = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
    descriptor = ctypes.c_void_p()
    if not advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
        sddl, _SDDL_REVISION, ctypes.byref(descriptor), None
    ):
        raise OSError(ctypes.get_last_error(), "ConvertStringSecurityDescriptorToSecurityDescriptorW")  # type: ignore[attr-defined]  # fmt: skip
    try:
        if not advapi32.SetFileSecurityW(str(path), _DACL | _PROTECTED_DACL, descriptor):
            raise OSError(ctypes.get_last_error(), "SetFileSecurityW")  # type: ignore[attr-defined]
    finally:
        ctypes.WinDLL("kernel32").LocalFree(descriptor)  # type: ignore[attr-defined]


_TOKEN_QUERY = 0x8
_TOKEN_USER = 1


def current_user_sid() -> str:
    """The SID of the user running this process, as text (S-1-5-21-…)."""
    advapi32: Any = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    advapi32.OpenProcessToken.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(wintypes.HANDLE)]  # fmt: skip
    token = wintypes.HANDLE()
    if not advapi32.OpenProcessToken(
        kernel32.GetCurrentProcess(), _TOKEN_QUERY, ctypes.byref(token)
    ):
        raise OSError(ctypes.get_last_error(), "OpenProcessToken")  # type: ignore[attr-defined]
    try:
        needed = wintypes.DWORD()
        advapi32.GetTokenInformation(token, _TOKEN_USER, None, 0, ctypes.byref(needed))
        buffer = ctypes.create_string_buffer(needed.value)
        if not advapi32.GetTokenInformation(
            token, _TOKEN_USER, buffer, needed, ctypes.byref(needed)
        ):
            raise OSError(ctypes.get_last_error(), "GetTokenInformation")  # type: ignore[attr-defined]
        sid = ctypes.c_void_p.from_buffer(buffer).value  # TOKEN_USER starts with its SID's address
        text = ctypes.c_wchar_p()
        if not advapi32.ConvertSidToStringSidW(ctypes.c_void_p(sid), ctypes.byref(text)):
            raise OSError(ctypes.get_last_error(), "ConvertSidToStringSidW")  # type: ignore[attr-defined]
        try:
            return str(text.value)
        finally:
            kernel32.LocalFree(text)
    finally:
        kernel32.CloseHandle(token)


def file_access(path: Path) -> str:
    """The DACL of `path` in SDDL ("" off Windows): what the tests check."""
    if not ON_WINDOWS:
        return ""
    advapi32: Any = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
    needed = wintypes.DWORD()
    advapi32.GetFileSecurityW(str(path), _DACL, None, 0, ctypes.byref(needed))
    buffer = ctypes.create_string_buffer(needed.value)
    if not advapi32.GetFileSecurityW(str(path), _DACL, buffer, needed, ctypes.byref(needed)):
        raise OSError(ctypes.get_last_error(), "GetFileSecurityW")  # type: ignore[attr-defined]
    text = ctypes.c_wchar_p()
    if not advapi32.ConvertSecurityDescriptorToStringSecurityDescriptorW(
        buffer, _SDDL_REVISION, _DACL, ctypes.byref(text), None
    ):
        raise OSError(ctypes.get_last_error(), "ConvertSecurityDescriptorToStringSecurityDescriptorW")  # type: ignore[attr-defined]  # fmt: skip
    try:
        return str(text.value)
    finally:
        ctypes.WinDLL("kernel32").LocalFree(text)  # type: ignore[attr-defined]


_ACE_SID = re.compile(r"\(([^;)]*);[^;)]*;[^;)]*;[^;)]*;[^;)]*;([^;)]*)")


def owner_only(path: Path) -> bool:
    """True when every entry of the file's DACL that allows anything names this user or
    the system itself (always True off Windows, where the file mode says it)."""
    if not ON_WINDOWS:
        return True
    me = current_user_sid()
    aces = _ACE_SID.findall(file_access(path))
    allowed = [sid for kind, sid in aces if kind == "A"]
    return bool(allowed) and all(sid in (me, "SY", "OW") for sid in allowed)


__all__ = [
    "WorkerJob",
    "committed_bytes",
    "current_user_sid",
    "file_access",
    "owner_only",
    "path_too_long",
    "restrict_to_owner",
    "set_file_access",
    "worker_job",
]
