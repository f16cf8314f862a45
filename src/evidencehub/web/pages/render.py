"""Rendering dashboard pages: the Jinja2 environment, the page response, and errors shown as pages.

Templates live in ``evidencehub/web/templates/pages`` and are autoescaped. Every
page response carries a Content-Security-Policy that allows only this server's
own scripts and styles (htmx and the small scripts are vendored under ``static/``).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from evidencehub import __version__
from evidencehub.web.pages.session import (
    CSRF_FIELD,
    apply_csrf_cookie,
    apply_session_changes,
    csrf_token,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def utc_time(value: dt.datetime | None, style: str = "datetime") -> Markup:
    """A ``<time>`` element in UTC; static/time.js rewrites its text in the viewer's time zone."""
    if value is None:
        return Markup('<span class="muted">—</span>')
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    iso = value.isoformat().replace("+00:00", "Z")
    return Markup(  # noqa: S704 - a formatted date and an escaped style only
        f'<time datetime="{iso}" data-style="{escape(style)}">{value:%Y-%m-%d %H:%M} UTC</time>'
    )


def duration(milliseconds: float | None) -> str:
    if milliseconds is None:
        return "—"
    seconds = milliseconds / 1000
    if seconds < 1:
        return f"{milliseconds:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def label(value: str) -> str:
    """``product_bug`` → ``product bug``."""
    return value.replace("_", " ")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("evidencehub.web", "templates/pages"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc_time"] = utc_time
    env.filters["duration"] = duration
    env.filters["label"] = label
    env.globals["version"] = __version__
    return env


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """The page ``template`` with the common context (who is signed in, CSRF token, current path)."""
    token = csrf_token(request)
    principal = getattr(request.state, "principal", None)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            principal=principal,
            csrf_token=token,
            csrf_field=Markup(  # noqa: S704 - the token is hex digits
                f'<input type="hidden" name="{CSRF_FIELD}" value="{token}">'
            ),
            path=request.url.path,
            **context,
        )
    )
    return finish(request, HTMLResponse(html, status_code=status_code))


def finish(request: Request, response: Response) -> Response:
    """Add the security headers and any cookies the request minted (session refresh, CSRF nonce)."""
    response.headers.update(SECURITY_HEADERS)
    apply_session_changes(request, response)
    apply_csrf_cookie(request, response)
    return response


def redirect(request: Request, url: str) -> Response:
    """After a form POST: 303 to ``url`` (htmx follows ``HX-Redirect`` instead)."""
    if is_htmx(request):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    return finish(request, response)
