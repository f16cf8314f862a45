"""A real browser for the dashboard tests: Debian's Chromium driven by Playwright, and screenshots.

Outside CI the browser tests skip when no Chromium is found; in CI (``CI`` set) they
fail instead, so a missing browser is never a silent pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.shared import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def chromium_path() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        found = candidate if os.path.isfile(candidate) else shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture
def chromium(backend: str) -> str:
    if backend != "sqlite":
        pytest.skip("the browser tests run once, on the embedded default (SQLite)")
    found = chromium_path()
    if found is None:
        message = "no Chromium found (install Debian's `chromium` package: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def browser_page(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        # A time zone far from UTC shows the times are converted for the viewer.
        context = browser.new_context(
            viewport={"width": 1366, "height": 900}, timezone_id="Asia/Jerusalem", accept_downloads=True
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in_in_browser(page: Any, base: str, email: str, password: str, screenshot: str) -> None:
    """Sign in through the form as a person does, saving the sign-in page as ``screenshot``."""
    page.goto(f"{base}/login")
    shot(page, screenshot)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/projects")


def switch_to_hebrew(page: Any) -> Any:
    """Follow the page's link to Hebrew; its main part, checked to be laid out right to left."""
    page.get_by_role("link", name="עברית").click()
    page.wait_for_url("**lang=he**")
    main = page.locator("main")
    assert main.get_attribute("dir") == "rtl"
    assert main.evaluate("node => getComputedStyle(node).direction") == "rtl"
    return main
