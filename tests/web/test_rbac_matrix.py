"""Every route × every role (and an API token) × own/other organization, generated from the routes.

Each route declares its access rule (``require(permission)`` or ``public``); this
matrix reads it and checks that callers without the permission get 403, callers
with it are served in their own organization and get 404 for the other
organization's objects, and that nothing of the other organization ever shows.
A new router is covered with no edit here: at most a factory in
``tests/support/web.World.factories`` for a new path parameter, and a body in
``BODIES`` when its requests need one to pass validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from evidencehub.web.app import access_rule
from evidencehub.web.deps import AUTHENTICATED, Public, Require
from evidencehub.web.routers import api_routes
from tests.support.junit import junit_xml
from tests.support.web import MARKDOWN_TEST_CASE, OTHER_TENANT_MARK, World

# The only routes anyone may call without credentials. Adding one here is a security decision.
PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
}

Request = dict[str, Any]

# Request bodies (and query strings) that pass validation, so the outcome shows authorization alone.
BODIES: dict[tuple[str, str], Callable[[World], Request]] = {
    ("POST", "/api/v1/users"): lambda world: {"json": {"email": f"{world.unique('own', 'new')}@acme.test"}},
    ("PATCH", "/api/v1/users/{user_id}"): lambda _world: {"json": {"name": "Renamed"}},
    ("POST", "/api/v1/tokens"): lambda _world: {"json": {"name": "ci"}},
    ("POST", "/api/v1/reports"): lambda _world: {"json": {"name": "weekly", "kind": "evidence"}},
    ("PATCH", "/api/v1/organization"): lambda _world: {"json": {"name": "ACME"}},
    ("POST", "/api/v1/promotions"): lambda world: {"json": world.promotion_body("own")},
    ("POST", "/api/v1/audit"): lambda _world: {
        "params": {"filename": "cases.md"},
        "content": MARKDOWN_TEST_CASE.encode(),
        "headers": {"Content-Type": "text/markdown"},
    },
    ("POST", "/api/v1/failures/{failure_id}/decision"): lambda _world: {
        "json": {"category": "product_bug", "issue": "PRISM-1", "comment": "matrix"}
    },
    ("POST", "/api/v1/runs/{run_id}/triage/clusters/{cluster_key}/decision"): lambda _world: {
        "json": {"category": "system_issue"}
    },
    ("POST", "/api/v1/runs"): lambda world: {
        "params": {"project": "matrix", "build": world.unique("own", "b")},
        "content": junit_xml([("a.B", "test_one", "passed")]).encode(),
        "headers": {"Content-Type": "application/xml"},
    },
}


def _route_id(route: APIRoute) -> str:
    return f"{sorted(route.methods)[0]} {route.path}"


ROUTES = [(method, route) for route in api_routes() for method in sorted(route.methods)]


def test_every_route_declares_an_access_rule() -> None:
    undeclared = [_route_id(route) for _method, route in ROUTES if access_rule(route) is None]
    assert undeclared == [], f"routes without require(...) or public: {undeclared}"


def test_only_the_listed_routes_are_public() -> None:
    public = {(method, route.path) for method, route in ROUTES if isinstance(access_rule(route), Public)}
    assert public == PUBLIC_ROUTES


def _path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _resolve(world: World, path: str, org: str) -> str:
    params: dict[str, int | str] = {}
    factories = world.factories()
    for name in _path_params(path):
        factory = factories.get(name)
        assert factory is not None, f"no factory for path parameter {{{name}}}: add one to World.factories"
        params.update(factory(org))
    return path.format(**params)


@pytest.mark.parametrize(
    ("method", "route"),
    [(method, route) for method, route in ROUTES if isinstance(access_rule(route), Require)],
    ids=[f"{method} {route.path}" for method, route in ROUTES if isinstance(access_rule(route), Require)],
)
def test_route_across_roles_and_tenants(
    client: TestClient, world: World, method: str, route: APIRoute
) -> None:
    rule = access_rule(route)
    assert isinstance(rule, Require)
    orgs = ["own", "other"] if _path_params(route.path) else ["own"]
    body_factory = BODIES.get((method, route.path))
    for caller in world.callers.values():
        allowed = rule.permission == AUTHENTICATED or rule.permission in caller.permissions
        for org in orgs:
            url = _resolve(world, route.path, org)
            request = body_factory(world) if body_factory else {}
            headers = {**caller.headers, **request.pop("headers", {})}
            response = client.request(method, url, headers=headers, **request)
            where = f"{caller.name} {method} {url} ({org}) → {response.status_code} {response.text[:300]}"
            assert response.status_code < 500, where
            if not allowed:
                assert response.status_code == 403, where
                assert response.json()["error"]["code"] == "insufficient_permissions", where
                continue
            assert response.status_code not in (401, 403), where
            if org == "other":
                assert response.status_code == 404, where
                assert response.json()["error"]["code"] == "not_found", where
            else:
                assert response.status_code not in (404, 422), where
                assert OTHER_TENANT_MARK not in response.text, where


def test_lists_never_show_another_organization(client: TestClient, world: World) -> None:
    """The other organization has objects of every kind; no list of ours mentions them."""
    for factory in world.factories().values():
        factory("other")
    admin = world.callers["admin"]
    for method, route in ROUTES:
        if method != "GET" or _path_params(route.path) or not isinstance(access_rule(route), Require):
            continue
        response = client.get(route.path, headers=admin.headers)
        assert response.status_code == 200, f"{route.path}: {response.status_code} {response.text[:200]}"
        assert OTHER_TENANT_MARK not in response.text, route.path
