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
import os
import re
import shutil
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

from xlflow.workspace import init_workspace

from .conftest import DEFAULT_ROUND, GOOD_CONTACT, complete_values, fill, run

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


class Console:
    """`xlflow serve` in a subprocess, on a port the system chose."""

    def __init__(self, root: Path, *extra: str) -> None:
        self.root = root
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xlflow",
                "serve",
                "-w",
                str(root),
                "--port",
                "0",
                "--no-browser",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
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
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
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


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not READY:
        pytest.skip(f"headless Chromium missing: {INSTALL}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
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
        for p in driver.downloads.iterdir():
            if p.name.endswith(suffix) and p.stat().st_mtime >= after - 1:
                return p
        return None

    return wait_for(done, what=f"a download ending in {suffix}")


def clear_downloads(driver: Any) -> None:
    for p in driver.downloads.iterdir():
        p.unlink()


def text(driver: Any, css: str) -> str:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:  # "" while the page is being replaced
        found = driver.find_elements(By.CSS_SELECTOR, css)
        return str(found[0].text) if found else ""
    except StaleElementReferenceException:
        return ""


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


@pytest.mark.browser
@pytest.mark.skipif(not READY, reason=f"headless Chromium missing: {INSTALL}")
def test_a_whole_round_in_the_browser(console: Console, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

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

    # 4. the correction, uploaded under the same name: kept beside the first, never over it
    driver.find_element(By.CSS_SELECTOR, ".crumbs a").click()
    fixed = fill(
        forms[wrong],
        tmp_path / "fixed" / f"{wrong}.xlsx",
        complete_values(forms[wrong]),
        GOOD_CONTACT,
    )
    upload(driver, [fixed])
    states = board_states(driver)
    assert states[wrong].startswith("已采用")
    assert f"{wrong}（2）.xlsx" in text(driver, "#job-result")
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

    # 7. the register, and a task's history across rounds
    driver.find_element(By.LINK_TEXT, "任务清单").click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#register tbody tr:not(.group)")) == 24
    shot(driver, "07-任务清单")
    driver.find_element(By.CSS_SELECTOR, "#register td.task a").click()
    assert "2019年上半年" in text(driver, "main")
    shot(driver, "08-任务历史")
    driver.find_element(By.LINK_TEXT, "轮次").click()
    assert "6 / 7" in text(driver, "#rounds")
    shot(driver, "09-轮次")
    assert not [p for p in (root / "inbox").iterdir() if p.name.startswith(".")]
