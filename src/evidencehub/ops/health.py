"""Liveness and readiness: ``{"status", "timestamp", "checks"}`` for /health and /health/ready.

Each check answers ok, degraded (works, but someone should look) or fail
(the service cannot do its job). Other domains hand their own checks to
:func:`readiness` (the publishing targets a promotion uses add theirs: see
``publish.registry.readiness_checks``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import psutil
from sqlalchemy import text

from evidencehub.config import Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.errors import EvidenceHubError

CheckStatus = Literal["ok", "degraded", "fail"]
_ORDER: dict[str, int] = {"ok": 0, "degraded": 1, "fail": 2}

MIN_FREE_DISK_BYTES = 1 << 30  # below this the data dir is "degraded"
CRITICAL_FREE_DISK_BYTES = 100 << 20  # below this uploads will fail
MEMORY_DEGRADED_PERCENT = 90.0
MEMORY_FAIL_PERCENT = 97.0


@dataclass
class CheckResult:
    status: CheckStatus
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, **self.details}


Check = Callable[[Database, Settings], CheckResult | None]  # None: not configured, left out


def _timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = function()
    return value, round((time.perf_counter() - started) * 1000, 2)


def check_database(database: Database, _settings: Settings) -> CheckResult:
    def ping() -> None:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        _, elapsed = _timed(ping)
    except Exception as exc:
        return CheckResult(
            "fail", {"error": str(exc).splitlines()[0][:300], "database": database.display_url}
        )
    return CheckResult("ok", {"latency_ms": elapsed, "dialect": database.dialect})


def check_queue(_database: Database, settings: Settings) -> CheckResult:
    from evidencehub.tasks.queue import describe_queue, queue_depth

    try:
        depth, elapsed = _timed(lambda: queue_depth(settings))
    except EvidenceHubError as exc:
        return CheckResult("fail", {"error": exc.message, "queue": describe_queue(settings)})
    return CheckResult("ok", {"latency_ms": elapsed, "depth": depth, "queue": describe_queue(settings)})


def check_disk(_database: Database, settings: Settings) -> CheckResult:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(settings.data_dir)
    details = {"path": str(settings.data_dir), "free_bytes": usage.free, "total_bytes": usage.total}
    if usage.free < CRITICAL_FREE_DISK_BYTES:
        return CheckResult("fail", details)
    return CheckResult("degraded" if usage.free < MIN_FREE_DISK_BYTES else "ok", details)


def check_memory(_database: Database, _settings: Settings) -> CheckResult:
    memory = psutil.virtual_memory()
    details = {
        "used_percent": memory.percent,
        "available_bytes": memory.available,
        "process_rss_bytes": psutil.Process().memory_info().rss,
    }
    if memory.percent >= MEMORY_FAIL_PERCENT:
        return CheckResult("fail", details)
    return CheckResult("degraded" if memory.percent >= MEMORY_DEGRADED_PERCENT else "ok", details)


CORE_CHECKS: dict[str, Check] = {
    "database": check_database,
    "queue": check_queue,
    "disk": check_disk,
    "memory": check_memory,
}


def liveness() -> dict[str, Any]:
    return {"status": "ok", "timestamp": utcnow().isoformat(), "checks": {}}


def readiness(
    database: Database, settings: Settings, extra_checks: Mapping[str, Check] | None = None
) -> dict[str, Any]:
    """Every check's answer (the core ones, then ``extra_checks``); the overall status is the worst."""
    checks: dict[str, Any] = {}
    worst = "ok"
    for name, check in {**CORE_CHECKS, **(extra_checks or {})}.items():
        try:
            result = check(database, settings)
        except Exception as exc:
            result = CheckResult(
                "fail", {"error": str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}
            )
        if result is None:
            continue
        checks[name] = result.as_dict()
        if _ORDER[result.status] > _ORDER[worst]:
            worst = result.status
    return {"status": worst, "timestamp": utcnow().isoformat(), "checks": checks}
