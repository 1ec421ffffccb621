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


@pytest.mark.isolation
def test_a_workers_start_is_not_counted_against_its_first_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spawned worker takes seconds to start on Windows: the read limit starts when the
    worker says it is ready, so a slow start costs no file its verdict."""
    from xlflow.pool import call_isolated

    monkeypatch.delenv("XLFLOW_POOL_IN_PROCESS", raising=False)
    monkeypatch.setenv("XLFLOW_TEST_WORKER_START_DELAY", "1.5")
    assert call_isolated(divmod, (7, 2), 1.0, 256) == (3, 1)


def _frozen_objects(context: int, job: int) -> int:
    import gc

    return gc.get_freeze_count()


@pytest.mark.isolation
def test_a_forked_worker_keeps_what_it_inherited_out_of_its_collections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forked, a worker's collections never walk the objects it inherited (which would copy
    their pages); the parent collects as before. Spawned (Windows), it inherits nothing."""
    import gc

    from xlflow.pool import START_METHOD

    monkeypatch.delenv(IN_PROCESS_VARIABLE, raising=False)
    pool: IsolatedPool[int, int] = IsolatedPool(
        _frozen_objects, 0, workers=2, timeout=30, memory_mb=512
    )
    frozen = dict(pool.run([0, 1]))
    if START_METHOD == "fork":
        assert all(count > 1000 for count in frozen.values()), frozen
    else:
        assert frozen == {0: 0, 1: 0}
    assert gc.get_freeze_count() == 0
