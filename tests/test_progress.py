"""tests/progress.py, which the Windows stage's watchdog reads (.ci/windows/suite.sh): the
test running is named while it runs, every finished test with its outcome, and a second
run leaves out what the first finished."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import progress
from .conftest import REPO

CONFTEST = """
from tests import progress

def pytest_configure(config):
    progress.configure(config)

def pytest_collection_modifyitems(config, items):
    progress.deselect_finished(config, items)
"""

FIRST = """
import os
from pathlib import Path

import pytest

@pytest.fixture
def breaks_on_teardown():
    yield
    raise RuntimeError("teardown")

def test_passes():
    pass

def test_fails():
    assert False

def test_skips_in_its_body():
    pytest.skip("not here")

def test_fails_in_teardown(breaks_on_teardown):
    pass

def test_is_named_while_it_runs():
    running = Path(os.environ["XLFLOW_TEST_PROGRESS"]) / "main.running"
    assert running.read_text(encoding="utf-8") == (
        "test_first.py::test_is_named_while_it_runs\\n"
    )
"""

LATER = """
def test_added_later():
    pass
"""

UNWATCHED = """
def test_no_progress_plugin(request):
    assert request.config.pluginmanager.get_plugin("xlflow-progress") is None
"""


def run_pytest(folder: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        **variables,
    }
    for name in (progress.PROGRESS_VARIABLE, progress.SKIP_FINISHED_VARIABLE):
        if name not in variables:
            env.pop(name, None)
    env.pop("PYTEST_XDIST_WORKER", None)  # this run's one process is "main"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-q"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=300,
    )


def test_a_run_names_its_running_test_and_each_finished_test_with_its_outcome(
    tmp_path: Path,
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (suite / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (suite / "test_first.py").write_text(FIRST, encoding="utf-8")
    first = tmp_path / "first"
    first.mkdir()

    result = run_pytest(suite, XLFLOW_TEST_PROGRESS=str(first))

    assert result.returncode == 1, result.stdout + result.stderr
    assert sorted(progress.finished_in(first)) == [
        ("failed", "test_first.py::test_fails"),
        ("failed", "test_first.py::test_fails_in_teardown"),
        ("passed", "test_first.py::test_is_named_while_it_runs"),
        ("passed", "test_first.py::test_passes"),
        ("skipped", "test_first.py::test_skips_in_its_body"),
    ]
    assert not (first / "main.running").exists()  # nothing is running once the run ends

    # the run after a hang: only what the first did not finish, or failed
    (suite / "test_later.py").write_text(LATER, encoding="utf-8")
    second = tmp_path / "second"
    second.mkdir()
    result = run_pytest(
        suite, XLFLOW_TEST_PROGRESS=str(second), XLFLOW_TEST_SKIP_FINISHED=str(first)
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert sorted(progress.finished_in(second)) == [
        ("failed", "test_first.py::test_fails"),  # run again, so that its failure is shown
        ("failed", "test_first.py::test_fails_in_teardown"),
        ("passed", "test_later.py::test_added_later"),
    ]
    assert "3 deselected" in result.stdout


def test_without_the_variable_no_progress_is_kept(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (suite / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (suite / "test_unwatched.py").write_text(UNWATCHED, encoding="utf-8")

    result = run_pytest(suite)

    assert result.returncode == 0, result.stdout + result.stderr
    assert not [*tmp_path.rglob("*.running"), *tmp_path.rglob("*.finished")]
