"""Every error answers ``{"error": {"code", "message", "details"}}``; never a stack trace.

EvidenceHubError subclasses carry their HTTP status; request validation errors
(422), unknown routes (404) and methods (405) use the same shape; anything
unexpected is logged with its traceback and answered 500 with the request id.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evidencehub.errors import AuthenticationError, EvidenceHubError, RateLimitedError
from evidencehub.ops.logging import get_logger

log = get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "insufficient_permissions",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "bad_input",
    429: "rate_limited",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


async def _evidencehub_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EvidenceHubError)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{exc.code}"'
    if isinstance(exc, RateLimitedError) and not getattr(request.state, "rate_limit_headers", None):
        # The limiter's own headers (Retry-After included) are added by ObserveMiddleware.
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if exc.http_status >= 500:
        log.warning("request failed", code=exc.code, error=exc.message, status=exc.http_status)
    return error_response(exc.http_status, exc.code, exc.message, exc.details, headers)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        # The offending input is left out: it may be a password.
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(problem['location'])}: {problem['message']}" for problem in problems[:5])
    return error_response(422, "bad_input", f"invalid request: {summary}", {"errors": problems})


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.error("unexpected error", exc_info=exc, request_id=request_id)
    return error_response(
        500,
        "internal_error",
        f"internal error; quote request id {request_id} when reporting it",
        {"request_id": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(EvidenceHubError, _evidencehub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
