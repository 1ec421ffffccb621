"""What each pytest process is running and has finished, for the watchdog of the Windows
stage (.ci/windows/suite.sh).

Wine can deadlock inside itself: twice (2026-12-06 and -07) a worker stopped with three of
its threads waiting on a futex of Wine's, and no thread of it ran again, so neither
pytest-timeout nor faulthandler could print a line. Only a program outside Wine can see
that. It reads these files to name the test that hung, ends Wine, and runs once more only
what had not finished.

With XLFLOW_TEST_PROGRESS set to a folder, each process (an xdist worker, or the one
process of `-n 0`) keeps there:
- `<worker>.running`: the test it is in, written as the test starts and removed as it ends;
- `<worker>.finished`: one line per finished test, its outcome and its id.

With XLFLOW_TEST_SKIP_FINISHED set to such a folder, the tests its `.finished` files name
are deselected, except those that failed: ended with Wine before pytest printed them, their
failures are shown by the run again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

PROGRESS_VARIABLE = "XLFLOW_TEST_PROGRESS"
SKIP_FINISHED_VARIABLE = "XLFLOW_TEST_SKIP_FINISHED"


def finished_in(folder: Path) -> Iterator[tuple[str, str]]:
    """(outcome, test id) of every test the `.finished` files in `folder` name."""
    for path in sorted(folder.glob("*.finished")):
        for line in path.read_text(encoding="utf-8").splitlines():
            outcome, _, nodeid = line.partition(" ")
            if nodeid:
                yield outcome, nodeid


class Progress:
    """Writes the files above for one pytest process."""

    def __init__(self, folder: Path, worker: str) -> None:
        self.running = folder / f"{worker}.running"
        self.finished = folder / f"{worker}.finished"
        self.outcomes: dict[str, str] = {}

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running.write_text(nodeid + "\n", encoding="utf-8")

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # a test's worst phase: a teardown that fails fails a test whose call passed, and a
        # skip in the test's body skips a test whose setup passed
        if report.failed or report.skipped or report.nodeid not in self.outcomes:
            self.outcomes[report.nodeid] = report.outcome

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        outcome = self.outcomes.pop(nodeid, "passed")
        with self.finished.open("a", encoding="utf-8") as fh:
            fh.write(f"{outcome} {nodeid}\n")
        self.running.unlink(missing_ok=True)


def configure(config: pytest.Config) -> None:
    """Register `Progress` where XLFLOW_TEST_PROGRESS asks for it (from conftest)."""
    folder = os.environ.get(PROGRESS_VARIABLE)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None and config.getoption("numprocesses", None):
        return  # xdist's controller: it hears its workers' tests, which they name themselves
    if folder:
        config.pluginmanager.register(Progress(Path(folder), worker or "main"), "xlflow-progress")


def deselect_finished(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests an earlier run passed or skipped (XLFLOW_TEST_SKIP_FINISHED), in
    place."""
    folder = os.environ.get(SKIP_FINISHED_VARIABLE)
    if not folder:
        return
    done = {nodeid for outcome, nodeid in finished_in(Path(folder)) if outcome != "failed"}
    kept = [item for item in items if item.nodeid not in done]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid in done])
        items[:] = kept
