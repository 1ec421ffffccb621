"""The self-contained build, as an office PC with no Python runs it.

`.ci/run` builds it (`bash packaging/build.sh`, into dist/xlflow/); these tests run that
program in a bare environment, `env -i`: no venv, no PYTHONPATH, and a PATH that holds no
`python3`. Through it: the demo, an export (pandas inside the bundle), the launcher that a
double click starts (the console on a remembered folder, made the first time), and the
browser tests' whole round against the console it serves.
"""

from __future__ import annotations

import json
import locale
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PROGRAM = Path(
    os.environ.get("XLFLOW_BUNDLE")
    or REPO / "dist" / "xlflow" / ("xlflow.exe" if sys.platform == "win32" else "xlflow")
)
BUILD = "pip install -e '.[web,mail]' pyinstaller && bash packaging/build.sh"
# what the program writes into a pipe: UTF-8, or on Windows the system's code page (GBK on
# a Chinese PC), as a scheduled task's log gets it (docs/install.md)
OUTPUT_ENCODING = locale.getpreferredencoding(False) if sys.platform == "win32" else "utf-8"

pytestmark = [
    pytest.mark.bundle,
    pytest.mark.skipif(not PROGRAM.is_file(), reason=f"the bundle is not built: {BUILD}"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from .test_web import chromium

    yield from chromium(tmp_path_factory.mktemp("downloads"))


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment with nothing in it: a home of its own, and a PATH of one empty
    folder (so no python3 anywhere on it)."""
    home = tmp_path_factory.mktemp("home")
    empty = tmp_path_factory.mktemp("bin")
    env = {"HOME": str(home), "PATH": str(empty), "XDG_CONFIG_HOME": str(home / ".config")}
    if sys.platform == "win32":  # Windows needs these to start any program
        env |= {
            k: os.environ[k] for k in ("SYSTEMROOT", "APPDATA", "USERPROFILE") if k in os.environ
        }
        env["APPDATA"] = str(home / "AppData")
        env["USERPROFILE"] = str(home)  # Path.home() there, so the folder lands here
    assert shutil.which("python3", path=env["PATH"]) is None
    assert shutil.which("python", path=env["PATH"]) is None
    return env


def _run(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(PROGRAM), *args], env=env, cwd=cwd, capture_output=True, text=True,
        encoding=OUTPUT_ENCODING, errors="replace", timeout=300,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_the_bundle_carries_no_test_or_development_dependency() -> None:
    viewer = shutil.which("pyi-archive_viewer")
    # its module where no script was installed (pip --target, the Windows bed)
    command = [viewer] if viewer else [sys.executable, "-m", "PyInstaller.utils.cliutils.archive_viewer"]  # fmt: skip
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        if viewer is None:
            pytest.skip(f"PyInstaller's archive viewer missing: {BUILD}")
    listing = subprocess.run(
        [*command, "-b", "-r", str(PROGRAM)], capture_output=True, text=True, check=True
    ).stdout
    modules = {line.strip().split(".")[0] for line in listing.splitlines() if line.startswith(" ")}
    for unwanted in ("pytest", "hypothesis", "selenium", "mypy", "ruff", "matplotlib", "pyarrow"):
        assert unwanted not in modules, unwanted
    for needed in ("xlflow", "pandas", "openpyxl", "xlsxwriter", "flask", "waitress"):
        assert needed in modules, needed
    assert any(
        p.name.startswith("python_calamine") for p in (PROGRAM.parent / "_internal").iterdir()
    )


def test_the_demo_and_every_kind_of_output_with_no_python(
    bare: dict[str, str], tmp_path: Path
) -> None:
    import xlflow

    version = _run(bare, "--version")
    assert version.returncode == 0 and xlflow.__version__ in version.stdout, version.stderr
    demo = tmp_path / "demo"
    done = _run(bare, "demo", str(demo), "--no-office")
    assert done.returncode == 0, done.stderr
    assert "已采用 6 个处室" in done.stdout
    assert next((demo / "outbox" / "2019-H1").glob("*汇总*.xlsx")).stat().st_size > 10_000
    assert next((demo / "outbox" / "2019-H1").glob("*通报.docx")).is_file()
    status = json.loads(
        _run(bare, "status", "-w", str(demo), "--round", "2019-H1", "--json").stdout
    )
    assert status["counts"]["已采用"] == 6
    csv = tmp_path / "answers.csv"
    done = _run(bare, "export", "-w", str(demo), "--format", "csv", "-o", str(csv))
    assert done.returncode == 0, done.stderr
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with its mark, for Excel
    # a bad command is a message and an exit code, not a traceback
    done = _run(bare, "status", "-w", str(tmp_path / "nowhere"), "--round", "2019-H1")
    assert done.returncode == 3 and "工作文件夹不存在" in done.stderr


def test_the_previous_releases_working_folder_opens_in_the_bundle(
    bare: dict[str, str], tmp_path: Path
) -> None:
    """Updating is unpacking the new bundle over the old: the working folder lives apart."""
    from .test_upgrade import upgrade_steps

    def call(*args: str) -> Any:
        done = _run(bare, *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    upgrade_steps(call, tmp_path)


@pytest.fixture(scope="module")
def launched(bare: dict[str, str]) -> Iterator[Any]:
    """The bundle started as a double click starts it: no arguments but, as the test
    cannot open a browser, --no-browser through `start`."""
    from .test_web import Console

    server = Console(Path(bare["HOME"]), program=(str(PROGRAM),), env=bare, start=("start",))
    yield server
    err = server.stop()
    assert "Traceback" not in err, err


def test_a_double_click_opens_the_console_on_a_folder_it_remembers(
    launched: Any, bare: dict[str, str]
) -> None:
    config = Path(bare["APPDATA" if sys.platform == "win32" else "XDG_CONFIG_HOME"])
    config = config / "xlflow" / "launcher.json"
    folder = Path(json.loads(config.read_text("utf-8"))["folder"])
    assert folder.parent == Path(bare["HOME"]) and (folder / "xlflow.toml").is_file()
    launched.root = folder
    status, page, _ = launched.request("GET", "/")
    assert status == 200 and "轮次" in page


@pytest.mark.browser
def test_the_browser_round_against_the_bundles_console(
    tmp_path: Path, bare: dict[str, str], browser: Any
) -> None:
    from .test_web import Console, browser_round

    driver = browser
    root = tmp_path / "科技局"
    assert _run(bare, "init", str(root)).returncode == 0
    server = Console(root, program=(str(PROGRAM),), env=bare)
    try:
        browser_round(server, driver, tmp_path)
    finally:
        err = server.stop()
    assert "Traceback" not in err, err


def test_the_desktop_entry_starts_the_program_in_a_terminal(tmp_path: Path) -> None:
    script = PROGRAM.parent / "安装桌面图标.sh"
    if sys.platform == "win32":
        pytest.skip("a Linux desktop's entry")
    home = tmp_path / "home"
    (home / "桌面").mkdir(parents=True)
    done = subprocess.run(
        ["/bin/sh", str(script)], env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    entry = (home / ".local" / "share" / "applications" / "xlflow.desktop").read_text("utf-8")
    assert f'Exec="{PROGRAM}"' in entry and "Terminal=true" in entry
    assert (home / "桌面" / "xlflow.desktop").is_file() and "已添加" in done.stdout


def test_the_program_with_no_arguments_is_the_double_click(
    bare: dict[str, str], tmp_path: Path
) -> None:
    """Exactly what a double click runs: the program, no arguments. (With no browser in
    this bare environment, opening one does nothing; the console is there all the same.)"""
    import re
    import signal
    import urllib.request

    if sys.platform == "win32":
        pytest.skip("Ctrl-C is a console event on Windows, not a signal a test can send")
    env = {**bare, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    from .test_web import STOPPABLE

    process = subprocess.Popen(
        [str(PROGRAM)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding=OUTPUT_ENCODING, **STOPPABLE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = re.search(r"(http://\S+)", first)
        assert url, first
        said = "".join(process.stdout.readline() for _ in range(3))
        assert (
            f"工作文件夹：{tmp_path / 'xlflow工作文件夹'}" in said and "关闭这个窗口即停止" in said
        )
        with urllib.request.urlopen(url.group(1), timeout=30) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "已停止" in out and "Traceback" not in err
