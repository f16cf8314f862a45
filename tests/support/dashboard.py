"""Test support for the dashboard: seeded data of one organization and a signed-in page client."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from evidencehub.audit.service import AuditRequest, run_audit
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.pipeline import ingest_and_triage
from evidencehub.results.ingest import IngestRequest
from evidencehub.results.model import Build, TestRun
from evidencehub.triage.service import triage_report
from tests.support.junit import CaseSpec, junit_xml

PASSWORD = "correct horse battery staple"  # the World's members' password
AUDIT_TICKET = Path(__file__).resolve().parent.parent / "audit" / "fixtures" / "pz-13602.json"
CSRF_PATTERN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')

# Four nightly builds: test_flip alternates (flaky), two stable failures of two kinds (two clusters).
BUILDS: list[list[CaseSpec]] = [
    [
        ("shop.CartTest", "test_add", "passed"),
        ("shop.CartTest", "test_flip", "passed" if night % 2 == 0 else "failed"),
        ("shop.CartTest", "test_total", "failed"),
        ("shop.PayTest", "test_charge", "failed"),
        ("shop.PayTest", "test_refund", "error"),
        ("shop.PayTest", "test_later", "skipped"),
    ]
    for night in range(4)
]


@dataclass
class Seeded:
    project_id: int
    project_key: str
    build_ids: list[int] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    audit_report_id: int = 0

    @property
    def run_id(self) -> int:
        return self.run_ids[-1]


def seed_dashboard(database: Database, settings: Settings, organization: str, *, key: str = "shop") -> Seeded:
    """A project with four triaged builds, a flaky test, two unique errors and a stored audit report."""
    folder = Path(tempfile.mkdtemp(dir=settings.data_dir))
    seeded: Seeded | None = None
    for night, cases in enumerate(BUILDS, start=1):
        path = folder / f"{key}-build-{night}.xml"
        path.write_text(junit_xml(cases, timestamp=f"2026-11-0{night}T01:30:00"), encoding="utf-8")
        outcome = ingest_and_triage(
            database,
            settings,
            IngestRequest(
                paths=[str(path)],
                project=key,
                build=f"2026.11.{night}",
                release="2026.11",
                environment="staging",
                organization=organization,
            ),
        ).ingest
        assert outcome.run is not None
        with database.session() as session:
            build = session.get_one(Build, session.get_one(TestRun, outcome.run.id).build_id)
            build_id = build.id
            if seeded is None:
                seeded = Seeded(project_id=build.project_id, project_key=key)
        seeded.build_ids.append(build_id)
        seeded.run_ids.append(outcome.run.id)
    assert seeded is not None
    result = run_audit(
        AuditRequest(paths=[AUDIT_TICKET], project=key, organization=organization, template=True),
        settings,
        database,
    )
    assert result.report_id is not None
    seeded.audit_report_id = result.report_id
    return seeded


def cluster_categories(database: Database, run_id: int) -> dict[str, str]:
    with database.session() as session:
        report = triage_report(session, run_id)
    return {cluster.id: cluster.category.value for cluster in report.clusters}


def csrf_of(html: str) -> str:
    found = CSRF_PATTERN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def submit_sign_in(
    client: TestClient, email: str, password: str = PASSWORD, *, page_url: str = "/login", **fields: str
) -> httpx.Response:
    """Open the sign-in page and send its form, as a browser does (the redirect is not followed)."""
    page = client.get(page_url)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text), **fields},
        follow_redirects=False,
    )


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the form (the client keeps the cookies)."""
    response = submit_sign_in(client, email, password, next="/projects")
    assert response.status_code == 303, response.text


def post_decision(
    client: TestClient,
    run_id: int,
    csrf: str | None,
    *,
    scope: str,
    target: str,
    category: str,
    htmx: bool = False,
    **fields: str,
) -> httpx.Response:
    """Send the run page's decision form: with htmx, or a plain form post (its redirect not followed)."""
    form = {"scope": scope, "target": target, "category": category, **fields}
    if csrf is not None:
        form["csrf_token"] = csrf
    return client.post(
        f"/runs/{run_id}/decide",
        data=form,
        headers={"HX-Request": "true"} if htmx else None,
        follow_redirects=False,
    )
