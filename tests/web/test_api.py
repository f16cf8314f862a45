"""The API over real HTTP (uvicorn on 127.0.0.1, port 0): sign-in, uploads, limits, errors, metrics."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from collections.abc import Iterator

import httpx
import pytest

from evidencehub.config import RateLimit, Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.web import create_app
from tests.support.junit import junit_xml
from tests.support.web import World, live_server, unreachable_queue

PASSWORD = "correct horse battery staple"


@pytest.fixture
def api(settings: Settings, database: Database, world: World) -> Iterator[httpx.Client]:
    app = create_app(settings, database=database, run_consumer=False)
    with live_server(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _login(api: httpx.Client, email: str = "admin@acme.test") -> dict[str, str]:
    response = api.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sign_in_refresh_reuse_and_logout(api: httpx.Client) -> None:
    first = _login(api, "tester@acme.test")
    assert first["tokenType"] == "Bearer" and first["expiresIn"] == 900
    me = api.get("/api/v1/auth/me", headers=_bearer(first["accessToken"])).json()
    assert me["role"] == "tester" and "results:ingest" in me["permissions"]

    second = api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert second.status_code == 200
    assert api.get("/api/v1/auth/me", headers=_bearer(second.json()["accessToken"])).status_code == 200

    reused = api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_invalid"
    # The reuse revoked the whole sign-in, including the token handed out by the refresh.
    after = api.post("/api/v1/auth/refresh", json={"refreshToken": second.json()["refreshToken"]})
    assert after.status_code == 401

    third = _login(api, "tester@acme.test")
    assert api.post("/api/v1/auth/logout", json={"refreshToken": third["refreshToken"]}).status_code == 204
    assert api.post("/api/v1/auth/refresh", json={"refreshToken": third["refreshToken"]}).status_code == 401


def test_authentication_errors_say_what_is_wrong(api: httpx.Client, world: World) -> None:
    def code(headers: dict[str, str]) -> str:
        response = api.get("/api/v1/runs", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        return str(response.json()["error"]["code"])

    expired, _ = world.authenticator.access_tokens.issue(
        1, world.org_ids["own"], now=utcnow() - dt.timedelta(hours=1)
    )
    token = _login(api)["accessToken"]
    assert code({}) == "token_missing"
    assert code({"Authorization": token}) == "bearer_missing"
    assert code(_bearer("garbage")) == "token_invalid"
    assert code(_bearer(expired)) == "token_expired"
    assert code(_bearer(token[:-4] + "AAAA")) == "token_invalid"
    bad = api.post("/api/v1/auth/login", json={"email": "admin@acme.test", "password": "not the password"})
    assert bad.status_code == 401
    assert "not the password" not in bad.text


def test_validation_errors_share_the_error_shape_and_never_echo_input(api: httpx.Client) -> None:
    response = api.post("/api/v1/auth/login", json={"email": "admin@acme.test", "password": 12345678901234})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "bad_input" and error["details"]["errors"][0]["location"] == ["body", "password"]
    assert "12345678901234" not in response.text
    unknown = api.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def _upload(api: httpx.Client, headers: dict[str, str], **kwargs: object) -> httpx.Response:
    return api.post("/api/v1/runs", headers=headers, params={"project": "prism", "build": "42"}, **kwargs)  # type: ignore[arg-type]


def test_multipart_and_raw_uploads_store_runs_and_duplicates_are_a_no_op(
    api: httpx.Client, world: World
) -> None:
    headers = world.callers["api_token"].headers
    first = junit_xml([("a.A", "test_one", "passed"), ("a.A", "test_two", "failed")])
    second = gzip.compress(junit_xml([("b.B", "test_three", "error")], suite="b").encode())
    response = _upload(
        api,
        headers,
        files=[
            ("file", ("reports/TEST-a.xml", io.BytesIO(first.encode()), "application/xml")),
            ("file", ("TEST-b.xml.gz", io.BytesIO(second), "application/gzip")),
        ],
    )
    assert response.status_code == 201, response.text
    run = response.json()["run"]
    assert run["totals"]["tests"] == 3 and run["totals"]["errors"] == 1
    assert sorted(source["path"] for source in run["sources"]) == ["TEST-b.xml.gz", "reports/TEST-a.xml"]
    triage = response.json()["triage"]  # the new run is triaged on upload (triage.auto_on_ingest)
    assert triage["run"] == run["id"] and triage["failures"] == 2

    # The same file again, as a raw body this time: already stored for the build.
    again = api.post(
        "/api/v1/runs",
        params={"project": "prism", "build": "42", "filename": "TEST-a.xml"},
        headers={**headers, "Content-Type": "application/xml"},
        content=first.encode(),
    )
    assert again.status_code == 200 and again.json()["created"] is False

    raw = api.post(
        "/api/v1/runs",
        params={"project": "prism", "build": "43", "filename": "results.xml.gz"},
        headers={**headers, "Content-Type": "application/gzip"},
        content=second,
    )
    assert raw.status_code == 201 and raw.json()["run"]["sources"][0]["path"] == "results.xml.gz"


def test_a_bad_file_is_refused_and_nothing_is_stored(api: httpx.Client, world: World) -> None:
    headers = world.callers["tester"].headers
    response = api.post(
        "/api/v1/runs",
        params={"project": "prism", "build": "7", "filename": "broken.xml"},
        headers={**headers, "Content-Type": "application/xml"},
        content=b"<testsuite><testcase name='x'>",
    )
    assert response.status_code == 422
    assert "broken.xml" in response.json()["error"]["message"]
    assert api.get("/api/v1/runs", headers=headers).json()["items"] == []
    assert not list((world.settings.data_dir / "tmp").glob("upload-*")), "spooled uploads are removed"


def test_uploads_over_the_limit_are_refused(settings: Settings, database: Database, world: World) -> None:
    small = settings.model_copy(
        update={"web": settings.web.model_copy(update={"max_upload_mb": 1, "max_body_kb": 4})}
    )
    headers = {**world.callers["api_token"].headers, "Content-Type": "application/xml"}
    big = b"<testsuite>" + b" " * (1024 * 1024 + 10) + b"</testsuite>"
    with (
        live_server(create_app(small, database=database, run_consumer=False)) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        declared = api.post(
            "/api/v1/runs", params={"project": "p", "build": "1"}, headers=headers, content=big
        )
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(20):
                yield b" " * 65536

        streamed = api.post(
            "/api/v1/runs", params={"project": "p", "build": "1"}, headers=headers, content=chunks()
        )
        assert streamed.status_code == 413
        json_body = api.post(
            "/api/v1/reports",
            headers=world.callers["admin"].headers,
            json={"name": "x" * 5000, "kind": "trend"},
        )
        assert json_body.status_code == 413


def test_results_are_keyset_paged_with_a_status_filter(api: httpx.Client, world: World) -> None:
    headers = world.callers["api_token"].headers
    cases = [("s.S", f"test_{index:02d}", "failed" if index % 2 else "passed") for index in range(25)]
    run = api.post(
        "/api/v1/runs",
        params={"project": "prism", "build": "9"},
        headers={**headers, "Content-Type": "application/xml"},
        content=junit_xml(cases).encode(),
    ).json()["run"]
    seen: list[str] = []
    ids: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"status": "failed", "limit": 5}
        if cursor is not None:
            params["after"] = cursor
        page = api.get(f"/api/v1/runs/{run['id']}/results", headers=headers, params=params).json()  # type: ignore[arg-type]
        seen.extend(item["name"] for item in page["items"])
        ids.extend(item["id"] for item in page["items"])
        assert all(item["status"] == "failed" for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"test_{index:02d}" for index in range(25) if index % 2]
    assert ids == sorted(set(ids))  # pages follow one another in id order, nothing twice
    too_many = api.get(f"/api/v1/runs/{run['id']}/results", headers=headers, params={"limit": 100_000})
    assert too_many.status_code == 422
    listed = api.get("/api/v1/runs", headers=headers, params={"project": "prism"}).json()
    assert [item["id"] for item in listed["items"]] == [run["id"]]


def test_rate_limits_answer_429_with_retry_after(
    settings: Settings, database: Database, world: World
) -> None:
    limited = settings.model_copy(
        update={
            "web": settings.web.model_copy(
                update={
                    "rate_limit_enabled": True,
                    "rate_limit_ip": RateLimit(per_minute=6, burst=3),
                    "rate_limit_token": RateLimit(per_minute=60, burst=2),
                }
            )
        }
    )
    with (
        live_server(create_app(limited, database=database, run_consumer=False)) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        answers = [api.get("/health") for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        assert answers[0].headers["X-RateLimit-Limit"] == "6"
        assert answers[0].headers["X-RateLimit-Remaining"] == "2"
        refused = answers[3]
        assert 1 <= int(refused.headers["Retry-After"]) <= 10
        assert refused.json()["error"]["code"] == "rate_limited"
        # Tokens have buckets of their own, independent of the address.
        token_headers = world.callers["api_token"].headers
        statuses = [api.get("/api/v1/runs", headers=token_headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_request_ids_and_metrics_by_route_template(api: httpx.Client, world: World) -> None:
    headers = world.callers["viewer"].headers
    answer = api.get("/api/v1/runs/12345", headers={**headers, "X-Request-ID": "ci-build-42.step-3"})
    assert answer.status_code == 404
    assert answer.headers["X-Request-ID"] == "ci-build-42.step-3"
    generated = api.get("/health").headers["X-Request-ID"]
    assert len(generated) == 32
    metrics = api.get("/metrics").text
    assert 'evidencehub_requests_total{method="GET",route="/api/v1/runs/{run_id}",status="404"}' in metrics
    assert "evidencehub_request_duration_seconds_bucket" in metrics
    assert "evidencehub_db_pool_connections" in metrics and "evidencehub_queue_depth" in metrics
    assert "/api/v1/runs/12345" not in metrics


def test_readiness_reports_each_check(api: httpx.Client) -> None:
    ready = api.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert set(body) == {"status", "timestamp", "checks"}
    assert set(body["checks"]) >= {"database", "queue", "disk", "memory"}
    assert body["status"] in ("ok", "degraded")
    live = api.get("/health").json()
    assert live["status"] == "ok" and live["checks"] == {}


def test_readiness_fails_when_the_queue_is_unreachable(settings: Settings, database: Database) -> None:
    broken = unreachable_queue(settings)
    with live_server(create_app(broken, database=database, run_consumer=False)) as server:
        ready = httpx.get(f"{server.url}/health/ready", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["status"] == "fail"
    assert ready.json()["checks"]["queue"]["status"] == "fail"
    assert ready.json()["checks"]["database"]["status"] == "ok"


def test_security_events_record_sign_ins_and_failures(api: httpx.Client, world: World) -> None:
    api.post("/api/v1/auth/login", json={"email": "viewer@acme.test", "password": "wrong guess!!"})
    _login(api, "viewer@acme.test")
    events = api.get("/api/v1/security-events", headers=world.callers["admin"].headers).json()["items"]
    kinds = [event["kind"] for event in events]
    assert "login" in kinds and "login_failed" in kinds
    failed = next(event for event in events if event["kind"] == "login_failed")
    assert failed["subject"] == "viewer@acme.test" and failed["details"]["reason"] == "wrong password"
    assert all(event["ip"] for event in events if event["kind"] == "login")
