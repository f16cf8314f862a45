"""The Xray import client (httpx, built by evidencehub.net.http), Server/DC and Cloud.

* Server/DC: ``{base}/rest/raven/{1.0|2.0}/import/execution[/junit]`` with
  Basic auth or a personal access token (Bearer).
* Cloud: ``{base}/api/v2/authenticate`` exchanges the client id/secret for a
  token (valid 24 h), sent as Bearer; on a 401 the client authenticates again
  and replays the request. Threads share one token: a thread refused with a
  token another thread already renewed replays with the new one, and a request
  authenticates at most once, so bad credentials still fail fast.
* Requests stay within ``requests_per_window`` per ``window_seconds`` (Cloud:
  300 per 5 minutes) through a token bucket whose burst plus refill never
  exceeds the budget in any window. A 429 pauses *every* thread of the client
  until its ``Retry-After`` has passed, and the refused request is retried no
  earlier than that.
* Errors map onto the project's hierarchy: 400 (Xray's validation message) →
  RemoteError, 401 → AuthenticationError, 403 → PermissionDeniedError,
  429/502/503/504 → ThrottledError, 500 and timeouts → TransientError.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from evidencehub.config import XraySettings
from evidencehub.errors import AuthenticationError, RemoteError
from evidencehub.net.client import RemoteClient
from evidencehub.net.http import build_client, remote_http_settings
from evidencehub.net.ratelimit import RateLimiter
from evidencehub.net.retry import (
    RetryNotice,
    RetryPolicy,
    TransientError,
    parse_retry_after,
)
from evidencehub.net.status import raise_for_status
from evidencehub.ops.logging import get_logger
from evidencehub.publish.targets.xray.credentials import XrayCredentials, resolve_credentials

log = get_logger(__name__)

TOKEN_LIFETIME_SECONDS = 24 * 3600.0
TOKEN_MARGIN_SECONDS = 300.0  # renew a little before Xray would refuse the token


@dataclass(frozen=True)
class ImportAnswer:
    key: str
    id: str | None
    errors: list[str]


def retry_policy(settings: XraySettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.retry_max_attempts,
        backoff_initial=settings.backoff_initial_seconds,
        backoff_max=settings.backoff_max_seconds,
    )


def window_limiter(settings: XraySettings) -> RateLimiter:
    """A token bucket that never lets more than ``requests_per_window`` out in any window."""
    budget = settings.requests_per_window
    burst = max(1, budget // 10)
    refill = max(budget - burst, 1) / settings.window_seconds
    return RateLimiter(refill, burst=burst, name="xray")


class XrayClient(RemoteClient):
    """One Xray (Server/DC or Cloud); thread-safe, share it between workers."""

    def __init__(
        self,
        settings: XraySettings,
        *,
        cloud: bool | None = None,
        credentials: XrayCredentials | None = None,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.cloud = settings.flavour == "cloud" if cloud is None else cloud
        self._credentials = credentials
        super().__init__(
            http,
            lambda: build_client(remote_http_settings(settings, remote_name="Xray", min_connections=4)),
            retry_policy(settings),
        )
        self._limiter = limiter or window_limiter(settings)
        self._lock = threading.Lock()  # the pause; never held while sending
        self._auth_lock = threading.Lock()  # the Cloud token; held while authenticating
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_generation = 0
        self._paused_until = 0.0
        self.api = "/api/v2" if self.cloud else f"/rest/raven/{settings.api_version}"

    @property
    def flavour(self) -> str:
        return "Xray Cloud" if self.cloud else "Xray Server"

    @property
    def credentials(self) -> XrayCredentials:
        if self._credentials is None:
            self._credentials = resolve_credentials(self.settings, cloud=self.cloud)
        return self._credentials

    # -- transport

    def _wait_for_pause(self, policy: RetryPolicy) -> None:
        while True:
            with self._lock:
                remaining = self._paused_until - time.monotonic()
            if remaining <= 0:
                return
            if policy.cancel is not None:
                if policy.cancel.wait(remaining):
                    return
            else:
                time.sleep(remaining)

    def _send(self, method: str, url: str, policy: RetryPolicy, **kwargs: Any) -> httpx.Response:
        self._wait_for_pause(policy)
        self._limiter.acquire()
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.flavour} did not answer {method} {url} in time") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"connection to {self.flavour} failed during {method} {url}: {exc}") from exc
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            with self._lock:
                self._paused_until = max(self._paused_until, time.monotonic() + (wait or 1.0))
        return response

    # -- authentication

    def _authenticate(self, policy: RetryPolicy) -> None:
        credentials = self.credentials
        response = self._send(
            "POST",
            f"{self.api}/authenticate",
            policy,
            json={"client_id": credentials.name, "client_secret": credentials.secret.get_secret_value()},
        )
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                f"Xray Cloud authentication failed at {self.settings.base_url}: HTTP {response.status_code}"
                f" ({_message(response)}): the client id '{credentials.name}' or its secret (from "
                f"{credentials.source}) was rejected — check the API key in Xray's global settings",
                details={
                    "check": "authenticate",
                    "client_id": credentials.name,
                    "source": credentials.source,
                },
            )
        self._raise_for(response, "authentication")
        try:
            token = response.json()
        except ValueError:
            token = None
        if not isinstance(token, str) or not token:
            raise RemoteError(
                "Xray Cloud answered authenticate without a token: is xray.base_url the Xray Cloud URL?",
                details={"check": "authenticate"},
            )
        self._token = token
        self._token_expires = time.monotonic() + TOKEN_LIFETIME_SECONDS - TOKEN_MARGIN_SECONDS
        self._token_generation += 1
        log.debug("authenticated to Xray Cloud", client_id=credentials.name)

    def _authorization(self, policy: RetryPolicy) -> tuple[int, str]:
        credentials = self.credentials
        if credentials.kind == "basic":
            pair = f"{credentials.name}:{credentials.secret.get_secret_value()}".encode()
            return 0, "Basic " + base64.b64encode(pair).decode("ascii")
        if credentials.kind == "token":
            return 0, f"Bearer {credentials.secret.get_secret_value()}"
        with self._auth_lock:
            if self._token is None or time.monotonic() >= self._token_expires:
                self._authenticate(policy)
            assert self._token is not None
            return self._token_generation, f"Bearer {self._token}"

    def _renewed(self, refused: int, policy: RetryPolicy) -> tuple[int, str, bool]:
        """The token to replay with after generation ``refused`` got a 401, and whether we just made it."""
        with self._auth_lock:
            renewing = self._token_generation == refused  # else another thread has renewed it already
            if renewing:
                self._authenticate(policy)
            assert self._token is not None
            return self._token_generation, f"Bearer {self._token}", renewing

    def _authed(self, method: str, url: str, policy: RetryPolicy, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        generation, authorization = self._authorization(policy)
        response = self._send(
            method, url, policy, headers={**headers, "Authorization": authorization}, **kwargs
        )
        renewed = False
        # A token renewed by another thread can be used up before our replay reaches Xray: follow
        # renewals until a token this request obtained itself is refused (then the credentials are).
        while response.status_code == 401 and self.credentials.kind == "client" and not renewed:
            log.info("Xray Cloud token refused (401); authenticating again", url=url)
            generation, authorization, renewed = self._renewed(generation, policy)
            response = self._send(
                method, url, policy, headers={**headers, "Authorization": authorization}, **kwargs
            )
        if response.status_code == 401:
            credentials = self.credentials
            who = credentials.name if credentials.kind != "token" else "the personal access token"
            raise AuthenticationError(
                f"{self.flavour} refused {method} {url} with 401 ({_message(response)}): "
                f"{who} (from {credentials.source}) was not accepted — check the "
                f"{'client id/secret' if self.cloud else 'user and password or token'}",
                details={"check": "authorization", "source": credentials.source},
            )
        return response

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status < 300:
            return
        message = f"{self.flavour} refused {what}: HTTP {status}: {_message(response)}"
        if status == 404:
            message += f" — check xray.base_url and xray.flavour ({'cloud' if self.cloud else 'server'})"
        raise_for_status(
            status, message, retry_after=response.headers.get("Retry-After"), details={"status": status}
        )

    def _url(self, path: str) -> str:
        """Paths are under the import API (``/api/v2`` or ``/rest/raven/<version>``)."""
        return f"{self.api}{path}"

    # -- imports

    def import_execution(
        self,
        content: bytes,
        *,
        policy: RetryPolicy | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> ImportAnswer:
        """Import an Xray JSON document; returns the Test Execution it went into."""
        response = self.call(
            "POST",
            "/import/execution",
            what="the Xray JSON import",
            policy=policy,
            on_retry=on_retry,
            content=content,
            headers={"Content-Type": "application/json"},
        )
        return _import_answer(response, self.flavour)

    def import_junit(
        self,
        xml: bytes,
        *,
        project_key: str,
        test_execution: str | None = None,
        test_plan: str | None = None,
        environments: list[str] | None = None,
        revision: str | None = None,
        fix_version: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> ImportAnswer:
        """Import a JUnit XML report (``/import/execution/junit``) with Xray's query parameters."""
        params = {
            "projectKey": project_key,
            "testExecKey": test_execution,
            "testPlanKey": test_plan,
            "testEnvironments": ";".join(environments or []) or None,
            "revision": revision,
            "fixVersion": fix_version,
        }
        response = self.call(
            "POST",
            "/import/execution/junit",
            what="the JUnit import",
            policy=policy,
            params={key: value for key, value in params.items() if value},
            files={"file": ("junit.xml", xml, "application/xml")},
        )
        return _import_answer(response, self.flavour)


