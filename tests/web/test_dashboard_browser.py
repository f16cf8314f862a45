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
from evidencehub.reports.schemas import ReportDefinitionCreate
from evidencehub.reports.service import create_definition, run_execution, start_execution
from evidencehub.tasks.queue import forget_queues
from evidencehub.web import create_app
from tests.support.browser import browser_page, chromium, shot
from tests.support.dashboard import PASSWORD, Seeded, cluster_categories, seed_dashboard
from tests.support.octane import _octane_server, octane_emulator, octane_settings
from tests.support.promotions import worker
from tests.support.web import LiveServer, World, live_server

# Fixtures of the browser (Chromium, a page) and of the promotion flow (an Octane emulator on loopback
# and settings pointing at it).
__all__ = ["_octane_server", "browser_page", "chromium", "octane_emulator", "octane_settings"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(chromium: str, settings: Settings, database: Database) -> Iterator[LiveServer]:
    with live_server(create_app(settings, database=database, run_consumer=False)) as running:
        yield running


def sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    shot(page, "01-sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/projects")


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
    with database.session() as session:
        definition = create_definition(
            session,
            world.org_ids["own"],
            ReportDefinitionCreate(name="nightly evidence", kind="evidence"),
            actor_user_id=None,
        )
    execution = start_execution(database, settings, world.org_ids["own"], definition.id, actor_user_id=None)
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
    page.get_by_role("link", name="עברית").click()
    page.wait_for_url("**lang=he**")
    main = page.locator("main")
    assert main.get_attribute("dir") == "rtl"
    assert main.evaluate("node => getComputedStyle(node).direction") == "rtl"
    assert "חסר" in main.inner_text()
    shot(page, "10-audit-ticket-he")

    page.goto(f"{base}/reports")
    shot(page, "11-reports")
    with page.expect_download() as info:
        page.get_by_role("link", name="PDF", exact=False).first.click()
    download = info.value
    assert download.suggested_filename == f"report-{definition.id}-execution-{execution.id}.pdf"
    saved = Path(download.path())
    assert saved.read_bytes().startswith(b"%PDF")


@pytest.fixture
def fast_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("EVIDENCEHUB_QUEUE__RETRY_DELAY_SECONDS", "0.1")
    monkeypatch.setenv("EVIDENCEHUB_PROMOTIONS__HEARTBEAT_SECONDS", "0.2")
    forget_queues()
    yield
    forget_queues()


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
