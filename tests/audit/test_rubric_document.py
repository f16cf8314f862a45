"""The document's situation: a resilience ticket with the basics but 15 fields missing or insufficient."""

from __future__ import annotations

from tests.audit.support import (
    COMPLETE_TICKET,
    CRITICAL,
    IMPORTANT,
    NICE_TO_HAVE,
    NODE_ID,
    REPO,
    TICKET,
    audit_files,
)


def _groups(result_fields: list[object]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {"critical": set(), "important": set(), "nice_to_have": set()}
    for finding in result_fields:
        if finding.status != "present":  # type: ignore[attr-defined]
            groups[finding.severity].add(finding.field)  # type: ignore[attr-defined]
    return groups


def test_rabbitmq_ticket_misses_exactly_the_15_fields_in_three_priorities() -> None:
    ticket = audit_files(TICKET).tickets[0]
    assert ticket.key == "PZ-13602"
    assert _groups(ticket.fields) == {
        "critical": CRITICAL,
        "important": IMPORTANT,
        "nice_to_have": NICE_TO_HAVE,
    }
    statuses = {finding.field: finding.status for finding in ticket.fields}
    assert statuses["Test Data"] == "insufficient"  # "Valid live payload" is there, but no payload
    assert all(statuses[name] == "missing" for name in (CRITICAL | IMPORTANT | NICE_TO_HAVE) - {"Test Data"})
    present = {name for name, status in statuses.items() if status == "present"}
    assert present == {
        "Test ID",
        "Summary",
        "Priority",
        "Components/Labels",
        "Description",
        "Requirements",
        "Pre-Conditions",
        "Acceptance Criteria",
        "Expected Outcomes",
        "Metadata",
    }
    assert 0 < ticket.score < 50


def test_findings_say_what_why_where_and_the_reason() -> None:
    ticket = audit_files(TICKET).tickets[0]
    data = next(finding for finding in ticket.fields if finding.field == "Test Data")
    assert data.reason is not None and "Valid live payload" in data.reason
    assert "JSON" in data.what and data.why and "Description" in data.where
    assert data.found_in == "Description, section 'Test Data'"
    steps = next(finding for finding in ticket.fields if finding.field == "Test Steps")
    assert steps.reason == "not found in the ticket"
    assert "Steps" in steps.where


def test_fully_documented_ticket_scores_100() -> None:
    ticket = audit_files(COMPLETE_TICKET, repo=REPO).tickets[0]
    assert [finding.field for finding in ticket.fields if finding.status != "present"] == []
    assert ticket.score == 100.0


def test_template_fills_every_missing_field_with_concrete_text() -> None:
    ticket = audit_files(TICKET, repo=REPO, template=True).tickets[0]
    draft = ticket.template
    assert draft is not None
    for heading in CRITICAL | IMPORTANT | NICE_TO_HAVE:
        assert f"## {heading} [" in draft
    steps = draft.split("## Test Steps [NEW]")[1].split("\n## ")[0]
    rows = [line for line in steps.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(rows) == 15
    assert "Stop RabbitMQ" in steps and "port 5672" in steps  # setup: cause the outage
    assert "Send POST /live/configure" in steps
    assert "Status is 503" in steps and "no job_id" in steps
    assert "Restore RabbitMQ" in steps and "Delete the jobs or services created in step 11" in steps
    assert f'pytest "{NODE_ID}" -v' in draft  # execution command from the linked test (xray marker)
    assert '"channel": "sports-hd"' in draft  # the payload, read from the linked test module
    assert "function test_configure_fails_cleanly_when_rabbitmq_is_down" in draft
    assert "The error message names RabbitMQ as the failed dependency" in draft
    # TODO only where a person must supply something
    todo_sections = {
        section.split("\n")[0].split(" [")[0] for section in draft.split("\n## ")[1:] if "TODO" in section
    }
    assert todo_sections <= {
        "Test Results",
        "Test Configuration",
        "Recovery Validation",
        "Related Issues",
        "Attachments",
        "Architectural Context",
        "Monitoring/Alerting",
    }
    assert "Test Steps" not in todo_sections and "Objective" not in todo_sections


def test_template_keeps_present_fields_as_written() -> None:
    draft = audit_files(TICKET, template=True).tickets[0].template
    assert draft is not None
    assert "## Pre-Conditions\n\n- The Live service is deployed and healthy" in draft
    assert "## Test Data [IMPROVED]" in draft and "_Was: Valid live payload_" in draft
    # without --repo no payload is known: a person supplies it
    assert "TODO: paste the full JSON payload sent by POST /live/configure" in draft