def _message(response: httpx.Response) -> str:
    """Xray's error text: ``{"error": "…"}`` (both flavours), Jira's ``errorMessages``, else the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if body.get("error"):
            return str(body["error"])[:500]
        messages = body.get("errorMessages") or []
        if messages:
            return "; ".join(str(item) for item in messages)[:500]
        if body.get("message"):
            return str(body["message"])[:500]
    text = " ".join(response.text.split())[:200]
    return text or "an empty answer"


def _import_answer(response: httpx.Response, flavour: str) -> ImportAnswer:
    try:
        body = response.json()
    except ValueError as exc:
        raise RemoteError(f"{flavour} answered an import with non-JSON: {response.text[:200]}") from exc
    issue = body.get("testExecIssue", body) if isinstance(body, dict) else None
    if not isinstance(issue, dict) or not issue.get("key"):
        raise RemoteError(f"{flavour} answered an import without a Test Execution key: {response.text[:200]}")
    errors: list[str] = []
    tests = body.get("testIssues") if isinstance(body, dict) else None
    if isinstance(tests, dict):
        errors = [str(item.get("error") or item) for item in tests.get("error") or []]
    return ImportAnswer(
        key=str(issue["key"]), id=str(issue.get("id")) if issue.get("id") else None, errors=errors
    )
