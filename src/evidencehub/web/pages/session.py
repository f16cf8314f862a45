"""Dashboard sign-in state: session cookies holding the auth service's tokens, and CSRF tokens.

A signed-in browser holds two HttpOnly, SameSite=Strict cookies: the access token
(short-lived JWT) and the refresh token. When the access token has expired, the
refresh token is spent for a new pair (the auth service rotates it) and the new
cookies go out with the response. Cookies are ``Secure`` except on plain HTTP to
a loopback address (a laptop demo), where a browser would drop Secure cookies.

Every form POST carries a CSRF token: an HMAC of a random per-browser cookie
(``eh_csrf``), checked against that cookie; SameSite=Strict already keeps other
sites' requests cookieless, the token also stops same-site form injection.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from evidencehub.auth.schemas import TokenPair
from evidencehub.auth.service import Principal
from evidencehub.errors import AuthenticationError, EvidenceHubError, PermissionDeniedError
from evidencehub.web.deps import client_address, rate_limit, services

ACCESS_COOKIE = "eh_access"
REFRESH_COOKIE = "eh_refresh"
CSRF_COOKIE = "eh_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequiredError(EvidenceHubError):
    """A page needs a signed-in browser: answered with a redirect to the sign-in page."""

    http_status = 401
    code = "sign_in_required"


class CsrfRejectedError(EvidenceHubError):
    http_status = 403
    code = "csrf_rejected"


def _is_loopback(host: str | None) -> bool:
    if host in (None, "localhost"):
        return host == "localhost"
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_secure(request: Request) -> bool:
    return not (request.url.scheme == "http" and _is_loopback(request.url.hostname))


def _set(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


def set_session(request: Request, response: Response, pair: TokenPair) -> None:
    refresh_age = int((pair.refresh_expires_at - pair.expires_at).total_seconds()) + pair.expires_in
    # The access cookie outlives its token a little so an expired token can still be refreshed.
    _set(request, response, ACCESS_COOKIE, pair.access_token, max(refresh_age, pair.expires_in))
    _set(request, response, REFRESH_COOKIE, pair.refresh_token, max(refresh_age, 1))


def clear_session(request: Request, response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(
            name, path="/", secure=cookie_secure(request), httponly=True, samesite="strict"
        )


# ---------------------------------------------------------------- who is signed in


def _authenticate(request: Request) -> Principal:
    app = services(request)
    access = request.cookies.get(ACCESS_COOKIE)
    refresh = request.cookies.get(REFRESH_COOKIE)
    if access:
        try:
            with app.database.session() as session:
                return app.authenticator.authenticate(session, access)
        except AuthenticationError:
            if not refresh:
                raise SignInRequiredError("your session has ended: sign in again") from None
    if not refresh:
        raise SignInRequiredError("sign in to see this page")
    try:
        pair = app.authenticator.refresh(refresh, ip=client_address(request))
    except AuthenticationError:
        request.state.clear_session = True
        raise SignInRequiredError("your session has ended: sign in again") from None
    request.state.new_session = pair
    with app.database.session() as session:
        return app.authenticator.authenticate(session, pair.access_token)


def page_principal(request: Request) -> Principal:
    """The signed-in user of a page request (refreshing the session when needed)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = _authenticate(request)
    if principal.kind != "user":
        raise SignInRequiredError("sign in to see this page")
    rate_limit(request, "user", principal.rate_key)  # the same per-user budget as the API
    request.state.principal = principal
    return principal


def apply_session_changes(request: Request, response: Response) -> Response:
    """Send the cookies of a session refreshed (or ended) while answering the request."""
    pair: TokenPair | None = getattr(request.state, "new_session", None)
    if pair is not None:
        set_session(request, response, pair)
    elif getattr(request.state, "clear_session", False):
        clear_session(request, response)
    return response


SignedIn = Annotated[Principal, Depends(page_principal)]


@dataclass(frozen=True)
class PagePermission:
    """A page's access rule: signed in with this permission (403 page otherwise)."""

    permission: str

    def __call__(self, request: Request) -> Principal:
        principal = page_principal(request)
        if self.permission not in principal.permissions:
            raise PermissionDeniedError(
                f"this needs the permission '{self.permission}' (your role is "
                f"{principal.role.value if principal.role else 'none'})",
                details={"required": self.permission},
            )
        return principal


def allowed(permission: str) -> PagePermission:
    return PagePermission(permission)


# ---------------------------------------------------------------- CSRF


def _csrf_key(request: Request) -> bytes:
    key: bytes = request.app.state.csrf_key
    return key


def browser_nonce(request: Request) -> str:
    """This browser's CSRF cookie value, minted on first sight (sent back by :func:`apply_csrf_cookie`)."""
    nonce = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "csrf_nonce", None)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.state.csrf_nonce = nonce
    return str(nonce)


def csrf_token(request: Request) -> str:
    return hmac.new(_csrf_key(request), browser_nonce(request).encode(), hashlib.sha256).hexdigest()


def apply_csrf_cookie(request: Request, response: Response) -> None:
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce and not request.cookies.get(CSRF_COOKIE):
        _set(request, response, CSRF_COOKIE, nonce, 60 * 60 * 24 * 30)


async def check_csrf(request: Request) -> None:
    """Reject a form POST whose CSRF token (form field or X-CSRF-Token header) does not match."""
    nonce = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not nonce or not sent:
        raise CsrfRejectedError("the form is missing its security token: reload the page and try again")
    expected = hmac.new(_csrf_key(request), nonce.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sent):
        raise CsrfRejectedError("the form's security token does not match: reload the page and try again")


CsrfChecked = Depends(check_csrf)


def derive_csrf_key(jwt_secret: str) -> bytes:
    """A key for CSRF tokens derived from the JWT secret (one secret to manage, distinct uses)."""
    return hmac.new(jwt_secret.encode(), b"evidencehub dashboard csrf", hashlib.sha256).digest()
