"""The console as GB/T 37668-2019 (which follows WCAG 2.1) asks of government software.

- axe-core (npm, pinned in tests/a11y/package-lock.json) runs in headless Chromium
  against every page of the console, with each kind of content on it: no violation of
  serious or critical impact.
- A whole round by keyboard alone (Tab, Shift-Tab, Enter and Space; text typed into the
  fields it lands on): a new round, the upload through the file chooser, a decision, the
  downloads, with a visible focus at every step.
- At 200 % zoom on a 1366×768 screen (a 683×384 CSS-pixel viewport) the board needs no
  horizontal scrolling.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import DEADLINE, GOOD_CONTACT, complete_values, fill, run, run_json
from .test_web import (
    INSTALL,
    READY,
    Console,
    downloaded,
    wait_for,
)

AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
AXE_INSTALL = "npm ci --prefix tests/a11y"
R = "2019-H1"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not READY, reason=f"headless Chromium missing: {INSTALL}"),
    pytest.mark.skipif(not AXE.is_file(), reason=f"axe-core missing: {AXE_INSTALL}"),
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A Chromium of each test's own: one that moved on from a console whose server had
    stopped (the keyboard test's) crashed its tab at the next test's first page, now and
    then, under the load of the whole suite."""
    from .test_web import chromium

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    yield from chromium(downloads)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A console over a round with every kind of page content: accepted, rejected and
    missing divisions, a file nobody's, an explained row, a second round, a decision."""
    root = tmp_path_factory.mktemp("a11y") / "work"
    run(["init", str(root)])
    made = run_json(["generate", "-w", str(root), "--round", R, "--deadline", DEADLINE])
    forms = [Path(f["path"]) for f in made["forms"]]
    for n, form in enumerate(forms[:4]):
        values = complete_values(form)
        first = next(iter(values))
        if n == 0:
            values[first]["完成进度(%)"] = 150  # rejected
        if n in (1, 2):  # 已完成 at 60 %: a row to explain, and one explained
            values[first]["完成状态"] = "已完成"
            values[first]["说明"] = "验收资料整理中" if n == 2 else None
        fill(form, root / "inbox" / form.name, values, GOOD_CONTACT)
    (root / "inbox" / "不知道是什么.xlsx").write_bytes(b"not a workbook")
    run(["collect", "-w", str(root), "--round", R])
    run(["generate", "-w", str(root), "--round", "2019-H2", "--prefill-from", R])
    settings = root / "xlflow.toml"  # an account: the mailbox's pages list who gets what
    settings.write_text(
        settings.read_text("utf-8")
        + '\n[mail]\nhost = "mail.example.gov.cn"\nuser = "kjj@example.gov.cn"\n',
        "utf-8",
    )
    server = Console(root)
    server.forms = forms  # type: ignore[attr-defined]
    yield server
    server.stop()


def _pages(served: Console) -> list[str]:
    root = served.root
    report = run_json(["status", "-w", str(root), "--round", R])
    divisions = [d["division"] for d in report["divisions"]]
    collected = run_json(["collect", "-w", str(root), "--round", R, "--no-receipts"])
    nobody = next(f["sha256"] for f in collected["files"] if not f["division"])
    # a revised register waiting on the 清单修订 page, as an upload leaves it
    waiting = root / ".xlflow" / "revisions"
    waiting.mkdir(parents=True, exist_ok=True)
    revised = Path(__file__).parent / "data" / "revisions" / "bundled-revised.xlsx"
    shutil.copyfile(revised, waiting / revised.name)
    return [
        "/",
        f"/r/{R}",
        *(f"/r/{R}/d/{quote(d)}" for d in divisions[:5]),  # rejected, accepted, missing
        f"/r/{R}/f/{nobody}",
        f"/r/{R}/reminders",
        f"/r/{R}/mail",
        f"/r/{R}/mail/send/forms",
        f"/r/{R}/mail/send/receipts",
        "/r/2019-H2",
        "/register",
        "/register/5",
        "/directory",
        "/register/revision",
        f"/register/revision?file={revised.name}",
        "/scorecard",
        "/files/nowhere.xlsx",  # the error page
    ]


