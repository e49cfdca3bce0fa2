"""The consent center in a real headless Chromium on a 375x812 phone screen.

The proxy runs as `govproxy --config <demo>/govproxy.yaml serve --port P` over
this test's copy of the demo deployment; Selenium drives the Debian
`/usr/bin/chromium` through `/usr/bin/chromedriver` (nothing is downloaded).
Without Selenium, Chromium or the driver the tests skip, saying what is
missing; with `GOV_REQUIRE_SERVICES=1` (read at import, before `conftest.py`
clears `GOV_*` for each test) they fail instead.
"""

import base64
import importlib.util
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import subjects
from net import free_port, wait_until_up

REQUIRE_SERVICES = os.environ.get("GOV_REQUIRE_SERVICES") == "1"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PHONE = {"width": 375, "height": 812, "pixelRatio": 2}
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
STARTUP_S = 30.0
GRANT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}


def missing_reason() -> str | None:
    """What keeps the browser tests from running, or None."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install {package})"
    return None


def require_browser() -> None:
    """Skip without a browser; fail instead when GOV_REQUIRE_SERVICES=1."""
    reason = missing_reason()
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; GOV_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(reason)


def call(base: str, method: str, path: str, key: str, **kw: Any) -> tuple[int, Any]:
    """One JSON request to the running proxy: (status, body)."""
    body = kw.pop("json", None)
    headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 - loopback URL built by the test
        base + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server(demo_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The real proxy serving this test's demo deployment; yields its base URL."""
    require_browser()
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
    """Headless Chromium emulating a 375x812 phone, with a fresh profile."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, path: Path) -> Path:
    """The whole page, as tall as it is, at the phone's width."""
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


def state_of(driver: Any, purpose: str) -> tuple[str, str]:
    """(data-state, badge text) of a purpose's card."""
    from selenium.webdriver.common.by import By

    card = driver.find_element(By.CSS_SELECTOR, f'[data-purpose="{purpose}"]')
    return card.get_attribute("data-state"), card.find_element(
        By.CLASS_NAME, "badge"
    ).text


def test_when_user_taps_withdraw_on_a_phone_then_the_next_read_is_refused(
    server, browser, keys, demo_dir, tmp_path
):
    """Open the link at 375 px, tap 撤回 on 营销推送, see 已撤回; the next read is refused."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    sid = subjects(demo_dir, minor=False)[20]
    granted, _ = call(
        server, "POST", f"/v1/subjects/{sid}/consents", keys["brand-app"], json=GRANT
    )
    status, link = call(
        server, "POST", f"/v1/subjects/{sid}/consent-center-link", keys["brand-app"]
    )
    read = f"/v1/datasets/customers/records/{sid}"
    sms = {"headers": {"X-Purpose": "marketing_push"}}
    before, _ = call(server, "GET", read, keys["campaign-sms"], **sms)

    browser.get(server + link["url"])
    cards = browser.find_elements(By.CSS_SELECTOR, "article.card")
    titles = [c.find_element(By.TAG_NAME, "h3").text for c in cards]
    visible = [c.is_displayed() for c in cards]
    width = browser.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]"
    )
    first = state_of(browser, "marketing_push")
    lang = browser.find_element(By.TAG_NAME, "html").get_attribute("lang")
    card = browser.find_element(By.CSS_SELECTOR, '[data-purpose="marketing_push"]')
    card.find_element(By.XPATH, ".//button[normalize-space()='撤回']").click()
    # The new page may still be replacing the old one: a node lookup can fail
    # mid-navigation (a WebDriverException), which only means "not yet".
    wait = WebDriverWait(browser, 10, ignored_exceptions=(WebDriverException,))
    wait.until(ec.staleness_of(card))
    wait.until(lambda d: state_of(d, "marketing_push")[0] == "withdrawn")
    after_tap = state_of(browser, "marketing_push")
    flash = browser.find_element(By.CLASS_NAME, "done").text
    first_screen = tmp_path / "consent-center-375-first-screen.png"
    browser.save_screenshot(str(first_screen))
    shot = screenshot(browser, tmp_path / "consent-center-375.png")
    after, refused = call(server, "GET", read, keys["campaign-sms"], **sms)

    assert (granted, status, before) == (201, 201, 200)
    assert lang == "zh-CN"
    assert titles == [
        "营销推送",
        "个性化推荐",
        "孕产关怀推荐",
        "优惠券定向",
        "向合作方提供",
        "经营分析",
    ]
    assert all(visible)
    assert width == [375, 375]  # laid out for the phone, nothing scrolls sideways
    assert first == ("granted", "已同意")
    assert after_tap == ("withdrawn", "已撤回")
    assert flash == "已撤回「营销推送」的同意，立即生效。"
    assert shot.stat().st_size > first_screen.stat().st_size > 10_000
    assert after == 403
    assert refused["code"] == "consent_withdrawn"


def test_when_the_link_is_tampered_then_the_phone_shows_why(
    server, browser, keys, demo_dir
):
    """A changed token opens a Chinese 403 page instead of anyone's consents."""
    from selenium.webdriver.common.by import By

    sid = subjects(demo_dir, minor=False)[21]
    _, link = call(
        server, "POST", f"/v1/subjects/{sid}/consent-center-link", keys["brand-app"]
    )
    url = link["url"]
    tampered = url[:30] + ("B" if url[30] != "B" else "C") + url[31:]

    browser.get(server + tampered)

    assert browser.find_element(By.TAG_NAME, "h1").text == "链接无效或已过期"
    assert not browser.find_elements(By.CSS_SELECTOR, "article.card")
