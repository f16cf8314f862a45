"""Request body limits: uploads up to ``web.max_upload_mb``, everything else up to ``web.max_body_kb``.

A declared Content-Length over the limit is refused at once (413) before a byte
is read; a chunked body is counted as it streams and cut off when it passes the
limit. Upload routes are those marked ``openapi_extra={"x-upload": True}``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidencehub.config import WebSettings
from evidencehub.errors import InputError
from evidencehub.web.errors import error_response


def _too_large(limit: int) -> tuple[int, str, str, dict[str, int]]:
    readable = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return (
        413,
        "payload_too_large",
        f"request body larger than the limit of {readable} (web.max_upload_mb / web.max_body_kb)",
        {"limit_bytes": limit},
    )


class BodyTooLargeError(InputError):
    """Raised inside ``receive`` when a streamed body passes its limit (answered 413)."""

    code = "payload_too_large"
    http_status = 413

    def __init__(self, limit: int) -> None:
        _status, _code, message, details = _too_large(limit)
        super().__init__(message, details=details)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: WebSettings, upload_routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.upload_routes = list(upload_routes)
        self.upload_limit = settings.max_upload_mb * 1024 * 1024
        self.body_limit = settings.max_body_kb * 1024

    def _limit_for(self, scope: Scope) -> int:
        for route in self.upload_routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return self.upload_limit
        return self.body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(*_too_large(limit))(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await error_response(*_too_large(limit))(scope, receive, send)
