"""Headless Chromium (Debian's chromium + chromium-driver, installed by .ci/run) driven by selenium.

``browser(tmp)`` starts one with a fresh profile, no background network, and a dead proxy so that
any request that leaves the machine fails (the pages under test must work with the network off).
Where /usr/bin/chromium is missing the tests skip, unless CI is set: then they fail.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--proxy-server=127.0.0.1:9", "--window-size=1400,1000")


def require_chromium() -> None:
    """Skip without Chromium outside CI; under CI a missing browser is a failure."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} missing under CI: .ci/run installs chromium and chromium-driver")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium chromium-driver); under CI this fails")


@contextmanager
def browser(profile: Path):
    """A selenium Chrome driver on /usr/bin/chromium with a fresh profile folder ``profile``."""
    require_chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("selenium is not installed under CI (it is in the 'test' extra)")
        pytest.skip("selenium not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, script: str, timeout_s: float = 10.0, what: str = "condition"):
    """Poll ``script`` (JS returning a value) until truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}: {script}")
        time.sleep(0.05)


def resource_urls(driver) -> list[str]:
    """Every URL the page loaded or tried to load (resource timing) plus the page itself."""
    return driver.execute_script(
        "return [location.href].concat(performance.getEntriesByType('resource').map(function (e) { return e.name; }))")
