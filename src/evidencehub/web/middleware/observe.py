"""Request ids, the access log line, Prometheus request metrics and rate-limit headers.

The request id comes from ``X-Request-ID`` when the caller sends a sane one, else
it is generated; it is bound to every log line of the request and returned.
Metrics are labelled with the route *template* (``/api/v1/runs/{run_id}``), never
the raw path, so ids in URLs cannot explode the number of series.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidencehub.ops.logging import get_logger
from evidencehub.ops.metrics import REQUEST_DURATION, REQUESTS

log = get_logger("evidencehub.web.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNMATCHED_ROUTE = "<unmatched>"


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class ObserveMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(b"x-request-id", request_id.encode())]
                for name, value in (state.get("rate_limit_headers") or {}).items():
                    if name != "Retry-After" or status == 429:
                        extra.append((name.lower().encode(), value.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                method = scope["method"]
                REQUESTS.labels(method=method, route=route, status=str(status)).inc()
                REQUEST_DURATION.labels(method=method, route=route).observe(elapsed)
                principal = state.get("principal")
                log.info(
                    "request",
                    method=method,
                    route=route,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    client=(scope.get("client") or ("", 0))[0],
                    principal=getattr(principal, "rate_key", None),
                )
