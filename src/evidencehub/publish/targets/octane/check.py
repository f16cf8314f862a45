"""``evidencehub octane check``: the runbook's checklist, one verdict per item.

1. configuration (URL, space, workspace) and TLS;
2. credentials found (settings or the per-space credentials file);
3. sign-in (a 401 says the key was rejected, not that the server is down);
4. workspace reachable;
5. the server's XSD against the bundled one;
6. queue state (Octane has no public queue endpoint: our own queued tasks);
7. duplicate root application modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import EvidenceHubError
from evidencehub.net.retry import RetryPolicy
from evidencehub.publish.model import UploadTask
from evidencehub.publish.schemas import IN_FLIGHT
from evidencehub.publish.targets.octane import xsd
from evidencehub.publish.targets.octane.client import OctaneClient
from evidencehub.publish.targets.octane.credentials import resolve_credentials
from evidencehub.publish.targets.octane.modules import find_root

Verdict = Literal["ok", "warn", "fail", "skip"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class CheckResult:
    name: str
    verdict: Verdict
    detail: str


def _tls(settings: Settings) -> CheckResult:
    octane = settings.octane
    parts = urlsplit(octane.base_url)
    if parts.scheme == "http":
        if parts.hostname in LOOPBACK:
            return CheckResult("tls", "ok", "plain HTTP on loopback (the local emulator)")
        return CheckResult("tls", "warn", f"plain HTTP to {parts.hostname}: credentials travel unencrypted")
    if not octane.verify_tls:
        return CheckResult("tls", "warn", "TLS certificate verification is OFF (octane.verify_tls=false)")
    if octane.ca_bundle is not None:
        verdict: Verdict = "ok" if octane.ca_bundle.is_file() else "fail"
        return CheckResult("tls", verdict, f"verified with CA bundle {octane.ca_bundle}")
    return CheckResult("tls", "ok", "verified with the system CAs")


def run_checks(database: Database, settings: Settings) -> list[CheckResult]:
    octane = settings.octane
    checks = [
        CheckResult(
            "configuration",
            "ok",
            f"{octane.base_url} space {octane.space_id} workspace {octane.workspace_id}",
        ),
        _tls(settings),
    ]
    try:
        credentials = resolve_credentials(octane)
    except EvidenceHubError as exc:
        checks.append(CheckResult("credentials", "fail", exc.message))
        checks.extend(
            CheckResult(name, "skip", "needs credentials")
            for name in ("sign_in", "workspace", "xsd", "modules")
        )
        checks.append(_queue(database, settings))
        return checks
    checks.append(
        CheckResult("credentials", "ok", f"client id '{credentials.client_id}' from {credentials.source}")
    )
    try:
        with OctaneClient(octane, credentials=credentials) as client:
            checks.extend(_remote_checks(client))
    except EvidenceHubError as exc:  # the client could not even be built (e.g. a bad CA bundle)
        checks.append(CheckResult("sign_in", "fail", exc.message))
    checks.append(_queue(database, settings))
    return checks


def _remote_checks(client: OctaneClient) -> list[CheckResult]:
    # A checklist answers quickly: two tries, short waits.
    client.default_policy = RetryPolicy(
        max_attempts=2, backoff_initial=0.5, backoff_max=1.0, queue_full_wait=1.0
    )
    try:
        client.sign_in()
    except EvidenceHubError as exc:
        return [CheckResult("sign_in", "fail", exc.message)] + [
            CheckResult(name, "skip", "needs a successful sign-in")
            for name in ("workspace", "xsd", "modules")
        ]
    results = [CheckResult("sign_in", "ok", f"signed in to {client.settings.base_url}")]
    try:
        client.query("releases", limit=1, fields=["id"])
        results.append(CheckResult("workspace", "ok", f"workspace {client.settings.workspace_id} answers"))
    except EvidenceHubError as exc:
        results.append(CheckResult("workspace", "fail", exc.message))
        return results + [CheckResult(name, "skip", "needs the workspace") for name in ("xsd", "modules")]
    try:
        same = client.xsd().strip() == xsd.schema_bytes().strip()
        results.append(
            CheckResult("xsd", "ok", "the server's XSD is the bundled one")
            if same
            else CheckResult(
                "xsd",
                "warn",
                "the server's XSD differs from the bundled copy: payloads are validated "
                "against the bundled one",
            )
        )
    except EvidenceHubError as exc:
        results.append(CheckResult("xsd", "warn", f"could not fetch the server's XSD: {exc.message}"))
    try:
        root = find_root(client, strict=False)
        results.append(
            CheckResult("modules", "warn", root.warning)
            if root.warning
            else CheckResult("modules", "ok", f"one root application module: '{root.name}' (id {root.id})")
        )
    except EvidenceHubError as exc:
        results.append(CheckResult("modules", "fail", exc.message))
    return results


def _queue(database: Database, settings: Settings) -> CheckResult:
    with database.session() as session:
        ours = session.scalar(
            select(func.count())
            .select_from(UploadTask)
            .where(
                UploadTask.target == "octane", UploadTask.status.in_([status.value for status in IN_FLIGHT])
            )
        )
    limit = settings.octane.queue_limit
    verdict: Verdict = "ok" if (ours or 0) < limit else "warn"
    return CheckResult(
        "queue",
        verdict,
        f"{ours or 0} of our tasks queued or running at Octane (budget {limit}); "
        "Octane exposes no queue length, so others' tasks are not counted",
    )
