"""The self-check report page in a real headless Chromium, on a 375 px phone screen.

The proxy runs as `govproxy --config <demo>/govproxy.yaml serve` over this
test's demo deployment, its store holding the seeded March 2026 (`report_trail`)
and one forged breach. Chromium is given the officer's key as a request header
(DevTools `Network.setExtraHTTPHeaders`) and its network log is read back: the
page must make no request but itself. Without Selenium, Chromium or the driver
the test skips; with `GOV_REQUIRE_SERVICES=1` it fails instead.
"""

import asyncio
import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from net import free_port, wait_until_up
from report_trail import cst, forge_allowed_read, seed_march

from adapters.keys.local import LocalKeyProvider
from governance.services import subject_referencer
from governance.store import open_store

REQUIRE_SERVICES = os.environ.get("GOV_REQUIRE_SERVICES") == "1"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PHONE = {"width": 375, "height": 812, "pixelRatio": 2}
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
STARTUP_S = 30.0
HEADINGS = [
    "结论摘要",
    "一、审计日志完整性",
    "二、数据访问概况",
    "三、敏感个人信息",
    "四、拒绝原因",
    "五、同意与撤回",
    "六、调用量异常",
    "七、生效的策略版本",
    "八、全部审计事件",
]


def require_browser() -> None:
    """Skip without a browser; fail instead when GOV_REQUIRE_SERVICES=1."""
    reason = None
    if importlib.util.find_spec("selenium") is None:
        reason = "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if reason is None and not os.access(path, os.X_OK):
            reason = f"{path} is missing (apt-get install {package})"
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; GOV_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(reason)


@pytest.fixture
def server(demo_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The real proxy over the demo deployment plus the seeded month; its base URL."""
    require_browser()
    ref = subject_referencer(
        LocalKeyProvider(demo_dir / "keys.json").key("subject_ref")[1]
    )

    async def seed() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{demo_dir / 'governance.db'}")
        try:
            await seed_march(store, ref)
            await forge_allowed_read(store, ref, "W000004", cst(20, 15))
        finally:
            await store.dispose()

    asyncio.run(seed())
    port, log = free_port(), tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "governance", "--config", str(demo_dir / "govproxy.yaml"),
             "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log, timeout_s=STARTUP_S)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium on a 375x812 phone, logging its network and console."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    options.set_capability(
        "goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"}
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def requested_urls(driver: Any) -> list[str]:
    """Every URL the browser asked for, from its DevTools network log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def full_page(driver: Any, path: Path) -> Path:
    """A screenshot of the whole page, as tall as it is, at the phone's width."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {
        "x": 0,
        "y": 0,
        "width": size["width"],
        "height": size["height"],
        "scale": 1,
    }
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "clip": clip},
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def test_the_report_renders_on_a_phone_and_prints_on_a4(
    server, browser, keys, tmp_path
):
    """Charts drawn with real size, Chinese headings, no request but the page, A4 PDF."""
    from selenium.webdriver.common.by import By

    url = f"{server}/v1/audit/reports/self-check?month=2026-03&format=html"
    officer = {"Authorization": f"Bearer {keys['compliance-officer']}"}
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": officer})
    requested_urls(browser)  # drain what the blank start page loaded

    browser.get(url)
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2 .zh")]
    charts = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart, svg.spark')]"
        ".map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    widths = browser.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    verdict = browser.find_element(By.CSS_SELECTOR, ".verdict").text
    shot = full_page(browser, tmp_path / "self-check-375.png")
    pdf = base64.b64decode(
        browser.execute_cdp_cmd(
            "Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}
        )["data"]
    )
    console = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    urls = requested_urls(browser)

    assert browser.title == "个人信息保护合规自查报告 2026-03"
    assert headings == HEADINGS
    assert (
        len(charts) >= 10
    )  # ring, days, purposes, callers, reasons, a sparkline per caller
    assert all(w > 50 and h > 10 for w, h in charts)
    assert widths == [
        375,
        375,
    ]  # laid out for the phone: tables scroll in their own box
    assert verdict.startswith("1 次访问发生在个人撤回同意之后却被允许")
    assert shot.stat().st_size > 100_000
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) >= 2  # A4 pages
    assert console == []  # nothing blocked by the CSP, nothing failed to load
    assert [u for u in urls if not u.startswith("data:")] == [url]
