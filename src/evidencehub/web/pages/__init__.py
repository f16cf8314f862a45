"""The dashboard: server-rendered pages (Jinja2 + vendored htmx) over the domain services.

One module per page group; :func:`install_pages` adds their routes, the static
files and the page error handling to the app. Page routes are not part of the
API (not in the OpenAPI document, not in :data:`evidencehub.web.routers.ROUTERS`);
each one declares its access rule with ``SignedIn`` / ``allowed(permission)``
and checks the CSRF token on every POST.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from evidencehub.auth.tokens import ensure_jwt_secret
from evidencehub.config import Settings
from evidencehub.web.pages import audit, browse, flaky, promotions, reports, runs, signin
from evidencehub.web.pages.errors import install_page_errors
from evidencehub.web.pages.session import derive_csrf_key

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

PAGE_ROUTERS: list[APIRouter] = [
    signin.router,
    browse.router,
    runs.router,
    flaky.router,
    audit.router,
    reports.router,
    promotions.router,
]


def install_pages(app: FastAPI, settings: Settings) -> None:
    app.state.csrf_key = derive_csrf_key(ensure_jwt_secret(settings))
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_page_errors(app)
