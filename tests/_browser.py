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


def table_models(driver, table_id: str) -> list[str]:
    """The first cell of every body row of the table ``table_id``."""
    return driver.execute_script(
        f"return Array.from(document.querySelectorAll('#{table_id} tbody tr')).map(r => r.cells[0].textContent)")


def play_first_sequence(driver) -> dict:
    """Click the first sequence's Play (a real click: a user gesture) and return, once its audio
    passed 0.6 s, the audio time, each video's (time, paused) and the cursor's x and start."""
    wait_for(driver, "return Array.from(document.querySelectorAll('video, audio')).every(m => m.readyState >= 2)",
             what="every clip and audio file loaded")
    driver.execute_script("document.getElementById('sequence-0').scrollIntoView()")
    driver.find_element("css selector", "#sequence-0 [data-sync=play]").click()
    wait_for(driver, "return document.querySelector('#sequence-0 audio').currentTime > 0.6", what="playback")
    return driver.execute_script(
        "var g = document.getElementById('sequence-0'); var c = g.querySelector('[data-sync=cursor]');"
        "return {t: g.querySelector('audio').currentTime,"
        " videos: Array.from(g.querySelectorAll('video')).map(v => [v.currentTime, v.paused]),"
        " cursor: c ? parseFloat(c.getAttribute('x1')) : null, x0: c ? parseFloat(c.dataset.x0) : null}")


def assert_in_step(state: dict) -> None:
    """Every video of ``play_first_sequence``'s state plays, within 0.25 s of the audio."""
    assert state["videos"], state
    for current, paused in state["videos"]:
        assert not paused and current > 0.3 and abs(current - state["t"]) < 0.25, state
