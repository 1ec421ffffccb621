"""The worker pool below collect: every job answered once, in isolation or, for mutation
testing, in the calling process; a job that raises costs only itself."""

from __future__ import annotations

import pytest

from xlflow.pool import IN_PROCESS_VARIABLE, IsolatedPool, JobFailure, default_workers


def _square(context: int, job: int) -> int:
    if job == 3:
        raise ValueError("三不行")
    if job == 4:
        raise MemoryError
    return context + job * job


@pytest.mark.parametrize("in_process", [False, True])
def test_every_job_is_answered_once(monkeypatch: pytest.MonkeyPatch, in_process: bool) -> None:
    if in_process:
        monkeypatch.setenv(IN_PROCESS_VARIABLE, "1")
    else:
        monkeypatch.delenv(IN_PROCESS_VARIABLE, raising=False)
    pool: IsolatedPool[int, int] = IsolatedPool(_square, 100, workers=2, timeout=30, memory_mb=512)
    results = dict(pool.run([0, 1, 2, 3, 4, 5]))
    assert results[0] == 100 and results[2] == 104 and results[5] == 125
    failed = results[3]
    assert isinstance(failed, JobFailure) and failed.kind == "error" and "三不行" in failed.cause
    assert "Error" not in failed.detail  # the person-facing words hold no exception
    assert isinstance(results[4], JobFailure) and results[4].kind == "memory"
    assert dict(pool.run([])) == {}


def test_small_batches_take_one_worker() -> None:
    assert default_workers(3) == 1
    assert default_workers(100) >= 1
