"""Every router of the API, with its prefix: adding a router is one line here.

A router module holds ``router = APIRouter(prefix=f"{API_PREFIX}/things", tags=[…])``
(the full prefix, so every route's ``path`` is its public URL template) whose
routes each declare one access rule (``Depends(require("perm"))`` or ``Depends(public)``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from evidencehub.web.routers import (
    audit,
    auth,
    health,
    organization,
    projects,
    promotions,
    reports,
    runs,
    security,
    tokens,
    triage,
    users,
)

ROUTERS: list[APIRouter] = [
    health.router,  # /health, /health/ready, /metrics: where probes and scrapers expect them
    auth.router,
    organization.router,
    users.router,
    tokens.router,
    projects.router,
    runs.router,
    triage.router,
    audit.router,
    reports.router,
    promotions.router,
    security.router,
]


def api_routes() -> list[APIRoute]:
    """Every API route of every router (the RBAC × tenant matrix walks these)."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
