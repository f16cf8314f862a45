"""The app factory: ``create_app(settings)`` wires services, middleware, error handlers and routers.

Adding a router is one line in :data:`evidencehub.web.routers.ROUTERS`; its routes
declare their paths in full (``API_PREFIX`` + …), so a route's ``path`` is its URL template.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from evidencehub import __version__
from evidencehub.auth.service import Authenticator
from evidencehub.auth.tokens import ensure_jwt_secret
from evidencehub.config import Settings
from evidencehub.db.session import Database, get_database
from evidencehub.ops.logging import get_logger
from evidencehub.web.deps import AppServices, Public, Require, refuse_nul_characters
from evidencehub.web.errors import install_error_handlers
from evidencehub.web.middleware import BodyLimitMiddleware, ObserveMiddleware
from evidencehub.web.ratelimit import RateLimiter
from evidencehub.web.routers import ROUTERS, api_routes
from evidencehub.web.routers.prefix import API_PREFIX

log = get_logger(__name__)

DESCRIPTION = """\
Test evidence per build: upload results, read runs and results, run reports.

Sign in with `POST /api/v1/auth/login`, send the access token as
`Authorization: Bearer <token>`, and renew it with `POST /api/v1/auth/refresh`
`{"refreshToken": …}` before it expires (15 minutes by default). CI pipelines
use API tokens (`ehp_…`) created by an admin. Each route states the permission
it needs (`x-required-permission`). Errors answer
`{"error": {"code", "message", "details"}}`.
"""


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    run_consumer: bool | None = None,
) -> FastAPI:
    """The evidencehub web application.

    ``run_consumer`` starts task-queue consumer threads with the app (default:
    when the queue is the embedded SQLite one and ``queue.consumer_threads`` > 0).
    """
    from evidencehub.tasks.queue import is_embedded

    database = database or get_database(settings)
    services = AppServices(
        settings=settings,
        database=database,
        authenticator=Authenticator(database, settings, ensure_jwt_secret(settings)),
        rate_limiter=RateLimiter(settings.web),
        ingest_turns=anyio.Lock() if database.dialect == "sqlite" else None,
    )
    consume = (
        run_consumer
        if run_consumer is not None
        else is_embedded(settings) and settings.queue.consumer_threads > 0
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        consumer = None
        if consume:
            from evidencehub.tasks.queue import start_consumer

            consumer = start_consumer(settings, max(1, settings.queue.consumer_threads))
            log.info("task queue consumer started", threads=settings.queue.consumer_threads)
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)

    app = FastAPI(
        title="evidencehub",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        dependencies=[Depends(refuse_nul_characters)],
    )
    app.state.services = services
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    document_access_rules(app)
    from evidencehub.web.pages import install_pages

    install_pages(app, settings)
    upload_routes = [route for route in api_routes() if (route.openapi_extra or {}).get("x-upload")]
    app.add_middleware(BodyLimitMiddleware, settings=settings.web, upload_routes=upload_routes)
    if settings.web.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.web.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
        )
    app.add_middleware(ObserveMiddleware)
    return app


def access_rule(route: APIRoute) -> Require | Public | None:
    """The access rule a route declares (found in its dependency tree), or None when it declares none."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, Require | Public):
            return dependant.call
        pending.extend(dependant.dependencies)
    return None


def document_access_rules(app: FastAPI) -> None:
    """Show each route's permission in the OpenAPI document, with the bearer security scheme."""
    for route in api_routes():
        rule = access_rule(route)
        extra: dict[str, Any] = dict(route.openapi_extra or {})
        if isinstance(rule, Require):
            extra["x-required-permission"] = rule.permission
            extra["security"] = [{"bearer": []}]
        elif isinstance(rule, Public):
            extra["x-public"] = True
            extra["security"] = []
        route.openapi_extra = extra
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "An access token from /auth/login, or an API token (ehp_…).",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
