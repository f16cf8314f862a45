"""The ALM Octane REST client (httpx, built by evidencehub.net.http).

* Sign-in is lazy (on the first request) with API keys; the ``LWSSO_COOKIE_KEY``
  cookie is sent on every request and refreshed from any response that re-issues
  it. On a 401 the client signs in again once and replays the request once,
  as every official client does (SPEC §2.2); threads share one session.
* At most ``requests_per_second`` requests leave the process (token bucket).
* Errors are mapped onto the project's hierarchy; the retryable ones
  (queue full, 429/502/503/504, 500, timeouts, dropped connections) are retried
  by :func:`evidencehub.net.retry.call_with_retries`, whose waits and limits the
  caller chooses through a :class:`RetryPolicy`.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from evidencehub.config import OctaneSettings
from evidencehub.errors import (
    AuthenticationError,
    ConflictError,
    EvidenceHubError,
    NotFoundError,
    RemoteError,
)
from evidencehub.net.client import RemoteClient
from evidencehub.net.http import HttpSettings, build_client, remote_http_settings
from evidencehub.net.ratelimit import RateLimiter
from evidencehub.net.retry import (
    QueueFullError,
    RetryNotice,
    RetryPolicy,
    TransientError,
)
from evidencehub.net.status import raise_for_status
from evidencehub.ops.logging import get_logger
from evidencehub.publish.target import UnknownRemoteTaskError
from evidencehub.publish.targets.octane.credentials import Credentials, resolve_credentials

log = get_logger(__name__)

SESSION_COOKIES = ("LWSSO_COOKIE_KEY", "OCTANE_USER")
QUEUE_FULL_CODES = frozenset({"testbox_queue_full"})
UPDATE_BATCH = 200  # entities per bulk PUT (CISDK MAX_UPDATE_LIMIT)


class UnknownTaskError(UnknownRemoteTaskError):
    """Octane no longer knows a test-results task id: the slice must be uploaded again."""


@dataclass(frozen=True)
class TaskInfo:
    id: str
    status: str
    error_details: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class _Answer:
    status: int
    code: str | None
    description: str


def http_settings(settings: OctaneSettings) -> HttpSettings:
    return remote_http_settings(settings, remote_name="Octane", min_connections=10)


def retry_policy(settings: OctaneSettings, **overrides: Any) -> RetryPolicy:
    values: dict[str, Any] = {
        "max_attempts": settings.retry_max_attempts,
        "backoff_initial": settings.backoff_initial_seconds,
        "backoff_max": settings.backoff_max_seconds,
        "queue_full_wait": settings.queue_full_retry_seconds,
    }
    values.update(overrides)
    return RetryPolicy(**values)


class OctaneClient(RemoteClient):
    """One workspace of one Octane server; thread-safe, share it between workers."""

    def __init__(
        self,
        settings: OctaneSettings,
        *,
        credentials: Credentials | None = None,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        super().__init__(http, lambda: build_client(http_settings(settings)), retry_policy(settings))
        self._limiter = limiter or RateLimiter(settings.requests_per_second, name="octane")
        self._auth_lock = threading.Lock()
        self._cookies: dict[str, str] = {}
        self._generation = 0
        self.api = f"/api/shared_spaces/{settings.space_id}/workspaces/{settings.workspace_id}"

    # -- lifecycle

    def close(self) -> None:
        if self._cookies:
            try:
                self.sign_out()
            except EvidenceHubError as exc:
                log.debug("sign-out failed", error=str(exc))
        super().close()

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = resolve_credentials(self.settings)
        return self._credentials

    # -- authentication

    def sign_in(self) -> None:
        """Sign in with the API keys (always a fresh session; old cookies are not sent)."""
        credentials = self.credentials
        response = self._send(
            "POST",
            "/authentication/sign_in",
            json={
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret.get_secret_value(),
            },
            headers={"Cookie": ""},
        )
        if response.status_code == 401:
            answer = _answer(response)
            raise AuthenticationError(
                f"Octane sign-in failed at {self.settings.base_url}: HTTP 401 "
                f"({answer.code or 'no error code'}): the client id '{credentials.client_id}' or its secret "
                f"(from {credentials.source}) was rejected — check the API key and that it is not revoked",
                details={
                    "check": "sign_in",
                    "client_id": credentials.client_id,
                    "source": credentials.source,
                },
            )
        if response.status_code == 404:
            raise RemoteError(
                f"Octane sign-in URL {self.settings.base_url}/authentication/sign_in was not found "
                "(HTTP 404): is octane.base_url the server's root URL?",
                details={"check": "sign_in"},
            )
        self._raise_for(response, "sign-in")
        cookies = _session_cookies(response)
        if "LWSSO_COOKIE_KEY" not in cookies:
            raise RemoteError(
                "Octane sign-in answered without an LWSSO_COOKIE_KEY cookie: "
                "is octane.base_url an Octane server?",
                details={"check": "sign_in"},
            )
        self._cookies = cookies
        self._generation += 1
        log.debug("signed in to Octane", client_id=credentials.client_id, base_url=self.settings.base_url)

    def sign_out(self) -> None:
        with self._auth_lock:
            if not self._cookies:
                return
            response = self._send(
                "POST", "/authentication/sign_out", headers={"Cookie": self._cookie_header()}
            )
            self._cookies = {}
        if response.status_code not in (200, 204, 302):
            log.debug("Octane sign-out answered", status=response.status_code)

    def _session(self) -> tuple[int, str]:
        with self._auth_lock:
            if not self._cookies:
                self.sign_in()
            return self._generation, self._cookie_header()

    def _renew(self, generation: int) -> None:
        with self._auth_lock:
            if self._generation == generation:  # nobody else renewed it meanwhile
                self._cookies = {}
                self.sign_in()

    def _cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self._cookies.items())

    # -- transport

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self._limiter.acquire()
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"Octane did not answer {method} {url} in time ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientError(f"connection to Octane failed during {method} {url}: {exc}") from exc

    def _authed(self, method: str, url: str, policy: RetryPolicy, **kwargs: Any) -> httpx.Response:
        # ``policy`` goes unused: unlike Xray's, this client has no client-wide pause to wait out.
        headers = dict(kwargs.pop("headers", None) or {})
        generation, cookie = self._session()
        response = self._send(method, url, headers={**headers, "Cookie": cookie}, **kwargs)
        if response.status_code == 401:
            log.info("Octane session rejected (401); signing in again", url=url)
            self._renew(generation)
            _generation, cookie = self._session()
            response = self._send(method, url, headers={**headers, "Cookie": cookie}, **kwargs)
            if response.status_code == 401:
                answer = _answer(response)
                raise AuthenticationError(
                    f"Octane refused {method} {url} with 401 even right after a successful sign-in "
                    f"({answer.code}: {answer.description}): the API key lacks access to space "
                    f"{self.settings.space_id} / workspace {self.settings.workspace_id}",
                    details={"check": "authorization"},
                )
        refreshed = _session_cookies(response)
        if refreshed:
            with self._auth_lock:
                self._cookies.update(refreshed)
        return response

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        if response.status_code < 300:
            return
        answer = _answer(response)
        message = f"Octane refused {what}: HTTP {answer.status}" + (f" {answer.code}" if answer.code else "")
        message += f": {answer.description}" if answer.description else ""
        details = {"status": answer.status, "error_code": answer.code}
        if answer.code in QUEUE_FULL_CODES or "queue limit exceeded" in answer.description.lower():
            raise QueueFullError(message, details=details)
        raise_for_status(
            answer.status,
            message,
            retry_after=response.headers.get("Retry-After"),
            details=details,
            also={409: ConflictError},
        )

    def _url(self, path: str) -> str:
        """Paths are relative to the workspace unless they start with /."""
        return path if path.startswith("/") else f"{self.api}/{path}"

    # -- test results

    def post_test_results(
        self,
        payload: bytes,
        *,
        policy: RetryPolicy | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> TaskInfo:
        """Upload one XML payload: Octane answers 202 with a queued task (or a duplicate's original task)."""
        headers = {"Content-Type": "application/xml"}
        body = payload
        if self.settings.gzip:
            body = gzip.compress(payload, mtime=0)
            headers["Content-Encoding"] = "gzip"
        response = self.call(
            "POST",
            "test-results",
            what="the test results upload",
            policy=policy,
            on_retry=on_retry,
            content=body,
            headers=headers,
            params={"skip-errors": "true" if self.settings.skip_errors else "false"},
        )
        return _task(response)

    def task_status(self, task_id: str, *, policy: RetryPolicy | None = None) -> TaskInfo:
        try:
            response = self.call(
                "GET", f"test-results/{task_id}", what=f"status of task {task_id}", policy=policy
            )
        except NotFoundError as exc:
            raise UnknownTaskError(
                f"Octane no longer knows test-results task {task_id}", details={"task_id": task_id}
            ) from exc
        return _task(response)

    def xsd(self) -> bytes:
        return self.call("GET", "test-results/xsd", what="the test results XSD").content

    # -- entities

    def query(
        self,
        collection: str,
        *,
        query: str | None = None,
        fields: list[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        order_by: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if query:
            params["query"] = f'"{query}"'
        if fields:
            params["fields"] = ",".join(fields)
        if order_by:
            params["order_by"] = order_by
        data: dict[str, Any] = self.call(
            "GET", collection, what=f"the {collection} query", params=params
        ).json()
        return data

    def iterate(
        self,
        collection: str,
        *,
        query: str | None = None,
        fields: list[str] | None = None,
        page_size: int = 500,
        order_by: str = "id",
    ) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self.query(
                collection, query=query, fields=fields, limit=page_size, offset=offset, order_by=order_by
            )
            items = page.get("data", [])
            yield from items
            offset += len(items)
            if not items or offset >= int(page.get("total_count", 0)):
                return

    def get(
        self, collection: str, entity_id: str, *, fields: list[str] | None = None
    ) -> dict[str, Any] | None:
        params = {"fields": ",".join(fields)} if fields else None
        try:
            response = self.call(
                "GET", f"{collection}/{entity_id}", what=f"{collection} {entity_id}", params=params
            )
        except NotFoundError:
            return None
        data: dict[str, Any] = response.json()
        return data

    def create(self, collection: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        response = self.call("POST", collection, what=f"creating {collection}", json={"data": entities})
        created: list[dict[str, Any]] = response.json().get("data", [])
        return created

    def update(self, collection: str, entity_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        response = self.call(
            "PUT", f"{collection}/{entity_id}", what=f"updating {collection} {entity_id}", json=fields
        )
        updated: dict[str, Any] = response.json()
        return updated

    def update_many(self, collection: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        updated: list[dict[str, Any]] = []
        for start in range(0, len(entities), UPDATE_BATCH):
            batch = entities[start : start + UPDATE_BATCH]
            response = self.call(
                "PUT", collection, what=f"updating {len(batch)} {collection}", json={"data": batch}
            )
            updated.extend(response.json().get("data", []))
        return updated


def _answer(response: httpx.Response) -> _Answer:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            if "message" in body and "error_code" not in body:  # servlet-level wrapper (SPEC §5)
                return _Answer(response.status_code, None, str(body["message"]))
            return _Answer(response.status_code, body.get("error_code"), str(body.get("description") or ""))
    text = " ".join(response.text.split())[:200]
    shown = f"a non-JSON answer ({content_type or 'no content type'}): {text}" if text else "an empty answer"
    return _Answer(response.status_code, None, shown)


def _session_cookies(response: httpx.Response) -> dict[str, str]:
    return {name: value for name, value in response.cookies.items() if name in SESSION_COOKIES and value}


def _task(response: httpx.Response) -> TaskInfo:
    try:
        body = response.json()
        return TaskInfo(
            id=str(body["id"]),
            status=str(body["status"]).lower(),
            error_details=body.get("errorDetails"),
            until=body.get("until"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise RemoteError(
            f"Octane answered a test-results call without a task id and status: {response.text[:200]}"
        ) from exc
