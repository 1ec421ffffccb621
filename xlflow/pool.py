"""Worker processes that each file can crash, hang or exhaust without taking the run down.

A native reader can abort the whole process (python-calamine has been seen to SIGABRT
on a tiny file with an enormous used range) or loop on a crafted file. Each job runs
in a worker with a memory cap; a job that overruns its time limit has its worker
killed; a dead worker is replaced. The caller gets a `JobFailure` for that job only.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import gc
import importlib
import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

from . import windows
from .errors import XlflowError
from .issues import damage_words

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

# Every job in the calling process, without isolation: for a mutation tool, which maps each
# test to the functions it calls in its own process (tests/mutation.py), and for pdb.
IN_PROCESS_VARIABLE = "XLFLOW_POOL_IN_PROCESS"

# Forking is fast and shares the read-only context; elsewhere (Windows, macOS) workers are
# spawned, and the context is pickled to them.
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class JobFailure:
    kind: str  # timeout | crashed | memory | error
    detail: str  # in words for a person (it reaches the messages of verdicts)
    cause: str = ""  # for an error: the exception's type and text, for a developer only


def _vm_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# A worker ended by its own memory watch (Windows) exits with this code.
MEMORY_EXIT = 77
# What a spawned worker commits before its first job (the interpreter and xlflow's
# modules), allowed on Windows on top of worker_memory_mb: Linux's cap is set in the
# worker itself, above what it already has.
_WORKER_BASE_MB = 256


def _limit_memory(memory_mb: int) -> None:
    if resource is not None:
        cap = _vm_bytes() + memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    elif windows.ON_WINDOWS:
        _watch_memory(memory_mb)


def _watch_memory(memory_mb: int) -> None:
    """Windows, besides the Job Object's cap (`windows.WorkerJob`): the worker ends itself
    when its committed memory passes the cap, for where the job's limit does not hold
    (a process Windows kept out of the job; Wine, which keeps no job memory limits)."""
    cap = windows.committed_bytes() + memory_mb * 1024 * 1024

    def watch() -> None:
        while True:
            if windows.committed_bytes() > cap:
                os._exit(MEMORY_EXIT)
            time.sleep(0.01)

    threading.Thread(target=watch, name="xlflow-memory-watch", daemon=True).start()


# The parent's end of every worker's pipe. A forked worker inherits them all; it closes
# them at once, so that when the parent dies no pipe is kept open by a sibling and every
# worker's recv() sees the end of its pipe.
_PARENT_ENDS: set[Connection] = set()


def _die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel kill this worker if the parent dies, even by SIGKILL.

    The death signal is set after the fork; a parent that died in between is no longer
    there to send it, so check that the parent is still the one that forked us. The
    signal follows the thread that forked, which is always the parent's main thread.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:
        os._exit(70)


def _watch_parent(parent_pid: int, method: str) -> None:
    """Everywhere else, and as a second guard: a thread that ends the worker when the
    parent is gone, by the parent's process sentinel (spawn: Windows, macOS) or by the
    parent pid changing (a POSIX orphan is adopted by another process)."""
    # a forked sibling may hold the write end behind a fork sentinel: poll the pid there
    parent = mp.parent_process() if method != "fork" else None
    sentinel = getattr(parent, "sentinel", None)

    def watch() -> None:
        if sentinel is not None:
            wait([sentinel])
        else:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
        os._exit(70)

    threading.Thread(target=watch, name="xlflow-parent-watch", daemon=True).start()


def _quiet() -> None:
    """A worker's own stderr goes nowhere: what happens to a file is its verdict, and a
    native reader's panic or abort message is not for the person at the terminal."""
    faulthandler.disable()  # inherited from a parent (pytest) that enabled it
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)


_STARTED = False


def _started_child(parent_pid: int, method: str) -> None:
    """What a worker or companion does first: let go of its siblings' pipes, leave Ctrl-C
    to the parent, die with it, and keep its stderr quiet. Once per process."""
    global _STARTED
    if _STARTED:
        return
    _STARTED = True
    for inherited in list(_PARENT_ENDS):
        inherited.close()
    _PARENT_ENDS.clear()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if delay := os.environ.get("XLFLOW_TEST_WORKER_START_DELAY"):
        # tests only: widen the moment between the fork and the death signal, so that a
        # kill of the parent surely lands in it (tests/test_durability.py)
        time.sleep(float(delay))
    _die_with_parent(parent_pid)
    _watch_parent(parent_pid, method)
    _quiet()


