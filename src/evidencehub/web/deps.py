"""Dependencies of every router: the app's services, a database session, who is calling, permissions.

Every route declares exactly one access rule, which the RBAC × tenant test
matrix reads from the route's dependencies:

* ``Depends(require("results:read"))`` — signed in (user or API token) with the permission;
  it returns the :class:`Principal`, whose ``organization_id`` scopes every query;
* ``Depends(require(AUTHENTICATED))`` — signed in, any permission;
* ``Depends(public)`` — no credentials (health, metrics, sign-in).

Both kinds also apply the rate limits: per user or token when signed in, per
client address otherwise (failed authentications included).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import anyio
from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from evidencehub.auth.audit import EventOrigin
from evidencehub.auth.service import Authenticator, Principal
from evidencehub.auth.tokens import bearer_token
from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import AuthenticationError, InputError, PermissionDeniedError, RateLimitedError
from evidencehub.ops.metrics import RATE_LIMITED
from evidencehub.web.ratelimit import RateLimiter

AUTHENTICATED = "authenticated"


@dataclass
class AppServices:
    """What the routers need, built once by create_app and kept on ``app.state.services``."""

    settings: Settings
    database: Database
    authenticator: Authenticator
    rate_limiter: RateLimiter
    # SQLite has one writer at a time: uploads take turns here, on the event loop, instead of
    # each holding a pooled connection and a worker thread while waiting for the file lock.
    ingest_turns: anyio.Lock | None = None


def services(request: Request) -> AppServices:
    value: AppServices = request.app.state.services
    return value


Services = Annotated[AppServices, Depends(services)]


def db_session(request: Request) -> Iterator[Session]:
    """A unit of work for the request: committed when the endpoint returns, rolled back on error."""
    with services(request).database.session() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session, scope="function")]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def event_origin(request: Request, principal: Principal) -> EventOrigin:
    """Who acts, for which organization and from where: what a service records in the security log."""
    return EventOrigin(
        organization_id=principal.organization_id,
        user_id=principal.user_id,
        api_token_id=principal.api_token_id,
        ip=client_address(request),
    )


def _limit(request: Request, kind: str, key: str) -> None:
    limiter = services(request).rate_limiter
    if not limiter.enabled:
        return
    decision = limiter.hit(kind, key)
    request.state.rate_limit_headers = decision.headers()
    if not decision.allowed:
        RATE_LIMITED.labels(kind=kind).inc()
        raise RateLimitedError(
            f"too many requests for this {'address' if kind == 'ip' else kind}: "
            f"{decision.limit} a minute (bursts of {decision.burst}); "
            f"retry in {decision.retry_after_seconds:.1f} s",
            retry_after=decision.retry_after_seconds,
            details={"limit_per_minute": decision.limit, "burst": decision.burst},
        )


# Public name for other request handlers (the dashboard's pages) that spend the same budgets.
rate_limit = _limit


class Require:
    """The dependency ``require(permission)`` returns; the matrix test reads ``.permission``."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"require({self.permission!r})"

    def __call__(self, request: Request) -> Principal:
        principal = current_principal(request)
        if self.permission != AUTHENTICATED and self.permission not in principal.permissions:
            raise PermissionDeniedError(
                f"Insufficient Permissions: this needs '{self.permission}'"
                + (
                    f" (your role is {principal.role.value})"
                    if principal.role
                    else " (not in the API token's scopes)"
                ),
                details={"required": self.permission},
            )
        return principal


def require(permission: str) -> Require:
    """The access rule "signed in with this permission" (or AUTHENTICATED for any signed-in caller)."""
    return Require(permission)


def current_principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    app_services = services(request)
    try:
        token = bearer_token(request.headers.get("authorization"))
        with app_services.database.session() as session:
            principal = app_services.authenticator.authenticate(session, token)
    except AuthenticationError:
        _limit(request, "ip", client_address(request))  # guessing tokens costs the address
        raise
    _limit(request, "user" if principal.kind == "user" else "token", principal.rate_key)
    request.state.principal = principal
    return principal


class Public:
    """The access rule "no credentials needed"; rate-limited per client address."""

    def __repr__(self) -> str:
        return "public"

    def __call__(self, request: Request) -> None:
        _limit(request, "ip", client_address(request))


public = Public()


def page_limit(
    request: Request, limit: Annotated[int | None, Query(ge=1, description="Items per page.")] = None
) -> int:
    """The page size asked for, within the configured maximum (the default when not asked)."""
    web = services(request).settings.web
    if limit is None:
        return web.default_page_size
    if limit > web.max_page_size:
        raise InputError(
            f"limit must be at most {web.max_page_size}",
            details={"parameter": "limit", "max": web.max_page_size},
        )
    return limit


PageLimit = Annotated[int, Depends(page_limit)]


def refuse_nul_characters(request: Request) -> None:
    """No query or path parameter may hold a NUL character: no text column can store one.

    Applied to every route by the app factory, so such input is bad input (422)
    on every route instead of a database error on some.
    """
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if "\x00" in name or "\x00" in str(value):
            raise InputError(
                f"parameter '{name.replace(chr(0), '')}' holds a NUL character",
                details={"parameter": name.replace("\x00", "")},
            )
