"""Sign-in: login, refresh (rotating), logout, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from evidencehub.auth.schemas import LoginRequest, PrincipalOut, RefreshRequest, TokenPair
from evidencehub.auth.service import Principal
from evidencehub.web.deps import AUTHENTICATED, Services, client_address, public, require
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])

_AUTH_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "token_invalid, token_expired, token_missing or bearer_missing"}
}


@router.post(
    "/login",
    dependencies=[Depends(public)],
    response_model=TokenPair,
    response_model_by_alias=True,
    responses={401: {"description": "Invalid credentials"}},
)
async def login(body: LoginRequest, request: Request, app: Services) -> TokenPair:
    """An access token (15 minutes by default) and a refresh token for an email and password."""
    # Password hashing is deliberately slow: keep it off the event loop.
    return await run_in_threadpool(
        app.authenticator.login, body.email, body.password, body.organization, ip=client_address(request)
    )


@router.post(
    "/refresh",
    dependencies=[Depends(public)],
    response_model=TokenPair,
    response_model_by_alias=True,
    responses=_AUTH_ERRORS,
)
def refresh(body: RefreshRequest, request: Request, app: Services) -> TokenPair:
    """Spend a refresh token for a new access token and refresh token.

    A refresh token works once: presenting a spent one signs out every session
    of its sign-in (it was probably stolen).
    """
    return app.authenticator.refresh(body.refresh_token, ip=client_address(request))


@router.post("/logout", dependencies=[Depends(public)], status_code=204, responses=_AUTH_ERRORS)
def logout(body: RefreshRequest, request: Request, app: Services) -> Response:
    """Revoke the sign-in of this refresh token (its access tokens expire on their own soon)."""
    app.authenticator.logout(body.refresh_token, ip=client_address(request))
    return Response(status_code=204)


@router.get("/me", response_model=PrincipalOut, responses=_AUTH_ERRORS)
def me(principal: Annotated[Principal, Depends(require(AUTHENTICATED))]) -> PrincipalOut:
    """Who the credentials belong to, in which organization, with which permissions."""
    return PrincipalOut(
        kind=principal.kind,
        user_id=principal.user_id,
        api_token_id=principal.api_token_id,
        name=principal.name,
        organization=principal.organization,
        role=principal.role,
        permissions=sorted(principal.permissions),
    )