def _start(
    ctx: Any,
    target: Callable[..., None],
    args: tuple[Any, ...],
    duplex: bool,
    memory_mb: int = 0,
) -> tuple[Any, Connection]:
    """A child process running `target(child_end, *args, parent_pid, method)`, ended with
    this one: (the process, this end of its pipe)."""
    parent, child = ctx.Pipe(duplex=duplex)
    _PARENT_ENDS.add(parent)
    method = ctx.get_start_method()
    if method == "fork":
        proc = ctx.Process(target=target, args=(child, *args, os.getpid(), method), daemon=True)
    else:
        # A spawned child imports whatever unpickling its arguments needs (the readers,
        # pandas) before its first line runs: seconds in which a parent killed before it
        # put the child in its Job Object leaves it running. So the arguments travel as
        # bytes, unpickled once the child watches its parent.
        payload = pickle.dumps((target, args))
        proc = ctx.Process(target=_spawned, args=(child, payload, os.getpid(), method), daemon=True)
    cap = memory_mb + _WORKER_BASE_MB if memory_mb else 0
    # Windows: a memory cap, and no worker outlives this process however it ends
    with windows.starting_in(windows.worker_job(cap)):
        if method == "fork":
            # A forked child's collections would walk every object it inherited, writing
            # to each one's page and so copying it: frozen, they stay out of its collections
            # (a third less time collecting in each worker of a generate of 300 forms).
            # Only the child keeps them frozen.
            gc.freeze()
            try:
                proc.start()
            finally:
                gc.unfreeze()
        else:
            proc.start()
    child.close()
    return proc, parent


def _spawned(conn: Connection, payload: bytes, parent_pid: int, method: str) -> None:
    _started_child(parent_pid, method)
    target, args = pickle.loads(payload)
    target(conn, *args, parent_pid, method)


def _worker(
    conn: Connection,
    func: Callable[[Any, Any], Any],
    context: Any,
    memory_mb: int,
    parent_pid: int,
    method: str,
) -> None:
    _started_child(parent_pid, method)
    _limit_memory(memory_mb)
    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        result = _call(func, context, job)
        try:
            conn.send(result)
        except MemoryError:
            conn.send(JobFailure("memory", "内存超出上限"))


def _companion(
    conn: Connection,
    target: Callable[..., None],
    args: tuple[Any, ...],
    parent_pid: int,
    method: str,
) -> None:
    _started_child(parent_pid, method)
    target(conn, *args)


def start_companion(target: Callable[..., None], *args: Any) -> tuple[Any, Connection]:
    """One process running `target(conn, *args)` beside this one, ended with it, that
    talks back over `conn`: (the process, this end of the pipe). `target` reports its
    own failures over the pipe; a companion that dies leaves the pipe at its end.

    With IN_PROCESS_VARIABLE set it is a thread of this process instead, over the same
    pipe, so that a mutation tool sees the calls it makes."""
    if os.environ.get(IN_PROCESS_VARIABLE) == "1":
        parent, child = mp.Pipe(duplex=False)
        return _CompanionThread(target, child, args), parent
    return _start(mp.get_context(START_METHOD), _companion, (target, args), duplex=False)


class _CompanionThread:
    """The part of a companion process's interface that `stop_companion` and the merge use."""

    def __init__(self, target: Callable[..., None], conn: Connection, args: tuple[Any, ...]):
        self.thread = threading.Thread(target=target, args=(conn, *args), daemon=True)
        self.thread.start()

    @property
    def exitcode(self) -> int | None:
        return None if self.thread.is_alive() else 0

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def kill(self) -> None:
        """A thread cannot be killed: with the pipe closed its next send fails, and it ends."""

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)


def stop_companion(proc: Any, conn: Connection) -> None:
    """Ends a companion, whether it finished or not, and closes its pipe."""
    _PARENT_ENDS.discard(conn)
    conn.close()
    if proc.is_alive():
        with contextlib.suppress(OSError, ValueError):
            proc.kill()
    proc.join(5)


