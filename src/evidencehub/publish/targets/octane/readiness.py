"""Octane's part of /health/ready while promotions publish to it: credentials found, server answering.

It never signs in: probes run every few seconds and a sign-in each time would
load Octane's authentication and its rate limit; ``evidencehub octane check``
is the thorough checklist. An Octane that cannot be reached makes the service
*degraded*, not failed: ingestion, triage and audit go on, and publishing waits
and retries (its jobs resume), so a load balancer must not take the service out.
"""

from __future__ import annotations

import time

import httpx

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import EvidenceHubError
from evidencehub.net.http import HttpSettings, build_client
from evidencehub.ops.health import CheckResult
from evidencehub.publish.targets.octane.credentials import resolve_credentials

# A probe answers quickly whatever the publishing timeouts are.
PROBE_TIMEOUT_SECONDS = 3.0


def readiness_check(_database: Database, settings: Settings) -> CheckResult:
    octane = settings.octane
    details: dict[str, object] = {"url": octane.base_url}
    try:
        resolve_credentials(octane)
    except EvidenceHubError as exc:
        return CheckResult("degraded", {**details, "error": exc.message})
    probe = HttpSettings(
        base_url=octane.base_url,
        connect_timeout=min(octane.connect_timeout_seconds, PROBE_TIMEOUT_SECONDS),
        read_timeout=min(octane.read_timeout_seconds, PROBE_TIMEOUT_SECONDS),
        verify_tls=octane.verify_tls,
        ca_bundle=octane.ca_bundle,
        max_connections=1,
        remote_name="Octane",
    )
    started = time.perf_counter()
    try:
        with build_client(probe) as client:
            response = client.get("/")
    except (httpx.HTTPError, EvidenceHubError) as exc:
        error = exc.message if isinstance(exc, EvidenceHubError) else str(exc).splitlines()[0][:300]
        return CheckResult("degraded", {**details, "error": f"not reachable: {error or type(exc).__name__}"})
    details["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    details["http_status"] = response.status_code
    # Any answer below 500 (a sign-in page, 401, 404) shows the server is up; 5xx shows it is not well.
    return CheckResult("degraded" if response.status_code >= 500 else "ok", details)
