"""The triage routes: a run's triage, clusters with examples, filtered failures, decisions, flaky tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from evidencehub.db.session import Database
from tests.support.web import OWN_ORG, World
from tests.triage.support import Case, RunSpec, add_run


def _refused(name: str, port: int) -> Case:
    return Case(
        name,
        "error",
        failure_type="ConnectionRefusedError",
        message=f"[Errno 111] Connection refused: 10.1.2.{port % 250}:{port}",
        trace=f"Traceback (most recent call last):\n  File 'db.py', line 12\nConnectionRefusedError: {port}",
    )


def _assertion(name: str, text: str) -> Case:
    return Case(name, "failed", failure_type="AssertionError", message=text, trace=f"AssertionError: {text}")


def _flaky_history_then_failures(database: Database) -> int:
    """Five runs where test_flip alternates, then a run with two clusters of failures; its id."""
    for number, status in enumerate(["passed", "failed", "passed", "failed", "passed"], start=1):
        add_run(database, RunSpec(str(number), [Case("test_flip", status)], organization=OWN_ORG))
    cases = [
        _refused("test_db_a", 5432),
        _refused("test_db_b", 5433),
        _refused("test_db_c", 5434),
        _assertion("test_flip", "chart is empty"),
        Case("test_fine"),
    ]
    return add_run(database, RunSpec("6", cases, organization=OWN_ORG))


def _decisions_counted() -> dict[str, float]:
    return {
        sample.labels["source"]: sample.value
        for metric in REGISTRY.collect()
        if metric.name == "evidencehub_triage_decisions"
        for sample in metric.samples
        if sample.name == "evidencehub_triage_decisions_total"
    }


def _get(client: TestClient, world: World, url: str, role: str = "viewer", **params: Any) -> Any:
    response = client.get(url, headers=world.callers[role].headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_run_triage_clusters_failures_and_detail(
    client: TestClient, world: World, database: Database
) -> None:
    run = _flaky_history_then_failures(database)
    before = _decisions_counted()
    # Never triaged (no upload, no automatic pass): reading the triage triages it first.
    triage = _get(client, world, f"/api/v1/runs/{run}/triage")
    assert triage["triaged"]["analysed"] == 4 and triage["project"] == "prism"
    by_source = triage["triaged"]["by_source"]
    assert sum(by_source.values()) == 4 and set(by_source) <= {"rule", "history", "default", "human"}
    # /metrics counts the pass's decisions by source, as it counts a person's.
    after = _decisions_counted()
    assert {source: after.get(source, 0) - before.get(source, 0) for source in by_source} == by_source
    summary = triage["summary"]
    assert summary["failures"] == 4 and summary["clusters"] == 2 and summary["flaky"] == 1
    again = _get(client, world, f"/api/v1/runs/{run}/triage")
    assert again["triaged"] is None and again["summary"] == summary

    clusters = _get(client, world, f"/api/v1/runs/{run}/triage/clusters")
    assert clusters["next_cursor"] is None
    refused = next(item for item in clusters["items"] if item["exception"] == "ConnectionRefusedError")
    assert (refused["failures"], refused["tests"]) == (3, 3)
    assert refused["explanation"] and refused["example"]["test"].endswith("test_db_a")
    assert "ConnectionRefusedError: 5432" in refused["example"]["trace"]
    first_page = _get(client, world, f"/api/v1/runs/{run}/triage/clusters", limit=1)
    assert len(first_page["items"]) == 1 and first_page["next_cursor"] == 1
    second_page = _get(client, world, f"/api/v1/runs/{run}/triage/clusters", limit=1, offset=1)
    assert second_page["next_cursor"] is None
    assert {first_page["items"][0]["id"], second_page["items"][0]["id"]} == {
        item["id"] for item in clusters["items"]
    }

    failures = f"/api/v1/runs/{run}/triage/failures"
    names: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"cluster": refused["id"], "limit": 2}
        if cursor is not None:
            params["after"] = cursor
        page = _get(client, world, failures, **params)
        names.extend(item["name"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["test_db_a", "test_db_b", "test_db_c"]
    flip = _get(client, world, failures, test="FLIP")["items"]
    assert [item["name"] for item in flip] == ["test_flip"] and flip[0]["flaky"]
    assert _get(client, world, failures, category="product_bug")["items"] == []
    assert _get(client, world, failures, test="100%_")["items"] == []  # LIKE wildcards are literal
    unknown = client.get(failures, headers=world.callers["viewer"].headers, params={"category": "nonsense"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "bad_input"

    detail = _get(client, world, f"/api/v1/failures/{flip[0]['id']}", history=3)
    assert detail["trace"] == "AssertionError: chart is empty" and detail["run"] == run
    assert [point["status"] for point in detail["history"]] == ["failed", "passed", "failed"]
    assert detail["decisions"] == []
    passed = _get(client, world, f"/api/v1/runs/{run}/results", status="passed")["items"][0]["id"]
    missing = client.get(f"/api/v1/failures/{passed}", headers=world.callers["viewer"].headers)
    assert missing.status_code == 404


def test_decisions_are_recorded_with_who_and_in_the_security_log(
    client: TestClient, world: World, database: Database
) -> None:
    run = _flaky_history_then_failures(database)
    tester = world.callers["tester"].headers
    assert client.post(f"/api/v1/runs/{run}/triage", headers=tester).json()["triaged"]["analysed"] == 4
    failures = _get(client, world, f"/api/v1/runs/{run}/triage/failures")["items"]
    flip = next(item for item in failures if item["name"] == "test_flip")
    refused_key = next(item["cluster"] for item in failures if item["name"] == "test_db_a")

    viewer_try = client.post(
        f"/api/v1/failures/{flip['id']}/decision",
        headers=world.callers["viewer"].headers,
        json={"category": "product_bug"},
    )
    assert viewer_try.status_code == 403
    decided = client.post(
        f"/api/v1/failures/{flip['id']}/decision",
        headers=tester,
        json={"category": "product_bug", "issue": "PRISM-77", "comment": "chart query drops rows"},
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()["actor"] == "tester@acme.test" and decided.json()["failures_updated"] == 1
    cluster = client.post(
        f"/api/v1/runs/{run}/triage/clusters/{refused_key}/decision",
        headers=tester,
        json={"category": "system_issue", "comment": "database down"},
    )
    assert cluster.status_code == 201 and cluster.json()["failures_updated"] == 3

    refused = _get(client, world, f"/api/v1/runs/{run}/triage/failures", category="system_issue")["items"]
    assert {item["source"] for item in refused} == {"human"} and len(refused) == 3
    detail = _get(client, world, f"/api/v1/failures/{flip['id']}")
    assert (detail["category"], detail["issue"], detail["decided_by"]) == (
        "product_bug",
        "PRISM-77",
        "tester@acme.test",
    )
    assert [item["id"] for item in detail["decisions"]] == [decided.json()["id"]]
    # Retriage keeps people's decisions.
    client.post(f"/api/v1/runs/{run}/triage", headers=tester, params={"retriage": True})
    assert _get(client, world, f"/api/v1/failures/{flip['id']}")["category"] == "product_bug"

    project_id = _get(client, world, f"/api/v1/runs/{run}/triage")["project_id"]
    listed = _get(client, world, f"/api/v1/projects/{project_id}/triage/decisions", limit=1)
    assert listed["items"][0]["scope"] == "cluster" and listed["next_cursor"] is not None
    older = _get(
        client, world, f"/api/v1/projects/{project_id}/triage/decisions", before=listed["next_cursor"]
    )
    assert [item["scope"] for item in older["items"]] == ["failure"]

    events = _get(client, world, "/api/v1/security-events", role="admin", kind="triage_decision")["items"]
    assert [event["subject"] for event in events] == [f"cluster {refused_key}", f"failure {flip['id']}"]
    assert events[1]["details"]["category"] == "product_bug" and events[1]["details"]["issue"] == "PRISM-77"
    assert all(event["ip"] for event in events)

    for body in ({"category": "product_bug", "x": 1}, {"category": "product_bug", "comment": "a\x00b"}):
        bad = client.post(f"/api/v1/failures/{flip['id']}/decision", headers=tester, json=body)
        assert bad.status_code == 422, body
    unknown_cluster = client.post(
        f"/api/v1/runs/{run}/triage/clusters/c000000000000/decision",
        headers=tester,
        json={"category": "no_defect"},
    )
    assert unknown_cluster.status_code == 404


def test_flaky_tests_are_ranked(client: TestClient, world: World, database: Database) -> None:
    run = _flaky_history_then_failures(database)
    project_id = _get(client, world, f"/api/v1/runs/{run}/triage")["project_id"]
    flaky = _get(client, world, f"/api/v1/projects/{project_id}/flaky-tests")
    assert [item["name"] for item in flaky["items"]] == ["test_flip"]
    assert flaky["items"][0]["score"] == 1.0
    assert [point["status"] for point in flaky["items"][0]["history"]] == [
        "passed",
        "failed",
        "passed",
        "failed",
        "passed",
        "failed",
    ]
    elsewhere = _get(client, world, f"/api/v1/projects/{project_id}/flaky-tests", environment="perf")
    assert elsewhere["items"] == []
    # A run without failures has nothing to triage: reading its triage is a plain read.
    oldest = _get(client, world, "/api/v1/runs", limit=1000)["items"][-1]
    assert oldest["totals"]["failures"] == 0
    quiet = _get(client, world, f"/api/v1/runs/{oldest['id']}/triage")
    assert quiet["triaged"] is None and quiet["summary"]["failures"] == 0
