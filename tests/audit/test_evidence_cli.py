"""Evidence from ingested runs, stored reports, and the CLI end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from evidencehub.audit import service
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.orgs.service import ensure_organization
from evidencehub.results.identity import test_id
from evidencehub.results.model import Build, Project, Result, Test, TestRun
from evidencehub.results.service import TestMatch, latest_result
from tests.audit.support import COMPLETE_TICKET, NODE_ID, REPO, TICKET
from tests.support.cli import CliRunner

CLASSNAME = "tests.integration.test_live_configure.TestLiveConfigureResilience"
FUNCTION = "test_configure_fails_cleanly_when_rabbitmq_is_down"


def _store_results(database: Database, *runs: tuple[str, str, dict[str, str] | None]) -> list[int]:
    """Runs of project 'live' (build, status, properties) holding the RabbitMQ test, oldest first."""
    ids = []
    with database.session() as session:
        organization = ensure_organization(session, "default")
        project = Project(organization_id=organization.id, key="live", name="live")
        session.add(project)
        session.flush()
        key = f"{CLASSNAME}::{FUNCTION}"
        session.add(
            Test(
                id=test_id(project.id, key),
                project_id=project.id,
                key=key,
                classname=CLASSNAME,
                name=FUNCTION,
                first_seen_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            )
        )
        for day, (build_name, status, properties) in enumerate(runs, start=1):
            build = Build(project_id=project.id, name=build_name, release="2026.11")
            session.add(build)
            session.flush()
            when = dt.datetime(2026, 11, day, 10, 0, tzinfo=dt.UTC)
            run = TestRun(
                build_id=build.id, name="ci", environment="staging", started_at=when, finished_at=when
            )
            session.add(run)
            session.flush()
            session.add(
                Result(
                    run_id=run.id,
                    test_id=test_id(project.id, key),
                    status=status,
                    started_at=when,
                    message="expected 503, got 500" if status == "failed" else None,
                    properties=properties,
                )
            )
            ids.append(run.id)
    return ids


def test_latest_result_matches_by_xray_key_then_by_classname_and_name(database: Database) -> None:
    first, second = _store_results(
        database, ("1041", "passed", {"test_key": "PZ-13602"}), ("1042", "failed", None)
    )
    with database.session() as session:
        by_key = latest_result(session, TestMatch(xray_key="PZ-13602"))
        by_name = latest_result(
            session, TestMatch(classname="test_live_configure.TestLiveConfigureResilience", name=FUNCTION)
        )
        absent = latest_result(session, TestMatch(xray_key="PZ-1", name="test_other"))
    assert by_key is not None and (by_key.run_id, by_key.status, by_key.matched_by) == (
        first,
        "passed",
        "xray key property",
    )
    assert by_name is not None and (by_name.run_id, by_name.status, by_name.build) == (
        second,
        "failed",
        "1042",
    )
    assert absent is None


def _request(*paths: Path, **options: object) -> service.AuditRequest:
    return service.AuditRequest(paths=list(paths), repo=REPO, today=dt.date(2026, 11, 20), **options)  # type: ignore[arg-type]


def test_evidence_fills_results_and_flags_contradictions(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    _store_results(database, ("1041", "passed", None), ("1042", "failed", None))
    manual = json.loads(COMPLETE_TICKET.read_text())
    manual["fields"]["customfield_10500"] = {"value": "Manual"}
    path = tmp_path / "manual.json"
    path.write_text(json.dumps(manual))
    result = service.run_audit(_request(path, TICKET, template=True), settings, database)
    manual_audit, plain = result.tickets
    by_field = {finding.field: finding for finding in manual_audit.fields}
    assert by_field["Automation Status"].status == "insufficient"
    assert "results of this test were ingested" in (by_field["Automation Status"].reason or "")
    assert by_field["Test Results"].status == "insufficient"  # the ticket says PASSED; run 2 failed
    assert "says FAILED" in (by_field["Test Results"].reason or "")
    assert result.summary.contradictions == [{"key": "PZ-13602", "reason": manual_audit.contradiction}]
    assert plain.evidence is not None and plain.evidence.status == "failed"
    draft = plain.template or ""
    assert "status FAILED · environment staging" in draft and "build 1042" in draft
    assert "Result: expected 503, got 500" in draft


def test_report_is_stored_with_both_languages(settings: Settings, database: Database) -> None:
    _store_results(database, ("1042", "failed", None))
    result = service.run_audit(
        _request(TICKET, COMPLETE_TICKET, project="live", created_by="qa"), settings, database
    )
    assert result.report_id is not None
    with database.session() as session:
        (listed,) = service.list_reports(session, project="live")
        report, tickets = service.report_tickets(session, result.report_id, language="he")
        history = service.ticket_history(session, "PZ-13602")
    assert (listed.id, listed.tickets, listed.created_by) == (result.report_id, 2, "qa")
    # the complete ticket's "PASSED" is outdated too: Test Results is wrong in both tickets
    top = listed.summary.most_often_missing[0]
    assert (top.field, top.missing, top.insufficient) == ("Test Results", 1, 1)
    assert report.summary.most_often_missing[0].label == "תוצאות הרצה"
    assert [ticket.score for ticket in tickets] == [ticket.score for ticket in result.tickets]
    assert tickets[0].template is not None and "עצרו את RabbitMQ" in tickets[0].template
    assert tickets[0].audit.fields[0].label == "מזהה בדיקה"
    assert len(history) == 2


def test_cli_json_many_tickets_and_fail_under(cli: CliRunner, settings: Settings, tmp_path: Path) -> None:
    issues = [json.loads(TICKET.read_text()), json.loads(COMPLETE_TICKET.read_text())]
    issues[1]["key"] = "PZ-13603"
    search = tmp_path / "search.json"
    search.write_text(json.dumps({"issues": issues, "names": issues[0]["names"]}))
    result = cli("audit", search, "--repo", REPO, "--format", "json", "--fail-under", "80")
    assert result.exit_code == 1, result.stderr  # PZ-13602 is below 80
    data = result.json()
    assert [ticket["key"] for ticket in data["tickets"]] == ["PZ-13602", "PZ-13603"]
    assert data["tickets"][1]["score"] == 100.0
    summary = data["summary"]
    assert summary["below_threshold"] == ["PZ-13602"]
    assert summary["distribution"] == {"90-100": 1, "75-89": 0, "50-74": 0, "0-49": 1}
    assert {item["field"] for item in summary["most_often_missing"]} >= {
        "Test Type",
        "Test Steps",
        "Test Data",
    }
    passing = cli("audit", search, "--repo", REPO, "--format", "json", "--fail-under", "10")
    assert passing.exit_code == 0


def test_cli_table_and_markdown_in_hebrew_with_template(
    cli: CliRunner, settings: Settings, tmp_path: Path
) -> None:
    table = cli("audit", TICKET, "--lang", "he", "--no-evidence")
    assert table.exit_code == 0, table.stderr
    assert "Test Steps (צעדי בדיקה)" in table.stdout and "קריטי" in table.stdout
    out = tmp_path / "report.html"
    html = cli("audit", TICKET, "--repo", REPO, "--format", "html", "--lang", "he", "--template", "-o", out)
    assert html.exit_code == 0, html.stderr
    text = out.read_text(encoding="utf-8")
    assert 'dir="rtl"' in text and NODE_ID in text


def test_cli_stores_for_a_project_and_reports_errors(
    cli: CliRunner, settings: Settings, database: Database
) -> None:
    missing = cli("audit", TICKET, "--project", "nope")
    assert missing.exit_code == 4 and "project 'nope' does not exist" in missing.stderr
    _store_results(database, ("1042", "failed", None))
    stored = cli("audit", TICKET, "--project", "live")
    assert stored.exit_code == 0 and "Stored as audit report #" in stored.stdout
    bad_lang = cli("audit", TICKET, "--lang", "fr")
    assert bad_lang.exit_code == 2 and "--lang must be en or he" in bad_lang.stderr
    rubric = cli("audit", "--print-rubric")
    assert rubric.exit_code == 0 and "name: xray-completeness" in rubric.stdout
