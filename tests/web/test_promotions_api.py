"""The promotions API: request (202, 409, 503 with nothing left), the Octane tab, cancel, audit, tenants."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.promotions.model import Promotion
from evidencehub.web import create_app
from tests.support.web import World, unreachable_queue


def _count(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Promotion)) or 0)


def test_request_show_cancel_with_history_and_security_events(client: TestClient, world: World) -> None:
    manager = world.callers["release_manager"].headers
    body = {**world.promotion_body("own"), "reason": "release train 42"}
    created = client.post("/api/v1/promotions", json=body, headers=manager)
    assert created.status_code == 202, created.text
    promotion = created.json()
    assert promotion["state"] == "requested"
    assert promotion["requester"] == "release_manager@acme.test"
    assert promotion["job_name"] == (
        f"evidence-{body['project']}-{body['release']}-{body['build']}-p{promotion['id']}"
    )
    twice = client.post("/api/v1/promotions", json=body, headers=manager)
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "conflict"

    shown = client.get(f"/api/v1/promotions/{promotion['id']}", headers=world.callers["viewer"].headers)
    assert shown.status_code == 200
    assert shown.json()["promotion"]["id"] == promotion["id"]
    assert [event["to_state"] for event in shown.json()["history"]] == ["requested"]
    assert shown.json()["jobs"] == []

    viewer_cancel = client.post(
        f"/api/v1/promotions/{promotion['id']}/cancel", headers=world.callers["viewer"].headers
    )
    assert viewer_cancel.status_code == 403
    cancelled = client.post(f"/api/v1/promotions/{promotion['id']}/cancel", headers=manager)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = client.post(f"/api/v1/promotions/{promotion['id']}/cancel", headers=manager)
    assert again.status_code == 200 and again.json()["state"] == "cancelled"

    listed = client.get("/api/v1/promotions?state=cancelled", headers=manager).json()["items"]
    assert [item["id"] for item in listed] == [promotion["id"]]
    events = client.get("/api/v1/security-events", headers=world.callers["admin"].headers).json()["items"]
    kinds = [event["kind"] for event in events if event["kind"].startswith("promotion_")]
    assert kinds == ["promotion_cancelled", "promotion_requested"]  # newest first; the repeat changed nothing
    assert all(event["ip"] for event in events if event["kind"].startswith("promotion_"))


def test_another_organization_s_promotion_is_not_found(client: TestClient, world: World) -> None:
    theirs = world.new_promotion("other")["promotion_id"]
    admin = world.callers["admin"].headers
    assert client.get(f"/api/v1/promotions/{theirs}", headers=admin).status_code == 404
    assert client.post(f"/api/v1/promotions/{theirs}/cancel", headers=admin).status_code == 404
    assert client.get("/api/v1/promotions", headers=admin).json()["items"] == []


def test_an_unreachable_queue_answers_503_and_leaves_nothing(
    settings: Settings, database: Database, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    broken = unreachable_queue(settings)
    body = world.promotion_body("own")
    headers = world.callers["release_manager"].headers
    with (
        caplog.at_level(logging.INFO),
        TestClient(create_app(broken, database=database, run_consumer=False)) as down,
    ):
        response = down.post("/api/v1/promotions", json=body, headers=headers)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "unavailable"
    assert response.json()["error"]["message"].startswith("task queue unavailable")
    assert _count(database) == 0
    assert "Traceback" not in caplog.text
    with TestClient(create_app(settings, database=database, run_consumer=False)) as up:
        assert up.post("/api/v1/promotions", json=body, headers=headers).status_code == 202
    assert _count(database) == 1
