"""Errors on dashboard pages are pages: a message in place, never a stack trace or a JSON body.

The API's handlers stay in charge of ``/api``, ``/health``, ``/metrics`` and
``/static``; for every other path an error renders ``error.html.j2`` with the
same status (a page needing sign-in redirects to the sign-in page instead).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from evidencehub.errors import AuthenticationError, EvidenceHubError
from evidencehub.ops.logging import get_logger
from evidencehub.web.pages.render import is_htmx, redirect, render
from evidencehub.web.pages.session import SignInRequiredError
from evidencehub.web.routers.prefix import API_PREFIX

log = get_logger(__name__)

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]
NOT_PAGES = (f"{API_PREFIX}/", "/health", "/metrics", "/static/")


def is_page_path(path: str) -> bool:
    return not path.startswith(NOT_PAGES) and path != API_PREFIX


def problem_text(problem: Mapping[str, Any], *, skip: int = 0) -> str:
    """A validation problem as a page says it: where (dotted, ``skip`` leading parts left out) and what."""
    where = ".".join(str(part) for part in tuple(problem.get("loc", ()))[skip:]) or "request"
    return f"{where}: {problem.get('msg', '')}"


def _sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login" if target in ("/", "/login") else f"/login?next={quote(target, safe='')}"


def page_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequiredError | AuthenticationError):
        response = redirect(request, _sign_in_url(request))
        if isinstance(exc, SignInRequiredError) and request.method == "GET" and not is_htmx(request):
            response.headers["X-Sign-In-Reason"] = exc.message
        return response
    if isinstance(exc, EvidenceHubError):
        status, title, message = exc.http_status, exc.code.replace("_", " "), exc.message
    elif isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        title = "page not found" if status == 404 else "request refused"
        message = (
            "there is no page at this address" if status == 404 else str(exc.detail or "request refused")
        )
    elif isinstance(exc, RequestValidationError):
        status, title = 422, "bad input"
        # The first part of a location says where the value came from (body, query, path): not shown.
        message = "; ".join(problem_text(error, skip=1) for error in exc.errors()[:5])
    else:
        request_id = getattr(request.state, "request_id", None)
        log.error("unexpected error on a page", exc_info=exc, request_id=request_id)
        status, title = 500, "something went wrong"
        message = f"the server could not show this page; quote request id {request_id} when reporting it"
    if status >= 500 and isinstance(exc, EvidenceHubError):
        log.warning("page failed", code=exc.code, error=exc.message, status=status)
    return render(request, "error.html.j2", status_code=status, title=title, message=message, status=status)


def install_page_errors(app: FastAPI) -> None:
    """Wrap the API's error handlers: page paths get :func:`page_error`, the rest keeps its handler."""
    for exc_class in (EvidenceHubError, StarletteHTTPException, RequestValidationError, Exception):
        api_handler: Handler = app.exception_handlers[exc_class]

        async def dispatch(request: Request, exc: Exception, api_handler: Handler = api_handler) -> Response:
            if is_page_path(request.url.path):
                return page_error(request, exc)
            answer = api_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer

        app.add_exception_handler(exc_class, dispatch)