def _axe(driver: Any) -> list[dict[str, Any]]:
    driver.execute_script(AXE.read_text("utf-8"))
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag",
                 values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
           .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))))
           .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
        """
    )
    return list(result)


def test_axe_finds_nothing_serious_on_any_page(served: Console, browser: Any) -> None:
    browser.set_script_timeout(60)
    found = {}
    shown = ""
    for path in _pages(served):
        browser.get(served.base + path)
        shown += browser.page_source
        serious = [v for v in _axe(browser) if v["impact"] in ("serious", "critical")]
        if serious:
            found[path] = serious
    # not vacuous: the pages held the tables, forms and flags that can go wrong
    for part in (
        "需说明事项",
        "认可说明",
        "协调办公室决定",
        "<table",
        "<select",
        'type="file"',
        "新旧任务的对应",
    ):
        assert part in shown, part
    report = Path(__file__).parents[1] / "build" / "a11y" / "axe.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(found, ensure_ascii=False, indent=1), "utf-8")
    assert not found, f"see {report}: " + json.dumps(found, ensure_ascii=False)[:3000]


def test_the_board_at_200_percent_zoom_on_a_1366_by_768_screen(
    served: Console, browser: Any
) -> None:
    """At 200 % a 1366×768 screen holds 683×384 CSS pixels: the window made that size is
    the same layout (without scaling what the test does not need to see)."""
    from .test_web import HEIGHT, WIDTH

    status = run_json(["status", "-w", str(served.root), "--round", R])
    division = quote(status["divisions"][0]["division"])
    browser.set_window_size(WIDTH // 2, HEIGHT // 2)
    try:
        for path in (f"/r/{R}", f"/r/{R}/d/{division}", "/"):
            browser.get(served.base + path)
            inner = browser.execute_script("return window.innerWidth")
            assert WIDTH // 2 - 20 <= inner <= WIDTH // 2, inner  # the window is that narrow
            wide = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert wide[0] <= wide[1], (path, wide)
    finally:
        browser.set_window_size(WIDTH, HEIGHT)


# --- by keyboard alone ---


def _focused(driver: Any) -> dict[str, str]:
    """The focused element, and whether its focus can be seen (an outline or a ring)."""
    return dict(
        driver.execute_script(
            """
            const e = document.activeElement;
            const s = getComputedStyle(e);
            return {tag: e.tagName, text: (e.innerText || e.value || e.name || "").trim().slice(0, 40),
                    id: e.id, name: e.name || "", type: e.type || "",
                    outline: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 ? "yes" : "",
                    ring: s.boxShadow !== "none" ? "yes" : ""};
            """
        )
    )


def _tab_to(driver: Any, wanted: Any, limit: int = 60, back: bool = False) -> dict[str, str]:
    """Press Tab (Shift-Tab) until `wanted(focused)`; every stop on the way must show
    where the focus is."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        if back:
            ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(
                Keys.SHIFT
            ).perform()
        else:
            ActionChains(driver).send_keys(Keys.TAB).perform()
        focused = _focused(driver)
        if focused["tag"] != "BODY":
            assert focused["outline"] or focused["ring"], f"focus not visible on {focused}"
        if wanted(focused):
            return focused
    raise AssertionError(f"Tab never reached the element wanted; last: {_focused(driver)}")


def _press(driver: Any, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def _type(driver: Any, text: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(text).perform()


def test_a_whole_round_by_keyboard_alone(tmp_path: Path, browser: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    root = tmp_path / "work"
    run(["init", str(root)])
    server = Console(root)
    driver = browser
    try:
        driver.get(server.base + "/")
        # a new round: its id typed, the deadline typed into the date field, Enter
        _tab_to(driver, lambda f: f["name"] == "round")
        _type(driver, R)
        _press(driver, Keys.ENTER)
        wait_for(lambda: f"/r/{R}" in driver.current_url, what="the board")
        forms = sorted((root / "outbox" / R / "forms").glob("*.xlsx"))
        # the forms downloaded by keyboard
        started = time.time()
        _tab_to(driver, lambda f: "下载全部填报表" in f["text"])
        _press(driver, Keys.ENTER)
        downloaded(driver, ".zip", started)
        # a return with an error, chosen through the file chooser's input and sent
        bad = complete_values(forms[0])
        bad[next(iter(bad))]["完成进度(%)"] = 150
        sent = fill(forms[0], tmp_path / "sent" / forms[0].name, bad, GOOD_CONTACT)
        chooser = _tab_to(driver, lambda f: f["type"] == "file")
        assert chooser["id"] == "files"
        driver.switch_to.active_element.send_keys(str(sent))
        _tab_to(driver, lambda f: f["id"] == "upload-button")
        _press(driver, Keys.SPACE)
        wait_for(lambda: "job=" in driver.current_url, what="the collect to finish")
        division = forms[0].name.split("_")[0]
        # the rejected division's page, its decision: accept anyway, with a reason
        _tab_to(driver, lambda f: f["text"] == division)
        _press(driver, Keys.ENTER)
        wait_for(lambda: "/d/" in driver.current_url, what="the division's page")
        _tab_to(driver, lambda f: f["tag"] == "SUMMARY" and "协调办公室决定" in f["text"])
        _press(driver, Keys.SPACE)
        _tab_to(driver, lambda f: f["name"] == "reason")
        _type(driver, "处长电话确认")
        _tab_to(driver, lambda f: f["text"] == "仍然采用")
        _press(driver, Keys.ENTER)
        wait_for(lambda: "已记录" in driver.page_source, what="the decision")
        # its receipt, then back to the board by Shift-Tab and the merged workbook
        started = time.time()
        _tab_to(driver, lambda f: f["id"] == "receipt")
        _press(driver, Keys.ENTER)
        downloaded(driver, "回执.xlsx", started)
        _tab_to(driver, lambda f: f["text"] == "2019年上半年" or R in f["text"], back=True)
        _press(driver, Keys.ENTER)
        wait_for(lambda: driver.current_url.rstrip("/").endswith(f"/r/{R}"), what="the board")
        started = time.time()
        _tab_to(driver, lambda f: f["id"] == "merge")
        _press(driver, Keys.ENTER)
        downloaded(driver, ".xlsx", started)
    finally:
        server.stop()
