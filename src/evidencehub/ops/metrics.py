"""Prometheus metrics: the counters every domain updates, and the gauges read at scrape time.

Domains import the counter they update (``INGESTED_CASES.inc(n)``,
``TRIAGE_DECISIONS.labels(source="rule").inc()``). Gauges of live state (the
database pool, the queue depth) are collected when /metrics is scraped. With
several web workers, ``evidencehub serve`` sets PROMETHEUS_MULTIPROC_DIR so the
counters are summed across processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import EvidenceHubError

REQUESTS = Counter(
    "evidencehub_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "evidencehub_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
UPLOADS = Counter(
    "evidencehub_uploads_total",
    "Result uploads by outcome: created, duplicate, rejected (bad input or too large), failed.",
    ["status"],
)
INGESTED_CASES = Counter("evidencehub_ingested_cases_total", "Test results stored by ingestion.")
TRIAGE_DECISIONS = Counter(
    "evidencehub_triage_decisions_total",
    "Triage decisions recorded, by source: human (a person, or their cluster decision applied), rule, "
    "history, default.",
    ["source"],
)
REPORT_EXECUTIONS = Counter(
    "evidencehub_report_executions_total", "Report executions started, by outcome of the request.", ["status"]
)
RATE_LIMITED = Counter(
    "evidencehub_rate_limited_total", "Requests refused with 429, by limit kind.", ["kind"]
)


def count_triage_decisions(by_source: Mapping[str, int]) -> None:
    """Count triage decisions by source: a triage pass's automatic ones, or a person's."""
    for source, count in by_source.items():
        TRIAGE_DECISIONS.labels(source=source).inc(count)


TaskCounts = Callable[[], list[tuple[str, str, int]]]  # (target, status, how many)


class LiveStateCollector(Collector):
    """Database pool, task queue and publishing upload-task gauges, read when scraped."""

    def __init__(self, database: Database, queue_depth: Callable[[], int], upload_tasks: TaskCounts) -> None:
        self._database = database
        self._queue_depth = queue_depth
        self._upload_tasks = upload_tasks

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self._database.engine.pool
        connections = GaugeMetricFamily(
            "evidencehub_db_pool_connections",
            "Database pool connections of this process, by state (in_use, idle, overflow, size).",
            labels=["state"],
        )
        if isinstance(pool, QueuePool):
            connections.add_metric(["in_use"], pool.checkedout())
            connections.add_metric(["idle"], pool.checkedin())
            connections.add_metric(["overflow"], max(0, pool.overflow()))
            connections.add_metric(["size"], pool.size())
        else:
            connections.add_metric(["in_use"], pool.checkedout() if hasattr(pool, "checkedout") else 0)
        yield connections
        depth = GaugeMetricFamily(
            "evidencehub_queue_depth", "Tasks waiting on the task queue (-1: queue unreachable)."
        )
        try:
            depth.add_metric([], self._queue_depth())
        except EvidenceHubError:
            depth.add_metric([], -1)
        yield depth
        tasks = GaugeMetricFamily(
            "evidencehub_upload_tasks",
            "Publishing upload tasks (slices) by target and status (pending … success, failed, lost).",
            labels=["target", "status"],
        )
        for target, status, count in self._upload_tasks():
            tasks.add_metric([target, status], count)
        yield tasks


class MetricsExporter:
    """Renders the process's metrics (plus the multi-process sums when enabled) for /metrics."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, database: Database, settings: Settings) -> None:
        from evidencehub.publish.service import task_counts
        from evidencehub.tasks.queue import queue_depth

        self._live = CollectorRegistry(auto_describe=False)
        self._live.register(
            LiveStateCollector(database, lambda: queue_depth(settings), lambda: task_counts(database))
        )

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            shared = generate_latest(combined)
        else:
            shared = generate_latest(REGISTRY)
        return shared + generate_latest(self._live)
