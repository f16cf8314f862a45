"""Dashboard pages through the real app (TestClient): content, sign-in, RBAC, tenants, CSRF, empty states."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select

from evidencehub.auth.model import SecurityEvent
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.reports.model import ReportExecution
from evidencehub.triage.service import triage_report
from evidencehub.web import create_app
from evidencehub.web.pages.session import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from tests.support.dashboard import (
    Seeded,
    cluster_categories,
    csrf_of,
    post_decision,
    seed_dashboard,
    sign_in,
    submit_sign_in,
)
from tests.support.web import OTHER_TENANT_MARK, World, define_report, store_execution


@pytest.fixture
def app_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    app = create_app(settings, database=database, run_consumer=False)
    # https: the session cookies are Secure (only plain http to a loopback address relaxes that).
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def seeded(world: World, database: Database, settings: Settings) -> Seeded:
    return seed_dashboard(database, settings, world.slug("own"))


@pytest.fixture
def other(world: World, database: Database, settings: Settings) -> Seeded:
    return seed_dashboard(database, settings, world.slug("other"), key=f"{OTHER_TENANT_MARK}-shop")


def _signed_in(client: TestClient, role: str = "tester") -> TestClient:
    """Signed in as the World's member of this role (whoever was signed in before is signed out)."""
    client.cookies.clear()
    sign_in(client, f"{role}@acme.test")
    return client


# ---------------------------------------------------------------- sign-in and session


