"""Fault injection as ASGI middleware: latency, 5xx/429 answers, and connections dropped mid-response.

Faults apply to the Octane API only, never to sign-in or the control endpoint.
Errors and throttling are answered *before* the request reaches the emulator
(nothing happens server-side); a dropped connection happens *after* the
request was executed, so the client cannot know whether it took effect — the
case a publisher must survive without sending anything twice.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from evidencehub.emulators.faults import PROXY_502_BODY, dropping
from evidencehub.emulators.octane.state import EmulatorState


def error_body(code: str, description: str, **extra: Any) -> dict[str, Any]:
    """Octane's error JSON (SPEC §5)."""
    return {
        "error_code": code,
        "correlation_id": secrets.token_hex(12),
        "description": description,
        "description_translated": description,
        "properties": None,
        **extra,
    }


class FaultMiddleware:
    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        faults = self.state.config.faults
        if path.endswith("/test-results") and scope.get("method") == "POST":
            self._count("posts_received")  # every upload that reached the server, faulted or not
        if not path.startswith("/api/") or (faults.only_test_results and "/test-results" not in path):
            await self.app(scope, receive, send)
            return
        delay = faults.latency_ms + self._uniform(faults.latency_jitter_ms)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        injected = self._pick_error()
        if injected is not None:
            await self._answer(send, injected)
            return
        if self._chance(faults.drop_connection):
            self._count("fault_drop")
            await self.app(scope, receive, dropping(send))
            return
        await self.app(scope, receive, send)

    def _uniform(self, upper: float) -> float:
        if upper <= 0:
            return 0.0
        with self.state.lock:
            return self.state.random.uniform(0, upper)

    def _chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self.state.lock:
            return self.state.random.random() < probability

    def _count(self, name: str) -> None:
        with self.state.lock:
            self.state.counters[name] += 1

    def _pick_error(self) -> int | None:
        faults = self.state.config.faults
        for status, probability in (
            (500, faults.error_500),
            (502, faults.error_502),
            (503, faults.error_503),
            (429, faults.throttle_429),
        ):
            if self._chance(probability):
                self._count(f"fault_{status}")
                return status
        return None

    async def _answer(self, send: Send, status: int) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if status == 502:
            body = PROXY_502_BODY
            headers.append((b"content-type", b"text/html"))
        else:
            description = {
                500: "General error occurred",
                503: "Service temporarily unavailable",
                429: "Too many requests",
            }[status]
            code = "platform.general_error" if status != 429 else "platform.too_many_requests"
            body = json.dumps(error_body(code, description)).encode()
            headers.append((b"content-type", b"application/json"))
            if status == 429:
                retry_after = self.state.config.faults.retry_after_seconds
                headers.append((b"retry-after", f"{retry_after:g}".encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
