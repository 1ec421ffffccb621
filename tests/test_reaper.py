"""The suite's own reaper (conftest.reaping): whatever a test started, even a process its
parent left behind, is ended when the test ends; and it reads only the processes started
during the test."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from .conftest import alive, children_of, reaping, tagged

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _gone(pid: int, within: float = 15.0) -> bool:
    """Ended (a zombie counts: its parent is init, which may be slow to reap it here)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if not alive(psutil.Process(pid)):
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_a_process_left_behind_by_its_parent_is_ended_on_leaving() -> None:
    # a parent that starts a sleeper and exits: the sleeper is no child of this process
    # (its output elsewhere: holding the pipe, it would keep run() waiting for its end)
    leave_one = (
        "import subprocess; "
        f"print(subprocess.Popen({SLEEPER!r}, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL).pid)"
    )
    with reaping():
        said = subprocess.run(
            [sys.executable, "-c", leave_one], capture_output=True, text=True, check=True
        )
        orphan = int(said.stdout)
        assert alive(psutil.Process(orphan))
        assert orphan not in children_of(os.getpid())
    assert _gone(orphan)


def test_only_the_processes_started_since_are_read() -> None:
    name, tag = "XLFLOW_TEST_REAPER_PROBE", "probe"
    started = time.time()
    sleeper = subprocess.Popen(SLEEPER, env={**os.environ, name: tag})
    try:
        deadline = time.monotonic() + 15
        while sleeper.pid not in tagged(tag, name) and time.monotonic() < deadline:
            time.sleep(0.1)  # Windows: its environment is readable once it has started
        assert sleeper.pid in tagged(tag, name, since=started - 2)
        assert sleeper.pid not in tagged(tag, name, since=time.time() + 60)
        assert tagged("another tag", name) == []
    finally:
        sleeper.kill()
        sleeper.wait()