def test_pages_redirect_to_sign_in_and_back(app_client: TestClient, world: World) -> None:
    response = app_client.get("/projects/1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fprojects%2F1"
    page = app_client.get(response.headers["location"])
    assert 'name="next" value="/projects/1"' in page.text
    assert 'for="email"' in page.text and 'for="password"' in page.text


def test_sign_in_sets_strict_httponly_secure_cookies(app_client: TestClient, world: World) -> None:
    response = submit_sign_in(app_client, "viewer@acme.test")
    assert response.status_code == 303 and response.headers["location"] == "/projects"
    cookies = response.headers.get_list("set-cookie")
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        cookie = next(value for value in cookies if value.startswith(f"{name}="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    home = app_client.get("/projects")
    assert home.status_code == 200 and "viewer@acme.test" in home.text


def test_wrong_password_is_shown_in_place(app_client: TestClient, world: World) -> None:
    response = submit_sign_in(app_client, "viewer@acme.test", "wrong")
    assert response.status_code == 401
    assert "Invalid credentials" in response.text and 'role="alert"' in response.text
    assert 'value="viewer@acme.test"' in response.text


def test_sign_in_never_redirects_off_site(app_client: TestClient, world: World) -> None:
    response = submit_sign_in(
        app_client, "viewer@acme.test", page_url="/login?next=//evil.example/x", next="//evil.example/x"
    )
    assert response.headers["location"] == "/projects"


def test_an_expired_access_token_is_refreshed_from_the_refresh_cookie(
    app_client: TestClient, world: World
) -> None:
    _signed_in(app_client, "viewer")
    refresh_before = app_client.cookies.get(REFRESH_COOKIE)
    refresh_cookie = app_client.cookies.get(REFRESH_COOKIE) or ""
    app_client.cookies.clear()  # the browser lost its access token: only the refresh token is left
    app_client.cookies.set(REFRESH_COOKIE, refresh_cookie)
    response = app_client.get("/projects")
    assert response.status_code == 200
    new_cookies = response.headers.get_list("set-cookie")
    rotated = next(value for value in new_cookies if value.startswith(f"{REFRESH_COOKIE}="))
    assert refresh_before and refresh_before not in rotated  # the auth service rotated the refresh token
    assert any(value.startswith(f"{ACCESS_COOKIE}=") for value in new_cookies)


def test_sign_out_revokes_the_session(app_client: TestClient, world: World) -> None:
    _signed_in(app_client, "viewer")
    page = app_client.get("/projects")
    refresh = app_client.cookies.get(REFRESH_COOKIE)
    response = app_client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    # The old refresh token no longer signs anyone in.
    app_client.cookies.clear()
    app_client.cookies.set(REFRESH_COOKIE, refresh or "")
    assert app_client.get("/projects", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------- CSRF


def test_form_posts_without_a_matching_csrf_token_are_rejected(
    app_client: TestClient, world: World, seeded: Seeded
) -> None:
    _signed_in(app_client)
    before = cluster_categories(world.database, seeded.run_id)
    cluster = next(key for key, category in before.items() if category != "no_defect")
    form = {"scope": "cluster", "target": cluster, "category": "no_defect"}
    missing = post_decision(app_client, seeded.run_id, None, **form)
    forged = post_decision(app_client, seeded.run_id, "0" * 64, **form)
    login = app_client.post("/login", data={"email": "viewer@acme.test", "password": "x"})
    for response in (missing, forged, login):
        assert response.status_code == 403
        assert "security token" in response.text and "Traceback" not in response.text
    assert cluster_categories(world.database, seeded.run_id) == before
    assert app_client.cookies.get(CSRF_COOKIE)


# ---------------------------------------------------------------- pages with content


def test_projects_project_build_pages(app_client: TestClient, world: World, seeded: Seeded) -> None:
    _signed_in(app_client, "viewer")
    projects = app_client.get("/projects")
    assert f'href="/projects/{seeded.project_id}"' in projects.text
    project = app_client.get(f"/projects/{seeded.project_id}")
    assert project.status_code == 200
    assert project.text.count('<svg class="chart"') == 2
    assert "build 2026.11.4: 1 passed, 4 failed, 1 skipped" in project.text  # test_flip failed on night 4
    assert "build 2026.11.3: 2 passed, 3 failed, 1 skipped" in project.text
    assert f'href="/builds/{seeded.build_ids[-1]}"' in project.text
    assert (
        "Content-Security-Policy" in project.headers
        and "script-src 'self'" in project.headers["content-security-policy"]
    )
    build = app_client.get(f"/builds/{seeded.build_ids[-1]}")
    assert f'href="/runs/{seeded.run_id}"' in build.text
    assert '<time datetime="' in build.text and 'Z"' in build.text


def test_run_page_groups_failures_by_category_and_cluster(
    app_client: TestClient, world: World, seeded: Seeded
) -> None:
    _signed_in(app_client, "viewer")
    page = app_client.get(f"/runs/{seeded.run_id}")
    assert page.status_code == 200
    clusters = cluster_categories(world.database, seeded.run_id)
    assert len(clusters) >= 2
    for key in clusters:
        assert f'data-cluster="{key}"' in page.text
    assert "test_refund" in page.text and "Traceback" in page.text  # the error's trace is shown
    assert 'class="sparkline"' in page.text
    assert "Decide cluster" not in page.text  # a viewer may not decide
    assert (
        f'href="/builds/{seeded.build_ids[-1]}"' in page.text
        and f'href="/projects/{seeded.project_id}"' in page.text
    )
    results = app_client.get(f"/runs/{seeded.run_id}/results?status=failed")
    assert "test_total" in results.text and "test_add" not in results.text


def test_a_tester_decides_a_cluster_and_it_is_audited(
    app_client: TestClient, world: World, seeded: Seeded
) -> None:
    _signed_in(app_client, "tester")
    page = app_client.get(f"/runs/{seeded.run_id}")
    assert "Decide cluster" in page.text
    cluster = next(
        key
        for key, category in cluster_categories(world.database, seeded.run_id).items()
        if category != "product_bug"
    )
    response = post_decision(
        app_client,
        seeded.run_id,
        csrf_of(page.text),
        scope="cluster",
        target=cluster,
        category="product_bug",
        issue="SHOP-42",
        anchor="x",
        htmx=True,
    )
    assert response.status_code == 200
    assert 'id="triage"' in response.text and "<html" not in response.text  # the fragment, swapped in place
    assert f"cluster {cluster}" in response.text and "decided product bug" in response.text
    assert cluster_categories(world.database, seeded.run_id)[cluster] == "product_bug"
    with world.database.session() as session:
        event = session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "triage_decision")).one()
        assert event.details["category"] == "product_bug" and event.details["issue"] == "SHOP-42"
        assert event.organization_id == world.org_ids["own"]


def test_deciding_one_failure_without_script_redirects_back(
    app_client: TestClient, world: World, seeded: Seeded
) -> None:
    _signed_in(app_client, "tester")
    page = app_client.get(f"/runs/{seeded.run_id}")
    with world.database.session() as session:
        failure = next(
            item for item in triage_report(session, seeded.run_id).failures if item.name == "test_refund"
        )
    response = post_decision(
        app_client,
        seeded.run_id,
        csrf_of(page.text),
        scope="failure",
        target=str(failure.id),
        category="system_issue",
        anchor="here",
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/runs/{seeded.run_id}?page=1#here"
    with world.database.session() as session:
        decided = next(
            item for item in triage_report(session, seeded.run_id).failures if item.id == failure.id
        )
    assert decided.category.value == "system_issue" and decided.decided_by == "tester@acme.test"
    other_run_failure = post_decision(
        app_client,
        seeded.run_ids[0],
        csrf_of(page.text),
        scope="failure",
        target=str(failure.id),
        category="no_defect",
    )
    assert other_run_failure.status_code == 404  # a failure is decided from its own run's page


def test_a_bad_category_is_shown_in_place(app_client: TestClient, world: World, seeded: Seeded) -> None:
    _signed_in(app_client, "tester")
    page = app_client.get(f"/runs/{seeded.run_id}")
    cluster = next(iter(cluster_categories(world.database, seeded.run_id)))
    response = post_decision(
        app_client, seeded.run_id, csrf_of(page.text), scope="cluster", target=cluster, category="cosmic_rays"
    )
    assert response.status_code == 422
    assert "unknown category" in response.text and 'role="alert"' in response.text


def test_a_viewer_may_not_decide(app_client: TestClient, world: World, seeded: Seeded) -> None:
    _signed_in(app_client, "viewer")
    page = app_client.get(f"/runs/{seeded.run_id}")
    cluster = next(iter(cluster_categories(world.database, seeded.run_id)))
    before = cluster_categories(world.database, seeded.run_id)[cluster]
    response = post_decision(
        app_client, seeded.run_id, csrf_of(page.text), scope="cluster", target=cluster, category="no_defect"
    )
    assert response.status_code == 403 and "triage:decide" in response.text
    assert cluster_categories(world.database, seeded.run_id)[cluster] == before


def test_flaky_page_ranks_the_flipping_test(app_client: TestClient, world: World, seeded: Seeded) -> None:
    _signed_in(app_client, "viewer")
    page = app_client.get(f"/projects/{seeded.project_id}/flaky")
    assert page.status_code == 200
    assert "test_flip" in page.text and "test_total" not in page.text
    assert "flip history of test_flip" in page.text
    assert '<span class="key error"></span>error' in page.text  # the legend names every colour of the squares


def test_audit_pages_in_english_and_hebrew(app_client: TestClient, world: World, seeded: Seeded) -> None:
    _signed_in(app_client, "viewer")
    listing = app_client.get("/audit")
    assert f'href="/audit/{seeded.audit_report_id}?lang=en"' in listing.text
    english = app_client.get(f"/audit/{seeded.audit_report_id}?ticket=PZ-13602")
    assert english.status_code == 200
    assert 'dir="ltr"' in english.text and "Most often missing" in english.text
    assert 'id="template-text"' in english.text
    hebrew = app_client.get(f"/audit/{seeded.audit_report_id}?lang=he&ticket=PZ-13602")
    assert '<main id="main" tabindex="-1" lang="he" dir="rtl">' in hebrew.text
    assert "חסר" in hebrew.text
    missing = app_client.get(f"/audit/{seeded.audit_report_id}?ticket=NOPE-1")
    assert missing.status_code == 404 and "NOPE-1" in missing.text


def test_reports_page_lists_executions_with_download_links(
    app_client: TestClient, world: World, database: Database
) -> None:
    definition_id = define_report(database, world.org_ids["own"], "nightly evidence")
    pdf = b"%PDF-1.4 pretend"
    execution_id = store_execution(database, world.org_ids["own"], definition_id, "pdf", pdf)
    _signed_in(app_client, "viewer")
    page = app_client.get("/reports")
    link = f"/reports/{definition_id}/executions/{execution_id}/download?format=pdf"
    assert link in page.text and "nightly evidence" in page.text
    assert "Run now" not in page.text  # viewers cannot start executions
    download = app_client.get(link)
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-disposition"].startswith("attachment;")
    assert app_client.get(link.replace("format=pdf", "format=html")).status_code == 404


def test_a_tester_creates_a_report_and_sees_errors_in_place(app_client: TestClient, world: World) -> None:
    _signed_in(app_client, "tester")
    page = app_client.get("/reports")
    token = csrf_of(page.text)
    bad = app_client.post("/reports", data={"name": "", "kind": "evidence", "csrf_token": token})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    good = app_client.post(
        "/reports", data={"name": "weekly", "kind": "trend", "project": "shop", "csrf_token": token}
    )
    assert good.status_code == 200 and "weekly" in good.text and "project shop" in good.text


def test_run_now_queues_an_execution_and_counts_it_like_the_api(
    app_client: TestClient, world: World, database: Database
) -> None:
    definition_id = define_report(database, world.org_ids["own"], "on demand")
    _signed_in(app_client, "tester")
    page = app_client.get("/reports")
    assert f"/reports/{definition_id}/run" in page.text
    before = REGISTRY.get_sample_value("evidencehub_report_executions_total", {"status": "queued"}) or 0.0
    ran = app_client.post(
        f"/reports/{definition_id}/run", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert ran.status_code == 303
    after = REGISTRY.get_sample_value("evidencehub_report_executions_total", {"status": "queued"})
    assert after == before + 1
    with database.session() as session:
        executions = session.scalars(
            select(ReportExecution).where(ReportExecution.definition_id == definition_id)
        ).all()
    assert len(executions) == 1 and executions[0].requested_by is not None


# ---------------------------------------------------------------- tenants and empty states


def test_another_organizations_objects_are_not_found(
    app_client: TestClient, world: World, seeded: Seeded, other: Seeded
) -> None:
    _signed_in(app_client, "admin")
    for url in (
        f"/projects/{other.project_id}",
        f"/projects/{other.project_id}/flaky",
        f"/builds/{other.build_ids[0]}",
        f"/runs/{other.run_id}",
        f"/runs/{other.run_id}/results",
        f"/audit/{other.audit_report_id}",
    ):
        response = app_client.get(url)
        assert response.status_code == 404, url
        assert OTHER_TENANT_MARK not in response.text and "<html" in response.text
    page = app_client.get(f"/runs/{seeded.run_id}")
    cluster = next(iter(cluster_categories(world.database, other.run_id)))
    decided = post_decision(
        app_client, other.run_id, csrf_of(page.text), scope="cluster", target=cluster, category="no_defect"
    )
    assert decided.status_code == 404
    listing = app_client.get("/projects")
    assert OTHER_TENANT_MARK not in listing.text
    assert OTHER_TENANT_MARK not in app_client.get("/audit").text


def test_empty_states_say_what_to_do(app_client: TestClient, world: World) -> None:
    _signed_in(app_client, "viewer")
    assert "evidencehub ingest" in app_client.get("/projects").text
    assert "evidencehub audit" in app_client.get("/audit").text
    assert "no reports defined yet" in app_client.get("/reports").text


def test_unknown_pages_and_bad_input_are_pages_not_traces(app_client: TestClient, world: World) -> None:
    _signed_in(app_client, "viewer")
    missing = app_client.get("/no/such/page")
    assert missing.status_code == 404 and "<html" in missing.text and "there is no page" in missing.text
    bad = app_client.get("/runs/not-a-number")
    assert bad.status_code == 422 and "<html" in bad.text
    api = app_client.get("/api/v1/nothing")
    assert api.json()["error"]["code"] == "not_found"  # the API keeps its JSON errors


def test_static_assets_are_served_from_the_package(app_client: TestClient) -> None:
    for name in ("htmx.min.js", "time.js", "app.js", "app.css"):
        response = app_client.get(f"/static/{name}")
        assert response.status_code == 200 and len(response.content) > 100, name


# ---------------------------------------------------------------- promotions


def _request_promotion(client: TestClient, seeded: Seeded, **extra: str) -> Any:
    page = client.get("/promotions")
    form = {"project": seeded.project_key, "release": "2026.11", "build": "2026.11.4", "reason": "go live"}
    return client.post(
        "/promotions", data={**form, **extra, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )


def test_promotions_request_show_and_cancel_with_confirmation(
    app_client: TestClient, world: World, seeded: Seeded
) -> None:
    _signed_in(app_client, "release_manager")
    empty = app_client.get("/promotions")
    assert "no promotions yet" in empty.text and "evidencehub promote request" in empty.text
    response = _request_promotion(app_client, seeded)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.endswith("?tab=octane")
    page = app_client.get(location)
    assert page.status_code == 200
    assert 'id="octane-tab"' in page.text and 'hx-trigger="every 2s"' in page.text  # live while active
    assert "requested" in page.text and "evidence-shop-2026.11-2026.11.4-p" in page.text
    assert "<dt>Reason</dt><dd>go live</dd>" in page.text  # its own row, not run into the requester
    promotion_id = int(location.split("/")[2].split("?")[0])
    fragment = app_client.get(f"/promotions/{promotion_id}/octane", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="octane-tab"')
    again = _request_promotion(app_client, seeded)
    assert again.status_code == 409 and "already has an active promotion" in again.text

    confirm = app_client.get(f"/promotions/{promotion_id}/cancel")
    assert "Cancel promotion" in confirm.text and "Yes, cancel the promotion" in confirm.text
    forged = app_client.post(f"/promotions/{promotion_id}/cancel", data={"csrf_token": "f" * 64})
    assert forged.status_code == 403
    done = app_client.post(
        f"/promotions/{promotion_id}/cancel",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = app_client.get(done.headers["location"])
    assert "cancel requested: the promotion is cancelled" in shown.text
    assert 'hx-trigger="every 2s"' not in shown.text  # finished: no more polling
    history = app_client.get(f"/promotions/{promotion_id}?tab=overview")
    assert "requested → cancelled" in history.text
    with world.database.session() as session:
        kinds = set(session.scalars(select(SecurityEvent.kind)).all())
    assert {"promotion_requested", "promotion_cancelled"} <= kinds


def test_promotions_pages_keep_the_state_filter_on_the_first_page_link(
    app_client: TestClient, world: World, seeded: Seeded
) -> None:
    _signed_in(app_client, "release_manager")
    requested = _request_promotion(app_client, seeded)
    promotion_id = int(requested.headers["location"].split("/")[2].split("?")[0])
    later = promotion_id + 1  # a later page's cursor: this promotion is on it
    filtered = app_client.get(f"/promotions?state=requested&before={later}")
    assert f'href="/promotions/{promotion_id}"' in filtered.text
    assert 'href="/promotions?state=requested">« First page' in filtered.text
    unfiltered = app_client.get(f"/promotions?before={later}")
    assert 'href="/promotions">« First page' in unfiltered.text


def test_promotion_errors_and_permissions(
    app_client: TestClient, world: World, seeded: Seeded, other: Seeded
) -> None:
    _signed_in(app_client, "tester")
    page = app_client.get("/promotions")
    assert "Request a promotion" not in page.text  # testers may not request
    refused = _request_promotion(app_client, seeded)
    assert refused.status_code == 403 and "promotions:request" in refused.text
    _signed_in(app_client, "admin")
    unknown = _request_promotion(app_client, seeded, build="no-such-build")
    assert (
        unknown.status_code == 404
        and 'role="alert"' in unknown.text
        and 'value="no-such-build"' in unknown.text
    )
    blank = _request_promotion(app_client, seeded, release=" ")
    assert blank.status_code == 422
    created = _request_promotion(app_client, seeded)
    promotion_id = int(created.headers["location"].split("/")[2].split("?")[0])
    _signed_in(app_client, "viewer")
    assert "Cancel promotion" not in app_client.get(f"/promotions/{promotion_id}").text
    assert app_client.get(f"/promotions/{promotion_id}/cancel").status_code == 403
    # The other organization's build cannot be promoted, and its promotions are not found.
    _signed_in(app_client, "admin")
    foreign = _request_promotion(app_client, other, build="2026.11.4")
    assert foreign.status_code == 404
    assert app_client.get("/promotions/999999").status_code == 404


def test_pages_spend_the_users_rate_limit(
    app_client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed_in(app_client, "viewer")
    limiter = app_client.app.state.services.rate_limiter  # type: ignore[attr-defined]
    spent: list[tuple[str, str]] = []
    monkeypatch.setattr(limiter, "enabled", True)
    monkeypatch.setattr(limiter, "hit", lambda kind, key: spent.append((kind, key)) or _Allowed())
    assert app_client.get("/projects").status_code == 200
    assert ("user", "user:" + str(_user_id(world, "viewer@acme.test"))) in spent


class _Allowed:
    allowed = True

    def headers(self) -> dict[str, str]:
        return {}


def _user_id(world: World, email: str) -> int:
    from evidencehub.auth.model import User

    with world.database.session() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()