def _call(func: Callable[[Any, Any], Any], context: Any, job: Any) -> Any:
    """A job's result, or the failure it raised, as a worker reports it."""
    try:
        return func(context, job)
    except MemoryError:
        return JobFailure("memory", "内存超出上限")
    except Exception as exc:
        # the detail reaches a person's message: what went wrong in words, never the
        # exception's name or text
        return JobFailure("error", damage_words(exc), f"{type(exc).__name__}: {exc}"[:300])


class _Slot:
    def __init__(
        self, ctx: Any, func: Callable[[Any, Any], Any], context: Any, memory_mb: int
    ) -> None:
        self.proc, self.conn = _start(
            ctx, _worker, (func, context, memory_mb), duplex=True, memory_mb=memory_mb
        )
        # jobs sent and not yet answered, oldest first; the oldest is the one running
        self.in_flight: deque[int] = deque()
        self.started = 0.0  # when the oldest began: sent to an idle worker, or the last answer
        self.ready = False  # it said it can take a job

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.kill()
        self.proc.join(5)
        self.close()

    def close(self) -> None:
        _PARENT_ENDS.discard(self.conn)
        self.conn.close()


_DEPTH = 2


def _said_more(conn: Connection) -> bool:
    """Whether a worker that ended left an answer in its pipe (or the pipe says how it
    ended): read it before calling it dead."""
    try:
        return conn.poll()
    except (EOFError, OSError):
        return True


_READY = "xlflow-worker-ready"  # a worker's first message, once it can take a job
_START_LIMIT = 60.0  # seconds a worker may take to start before it is given up


class IsolatedPool(Generic[J, R]):
    """Run `func(context, job)` for each job in worker processes, yielding (index, result)."""

    def __init__(
        self,
        func: Callable[[Any, J], R],
        context: Any,
        workers: int,
        timeout: float,
        memory_mb: int,
    ) -> None:
        self.func = func
        self.context = context
        self.workers = max(1, workers)
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.ctx = mp.get_context(START_METHOD)

    def run(self, jobs: Sequence[J]) -> Iterator[tuple[int, R | JobFailure]]:
        """Yield (index, result or JobFailure) for every job, in the order they finish."""
        if not jobs:
            return
        if os.environ.get(IN_PROCESS_VARIABLE) == "1":
            yield from self._run_here(jobs)
            return
        slots = [self._spawn() for _ in range(min(self.workers, len(jobs)))]
        pending: deque[int] = deque(range(len(jobs)))
        try:
            for slot in slots:
                self._top_up(slot, pending, jobs)
            while any(s.in_flight for s in slots):
                busy = [s for s in slots if s.in_flight]
                now = time.monotonic()
                next_deadline = min(s.started + self._limit(s) for s in busy)
                # a worker's end is seen by its process too: on Windows (Wine at least) the
                # pipe of a process that died may report it only seconds later
                watched = [s.conn for s in busy] + [s.proc.sentinel for s in busy]
                ready = wait(watched, timeout=max(0.0, next_deadline - now))
                for i, slot in enumerate(slots):
                    if not slot.in_flight:
                        continue
                    outcome, dead = self._outcome(slot, ready)
                    if outcome is None:
                        continue
                    index = slot.in_flight.popleft()
                    slot.started = time.monotonic()
                    if dead:
                        # only the running job is to blame; the ones queued behind it go again
                        pending.extendleft(reversed(slot.in_flight))
                        slot.kill()
                        slot = slots[i] = self._spawn()
                    yield index, outcome
                    self._top_up(slot, pending, jobs)
        finally:
            for slot in slots:
                with contextlib.suppress(OSError, ValueError, BrokenPipeError):
                    slot.conn.send(None)
            for slot in slots:
                slot.proc.join(2)
                if slot.proc.is_alive():
                    slot.kill()
                else:
                    slot.close()

    def _outcome(self, slot: _Slot, ready: list[Any]) -> tuple[R | JobFailure | None, bool]:
        """What became of a busy worker's running job: (its outcome, whether the worker
        is gone), or (None, False) while it still runs."""
        if slot.conn in ready or (slot.proc.sentinel in ready and _said_more(slot.conn)):
            return self._answer(slot)
        if slot.proc.sentinel in ready:
            return self._death(slot), True
        if time.monotonic() - slot.started > self._limit(slot):
            return JobFailure("timeout", f"超过 {self.timeout:g} 秒仍未读完"), True
        return None, False

    def _limit(self, slot: _Slot) -> float:
        """The seconds a worker has: for its job once ready, and before that to start."""
        return self.timeout if slot.ready else max(self.timeout, _START_LIMIT)

    def _answer(self, slot: _Slot) -> tuple[R | JobFailure | None, bool]:
        """What a worker with something to say said: (its outcome, whether it died), or
        (None, False) for its first word, that it is ready."""
        try:
            outcome = slot.conn.recv()
        except (EOFError, OSError):
            return self._death(slot), True
        if isinstance(outcome, str) and outcome == _READY:
            # the clock of its first job starts now, not while a spawned worker started
            # (seconds on Windows): the limit is for reading the file
            slot.ready = True
            slot.started = time.monotonic()
            return None, False
        return outcome, False

    def _run_here(self, jobs: Sequence[J]) -> Iterator[tuple[int, R | JobFailure]]:
        for index, job in enumerate(jobs):
            yield index, _call(self.func, self.context, job)

    def _spawn(self) -> _Slot:
        return _Slot(self.ctx, self.func, self.context, self.memory_mb)

    def _top_up(self, slot: _Slot, pending: deque[int], jobs: Sequence[J]) -> None:
        """Keep two jobs queued at each worker, so it never waits for this process."""
        while pending and len(slot.in_flight) < _DEPTH:
            index = pending.popleft()
            if not slot.in_flight:
                slot.started = time.monotonic()
            slot.in_flight.append(index)
            slot.conn.send(jobs[index])

    @staticmethod
    def _death(slot: _Slot) -> JobFailure:
        slot.proc.join(5)
        code = slot.proc.exitcode
        if code == MEMORY_EXIT:
            return JobFailure(
                "memory", "读取时内存超出上限（worker_memory_mb），文件过大或是特意构造的"
            )
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            if name in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGBUS"):
                return JobFailure(
                    "crashed", f"读取程序异常终止（{name}），多为文件损坏、过大或内存超限"
                )
            return JobFailure("crashed", f"读取程序被信号 {name} 终止")
        if code is not None and (crash := _WINDOWS_CRASHES.get(code & 0xFFFFFFFF)):
            return JobFailure(
                "crashed", f"读取程序异常终止（{crash}），多为文件损坏、过大或内存超限"
            )
        return JobFailure("crashed", f"读取程序意外退出（代码 {code}）")


