"""Report executions: queued → processing → completed on the task queue, outputs, watchdog, queue down."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator

import httpx
import pytest

from evidencehub.config import Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.reports.content import ReportDocument, Section, Table
from evidencehub.reports.model import ReportExecution
from evidencehub.reports.render import render_html
from evidencehub.reports.service import run_execution, sweep
from evidencehub.results.ingest import IngestRequest, ingest
from evidencehub.tasks.queue import forget_queues
from evidencehub.web import create_app
from tests.support.junit import junit_xml
from tests.support.web import OWN_ORG, World, build_world, live_server, unreachable_queue


@pytest.fixture
def world(database: Database, settings: Settings) -> Iterator[World]:
    forget_queues()
    yield build_world(database, settings)
    forget_queues()


def _ingest(api: httpx.Client, world: World, build: str) -> None:
    response = api.post(
        "/api/v1/runs",
        params={"project": "prism", "build": build, "release": "2026.11"},
        headers={**world.callers["api_token"].headers, "Content-Type": "application/xml"},
        content=junit_xml(
            [
                ("pay.Checkout", "test_total", "passed"),
                ("pay.Checkout", "test_<script>alert(1)</script>", "failed"),
            ]
        ).encode(),
    )
    assert response.status_code == 201, response.text


def _wait_for_status(
    api: httpx.Client, url: str, headers: dict[str, str], timeout: float = 120
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, object] = api.get(url, headers=headers).json()
        if body["status"] not in ("queued", "processing"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still {body['status']} after {timeout} s")
        time.sleep(0.2)


@pytest.mark.browser
@pytest.mark.slow
def test_execution_runs_on_the_queue_and_serves_html_and_pdf(
    settings: Settings, database: Database, world: World
) -> None:
    if shutil.which("chromium") is None:
        pytest.skip("PDF output needs Debian's chromium (.ci/run installs it)")
    app = create_app(settings, database=database, run_consumer=True)
    headers = world.callers["tester"].headers
    with live_server(app) as server, httpx.Client(base_url=server.url, timeout=60) as api:
        _ingest(api, world, "1")
        _ingest(api, world, "2")
        report = api.post(
            "/api/v1/reports",
            headers=headers,
            json={"name": "Release evidence", "kind": "evidence", "parameters": {"project": "prism"}},
        ).json()
        started = api.post(f"/api/v1/reports/{report['id']}/executions", headers=headers)
        assert started.status_code == 202
        assert started.json()["status"] in ("queued", "processing", "completed")  # the worker may be quick
        url = f"/api/v1/reports/{report['id']}/executions/{started.json()['id']}"
        done = _wait_for_status(api, url, headers)
        assert done["status"] == "completed", done
        assert {output["format"] for output in done["outputs"]} == {"html", "pdf"}  # type: ignore[union-attr]
        html = api.get(f"{url}/output", headers=headers, params={"format": "html"})
        assert html.headers["content-type"].startswith("text/html")
        assert "Release evidence" in html.text and "2 run(s)" in html.text
        assert "<script>alert(1)</script>" not in html.text  # names are escaped
        assert "default-src 'none'" in html.headers["content-security-policy"]
        pdf = api.get(f"{url}/output", headers=headers, params={"format": "pdf"})
        assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 1000
        assert "attachment" in pdf.headers["content-disposition"]
        listed = api.get(f"/api/v1/reports/{report['id']}/executions", headers=headers).json()
        assert [item["status"] for item in listed["items"]] == ["completed"]


def test_an_unreachable_queue_answers_503_and_fails_the_execution(
    settings: Settings, database: Database, world: World
) -> None:
    broken = unreachable_queue(settings)
    headers = world.callers["admin"].headers
    with (
        live_server(create_app(broken, database=database, run_consumer=False)) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        report = api.post("/api/v1/reports", headers=headers, json={"name": "trend", "kind": "trend"}).json()
        answer = api.post(f"/api/v1/reports/{report['id']}/executions", headers=headers)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"
        assert "task queue unavailable" in answer.json()["error"]["message"]
        listed = api.get(f"/api/v1/reports/{report['id']}/executions", headers=headers).json()["items"]
    assert [item["status"] for item in listed] == ["failed"]
    assert "task queue unavailable" in listed[0]["error"]


def _execution(database: Database, world: World, status: str, **times: dt.datetime) -> int:
    report = world.new_report("own")
    with database.session() as session:
        execution = ReportExecution(
            organization_id=world.org_ids["own"],
            definition_id=report["report_id"],
            status=status,
            requested_at=times.get("requested_at", utcnow()),
            started_at=times.get("started_at"),
            deadline_at=times.get("deadline_at"),
        )
        session.add(execution)
        session.flush()
        return execution.id


def test_the_watchdog_ends_stuck_executions(database: Database, settings: Settings, world: World) -> None:
    now = utcnow()
    stuck = _execution(
        database,
        world,
        "processing",
        started_at=now - dt.timedelta(hours=1),
        deadline_at=now - dt.timedelta(minutes=1),
    )
    running = _execution(
        database, world, "processing", started_at=now, deadline_at=now + dt.timedelta(minutes=5)
    )
    forgotten = _execution(database, world, "queued", requested_at=now - dt.timedelta(days=1))
    waiting = _execution(database, world, "queued")
    with database.session() as session:
        assert sweep(session, settings) == 2
    with database.session() as session:
        statuses = {row.id: (row.status, row.error) for row in session.query(ReportExecution)}
    assert statuses[stuck][0] == "timed_out" and "watchdog" in (statuses[stuck][1] or "")
    assert statuses[forgotten][0] == "failed" and "worker" in (statuses[forgotten][1] or "")
    assert statuses[running][0] == "processing"
    assert statuses[waiting][0] == "queued"


def test_a_late_finish_does_not_undo_the_watchdog(
    database: Database, settings: Settings, world: World
) -> None:
    execution = _execution(database, world, "timed_out")
    assert run_execution(database, settings, execution) == "timed_out"  # not claimed: only queued ones are


def test_a_failing_rendering_ends_as_failed(database: Database, settings: Settings, world: World) -> None:
    execution = _execution(database, world, "queued")
    missing = settings.model_copy(
        update={
            "reports": settings.reports.model_copy(
                update={"chromium_path": settings.data_dir / "no-chromium"}
            )
        }
    )
    assert run_execution(database, missing, execution) == "failed"
    with database.session() as session:
        stored = session.get_one(ReportExecution, execution)
        assert stored.error is not None and "chromium_path" in stored.error
        assert stored.finished_at is not None


def test_an_audit_report_without_a_stored_audit_says_how_to_get_one(database: Database, world: World) -> None:
    from evidencehub.reports.content import build_sections
    from evidencehub.reports.schemas import ReportParameters

    with database.session() as session:
        sections = build_sections(session, "audit", world.org_ids["own"], ReportParameters(project="prism"))
    assert "evidencehub audit" in sections[0].paragraphs[0]


def test_the_trend_report_summarises_builds(database: Database, world: World) -> None:
    from evidencehub.reports.content import build_sections
    from evidencehub.reports.schemas import ReportParameters

    world.new_run("own")
    world.new_run("own")
    with database.session() as session:
        trend = build_sections(session, "trend", world.org_ids["own"], ReportParameters())
    assert trend[0].table is not None and len(trend[0].table.rows) == 2
    assert trend[0].table.rows[0][6] == "50.0%"  # one of two tests passed in each build


def _ingest_run(database: Database, settings: Settings, project: str) -> int:
    """A run of three failing tests: two with the same assertion, one erroring."""
    path = settings.data_dir / f"{project}.xml"
    path.write_text(
        junit_xml(
            [
                ("pay.Checkout", "test_total", "failed"),
                ("pay.Checkout", "test_tax", "failed"),
                ("pay.Cart", "test_add", "error"),
                ("pay.Cart", "test_remove", "passed"),
            ]
        ),
        encoding="utf-8",
    )
    outcome = ingest(
        database,
        settings,
        IngestRequest(paths=[str(path)], project=project, build="1", organization=OWN_ORG),
    )
    assert outcome.run is not None
    return outcome.run.id


def _table(section: Section) -> list[dict[str, str]]:
    assert section.table is not None, section.heading
    return [dict(zip(section.table.columns, row, strict=True)) for row in section.table.rows]


def test_the_triage_report_shows_categories_clusters_decisions_and_untriaged_runs(
    database: Database, settings: Settings, world: World
) -> None:
    from evidencehub.reports.content import build_sections
    from evidencehub.reports.schemas import ReportParameters
    from evidencehub.triage.service import decide_cluster, triage_report, triage_run

    organization = world.org_ids["own"]
    triaged = _ingest_run(database, settings, "shop")
    untriaged = _ingest_run(database, settings, "till")
    triage_run(database, settings, triaged, organization_id=organization)
    with database.session() as session:
        before = triage_report(session, triaged, organization_id=organization)
    assertion = next(cluster for cluster in before.clusters if cluster.exception == "AssertionError")
    decide_cluster(
        database,
        cluster_key=assertion.id,
        category="product_bug",
        actor="alice",
        issue="BUG-7",
        comment="totals off by one",
        project="shop",
        organization_id=organization,
    )
    with database.session() as session:
        sections = {
            section.heading: section
            for section in build_sections(session, "triage", organization, ReportParameters())
        }

    categories = {row["category"]: row["failures"] for row in _table(sections["Failures by category"])}
    assert categories["product_bug"] == "2"  # the decided cluster's two failures
    assert categories["to_investigate"] == "1"  # the erroring test: no rule, no decision
    assert "3 triaged failures in 2 unique errors, 1 of 2 run(s) with failures triaged." in (
        sections["Failures by category"].paragraphs
    )

    runs = {row["run"]: row for row in _table(sections["Runs"])}
    assert runs[str(triaged)]["unique errors"] == "2" and runs[str(triaged)]["product_bug"] == "2"
    assert runs[str(untriaged)]["unique errors"] == "not triaged"

    clusters = _table(sections["Unique errors"])
    assert {row["run"] for row in clusters} == {str(triaged)}  # nothing invented for the untriaged run
    decided = next(row for row in clusters if row["cluster"] == assertion.id)
    assert decided["category"] == "product_bug"
    assert decided["status"] == "confirmed"  # decided by a person, not suggested
    assert decided["decided by"] == "alice"
    assert decided["bug"] == "BUG-7"
    assert (decided["failures"], decided["tests"]) == ("2", "2")
    assert "alice" in decided["explanation"] and "totals off by one" in decided["explanation"]
    other = next(row for row in clusters if row["cluster"] != assertion.id)
    assert (other["category"], other["status"], other["decided by"]) == (
        "to_investigate",
        "needs verification",
        "",
    )
    assert other["explanation"]  # the automatic triage says why

    never = sections["Runs never triaged"]
    assert "never triaged" in never.paragraphs[0] and "evidencehub triage RUN" in never.paragraphs[0]
    assert _table(never) == [
        {
            "run": str(untriaged),
            "project": "till",
            "build": "1",
            "failing results": "3",
            "command": f"evidencehub triage {untriaged}",
        }
    ]
    html = render_html(ReportDocument("Triage", "", "acme", utcnow(), sections=list(sections.values())))
    assert "BUG-7" in html and f"evidencehub triage {untriaged}" in html


def test_a_triage_report_without_failures_says_so(database: Database, world: World) -> None:
    from evidencehub.reports.content import build_sections
    from evidencehub.reports.schemas import ReportParameters

    with database.session() as session:
        sections = build_sections(session, "triage", world.org_ids["own"], ReportParameters())
    assert sections[0].paragraphs == ["No failures or errors in the runs this report covers."]


def test_html_rendering_escapes_and_aligns() -> None:
    document = ReportDocument(
        title="T <b>",
        subtitle="s",
        organization="acme",
        generated_at=utcnow(),
        sections=[Section("Numbers", ["p & q"], Table(["name", "count"], [["<i>x</i>", "3"]], {1}))],
    )
    html = render_html(document)
    assert "T &lt;b&gt;" in html and "&lt;i&gt;x&lt;/i&gt;" in html and "p &amp; q" in html
    assert '<td class="num">3</td>' in html
