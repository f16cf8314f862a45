"""/health/ready includes Octane while promotions publish to it: reachable, unreachable, no credentials."""

from __future__ import annotations

import socket

import httpx

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.ops.health import readiness
from evidencehub.publish.registry import readiness_checks
from evidencehub.web import create_app
from tests.support.octane import CLIENT_SECRET
from tests.support.web import live_server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ready_says_octane_answers(octane_settings: Settings, database: Database) -> None:
    with live_server(create_app(octane_settings, database=database, run_consumer=False)) as server:
        ready = httpx.get(f"{server.url}/health/ready", timeout=30)
    assert ready.status_code == 200
    octane = ready.json()["checks"]["octane"]
    assert octane["status"] == "ok" and octane["url"] == octane_settings.octane.base_url
    assert octane["http_status"] < 500 and octane["latency_ms"] >= 0
    assert CLIENT_SECRET not in ready.text


def test_an_unreachable_octane_degrades_readiness_without_failing_it(
    octane_settings: Settings, database: Database
) -> None:
    down = octane_settings.model_copy(
        update={
            "octane": octane_settings.octane.model_copy(
                update={"base_url": f"http://127.0.0.1:{_closed_port()}"}
            )
        }
    )
    body = readiness(database, down, readiness_checks(down))
    assert body["status"] == "degraded"
    assert body["checks"]["octane"]["status"] == "degraded"
    assert body["checks"]["octane"]["error"].startswith("not reachable")
    assert body["checks"]["database"]["status"] == "ok"


def test_missing_credentials_are_named_and_no_secret_is_shown(
    octane_settings: Settings, database: Database
) -> None:
    half = octane_settings.model_copy(
        update={"octane": octane_settings.octane.model_copy(update={"client_id": None})}
    )
    check = readiness(database, half, readiness_checks(half))["checks"]["octane"]
    assert check["status"] == "degraded" and "octane.client_id" in check["error"]
    assert CLIENT_SECRET not in str(check)


def test_no_octane_check_when_promotions_do_not_publish_there(settings: Settings, database: Database) -> None:
    xray_only = settings.model_copy(
        update={
            "promotions": settings.promotions.model_copy(update={"targets": ["xray"], "project_targets": {}})
        }
    )
    assert "octane" not in readiness(database, xray_only, readiness_checks(xray_only))["checks"]
    per_project = settings.model_copy(
        update={
            "promotions": settings.promotions.model_copy(
                update={"targets": ["xray"], "project_targets": {"shop": ["xray", "octane"]}}
            )
        }
    )
    assert set(readiness_checks(per_project)) == {"octane"}
