"""`xlflow serve`, driven the way office staff use it: in a real browser (Debian's headless
Chromium, through selenium), against the real command serving a real working folder.

A whole round is played through the pages, and the consolidated workbook downloaded from
the browser is byte for byte what `xlflow merge` writes from the same ledger. The security
tests speak plain HTTP, so that they can send what a browser would not (a foreign Host, a
POST without the token, `..` in a path), and check that nothing changed on disk.

Screenshots of every page are kept in build/screenshots/ (XLFLOW_SCREENSHOTS to move them).
"""

from __future__ import annotations

import http.client
import io
import locale
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import openpyxl
import pytest

from xlflow.files import folder_lock
from xlflow.register.init import init_workspace

from .conftest import (
    DEFAULT_ROUND,
    GOOD_CONTACT,
    WINE,
    complete_values,
    fill,
    run,
    run_json,
    tree_digest,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = "apt-get install -y --no-install-recommends chromium chromium-driver"
READY = Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()
needs_browser = [
    pytest.mark.browser,
    pytest.mark.skipif(not READY, reason=f"headless Chromium missing: {INSTALL}"),
]
SHOTS = Path(
    os.environ.get("XLFLOW_SCREENSHOTS", Path(__file__).parents[1] / "build" / "screenshots")
)
DEADLINE = "2030-07-10"
WIDTH, HEIGHT = 1366, 768


def _ctrl_c_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# How the tests stop a console as a person does. POSIX: a shell runs a background job with
# Ctrl-C ignored, and a child inherits that (pytest run as `bash .ci/run &` does), so the
# child gets SIGINT's default back first.
# Windows: Ctrl-C reaches no process of another group, so the console is started in a group
# of its own and sent Ctrl-Break, which `serve` takes as Ctrl-C.
if sys.platform == "win32":
    STOPPABLE: dict[str, Any] = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    STOP_SIGNAL = signal.CTRL_BREAK_EVENT
else:
    STOPPABLE = {"preexec_fn": _ctrl_c_as_in_a_terminal}
    STOP_SIGNAL = signal.SIGINT


class Console:
    """`xlflow serve` in a subprocess, on a port the system chose."""

    def __init__(
        self,
        root: Path,
        *extra: str,
        program: tuple[str, ...] = (sys.executable, "-m", "xlflow"),
        env: dict[str, str] | None = None,
        start: tuple[str, ...] = (),
    ) -> None:
        """`program` runs xlflow (the bundle's, in tests/test_bundle.py), in `env`; with
        `start`, that command line instead of `serve -w ROOT` (the launcher's)."""
        self.root = root
        self.process = subprocess.Popen(
            [
                *program,
                *(start or ("serve", "-w", str(root))),
                "--port",
                "0",
                "--no-browser",
                *extra,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # redirected, Windows writes in the code page (GBK on a Chinese PC)
            encoding=locale.getpreferredencoding(False) if sys.platform == "win32" else "utf-8",
            errors="replace",
            **STOPPABLE,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        assert match, line + self.process.stderr.read() if self.process.stderr else line
        self.url = match.group(1)
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.base = f"http://{parts.netloc}"

    def stop(self) -> str:
        """Ctrl-C, as a person stops it (Ctrl-Break on Windows, the console's own process
        group); what it printed on stderr. `self.said` gets stdout.

        Where the system cannot deliver Ctrl-Break (Wine, whose processes here have no
        console to carry it: docs/install.md), the console is ended instead, and
        `self.graceful` is False: what it says as it stops is then not checked."""
        # Under Wine, Windows CPython 3.11's os.kill, when GenerateConsoleCtrlEvent fails,
        # ends the process anyway and returns with the error still set, which the next
        # call then raises as a SystemError: so Ctrl-Break is not tried there at all.
        self.graceful = not WINE
        if self.graceful:
            self.process.send_signal(STOP_SIGNAL)
        else:
            self.process.kill()
        try:
            out, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        self.said = out
        assert self.process.returncode == 0 or not self.graceful, err
        return err

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, data.decode("utf-8", "replace"), dict(response.getheaders())
        finally:
            conn.close()

    def post_form(self, path: str, fields: str) -> tuple[int, str, dict[str, str]]:
        """POST url-encoded `fields`, as the console's own forms send them."""
        return self.request(
            "POST", path, fields.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def csrf(self) -> str:
        status, page, _ = self.request("GET", "/")
        assert status == 200
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match
        return match.group(1)


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for key, value in fields.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("web") / "科技局"
    init_workspace(root)
    server = Console(root)
    yield server
    err = server.stop()
    assert "Traceback" not in err, err
    assert "已停止" in server.said or not server.graceful


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from chromium(tmp_path_factory.mktemp("downloads"))


def chromium(downloads: Path) -> Iterator[Any]:
    """Headless Chromium through its driver, downloading into `downloads`, quit at the end
    (the `browser` fixture of this module and of the others that drive the console)."""
    if not READY:
        pytest.skip(f"headless Chromium missing: {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={WIDTH},{HEIGHT}",
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(WIDTH, HEIGHT)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> Path:
    """The whole page at the window's width, as a person scrolling it would see it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), 3000)
    import base64

    data = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        },
    )["data"]
    path = SHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    return path


def wait_for(condition: Any, timeout: float = 60, what: str = "") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or condition}")


def downloaded(driver: Any, suffix: str, after: float) -> Path:
    """The file the browser finished downloading after `after`."""

    def done() -> Path | None:
        # Chromium reserves the name with an empty file and writes into NAME.crdownload:
        # the download is done when that is gone and the file has its bytes
        names = {p.name for p in driver.downloads.iterdir()}
        for p in driver.downloads.iterdir():
            if (
                p.name.endswith(suffix)
                and p.stat().st_mtime >= after - 1
                and p.stat().st_size > 0
                and f"{p.name}.crdownload" not in names
            ):
                return p
        return None

    return wait_for(done, what=f"a download ending in {suffix}")


def clear_downloads(driver: Any) -> None:
    for p in driver.downloads.iterdir():
        p.unlink()


def text(driver: Any, css: str) -> str:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    try:  # "" while the page is being replaced
        found = driver.find_elements(By.CSS_SELECTOR, css)
        return str(found[0].text) if found else ""
    except StaleElementReferenceException:
        return ""
    except WebDriverException as exc:
        # the same race, as Chromium words it when the node went with the old page
        if "does not belong to the document" in str(exc):
            return ""
        raise


def board_states(driver: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#divisions tbody tr")
    return {
        r.get_attribute("data-division"): r.find_elements(By.TAG_NAME, "td")[1].text for r in rows
    }


def no_horizontal_scroll(driver: Any) -> bool:
    return bool(
        driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    )


def upload(driver: Any, paths: list[Path]) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in paths))
    assert str(len(paths)) in text(driver, "#chosen")
    before = driver.current_url
    driver.find_element(By.ID, "upload-button").click()
    wait_for(
        lambda: driver.current_url != before and driver.find_elements(By.ID, "job-result"),
        what="the collect started by the upload to finish",
    )


def drop(driver: Any, paths: list[Path]) -> None:
    """Drop files onto the upload box as a person dragging them from the desktop does: a
    real drop event carrying the files, handled by the page's own script."""
    import base64

    from selenium.webdriver.common.by import By

    files = [[p.name, base64.b64encode(p.read_bytes()).decode()] for p in paths]
    driver.execute_script(
        """
        const transfer = new DataTransfer();
        for (const [name, data] of arguments[0]) {
          const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
          transfer.items.add(new File([bytes], name));
        }
        const box = document.getElementById("drop");
        box.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
        box.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        """,
        files,
    )
    assert f"已选 {len(paths)} 个" in text(driver, "#chosen")
    before = driver.current_url
    driver.find_element(By.ID, "upload-button").click()
    wait_for(
        lambda: driver.current_url != before and driver.find_elements(By.ID, "job-result"),
        what="the collect started by the drop to finish",
    )


@pytest.mark.browser
@pytest.mark.skipif(not READY, reason=f"headless Chromium missing: {INSTALL}")
def test_a_whole_round_in_the_browser(console: Console, browser: Any, tmp_path: Path) -> None:
    browser_round(console, browser, tmp_path)


def browser_round(console: Console, browser: Any, tmp_path: Path) -> None:
    """A whole round in the browser, against `console` over a new working folder."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    driver = browser
    root = console.root
    driver.get(console.url)
    assert "还没有任何轮次" in text(driver, "main")
    shot(driver, "01-轮次-空")

    # 1. a new round, and its forms downloaded as one zip
    driver.find_element(By.NAME, "round").send_keys(DEFAULT_ROUND)
    driver.execute_script(f"document.querySelector('input[name=deadline]').value = '{DEADLINE}'")
    driver.find_element(By.CSS_SELECTOR, "#new-round button").click()
    wait_for(lambda: "/r/" in driver.current_url, what="the board")
    states = board_states(driver)
    assert len(states) == 7 and set(states.values()) == {"未报送"}
    assert "已生成 7 份填报表" in text(driver, ".flash")
    assert "2030-07-10" in text(driver, "#days-left")
    shot(driver, "02-看板-新建")
    clear_downloads(driver)
    started = time.time()
    driver.find_element(By.LINK_TEXT, "下载全部填报表（zip）").click()
    bundle = downloaded(driver, ".zip", started)
    forms_dir = tmp_path / "forms"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(forms_dir)
    forms = {p.name.split("_")[0]: p for p in forms_dir.glob("*.xlsx")}
    assert set(forms) == set(states)
    for division, form in forms.items():  # the same forms as on disk
        assert (
            form.read_bytes()
            == (root / "outbox" / DEFAULT_ROUND / "forms" / form.name).read_bytes()
        ), division

    # 2. six returns, one with an error in it
    names = list(forms)
    returning, silent = names[:6], names[6]
    wrong = returning[0]
    sent = tmp_path / "sent"
    paths = []
    for division in returning:
        values = complete_values(forms[division])
        if division == wrong:
            values[next(iter(values))]["完成进度(%)"] = 150
        paths.append(fill(forms[division], sent / f"{division}.xlsx", values, GOOD_CONTACT))
    upload(driver, paths)
    states = board_states(driver)
    assert {d for d, s in states.items() if s.startswith("已采用")} == set(returning[1:])
    assert states[wrong].startswith("退回修改") and states[silent].startswith("未报送")
    counts = text(driver, "#counts")
    assert "5\n已采用" in counts and "1\n退回修改" in counts and "1\n未报送" in counts
    assert "已存入 inbox/" in text(driver, "#job-result")
    assert no_horizontal_scroll(driver), "the board scrolls sideways at 1366×768"
    shot(driver, "03-看板-报送后")
    assert sorted(p.name for p in (root / "inbox").iterdir() if p.name != ".gitkeep") == sorted(
        p.name for p in paths
    )

    # 3. the rejected division's problems, with their cells, and its receipt
    driver.find_element(By.LINK_TEXT, wrong).click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "table.issues"), what="the problems")
    problems = text(driver, "table.issues")
    assert "完成进度" in problems and re.search(r"填报!\w+\d+", problems), problems
    shot(driver, "04-处室-退回")
    started = time.time()
    driver.find_element(By.ID, "receipt").click()
    receipt = downloaded(driver, "回执.xlsx", started)
    cells = [
        c.value for row in openpyxl.load_workbook(receipt).worksheets[0].iter_rows() for c in row
    ]
    assert any(isinstance(v, str) and "退回修改" in v for v in cells), cells[:40]

    # 4. the correction dragged onto the page under the same name (kept beside the first,
    # never over it), with a zip holding a return sent twice
    driver.find_element(By.CSS_SELECTOR, ".crumbs a").click()
    fixed = fill(
        forms[wrong],
        tmp_path / "fixed" / f"{wrong}.xlsx",
        complete_values(forms[wrong]),
        GOOD_CONTACT,
    )
    again = tmp_path / "fixed" / "再次报送.zip"
    with zipfile.ZipFile(again, "w") as zf:
        zf.write(paths[1], paths[1].name)
    drop(driver, [fixed, again])
    states = board_states(driver)
    assert states[wrong].startswith("已采用")
    assert f"{wrong}（2）.xlsx" in text(driver, "#job-result")
    assert "再次报送.zip" in text(driver, "#job-result")
    twice = returning[1]
    driver.find_element(By.LINK_TEXT, twice).click()
    assert f"再次报送.zip!{twice}.xlsx" in text(driver, "main") and "重复文件" in text(
        driver, "main"
    )
    driver.find_element(By.CSS_SELECTOR, ".crumbs a").click()
    assert (root / "inbox" / f"{wrong}.xlsx").read_bytes() == paths[0].read_bytes()

    # 5. merge, downloaded: the same bytes as the CLI writes from the same ledger
    clear_downloads(driver)
    started = time.time()
    driver.find_element(By.ID, "merge").click()
    workbook = downloaded(driver, ".xlsx", started)
    from_browser = workbook.read_bytes()
    written = next((root / "outbox" / DEFAULT_ROUND).glob("*汇总*.xlsx"))
    written.unlink()
    run(["merge", "-w", str(root), "--round", DEFAULT_ROUND])
    assert written.read_bytes() == from_browser
    assert "任务明细" in openpyxl.load_workbook(workbook).sheetnames

    # the 通报 and the reminder drafts
    started = time.time()
    driver.find_element(By.ID, "report").click()
    notice = downloaded(driver, ".docx", started)
    assert notice.read_bytes()[:2] == b"PK"
    driver.find_element(By.ID, "remind").click()
    wait_for(lambda: driver.find_elements(By.ID, "drafts"), what="the drafts")
    assert f"{silent}.eml" in text(driver, "#drafts")
    shot(driver, "05-催报")

    # 6. the coordinator's last word: exclude a counted file, then undo it
    driver.get(f"{console.base}/r/{DEFAULT_ROUND}/d/{quote(returning[1])}")
    driver.find_element(By.CSS_SELECTOR, "details.decide summary").click()
    driver.find_element(By.NAME, "reason").send_keys("测试文件，不采用")
    driver.find_element(By.CSS_SELECTOR, "button[value=exclude]").click()
    wait_for(
        lambda: "已记录" in text(driver, ".flash"), what=f"the decision: {text(driver, 'main')}"
    )
    assert "未报送" in text(driver, "#standing")
    shot(driver, "06-处室-决定")
    driver.find_element(By.CSS_SELECTOR, "details.decide summary").click()
    driver.find_element(By.CSS_SELECTOR, "button[value=undo]").click()
    wait_for(lambda: "已撤销" in text(driver, ".flash"), what="the undo")
    assert "已采用" in text(driver, "#standing")

    # 7. a second round prefilled from the first, the register, and a task across rounds
    driver.find_element(By.LINK_TEXT, "轮次").click()
    driver.find_element(By.NAME, "round").send_keys("2019-H2")
    Select(driver.find_element(By.NAME, "prefill_from")).select_by_value(DEFAULT_ROUND)
    driver.find_element(By.CSS_SELECTOR, "#new-round button").click()
    wait_for(lambda: "/r/2019-H2" in driver.current_url, what="the second board")
    assert set(board_states(driver).values()) == {"未报送"}
    driver.find_element(By.LINK_TEXT, "任务清单").click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#register tbody tr:not(.group)")) == 24
    shot(driver, "07-任务清单")
    driver.find_element(By.LINK_TEXT, "单位名录").click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#directory tbody tr")) == 7
    assert "名录没有发现问题" in text(driver, "#directory-ok")
    shot(driver, "11-单位名录")
    driver.find_element(By.LINK_TEXT, "年度考核").click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#scorecard tbody tr")) == 7
    shot(driver, "12-年度考核")
    # an extension, given on a division's page of the second round
    driver.get(f"{console.base}/r/2019-H2/d/{quote(returning[0])}")
    driver.find_element(By.CSS_SELECTOR, "details.extend summary").click()
    until = driver.find_element(By.CSS_SELECTOR, "#extension input[name=until]")
    driver.execute_script(
        "arguments[0].value = '2099-12-31'", until
    )  # a date picker's typing is the locale's
    driver.find_element(By.CSS_SELECTOR, "#extension input[name=reason]").send_keys("处长出差")
    driver.find_element(By.CSS_SELECTOR, "#extension button[value=extend]").click()
    wait_for(lambda: "延期至 2099-12-31" in text(driver, "#standing"), what="the extension")
    shot(driver, "13-延期")
    driver.find_element(By.LINK_TEXT, "任务清单").click()
    driver.find_element(By.CSS_SELECTOR, "#register td.task a").click()
    history = text(driver, "main")
    assert (
        "2019年上半年（2019-H1）：按计划推进 60%" in history
        and "2019年下半年（2019-H2）" in history
    )
    shot(driver, "08-任务历史")
    driver.find_element(By.LINK_TEXT, "轮次").click()
    rounds = text(driver, "#rounds")
    assert "6 / 7" in rounds and "0 / 7" in rounds
    shot(driver, "09-轮次")
    # 清单修订: a revised register uploaded and shown pair by pair (not taken here)
    driver.find_element(By.LINK_TEXT, "清单修订").click()
    revised = Path(__file__).parent / "data" / "revisions" / "bundled-revised.xlsx"
    driver.find_element(By.NAME, "register").send_keys(str(revised))
    driver.find_element(By.CSS_SELECTOR, "main form button").click()
    wait_for(lambda: "新旧任务的对应" in text(driver, "main"), what="the revision's pairs")
    unsure = driver.find_elements(By.CSS_SELECTOR, "table.revision tr.unsure")
    assert unsure and all(
        not r.find_element(By.CSS_SELECTOR, "input[value='是']").is_selected() for r in unsure
    )
    shot(driver, "14-清单修订")
    assert not [p for p in (root / "inbox").iterdir() if p.name.startswith(".")]

    # what a refused request looks like in the browser
    driver.get(f"{console.base}/files/..%2f.xlflow%2fsecret")
    assert "没有这个页面或文件" in text(driver, "#error-message")
    shot(driver, "10-出错")


# --- security: each refusal leaves the working folder as it was ---


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A console over a folder with a round, and small upload limits to test against."""
    root = tmp_path_factory.mktemp("guarded") / "work"
    init_workspace(root)
    settings = root / "xlflow.toml"
    text_ = settings.read_text("utf-8")
    text_ = re.sub(r"(?m)^max_file_mb = .*$", "max_file_mb = 0.05", text_)
    text_ = re.sub(r"(?m)^max_uncompressed_mb = .*$", "max_uncompressed_mb = 0.2", text_)
    settings.write_text(text_, "utf-8")
    run(["generate", "-w", str(root), "--round", DEFAULT_ROUND, "--deadline", DEADLINE])
    (root / "outbox" / "link-out").symlink_to(root / ".xlflow")
    server = Console(root)
    yield server
    err = server.stop()
    assert "Traceback" not in err, err


def wait_until_collected(console: Console, location: str) -> str:
    """Follow the progress page until the collect it shows has finished; the board's path."""
    path = urlsplit(location).path
    for _ in range(600):
        status, page, headers = console.request("GET", path)
        if status == 303:
            target = urlsplit(headers["Location"])
            return f"{target.path}?{target.query}"
        assert status == 200 and "未完成" not in page, page
        time.sleep(0.1)
    raise AssertionError("collect did not finish")


def state_of(root: Path) -> dict[str, str]:
    """Everything on disk that a request could change (not the lock file's holder text)."""
    return {k: v for k, v in tree_digest(root).items() if k != ".xlflow/lock"}


def test_a_foreign_host_is_refused(guarded: Console) -> None:
    before = state_of(guarded.root)
    token = guarded.csrf()
    for method, path in (("GET", "/"), ("POST", f"/r/{DEFAULT_ROUND}/merge")):
        status, page, _ = guarded.request(
            method,
            path,
            b"csrf_token=" + token.encode(),
            {
                "Host": f"attacker.example:{guarded.port}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert status == 403 and "不是本控制台的地址" in page
    assert state_of(guarded.root) == before
    assert guarded.request("GET", "/", headers={"Host": f"localhost:{guarded.port}"})[0] == 200


def test_a_post_without_the_token_changes_nothing(guarded: Console) -> None:
    before = state_of(guarded.root)
    good = (Path(__file__).parent / "data" / "fuzz" / "seeds" / "00.xlsx").read_bytes()
    body, kind = multipart([("处室.xlsx", good)], {})
    for path, data, content in (
        (f"/r/{DEFAULT_ROUND}/upload", body, kind),
        (f"/r/{DEFAULT_ROUND}/merge", b"", "application/x-www-form-urlencoded"),
        ("/rounds", b"round=2019-H2", "application/x-www-form-urlencoded"),
        (f"/r/{DEFAULT_ROUND}/merge", b"csrf_token=forged", "application/x-www-form-urlencoded"),
    ):
        status, page, _ = guarded.request("POST", path, data, {"Content-Type": content})
        assert status == 403 and "令牌" in page, (path, status)
    # nor does a GET to an action
    assert guarded.request("GET", f"/r/{DEFAULT_ROUND}/merge")[0] == 405
    assert state_of(guarded.root) == before


@pytest.mark.parametrize(
    "path",
    [
        "/files/../.xlflow/secret",
        "/files/..%2f.xlflow%2fsecret",
        "/files/2019-H1/../../.xlflow/secret",
        "/files/%2e%2e/xlflow.toml",
        "/files//etc/passwd",
        "/files/link-out/secret",
        "/files/2019-H1/forms/..%5c..%5c..%5cxlflow.toml",
    ],
)
def test_downloads_stay_inside_outbox(guarded: Console, path: str) -> None:
    secret = (guarded.root / ".xlflow" / "secret").read_bytes()
    status, page, headers = guarded.request("GET", path)
    if status == 308:  # werkzeug merges the slashes first; the merged path is refused too
        location = urlsplit(headers["Location"]).path
        assert location.startswith("/files/")
        status, page, _ = guarded.request("GET", location)
    assert status in (404, 400), (path, status)
    assert secret.hex() not in page and "[register]" not in page


def test_a_form_downloads_by_its_outbox_path(guarded: Console) -> None:
    form = next((guarded.root / "outbox" / DEFAULT_ROUND / "forms").glob("*.xlsx"))
    status, _, headers = guarded.request("GET", f"/files/{DEFAULT_ROUND}/forms/{quote(form.name)}")
    assert status == 200 and "attachment" in headers["Content-Disposition"]


def test_an_oversized_upload_is_refused_whole(guarded: Console) -> None:
    before = state_of(guarded.root)
    # over the request's limit: the largest file collect reads (0.2 MB here), plus 1 MB of form
    body, kind = multipart(
        [("大文件.zip", os.urandom(1300 * 1024))], {"csrf_token": guarded.csrf()}
    )
    status, page, _ = guarded.request(
        "POST", f"/r/{DEFAULT_ROUND}/upload", body, {"Content-Type": kind}
    )
    assert status == 413 and "没有保存任何文件" in page
    assert state_of(guarded.root) == before


def test_the_upload_limit_follows_the_settings_without_a_restart(tmp_path: Path) -> None:
    """An edit of [limits] in xlflow.toml holds from the next request, for the refusal and
    for the size it names: the console reads its folder's settings as they are now."""
    from xlflow.web.app import create_app
    from xlflow.web.console import WebConfig

    root = tmp_path / "work"
    init_workspace(root)
    run(["generate", "-w", str(root), "--round", DEFAULT_ROUND, "--deadline", DEADLINE])
    settings = root / "xlflow.toml"
    client: Any = create_app(WebConfig(root, "127.0.0.1", 8765, None)).test_client()
    base = "http://127.0.0.1:8765"

    def upload_with(limit_mb: float) -> tuple[int, str]:
        text_ = settings.read_text("utf-8")
        text_ = re.sub(
            r"(?m)^max_uncompressed_mb = .*$", f"max_uncompressed_mb = {limit_mb}", text_
        )
        settings.write_text(text_, "utf-8")
        page = client.get(f"/r/{DEFAULT_ROUND}", base_url=base).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        body, kind = multipart([("大文件.zip", os.urandom(1300 * 1024))], {"csrf_token": token[1]})
        done = client.post(
            f"/r/{DEFAULT_ROUND}/upload", data=body, content_type=kind, base_url=base
        )
        return done.status_code, done.get_data(as_text=True)

    status, page = upload_with(0.2)
    assert status == 413 and "一次最多 0.2 MB" in page and "没有保存任何文件" in page
    status, page = upload_with(5)
    assert status != 413 and "上传的内容太大" not in page, page
    status, page = upload_with(0.25)
    assert status == 413 and "一次最多 0.25 MB" in page


def test_each_file_is_checked_and_named(guarded: Console) -> None:
    """Too large for collect, not a spreadsheet, empty: refused by name and not written. A
    name with folders or ../ lands in inbox/ as its last part; a taken name gets （2）."""
    inbox = guarded.root / "inbox"
    before = {p.name for p in inbox.iterdir()}
    small = b"PK\x03\x04" + b"x" * 1000
    body, kind = multipart(
        [
            ("表格.xlsx", os.urandom(60 * 1024)),
            ("病毒.exe", small),
            ("空.xlsx", b""),
            ("../../../逃逸.xlsx", small),
            ("C:\\Users\\张三\\桌面\\.隐藏.xlsx", small),
            ("逃逸.xlsx", small + b"2"),
        ],
        {"csrf_token": guarded.csrf()},
    )
    status, page, headers = guarded.request(
        "POST", f"/r/{DEFAULT_ROUND}/upload", body, {"Content-Type": kind}
    )
    assert status == 303, page
    board = guarded.request("GET", wait_until_collected(guarded, headers["Location"]))[1]
    assert "未保存 病毒.exe：不是表格、邮件或压缩包" in board
    assert "未保存 表格.xlsx：超过 0.05 MB" in board and "未保存 空.xlsx：是空文件" in board
    added = {p.name for p in inbox.iterdir()} - before
    assert added == {"逃逸.xlsx", "隐藏.xlsx", "逃逸（2）.xlsx"}
    assert (inbox / "逃逸.xlsx").read_bytes() == small
    assert (inbox / "逃逸（2）.xlsx").read_bytes() == small + b"2"
    assert not list(guarded.root.glob("逃逸*")) and not list(guarded.root.parent.glob("逃逸*"))


def test_a_busy_folder_gets_a_message_not_a_500(guarded: Console) -> None:
    before = state_of(guarded.root)
    small = b"PK\x03\x04" + b"y" * 1000
    body, kind = multipart([("忙.xlsx", small)], {"csrf_token": guarded.csrf()})
    with folder_lock(guarded.root / ".xlflow" / "lock", "另一个 collect"):
        status, page, _ = guarded.request(
            "POST", f"/r/{DEFAULT_ROUND}/upload", body, {"Content-Type": kind}
        )
        merged = guarded.post_form(f"/r/{DEFAULT_ROUND}/merge", f"csrf_token={guarded.csrf()}")
    assert status == 409 and "正被另一个 xlflow 命令使用" in page and "另一个 collect" in page
    assert merged[0] == 409 and "汇总未执行" in merged[1]
    assert state_of(guarded.root) == before


def test_away_from_loopback_every_request_needs_the_access_token(tmp_path: Path) -> None:
    root = tmp_path / "work"
    init_workspace(root)
    refused = run(["serve", "-w", str(root), "--host", "0.0.0.0", "--no-browser"], expect=2)
    assert "--token" in refused.output
    token = "k" * 24
    server = Console(root, "--host", "0.0.0.0", "--token", token)
    try:
        assert f"?token={token}" in server.url
        status, page, _ = server.request("GET", "/")
        assert status == 401 and "访问令牌" in page
        status, _, headers = server.request("GET", "/?token=wrong-wrong-wrong")
        assert status == 401
        status, _, headers = server.request("GET", f"/?token={token}")
        assert status == 302 and "xlflow_access=" in headers["Set-Cookie"]
        cookie = headers["Set-Cookie"].split(";")[0]
        assert server.request("GET", "/register", headers={"Cookie": cookie})[0] == 200
    finally:
        err = server.stop()
    assert "警告" in err and "0.0.0.0" in err


# --- the library pieces the console calls ---


@pytest.mark.parametrize(
    ("uploaded", "saved"),
    [
        ("高新处.XLSX", "高新处.xlsx"),
        ("C:\\Users\\张三\\Desktop\\高新处.xlsx", "高新处.xlsx"),
        ("../../etc/高新处.xlsx", "高新处.xlsx"),
        (".~lock.高新处.xlsx#", "~lock.高新处.xlsx#"),
        ('a:b*c?"d<e>f|g.xls', "a_b_c__d_e_f_g.xls"),
        ("CON.xlsx", "_CON.xlsx"),
        ("", "上传的文件"),
        (".xlsx", "xlsx"),
        ("名" * 200 + ".ods", "名" * 80 + ".ods"),
    ],
)
def test_uploaded_names_are_made_safe(uploaded: str, saved: str) -> None:
    from xlflow.intake.upload import inbox_name

    assert inbox_name(uploaded) == saved


def test_a_round_past_its_deadline_counts_who_is_late(ws: Path, forms: dict[str, Path]) -> None:
    import datetime as dt

    from xlflow.reporting.status import all_rounds
    from xlflow.wording import OVERDUE_LABEL
    from xlflow.workspace import Workspace

    first = next(iter(forms))
    path = fill(forms[first], ws / "inbox" / "a.xlsx", complete_values(forms[first]), GOOD_CONTACT)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    workspace = Workspace.open(ws)
    deadline = all_rounds(workspace)[0].round.deadline
    assert deadline is not None
    before, after = (all_rounds(workspace, deadline + dt.timedelta(days=d))[0] for d in (0, 1))
    assert before.counts() == {"已采用": 1, "退回修改": 0, "未报送": 6, OVERDUE_LABEL: 0}
    assert after.counts() == {"已采用": 1, "退回修改": 0, "未报送": 6, OVERDUE_LABEL: 6}
    assert [d.division for d in after.divisions if after.overdue(d)] == [
        d for d in forms if d != first
    ]
    assert path.is_file()


def test_a_port_in_use_is_a_message(tmp_path: Path) -> None:
    import socket

    root = tmp_path / "work"
    init_workspace(root)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(["serve", "-w", str(root), "--port", str(port), "--no-browser"], expect=3)
    assert f"127.0.0.1:{port}" in result.output and "--port" in result.output
    assert "Traceback" not in result.output


def _uploaded(console: Console, name: str, data: bytes) -> str:
    """Upload one file through the console, wait until it is collected; its sha256."""
    import hashlib

    body, kind = multipart([(name, data)], {"csrf_token": console.csrf()})
    _, _, headers = console.request(
        "POST", f"/r/{DEFAULT_ROUND}/upload", body, {"Content-Type": kind}
    )
    wait_until_collected(console, headers["Location"])
    return hashlib.sha256(data).hexdigest()


def test_a_decision_goes_back_only_to_a_page_of_the_console(guarded: Console) -> None:
    sha = _uploaded(guarded, "回跳.xlsx", b"PK\x03\x04" + b"z" * 999)
    for action, back in (("exclude", "/\\\\evil.example/x"), ("undo", "//evil.example/x")):
        fields = f"csrf_token={guarded.csrf()}&sha256={sha}&action={action}&reason=test&back={quote(back)}"
        status, page, headers = guarded.post_form(f"/r/{DEFAULT_ROUND}/decide", fields)
        assert status == 303, page
        assert urlsplit(headers["Location"]).path == f"/r/{DEFAULT_ROUND}"
        assert "evil" not in headers["Location"]


def test_a_decision_without_a_reason_is_refused_in_the_consoles_words(guarded: Console) -> None:
    """The console has a reason box, not a --reason option: the refusal says what to do."""
    sha = _uploaded(guarded, "无理由.xlsx", b"PK\x03\x04" + b"r" * 999)
    fields = f"csrf_token={guarded.csrf()}&sha256={sha}&action=exclude&reason=%20%20"
    status, page, _ = guarded.post_form(f"/r/{DEFAULT_ROUND}/decide", fields)
    assert status >= 400 and "请写明理由" in page and "--reason" not in page


def test_more_files_than_an_upload_may_carry_are_refused_whole(ws: Path) -> None:
    from xlflow.errors import XlflowError
    from xlflow.intake.upload import MAX_FILES, Upload, receive
    from xlflow.workspace import Workspace

    before = state_of(ws)
    uploads = [Upload(f"{n}.xlsx", io.BytesIO(b"PK\x03\x04x")) for n in range(MAX_FILES + 1)]
    with pytest.raises(XlflowError, match=f"一次最多上传 {MAX_FILES} 个文件"):
        receive(Workspace.open(ws), uploads)
    assert state_of(ws) == before


def test_a_crafted_zip_uploaded_costs_itself_alone(guarded: Console, tmp_path: Path) -> None:
    """F1c (a zip whose member name starts with NUL) stopped every collect. Uploaded through
    the console beside a genuine return, it gets its own verdict and the return is taken."""
    form = next((guarded.root / "outbox").rglob("*政策规划处*.xlsx"))
    genuine = fill(form, tmp_path / "政策规划处.xlsx", complete_values(form), GOOD_CONTACT)
    crafted = Path(__file__).parent / "data" / "fuzz-finds" / "more"
    crafted_zip = crafted / "F1c_zip_container_nul_member_name_collect_crash.zip"
    body, kind = multipart(
        [("F1c.zip", crafted_zip.read_bytes()), ("政策规划处.xlsx", genuine.read_bytes())],
        {"csrf_token": guarded.csrf()},
    )
    status, page, headers = guarded.request(
        "POST", f"/r/{DEFAULT_ROUND}/upload", body, {"Content-Type": kind}
    )
    assert status == 303, page
    board = wait_until_collected(guarded, headers["Location"])
    status, page, _ = guarded.request("GET", board)
    assert status == 200 and "␀otes.txt" in page and "Traceback" not in page
    report = run_json(["collect", "-w", str(guarded.root), "--round", DEFAULT_ROUND])
    files = {f["path"]: f for f in report["files"]}
    assert files["F1c.zip"]["verdict"] == "rejected"
    assert [i["code"] for i in files["F1c.zip"]["issues"]] == ["member-name-control"]
    assert files["政策规划处.xlsx"]["verdict"] == "accepted"


@pytest.mark.parametrize(
    ("method", "path", "fields", "code", "says"),
    [
        # NotFound: a round that was never generated, a task the register lacks
        ("GET", "/r/2031-H1", "", 404, "还没有生成过填报表"),
        ("GET", "/register/999", "", 404, "没有这一项"),
        # Invalid: a date that is not one, a decision on a file never received
        ("POST", "/rounds", "round=2030-H1&deadline=明天", 400, "不是日期"),
        (
            "POST",
            f"/r/{DEFAULT_ROUND}/decide",
            "action=accept&sha256=00&reason=x",
            404,
            "没有收到过",
        ),
    ],
)
def test_an_error_is_answered_by_its_kind(
    guarded: Console, method: str, path: str, fields: str, code: int, says: str
) -> None:
    if method == "POST":
        status, page, _ = guarded.post_form(path, f"csrf_token={guarded.csrf()}&{fields}")
    else:
        status, page, _ = guarded.request(method, path)
    assert status == code, page
    assert says in page or code == 404


def test_every_error_kind_has_its_status() -> None:
    from xlflow.errors import (
        Busy,
        DiskError,
        FolderBusy,
        HelperDied,
        Invalid,
        NotFound,
        RegisterError,
        SettingsError,
        StateDamaged,
    )
    from xlflow.web.guard import status_of

    assert status_of(NotFound("x")) == 404
    assert status_of(Invalid("x")) == status_of(RegisterError("x")) == 400
    assert status_of(SettingsError("xlflow.toml", ["x"])) == 400
    assert status_of(Busy("x")) == status_of(FolderBusy("x")) == 409
    assert status_of(DiskError("x")) == status_of(StateDamaged("x")) == 500
    assert status_of(HelperDied("x")) == 500
    from xlflow.errors import KINDS

    assert all(status_of(kind("x")) in (400, 404, 409, 500) for kind in KINDS)


def test_no_console_function_is_over_sixty_lines() -> None:
    import ast

    web = Path(__file__).parents[1] / "xlflow" / "web"
    for path in web.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= 60, f"{path.name}:{node.name} has {length} lines"
