"""Every dashboard page in a real browser on the data of ``make demo``, signed in as the demo's admin.

The state is built by the demo's own steps (``demo_cmd.run_demo``, ``prepare_dashboard``,
``dashboard_app``) on builds written by the demo's sample generator, only smaller. Each page
is saved as ``test-artifacts/screenshots/demo-NN-<page>.png``: the pictures of the demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evidencehub.cli import demo_cmd
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.results.model import Build, TestRun
from evidencehub.triage.service import flaky_tests, triage_report
from tests.support.browser import browser_page, chromium, shot, sign_in_in_browser, switch_to_hebrew
from tests.support.samples import sample_generator
from tests.support.shared import REPO_ROOT
from tests.support.web import live_server

__all__ = ["browser_page", "chromium"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Three nightly builds (the regression starts in build 3) at a fraction of the demo's size: the
# same story as `make demo`'s five full builds, in a few seconds.
DEMO_BUILDS = (1, 2, 3)
DEMO_SCALE = 0.15
AUDITED_TICKET = "PRISM-201"  # in examples/test-cases, documented in part


@pytest.fixture
def demo_samples(chromium: str, tmp_path: Path) -> Path:
    generator = sample_generator()
    samples = tmp_path / "samples"
    for build in DEMO_BUILDS:
        generator.generate(samples / f"build-{build}", build_number=build, scale=DEMO_SCALE)
    return samples


def demo_shot(page: Any, number: int, name: str) -> None:
    shot(page, f"demo-{number:02d}-{name}")


def main_text(page: Any) -> str:
    return str(page.locator("main").inner_text())


def test_every_dashboard_page_shows_the_demo_data(
    demo_samples: Path, browser_page: Any, settings: Settings, database: Database
) -> None:
    from playwright.sync_api import expect

    demo = demo_cmd.run_demo(settings, database, demo_samples, REPO_ROOT / demo_cmd.DEMO_TEST_CASES)
    admin = demo_cmd.prepare_dashboard(settings, database)
    assert admin.password is not None  # generated on the first run, to be printed once
    assert demo.newest_run_id is not None and demo.audit_report_id is not None
    with database.session() as session:
        build = session.get_one(Build, session.get_one(TestRun, demo.newest_run_id).build_id)
        project_id = build.project_id
        report = triage_report(session, demo.newest_run_id)
        flaky = flaky_tests(
            session, project_id=project_id, settings=settings.triage, limit=50, organization_id=None
        )
    # The served app renders the demo's report on its task-queue consumer, as `evidencehub demo` does.
    serving = settings.model_copy(update={"queue": settings.queue.model_copy(update={"consumer_threads": 1})})
    page = browser_page
    with live_server(demo_cmd.dashboard_app(serving, database)) as running:
        base = running.url
        sign_in_in_browser(page, base, admin.email, admin.password, "demo-01-sign-in")
        assert demo_cmd.DEMO_PROJECT in main_text(page)
        demo_shot(page, 2, "projects")

        page.locator(f'main a[href="/projects/{project_id}"]').first.click()
        page.wait_for_selector("svg.chart")
        trends = main_text(page)
        assert all(name in trends for name in demo.builds), trends
        demo_shot(page, 3, "project-trends")

        page.get_by_role("link", name=demo.builds[-1]).first.click()
        page.wait_for_url(f"{base}/builds/{build.id}")
        assert f"regression {demo.builds[-1]}" in main_text(page)
        demo_shot(page, 4, "build")

        page.locator(f'a[href="/runs/{demo.newest_run_id}"]').first.click()
        page.wait_for_selector("#triage")
        clusters = page.locator("article.cluster")
        assert clusters.count() >= 1
        shown = clusters.first.get_attribute("data-cluster")
        assert shown in {cluster.id for cluster in report.clusters}
        explanation = clusters.first.locator("p.explanation").first.inner_text()
        assert explanation.split(":", 1)[-1].strip(), explanation  # a reason, not just a category
        assert f"{report.summary.failures} failures in {report.summary.clusters} unique errors" in (
            page.locator("#triage p.summary").inner_text()
        )
        demo_shot(page, 5, "run-triage")

        page.goto(f"{base}/projects/{project_id}/flaky")
        assert flaky, "the demo's builds have tests that flip between passing and failing"
        rows = page.locator("main table tbody tr")
        assert rows.count() == len(flaky)
        assert flaky[0].name in rows.first.inner_text()
        demo_shot(page, 6, "flaky-tests")

        page.goto(f"{base}/audit")
        reports = page.locator(f'main a[href^="/audit/{demo.audit_report_id}"]')
        assert reports.count() >= 1 and demo_cmd.DEMO_PROJECT in main_text(page)
        demo_shot(page, 7, "audit-reports")

        page.goto(f"{base}/audit/{demo.audit_report_id}?lang=en&ticket={AUDITED_TICKET}")
        main = page.locator("main")
        assert main.evaluate("node => getComputedStyle(node).direction") == "ltr"
        assert AUDITED_TICKET in main.inner_text() and "Live configure" in main.inner_text()
        demo_shot(page, 8, "audit-ticket-en")
        main = switch_to_hebrew(page)
        assert AUDITED_TICKET in main.inner_text() and "חסר" in main.inner_text()
        demo_shot(page, 9, "audit-ticket-he")

        page.goto(f"{base}/promotions")
        succeeded, cancelled = demo.promotion_ids
        listed = page.locator("main table tbody")
        for promotion_id, build_name, state in (
            (succeeded, demo.builds[-1], "succeeded"),
            (cancelled, demo.builds[-2], "cancelled"),
        ):
            row = listed.locator("tr", has=page.locator(f'a[href="/promotions/{promotion_id}"]'))
            assert build_name in row.inner_text() and state in row.inner_text()
        demo_shot(page, 10, "promotions")

        page.goto(f"{base}/promotions/{succeeded}")
        expect(page.locator("#promotion-state")).to_have_text("succeeded")
        slices = page.locator("table.slices tbody tr")
        assert slices.count() >= 1
        for index in range(slices.count()):
            assert slices.nth(index).get_attribute("data-status") == "success"
            assert slices.nth(index).locator("code").inner_text().strip()  # the Octane task id
        demo_shot(page, 11, "promotion-octane")

        page.goto(f"{base}/reports")
        assert f"{demo_cmd.DEMO_PROJECT} evidence" in main_text(page)
        # The list refreshes itself until the consumer has rendered the report (HTML, and PDF).
        execution = page.locator("#report-list li[data-status]").first
        expect(execution).to_have_attribute("data-status", "completed", timeout=60_000)
        assert "PDF" in execution.inner_text()
        demo_shot(page, 12, "reports")