# How a process ends on Windows when a native library fails: abort() exits with 3, a
# fault or a Rust panic with an NTSTATUS code (as signals name them on POSIX).
_WINDOWS_CRASHES = {
    3: "abort",
    0xC0000005: "内存访问违规 0xC0000005",
    0xC00000FD: "栈溢出 0xC00000FD",
    0xC0000409: "运行库强制终止 0xC0000409",
    0xC0000017: "内存不足 0xC0000017",
    0xC000001D: "非法指令 0xC000001D",
}


def default_workers(jobs: int) -> int:
    cpus = os.cpu_count() or 1
    if jobs < 8:
        return 1
    return max(1, min(cpus, jobs))


@dataclass(frozen=True)
class _Raised:
    """An XlflowError raised in the worker, to be raised again in the caller."""

    error: XlflowError


def _apply(func: Callable[..., Any] | str, args: tuple[Any, ...]) -> Any:
    if isinstance(func, str):  # "module:function", imported here, in the worker
        module, _, name = func.partition(":")
        call = getattr(importlib.import_module(module), name)
    else:
        call = func
    try:
        return call(*args)
    except XlflowError as exc:  # says what is wrong in the caller's words: keep it
        return _Raised(exc)


def call_isolated(
    func: Callable[..., R] | str, args: tuple[Any, ...], timeout: float, memory_mb: int
) -> R | JobFailure:
    """`func(*args)` in one worker under the pool's time and memory limits: its result, or
    the JobFailure that ended it. An XlflowError it raises is raised here.

    `func` may be named as "module:function" instead: the worker imports it, and the
    caller never loads what it needs (a workbook reader, say)."""
    pool: IsolatedPool[tuple[Any, ...], Any] = IsolatedPool(_apply, func, 1, timeout, memory_mb)
    for _, outcome in pool.run([args]):
        if isinstance(outcome, _Raised):
            raise outcome.error
        return outcome
    raise AssertionError("the pool ran no job")  # run yields once for each job
