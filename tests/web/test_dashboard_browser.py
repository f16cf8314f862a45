"""The dashboard in a real browser: Debian's Chromium driven by Playwright against uvicorn on 127.0.0.1.

Outside CI the tests skip when no Chromium is found; in CI (``CI`` set) they fail
instead, so a missing browser is never a silent pass. Each page visited is saved
as a screenshot under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.reports.service import run_execution, start_execution
from evidencehub.web import create_app
from tests.support.browser import browser_page, chromium, shot, sign_in_in_browser, switch_to_hebrew
from tests.support.dashboard import PASSWORD, Seeded, cluster_categories, seed_dashboard
from tests.support.octane import _octane_server, octane_emulator, octane_settings
from tests.support.promotions import worker
from tests.support.task_queue import fast_queue
from tests.support.web import LiveServer, World, define_report, live_server

# Fixtures of the browser (Chromium, a page) and of the promotion flow (an Octane emulator on loopback,
# settings pointing at it, a quick task queue).
__all__ = ["_octane_server", "browser_page", "chromium", "fast_queue", "octane_emulator", "octane_settings"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(chromium: str, settings: Settings, database: Database) -> Iterator[LiveServer]:
    with live_server(create_app(settings, database=database, run_consumer=False)) as running:
        yield running


def sign_in(page: Any, base: str, email: str) -> None:
    sign_in_in_browser(page, base, email, PASSWORD, "01-sign-in")


def test_sign_in_open_a_run_and_decide_a_cluster(
    server: LiveServer, browser_page: Any, world: World, database: Database, settings: Settings
) -> None:
    seeded: Seeded = seed_dashboard(database, settings, world.slug("own"))
    page, base = browser_page, server.url
    sign_in(page, base, "tester@acme.test")
    shot(page, "02-projects")
    page.get_by_role("link", name=seeded.project_key).first.click()
    page.wait_for_selector("svg.chart")
    times = page.locator("time[data-local]")
    assert times.count() > 0 and "UTC" not in times.first.inner_text()  # shown in the viewer's zone
    shot(page, "03-project-trends")
    page.get_by_role("link", name="2026.11.4").first.click()
    shot(page, "04-build")
    page.locator(f'a[href="/runs/{seeded.run_id}"]').click()
    page.wait_for_selector("#triage")
    shot(page, "05-run")

    categories = cluster_categories(database, seeded.run_id)
    cluster = next(key for key, category in categories.items() if category != "product_bug")
    article = page.locator(f'article[data-cluster="{cluster}"]').first
    article.get_by_label("Category of the whole cluster").select_option("product_bug")
    article.get_by_label("Bug reference of the cluster").fill("SHOP-42")
    article.get_by_role("button", name="Decide cluster").click()
    notice = page.get_by_role("status")
    notice.wait_for()
    assert "decided product bug" in notice.inner_text()
    moved = page.locator(f'article[data-cluster="{cluster}"]').first
    assert moved.get_attribute("data-category") == "product_bug"
    assert "bug SHOP-42" in moved.inner_text()
    assert cluster_categories(database, seeded.run_id)[cluster] == "product_bug"
    shot(page, "06-run-decided")

    page.goto(f"{base}/projects/{seeded.project_id}/flaky")
    assert "test_flip" in page.locator("table").inner_text()
    shot(page, "07-flaky")


def test_hebrew_audit_is_right_to_left_and_a_pdf_report_downloads(
    server: LiveServer, browser_page: Any, world: World, database: Database, settings: Settings
) -> None:
    seeded = seed_dashboard(database, settings, world.slug("own"))
    definition_id = define_report(database, world.org_ids["own"], "nightly evidence")
    execution = start_execution(database, settings, world.org_ids["own"], definition_id, actor_user_id=None)
    # Rendered as the queue's worker would (PDF by Chromium), in a thread of its own: Playwright's sync
    # API refuses to start inside the test's running Playwright.
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(run_execution, database, settings, execution.id).result() == "completed"

    page, base = browser_page, server.url
    sign_in(page, base, "viewer@acme.test")
    page.goto(f"{base}/audit")
    shot(page, "08-audit-reports")
    page.goto(f"{base}/audit/{seeded.audit_report_id}?lang=en&ticket=PZ-13602")
    assert page.locator("main").evaluate("node => getComputedStyle(node).direction") == "ltr"
    shot(page, "09-audit-ticket-en")
    assert "חסר" in switch_to_hebrew(page).inner_text()
    shot(page, "10-audit-ticket-he")

    page.goto(f"{base}/reports")
    shot(page, "11-reports")
    with page.expect_download() as info:
        page.get_by_role("link", name="PDF", exact=False).first.click()
    download = info.value
    assert download.suggested_filename == f"report-{definition_id}-execution-{execution.id}.pdf"
    saved = Path(download.path())
    assert saved.read_bytes().startswith(b"%PDF")


def request_in_form(page: Any, base: str, project: str, build: str) -> None:
    page.goto(f"{base}/promotions")
    page.get_by_label("Project key").fill(project)
    page.get_by_label("Release").fill("2026.11")
    page.get_by_label("Build").fill(build)
    page.get_by_label("Reason").fill("go live")
    page.get_by_role("button", name="Request promotion").click()
    page.wait_for_selector("#octane-tab")


def test_request_a_promotion_watch_the_octane_tab_and_cancel_one(
    chromium: str,
    fast_queue: None,
    octane_settings: Settings,
    browser_page: Any,
    world: World,
    database: Database,
) -> None:
    from playwright.sync_api import expect

    seeded = seed_dashboard(database, octane_settings, world.slug("own"))
    app = create_app(octane_settings, database=database, run_consumer=False)
    page = browser_page
    with live_server(app) as running, worker(octane_settings):
        base = running.url
        sign_in(page, base, "release_manager@acme.test")
        request_in_form(page, base, seeded.project_key, "2026.11.4")
        # htmx polls the tab until the promotion is done: watch it reach success without reloading.
        expect(page.locator("#promotion-state")).to_have_text("succeeded", timeout=60_000)
        rows = page.locator("table.slices tbody tr")
        assert rows.count() >= 1
        for index in range(rows.count()):
            row = rows.nth(index)
            assert row.get_attribute("data-status") == "success"
            assert row.locator("code").inner_text().strip()  # the Octane task id
        assert page.locator("[data-job-state]").first.inner_text() == "succeeded"
        shot(page, "12-promotion-octane-tab")
        page.goto(f"{base}/promotions")
        shot(page, "13-promotions")

        request_in_form(page, base, seeded.project_key, "2026.11.3")
        page.get_by_role("link", name="Cancel promotion…").click()
        page.wait_for_url("**/cancel")
        assert "Cancel promotion" in page.locator("h1").inner_text()
        shot(page, "14-promotion-cancel-confirm")
        page.get_by_role("button", name="Yes, cancel the promotion").click()
        page.wait_for_selector("#octane-tab")
        assert "cancel requested" in page.get_by_role("status").first.inner_text()
        expect(page.locator("#promotion-state")).to_have_text("cancelled", timeout=60_000)
        shot(page, "15-promotion-cancelled")
