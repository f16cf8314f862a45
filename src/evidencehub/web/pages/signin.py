"""Sign-in and sign-out pages: the auth service's login, kept in session cookies."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from evidencehub.errors import AuthenticationError, EvidenceHubError
from evidencehub.web.deps import client_address, public, services
from evidencehub.web.pages.render import finish, redirect, render
from evidencehub.web.pages.session import (
    REFRESH_COOKIE,
    CsrfChecked,
    SignInRequiredError,
    clear_session,
    page_principal,
    set_session,
)

router = APIRouter(include_in_schema=False)
HOME = "/projects"


def safe_next(target: str | None) -> str:
    """Only a path on this site is followed after sign-in (never ``//host`` or ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return HOME
    return target


@router.get("/")
def home(request: Request) -> Response:
    return redirect(request, HOME)


@router.get("/login", dependencies=[Depends(public)])
def login_page(request: Request, next: str | None = None) -> Response:
    try:
        page_principal(request)
        return redirect(request, safe_next(next))
    except SignInRequiredError:
        pass
    return render(request, "login.html.j2", next=safe_next(next), error=None, email="", organization="")


@router.post("/login", dependencies=[Depends(public), CsrfChecked])
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    organization: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    app = services(request)
    error = None
    if not email.strip() or not password:
        error = "enter your email and password"
    else:
        try:
            # Password hashing is deliberately slow: keep it off the event loop.
            pair = await run_in_threadpool(
                app.authenticator.login,
                email,
                password,
                organization.strip() or None,
                ip=client_address(request),
            )
        except AuthenticationError as exc:
            error = exc.message
    if error is not None:
        return render(
            request,
            "login.html.j2",
            status_code=401 if email.strip() and password else 422,
            next=safe_next(next),
            error=error,
            email=email,
            organization=organization,
        )
    response = redirect(request, safe_next(next))
    set_session(request, response, pair)
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    refresh = request.cookies.get(REFRESH_COOKIE)
    if refresh:
        # An unknown or revoked session is signed out already.
        with contextlib.suppress(EvidenceHubError):
            services(request).authenticator.logout(refresh, ip=client_address(request))
    response = redirect(request, "/login")
    clear_session(request, response)
    return finish(request, response)
