#!/usr/bin/env python3
"""Write deterministic, realistic sample test results for "Prism", a fictional product.

Prism is a live signal-processing platform: a REST API (``/jobs``, ``/live/configure``,
``/alerts``), a job scheduler on Kubernetes, RabbitMQ messaging, PostgreSQL storage, a
frequency-analysis engine (FFT, spectrum, regions of interest) and a Java/.NET integration
layer. One run writes what one nightly CI build of Prism's test suites leaves behind::

    pytest/junit-api.xml            pytest --junit-xml, junit_family=xunit2
    pytest/junit-integration.xml    pytest --junit-xml, junit_family=xunit2
    surefire/TEST-com.prism.*.xml   Maven Surefire 3, rerunFailingTestsCount=2
    nunit/TestResult.xml            NUnit 3 console
    trx/gateway-contract.trx        MSTest through vstest (dotnet test --logger trx)

The output depends only on (seed, build, scale). Test names, line numbers and Xray keys
depend on the seed and scale alone, so several build numbers give the history of one suite:
most outcomes repeat; environment incidents, flaky tests and volatile tokens (ids, ports,
addresses, timestamps) change from build to build; a regression starts at
``REGRESSION_BUILD``, a product bug is fixed in ``FIX_BUILD`` and a test-data bug in
``ENV_FIX_BUILD``.

Usage: ``generate.py OUT_DIR [--build N] [--seed S] [--scale F]``. Standard library only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# The story the builds tell
# --------------------------------------------------------------------------------------------

REGRESSION_BUILD = 3  # /live/configure answers 500 instead of 502/503 when the engine is down
FIX_BUILD = 5  # the NullPointerException in com.prism.gateway.RouteResolver.resolve is fixed
ENV_FIX_BUILD = 7  # someone adds 'staging-eu' to the test suite's environments.yaml
FIRST_NIGHT = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)  # build 1 starts then; one build a night

PY_ROOT = "/builds/prism/prism-qa"
SITE = ".venv/lib/python3.11/site-packages"
PYLIB = "/usr/lib/python3.11"
API_HOST = "api.prism-qa.internal"
AMQP_HOST = "rabbitmq.prism-qa.svc"
K8S_API = "https://10.96.0.1:443"
JAVA_ROOT = "/builds/prism/prism-integration"
NUNIT_ROOT = "C:\\agent\\_work\\7\\s"
TRX_ROOT = "/agent/_work/3/s"
TMP = "/" + "tmp"  # generated text only; nothing is written there

# Test-case attributes of NUnit 3 and vstest that never change.
TRX_TEST_TYPE = "13cdc9d9-ddb5-4fa4-a97d-d965ccfc6d4b"
TRX_LIST_NOT_IN_LIST = "8c84fa94-04c1-424b-9868-57a2d4851a1d"
TRX_LIST_ALL_LOADED = "19431567-8539-422a-85d7-44ee4e166bda"
TRX_ID_NAMESPACE = uuid.UUID("6f1c2b0e-4a55-4c59-9d8e-2f7b9d3c1a60")

PRODUCT, AUTOMATION, SYSTEM, INVESTIGATE, FLAKY = (
    "product_bug",
    "automation_bug",
    "system_issue",
    "to_investigate",
    "flaky",
)

# --------------------------------------------------------------------------------------------
# Parameter axes: the values a parametrized test runs with
# --------------------------------------------------------------------------------------------

AXES: dict[str, tuple[str, ...]] = {
    "backend": ("redis", "postgres", "sqlite"),
    "profile": (
        "fft-1024",
        "fft-4096",
        "fft-16384",
        "stft-hann",
        "stft-blackman",
        "welch-psd",
        "cwt-morlet",
        "zoom-fft",
    ),
    "role": ("viewer", "operator", "admin", "auditor", "service"),
    "endpoint": (
        "jobs-list",
        "jobs-create",
        "jobs-cancel",
        "live-configure",
        "live-session",
        "alerts-list",
        "alerts-create",
        "alerts-delete",
        "spectrum-query",
        "roi-export",
        "profiles-admin",
        "audit-log",
    ),
    "view": ("waterfall", "spectrogram", "timeseries", "persistence", "constellation", "histogram"),
    "window": ("hann", "hamming", "blackman", "flattop", "kaiser", "rect"),
    "nfft": ("512", "1024", "2048", "4096", "8192", "16384", "32768"),
    "fs": ("8000", "48000", "96000", "192000", "2400000"),
    "region": ("eu-west", "us-east", "ap-south", "staging-eu"),
    "service": ("api", "scheduler", "engine", "gateway"),
    "page_size": ("10", "50", "100", "500"),
    "state": ("queued", "running", "completed", "failed", "cancelled"),
    "bad_threshold": (
        "negative-window",
        "nan",
        "above-max",
        "below-min",
        "inverted-hysteresis",
        "zero-window",
        "empty-channel",
    ),
    "threshold": ("-120db", "-90db", "-60db", "-30db", "0db"),
    "metric": ("peak-power", "snr", "occupancy", "noise-floor"),
    "awindow": ("1s", "10s", "60s"),
    "severity": ("info", "warning", "critical"),
    "channel": ("email", "slack", "webhook", "pagerduty", "amqp"),
    "op": ("create", "read", "update", "delete"),
    "exchange": ("prism.jobs", "prism.live", "prism.alerts", "prism.spectrum"),
    "routing": ("created", "updated", "deleted", "heartbeat"),
    "node_pool": ("cpu-standard", "cpu-highmem", "gpu-t4", "gpu-a10"),
    "roi": ("roi0", "roi1", "roi2", "roi3", "roi4", "roi5", "roi6", "roi7"),
    "signal": ("sine-1k", "sine-10k", "chirp", "am-mod", "fm-mod", "noise-floor", "two-tone", "impulse"),
    "band": ("vlf", "lf", "mf", "hf", "vhf", "uhf"),
    "fmt": ("csv", "parquet", "npy", "hdf5", "json"),
    "fps": ("5", "10", "25", "30", "60"),
    "size": ("1", "10", "50", "100"),
    "proto": ("ws", "wss", "sse"),
    "priority": ("low", "normal", "high", "realtime"),
    "tenant": ("acme", "globex", "initech"),
    "quota": ("10", "100", "1000"),
    "field": (
        "profile",
        "backend",
        "priority",
        "window",
        "nfft",
        "sample_rate",
        "roi",
        "callback_url",
        "tags",
        "ttl",
    ),
    "case": ("missing", "null", "wrong-type", "too-long", "negative"),
    "lfield": ("view", "nfft", "window", "overlap", "roi", "colormap", "fps", "span_hz"),
    "afield": ("metric", "threshold_db", "window_s", "hysteresis_db", "channel", "severity"),
    "factor": ("2", "3", "4", "5", "8", "16"),
    "range": ("1m", "5m", "1h", "24h"),
    "rev": (
        "0001_initial",
        "0002_jobs_priority",
        "0003_alert_rules",
        "0004_roi_exports",
        "0005_spectrum_frames",
        "0006_tenants",
        "0007_audit_fields",
        "0008_live_sessions",
        "0009_frames_partitioning",
        "0010_profiles_defaults",
        "0011_alert_hysteresis",
        "0012_retention",
        "0013_job_retries",
        "0014_roi_band_index",
        "0015_users_roles",
        "0016_dead_letters",
        "0017_frames_compression",
        "0018_job_parent",
        "0019_session_viewers",
        "0020_quota",
    ),
    "table": ("spectrum_frames", "jobs", "alerts", "roi_exports"),
    "days": ("1", "7", "30", "90"),
    "doc": ("job", "profile", "alert", "roi", "session"),
    "replicas": ("1", "2", "4", "8"),
    "colormap": ("viridis", "inferno", "gray"),
    "prefetch": ("1", "10", "100"),
    "retries": ("1", "3", "5"),
    "event": (
        "job.created",
        "job.updated",
        "job.cancelled",
        "alert.raised",
        "alert.cleared",
        "live.frame",
        "roi.exported",
    ),
    "version": ("v1", "v2"),
    "ttl": ("60", "300", "3600"),
    "dep": ("postgres", "rabbitmq", "redis", "engine", "scheduler"),
    "prom": (
        "prism_jobs_active",
        "prism_queue_depth",
        "prism_fft_seconds",
        "prism_live_viewers",
        "prism_alerts_raised_total",
        "prism_http_requests_total",
    ),
    "limit": ("1", "3", "5"),
    "viewers": ("10", "50", "100"),
    "roi_n": ("1", "2", "4", "8", "16", "32"),
    "cpu": ("50", "70", "90"),
    "route": (
        "/jobs",
        "/jobs/{id}",
        "/jobs/{id}/cancel",
        "/live/configure",
        "/live/session",
        "/alerts",
        "/alerts/{id}",
        "/spectrum",
        "/roi/{id}/export",
        "/profiles",
    ),
    "api": ("v1", "v2"),
    "alg": ("HS256", "RS256", "ES256", "PS256"),
    "rate": ("10", "50", "100", "500"),
    "burst": ("1", "5", "20"),
    "header": ("X-Tenant", "X-Request-Id", "Authorization", "Accept", "X-Forwarded-For"),
    "overlap": ("0", "25", "50", "75"),
    "shard": ("2", "3", "4", "5", "6", "7", "8", "9"),
}

# Axes whose values are numbers (unquoted in NUnit names, int in Java signatures).
NUMERIC = frozenset(
    {
        "nfft",
        "fs",
        "page_size",
        "fps",
        "size",
        "factor",
        "days",
        "replicas",
        "prefetch",
        "retries",
        "ttl",
        "limit",
        "viewers",
        "roi_n",
        "cpu",
        "quota",
        "rate",
        "burst",
        "overlap",
        "shard",
    }
)

# --------------------------------------------------------------------------------------------
# Catalog model
# --------------------------------------------------------------------------------------------

Values = dict[str, str]


@dataclass(frozen=True)
class Fn:
    """One test function; parametrized over the product of ``axes``."""

    name: str
    axes: tuple[str, ...] = ()
    n: int = 0  # how many parametrizations at scale 1.0; 0 = all combinations
    issue: str | None = None  # a known problem this test runs into (see ISSUES)
    when: Callable[[Values], bool] | None = None  # which parametrizations it hits
    flaky: float = 0.0  # chance per build of a timing failure
    flaky_when: Callable[[Values], bool] | None = None  # which parametrizations are flaky
    skip: str | None = None  # static skip / @Ignore / @Disabled reason
    skip_when: Callable[[Values], bool] | None = None
    xfail: str | None = None
    xfail_when: Callable[[Values], bool] | None = None
    secs: float = 0.2  # typical duration


@dataclass(frozen=True)
class Group:
    """A test class (pytest class, JUnit class, NUnit fixture, MSTest class)."""

    fmt: str  # py | java | nunit | mstest
    suite: str  # fully qualified class name
    area: str  # what part of Prism it exercises; environment incidents hit by area
    fns: tuple[Fn, ...]
    fixtures: str = "api_client"  # pytest fixtures the tests take
    issue: str | None = None  # a class-wide setup problem (fixture / OneTimeSetUp)
    out: str = ""  # output file; derived from fmt when empty


@dataclass
class Case:
    group: Group
    fn: Fn
    name: str
    values: Values
    line: int  # line of the test's definition (stable across builds)
    key: str | None  # Xray test key (pytest only)
    out: str

    @property
    def fmt(self) -> str:
        return self.group.fmt

    @property
    def suite(self) -> str:
        return self.group.suite

    @property
    def simple(self) -> str:
        return self.group.suite.rsplit(".", 1)[-1]


def F(name: str, *axes: str, **kw: object) -> Fn:  # noqa: N802 - a terse constructor for the catalogs
    return Fn(name, tuple(axes), **kw)  # type: ignore[arg-type]


def _is(axis: str, *wanted: str) -> Callable[[Values], bool]:
    return lambda v: v.get(axis) in wanted


def _all(*preds: Callable[[Values], bool]) -> Callable[[Values], bool]:
    return lambda v: all(p(v) for p in preds)


# --------------------------------------------------------------------------------------------
# The catalogs
# --------------------------------------------------------------------------------------------

API = "pytest/junit-api.xml"
INTEG = "pytest/junit-integration.xml"
NUNIT = "nunit/TestResult.xml"
TRX = "trx/gateway-contract.trx"


def _py(suite: str, area: str, *fns: Fn, fixtures: str = "api_client", issue: str | None = None) -> Group:
    out = API if suite.startswith("tests.api.") else INTEG
    return Group("py", suite, area, fns, fixtures=fixtures, issue=issue, out=out)


PY_GROUPS: tuple[Group, ...] = (
    # ---- tests/api ------------------------------------------------------------------------
    _py(
        "tests.api.test_jobs.TestJobCreate",
        "jobs",
        F("test_create_job", "profile"),
        F("test_create_job_persists", "backend", "profile"),
        F("test_create_job_rejects_unknown_profile", secs=0.05),
        F("test_create_job_idempotency_key", "backend"),
        F("test_create_job_requires_role", "role", secs=0.08),
        F("test_create_job_priority", "priority"),
        F("test_create_job_with_callback", "backend", "priority"),
    ),
    _py(
        "tests.api.test_jobs.TestJobList",
        "jobs",
        F(
            "test_list_jobs_pagination",
            "page_size",
            "state",
            issue="rate_limited",
            when=_is("page_size", "10"),
        ),
        F("test_list_filter_by_state", "state", "backend"),
        F(
            "test_list_total_matches_items",
            "page_size",
            issue="wrong_totals",
            when=_is("page_size", "100", "500"),
        ),
        F("test_list_sorted_by_created_at", "backend"),
        F("test_list_time_range", "range", "backend"),
    ),
    _py(
        "tests.api.test_jobs.TestJobCancel",
        "jobs",
        F(
            "test_cancel_running_job",
            "backend",
            "profile",
            issue="cancel_leaves_jobs",
            when=_is("backend", "redis"),
        ),
        F("test_cancel_queued_job", "backend"),
        F("test_cancel_completed_job_is_noop", secs=0.4),
        F("test_cancel_batch", "size", "backend", issue="cancel_leaves_jobs", when=_is("backend", "redis")),
        F("test_cancel_requires_operator_role", "role", secs=0.08),
    ),
    _py(
        "tests.api.test_jobs.TestJobStatus",
        "jobs",
        F("test_status_transitions", "profile", "backend", secs=1.5),
        F(
            "test_status_stream",
            "proto",
            skip="PRISM-2291: SSE endpoint disabled in prism-qa",
            skip_when=_is("proto", "sse"),
        ),
        F("test_status_unknown_job_returns_404", secs=0.04),
    ),
    _py(
        "tests.api.test_jobs.TestJobRetry",
        "jobs",
        F("test_retry_failed_job", "backend", "profile", n=15, secs=2.0),
        F("test_retry_limit_enforced", "limit", secs=1.2),
    ),
    _py(
        "tests.api.test_live.TestLiveConfigure",
        "live",
        F(
            "test_configure_view",
            "view",
            "nfft",
            n=30,
            issue="pydantic_extra",
            when=_is("view", "timeseries"),
        ),
        F("test_configure_roi_count", "roi_n"),
        F("test_configure_rejects_overlapping_rois", "view"),
        F("test_configure_when_engine_down", "view", issue="degraded_500", secs=3.0),
        F("test_configure_persists_across_reconnect", "backend", secs=1.1),
        F("test_configure_window_function", "window", "nfft", n=30),
        F("test_configure_rbw", "nfft", "fs", n=30),
    ),
    _py(
        "tests.api.test_live.TestLiveSession",
        "live",
        F("test_session_handshake", "proto", "view"),
        F("test_session_frame_rate", "fps", "view", n=20, flaky=0.3, flaky_when=_is("fps", "60"), secs=5.2),
        F("test_session_resume_after_drop", "backend", secs=2.5),
        F("test_session_max_viewers", "viewers", secs=4.0),
    ),
    _py(
        "tests.api.test_alerts.TestAlertThresholds",
        "alerts",
        F(
            "test_rejects_invalid_threshold",
            "bad_threshold",
            issue="threshold_accepted",
            when=_is("bad_threshold", "nan", "above-max", "inverted-hysteresis"),
        ),
        F("test_accepts_valid_threshold", "threshold", "metric"),
    ),
    _py(
        "tests.api.test_alerts.TestAlertRules",
        "alerts",
        F("test_rule_crud", "op", "metric"),
        F("test_rule_evaluation", "metric", "awindow", "severity", secs=1.4),
        F("test_rule_disabled_not_evaluated", secs=1.0),
    ),
    _py(
        "tests.api.test_alerts.TestAlertNotifications",
        "notify",
        F("test_notify_channel", "channel", "severity", secs=0.9),
        F("test_dedup_window", "awindow", secs=2.2),
    ),
    _py(
        "tests.api.test_auth.TestTokens",
        "auth",
        F("test_token_expiry", "ttl"),
        F("test_refresh_token", "role"),
        F("test_revoked_token_rejected"),
    ),
    _py(
        "tests.api.test_auth.TestRbac",
        "auth",
        F("test_endpoint_permissions", "role", "endpoint", secs=0.06),
    ),
    _py(
        "tests.api.test_tenants.TestTenantIsolation",
        "auth",
        F("test_cross_tenant_access_denied", "tenant", "endpoint", secs=0.07),
        F("test_tenant_quota", "tenant", "quota"),
    ),
    _py(
        "tests.api.test_validation.TestJobPayloadValidation",
        "jobs",
        F("test_rejects_invalid_job_field", "field", "case", secs=0.03),
    ),
    _py(
        "tests.api.test_validation.TestLivePayloadValidation",
        "live",
        F("test_rejects_invalid_live_field", "lfield", "case", secs=0.03),
    ),
    _py(
        "tests.api.test_validation.TestAlertPayloadValidation",
        "alerts",
        F("test_rejects_invalid_alert_field", "afield", "case", secs=0.03),
    ),
    _py(
        "tests.api.test_spectrum.TestSpectrumQuery",
        "engine",
        F("test_query_band", "band", "fs", secs=0.6),
        F(
            "test_query_decimation",
            "factor",
            xfail="PRISM-2310: decimation is off by one sample for odd factors",
            xfail_when=_is("factor", "3", "5"),
        ),
        F("test_query_time_range", "range", "backend"),
    ),
    _py(
        "tests.api.test_spectrum.TestFftEndpoint",
        "engine",
        F("test_fft_window", "window", "nfft", secs=0.35),
        F("test_fft_rejects_non_power_of_two", secs=0.03),
    ),
    _py(
        "tests.api.test_spectrum.TestRoiExport",
        "export",
        F(
            "test_export_roi",
            "fmt",
            "roi",
            skip="h5py is not installed on the runner image",
            skip_when=_is("fmt", "hdf5"),
            secs=0.8,
        ),
    ),
    _py(
        "tests.api.test_profiles.TestProcessingProfiles",
        "engine",
        F("test_profile_crud", "profile", "op"),
        F("test_profile_defaults", "profile"),
    ),
    _py(
        "tests.api.test_live.TestLiveViews",
        "live",
        F("test_view_render_params", "view", "window", "colormap", n=60, secs=0.4),
    ),
    _py(
        "tests.api.test_alerts.TestAlertHistory",
        "alerts",
        F("test_history_query", "metric", "range", "severity", n=40, secs=0.3),
    ),
    _py(
        "tests.api.test_jobs.TestJobArtifacts",
        "export",
        F(
            "test_artifact_download",
            "fmt",
            "backend",
            skip="h5py is not installed on the runner image",
            skip_when=_is("fmt", "hdf5"),
            secs=0.6,
        ),
    ),
    _py(
        "tests.api.test_users.TestUsers",
        "auth",
        F("test_user_crud", "role", "op"),
        F("test_password_policy", "case", secs=0.05),
    ),
    _py(
        "tests.api.test_audit.TestAuditLog",
        "auth",
        F("test_audit_entry_written", "endpoint", "op", n=40, secs=0.15),
        F("test_openapi_schema_documents", "endpoint", secs=0.05),
    ),
    _py(
        "tests.api.test_environments.TestEnvironmentMatrix",
        "env",
        F("test_api_reachable", "region", issue="env_missing", when=_is("region", "staging-eu")),
        F(
            "test_service_versions_match",
            "region",
            "service",
            issue="env_missing",
            when=_is("region", "staging-eu"),
        ),
    ),
    _py(
        "tests.api.test_health.TestHealth",
        "health",
        F("test_healthz", secs=0.02),
        F("test_readyz_dependency", "dep", secs=0.05),
        F("test_metrics_exposed", "prom", secs=0.05),
    ),
    # ---- tests/integration ----------------------------------------------------------------
    _py(
        "tests.integration.test_scheduler.TestSchedulerPods",
        "k8s",
        F("test_job_pod_created", "profile", n=6, secs=6.0),
        F("test_pod_cleanup_after_cancel", "backend", secs=9.0),
        F("test_pod_logs_streamed", secs=4.0),
        fixtures="k8s_core, api_client",
        issue="k8s_none",
    ),
    _py(
        "tests.integration.test_scheduler.TestJobPlacement",
        "k8s",
        F(
            "test_placement_node_pool",
            "node_pool",
            "profile",
            skip="no GPU node pool in the prism-qa cluster",
            skip_when=_is("node_pool", "gpu-t4", "gpu-a10"),
            secs=7.0,
        ),
        fixtures="k8s_core, api_client",
    ),
    _py(
        "tests.integration.test_scheduler.TestScaling",
        "k8s",
        F("test_scale_out", "replicas", secs=25.0),
        F("test_scale_in_drains_jobs", "replicas", secs=31.0),
        F("test_hpa_target", "cpu", skip="metrics-server is not installed in prism-qa", secs=40.0),
        fixtures="k8s_core, api_client",
    ),
    _py(
        "tests.integration.test_scheduler.TestPreemption",
        "k8s",
        F("test_preemption", "priority", "node_pool", secs=14.0),
        fixtures="k8s_core, api_client",
    ),
    _py(
        "tests.integration.test_scheduler.TestSchedulerQueue",
        "k8s",
        F("test_queue_priority_order", "priority", "backend", secs=3.0),
        F("test_queue_depth_metric", secs=1.0),
        F("test_queue_backpressure", "limit", secs=4.0),
        fixtures="k8s_core, api_client",
    ),
    _py(
        "tests.integration.test_messaging.TestRabbitPublish",
        "messaging",
        F("test_publish_routed", "exchange", "routing", secs=0.4),
        F("test_publish_persistent", "exchange", secs=0.6),
        F("test_publisher_confirms", "exchange", secs=0.5),
        fixtures="amqp_channel",
    ),
    _py(
        "tests.integration.test_messaging.TestRabbitConsume",
        "messaging",
        F("test_consume_ack", "exchange", "routing", secs=0.7),
        F("test_consume_prefetch", "prefetch", secs=1.3),
        F(
            "test_consumer_reconnect",
            "exchange",
            flaky=0.4,
            flaky_when=_is("exchange", "prism.live"),
            secs=3.5,
        ),
        fixtures="amqp_channel",
    ),
    _py(
        "tests.integration.test_messaging.TestDeadLetter",
        "messaging",
        F("test_dead_letter_after_retries", "retries", "exchange", secs=2.4),
        F("test_poison_message_quarantined", "exchange", secs=1.9),
        fixtures="amqp_channel",
    ),
    _py(
        "tests.integration.test_messaging.TestRabbitTopology",
        "messaging",
        F("test_binding_declared", "exchange", "routing", "version", secs=0.2),
        fixtures="amqp_channel",
    ),
    _py(
        "tests.integration.test_messaging.TestEventSchema",
        "messaging",
        F("test_event_schema", "event", "version", secs=0.3),
        fixtures="amqp_channel",
    ),
    _py(
        "tests.integration.test_storage.TestSpectrumRepository",
        "storage",
        F("test_store_frames", "fs", "nfft", secs=0.9),
        F(
            "test_document_has_audit_fields",
            "doc",
            issue="created_by_missing",
            when=_is("doc", "roi", "session"),
        ),
        F("test_query_plan_uses_index", "table", issue="missing_index", when=_is("table", "spectrum_frames")),
        fixtures="pg, repo",
    ),
    _py(
        "tests.integration.test_storage.TestBulkWrites",
        "storage",
        F("test_bulk_insert", "table", "size", secs=1.4),
        F("test_partition_rollover", "days", "table", secs=2.2),
        fixtures="pg, repo",
    ),
    _py(
        "tests.integration.test_storage.TestMigrations",
        "storage",
        F("test_migration_upgrade", "rev", secs=1.6),
        F(
            "test_migration_downgrade",
            "rev",
            skip="irreversible migration",
            skip_when=_is("rev", "0005_spectrum_frames", "0009_frames_partitioning"),
            secs=1.8,
        ),
        fixtures="pg, alembic_cfg",
    ),
    _py(
        "tests.integration.test_storage.TestRetention",
        "storage",
        F("test_retention_policy", "days", "table", secs=1.2),
        F("test_backup_roundtrip", "table", secs=6.5),
        fixtures="pg, repo",
    ),
    _py(
        "tests.integration.test_engine.TestFftResolution",
        "engine",
        F(
            "test_frequency_resolution",
            "fs",
            "nfft",
            issue="freq_resolution",
            when=_is("fs", "8000"),
            secs=0.5,
        ),
        fixtures="engine",
    ),
    _py(
        "tests.integration.test_engine.TestSpectrumAccuracy",
        "engine",
        F("test_peak_detection", "signal", "window", secs=0.7),
        F("test_noise_floor", "fs", secs=0.9),
        F("test_snr_estimate", "signal", secs=0.6),
        fixtures="engine",
    ),
    _py(
        "tests.integration.test_engine.TestRoiExtraction",
        "export",
        F(
            "test_roi_payload_size",
            "roi",
            "fmt",
            issue="roi_size",
            when=_all(_is("roi", "roi3", "roi5"), _is("fmt", "npy", "parquet")),
            secs=1.1,
        ),
        fixtures="engine, job_id",
    ),
    _py(
        "tests.integration.test_engine.TestDecimation",
        "engine",
        F("test_decimation_antialias", "factor", "window", secs=0.4),
        fixtures="engine",
    ),
    _py(
        "tests.integration.test_engine.TestWaterfallRender",
        "engine",
        F("test_render_waterfall", "view", "nfft", "colormap", n=90, secs=0.5),
        fixtures="engine",
    ),
    _py(
        "tests.integration.test_engine.TestWindowing",
        "engine",
        F("test_window_coefficients", "window", "nfft", secs=0.1),
        F("test_overlap_add", "window", "overlap", secs=0.3),
        fixtures="engine",
    ),
    _py(
        "tests.integration.test_engine.TestFilterBank",
        "engine",
        F("test_filter_response", "band", "fs", secs=0.6),
        F("test_calibration_table", "fs", "band", secs=0.2),
        fixtures="engine",
    ),
    _py(
        "tests.integration.test_engine.TestFrameCodec",
        "engine",
        F("test_codec_roundtrip", "fmt", "nfft", "version", n=60, secs=0.15),
        fixtures="engine",
    ),
    _py(
        "tests.integration.test_live_ingest.TestLiveIngest",
        "live",
        F("test_ingest_rate", "fs", "fps", secs=6.0),
        F("test_ingest_backpressure", "viewers", secs=9.0),
    ),
    _py(
        "tests.integration.test_end_to_end.TestLivePipeline",
        "e2e",
        F("test_live_pipeline", "view", "fs", flaky=0.25, flaky_when=_is("fs", "2400000"), secs=18.0),
    ),
    _py(
        "tests.integration.test_end_to_end.TestBatchPipeline",
        "e2e",
        F("test_batch_pipeline", "profile", "backend", secs=22.0),
    ),
    _py(
        "tests.integration.test_end_to_end.TestMultiTenantPipeline",
        "e2e",
        F("test_tenant_pipeline", "tenant", "profile", secs=16.0),
    ),
    _py(
        "tests.integration.test_end_to_end.TestAlertPipeline",
        "notify",
        F("test_alert_raised_end_to_end", "metric", "channel", secs=12.0),
    ),
)

JAVA_GROUPS: tuple[Group, ...] = (
    Group(
        "java",
        "com.prism.gateway.RouteResolverTest",
        "unit",  # in-process unit tests: no network, no environment incidents
        (
            F("resolvesKnownRoute", "route", "api", secs=0.004),
            F(
                "resolvesTenantScopedRoute",
                "tenant",
                "route",
                issue="route_npe",
                when=_is("route", "/jobs/{id}", "/alerts/{id}", "/roi/{id}/export"),
                secs=0.006,
            ),
            F("rejectsUnknownRoute", "api", secs=0.002),
            F("prefersMostSpecificMatch", secs=0.003),
            F("cachesCompiledPatterns", "api", secs=0.002),
            F("rewritesLegacyPrefix", "route", secs=0.003),
        ),
    ),
    Group(
        "java",
        "com.prism.gateway.RateLimiterTest",
        "unit",  # in-process unit tests: no network, no environment incidents
        (
            F("allowsWithinBudget", "rate", "burst", secs=0.01),
            F("throttlesAboveBudget", "rate", "burst", secs=0.02),
            F("refillsAfterWindow", "rate", secs=1.05),
            F("isolatesTenants", "tenant", "rate", secs=0.01),
        ),
    ),
    Group(
        "java",
        "com.prism.gateway.TokenVerifierTest",
        "unit",  # in-process unit tests: no network, no environment incidents
        (
            F("acceptsValidToken", "alg", "role", secs=0.004),
            F("rejectsExpiredToken", "alg", secs=0.002),
            F("rejectsForeignTenant", "tenant", secs=0.002),
            F("rotatesSigningKeys", secs=0.03),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.JobSubmissionIT",
        "k8s",
        (
            F("submitsJobForProfile", "profile", "backend", n=20, secs=3.5),
            F(
                "cancelStopsAllPods",
                "profile",
                issue="cancel_leaves_jobs",
                when=_is("profile", "stft-hann", "welch-psd"),
                secs=8.0,
            ),
            F("retriesOnTransientFailure", "retries", secs=6.0),
            F("honoursPriority", "priority", secs=4.2),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.SchedulerClientIT",
        "k8s",
        (
            F("reachesScheduler", "region", issue="env_missing", when=_is("region", "staging-eu"), secs=0.8),
            F("listsNodePools", "region", issue="env_missing", when=_is("region", "staging-eu"), secs=0.6),
            F("watchesJobEvents", "backend", secs=5.0),
            F("reportsQueueDepth", secs=0.4),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.messaging.RabbitPublisherIT",
        "messaging",
        (
            F("publishesToExchange", "exchange", "routing", secs=0.3),
            F("confirmsPersistentMessages", "exchange", secs=0.5),
            F("reconnectsAfterBrokerRestart", "exchange", secs=4.5),
            F("serializesEvent", "event", "version", secs=0.05),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.messaging.DeadLetterIT",
        "messaging",
        (
            F("routesToDeadLetterAfterRetries", "retries", "exchange", secs=2.1),
            F("quarantinesPoisonMessage", "exchange", secs=1.7),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.storage.SpectrumRepositoryIT",
        "storage",
        (
            F("storesFrames", "fs", "nfft", n=25, secs=0.6),
            F("readsFramesByJob", "backend", secs=0.4),
            F("appliesRetention", "days", "table", secs=0.9),
            F("migratesSchema", "rev", n=10, secs=1.1),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.live.LiveConfigClientIT",
        "live",
        (
            F(
                "appliesConfigWithinDeadline",
                "view",
                "nfft",
                n=18,
                flaky=0.45,
                flaky_when=_is("view", "waterfall", "persistence"),
                secs=2.8,
            ),
            F("rejectsInvalidConfig", "lfield", secs=0.2),
            F("streamsFrames", "view", "fps", n=15, secs=3.1),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.alerts.AlertBridgeIT",
        "alerts",
        (
            F("forwardsAlertToChannel", "channel", "severity", secs=0.7),
            F(
                "rejectsInvalidThreshold",
                "bad_threshold",
                issue="threshold_accepted",
                when=_is("bad_threshold", "nan", "above-max", "inverted-hysteresis"),
                secs=0.3,
            ),
            F("acceptsValidThreshold", "threshold", "metric", secs=0.3),
            F("deduplicatesWithinWindow", "awindow", secs=2.0),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.alerts.AlertRulesIT",
        "alerts",
        (F("evaluatesRule", "metric", "awindow", "severity", n=30, secs=0.8),),
    ),
    Group(
        "java",
        "com.prism.integration.storage.JobRepositoryIT",
        "storage",
        (
            F("findsJobsByState", "state", "backend", secs=0.3),
            F("pagesThroughJobs", "page_size", secs=0.5),
            F("storesJobTree", "profile", secs=0.4),
        ),
    ),
    Group(
        "java",
        "com.prism.integration.dotnet.InteropBridgeIT",
        "routing",
        (
            F("callsDotnetGateway", "route", "api", secs=0.4),
            F("marshalsSpectrumFrame", "nfft", secs=0.2),
            F("propagatesTraceContext", "header", secs=0.1),
        ),
    ),
    Group(
        "java",
        "com.prism.analysis.FftPipelineIT",
        "engine",
        (
            F("frequencyResolution", "fs", "nfft", issue="freq_resolution", when=_is("fs", "8000"), secs=0.3),
            F("windowGain", "window", "nfft", secs=0.2),
            F("detectsPeaks", "signal", "window", n=30, secs=0.4),
            F(
                "exportsRoi",
                "roi",
                "fmt",
                skip="HDF5 writer not available on the JVM build image",
                skip_when=_is("fmt", "hdf5"),
                n=20,
                secs=0.6,
            ),
        ),
    ),
)

NUNIT_GROUPS: tuple[Group, ...] = (
    Group(
        "nunit",
        "Prism.Gateway.Tests.Routing.RouteResolverTests",
        "routing",
        (
            F("Resolve_KnownRoute_ReturnsTarget", "route", "api", secs=0.03),
            F(
                "Resolve_TenantRoute_ReturnsTarget",
                "tenant",
                "route",
                issue="route_npe",
                when=_is("route", "/jobs/{id}", "/alerts/{id}", "/roi/{id}/export"),
                secs=0.08,
            ),
            F("Resolve_UnknownRoute_Returns404", "api", secs=0.02),
            F("Resolve_ForwardsHeaders", "header", secs=0.03),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Auth.TokenValidationTests",
        "auth",
        (
            F("ValidToken_IsAccepted", "role", "alg", secs=0.02),
            F("ExpiredToken_IsRejected", "alg", secs=0.01),
            F("TamperedSignature_IsRejected", "alg", secs=0.01),
            F("WrongAudience_IsRejected", "tenant", secs=0.01),
            F(
                "RotatedSigningKey_IsAccepted",
                skip="PRISM-2277: key rotation endpoint not deployed to prism-qa",
            ),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Auth.RbacPolicyTests",
        "auth",
        (F("Policy_AllowsOrDenies", "role", "endpoint", n=50, secs=0.02),),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Routing.VersionNegotiationTests",
        "routing",
        (
            F("Negotiates_ApiVersion", "api", "header", secs=0.02),
            F("Rejects_RetiredVersion", "route", secs=0.02),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Proxy.ProfilesProxyTests",
        "engine",
        (F("Profile_IsForwarded", "profile", "op", secs=0.08),),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Proxy.JobsProxyTests",
        "jobs",
        (
            F("CreateJob_IsForwarded", "profile", "backend", secs=0.15),
            F("CancelJob_IsForwarded", "backend", secs=0.12),
            F("ListJobs_PreservesPaging", "page_size", "state", secs=0.1),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Proxy.LiveConfigureProxyTests",
        "live",
        (
            F("Configure_View_IsForwarded", "view", "nfft", n=36, secs=0.12),
            F("Configure_EngineDown_ReturnsBadGatewayOrUnavailable", "view", issue="degraded_500", secs=2.1),
            F("Configure_Window_IsForwarded", "window", secs=0.1),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Proxy.AlertsProxyTests",
        "alerts",
        (
            F(
                "InvalidThreshold_Returns422",
                "bad_threshold",
                issue="threshold_accepted",
                when=_is("bad_threshold", "nan", "above-max", "inverted-hysteresis"),
                secs=0.09,
            ),
            F("ValidThreshold_Returns201", "threshold", "metric", secs=0.09),
            F("DeleteAlert_IsForwarded", "role", secs=0.07),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Streaming.RabbitBridgeTests",
        "messaging",
        (
            F("Publish_RoutesToExchange", "exchange", "routing", secs=0.25),
            F("Consume_AcknowledgesMessage", "exchange", secs=0.3),
            F(
                "Bridge_SurvivesBrokerRestart",
                skip="PRISM-2291: quarantined, flaky under broker restarts",
                secs=6.0,
            ),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Streaming.WebSocketRelayTests",
        "live",
        (
            F("Relay_ForwardsFrames", "view", "fps", n=12, secs=1.1),
            F("Relay_ClosesOnIdle", secs=5.0),
            F("Relay_LimitsViewers", "viewers", secs=2.4),
        ),
        issue="relay_fixture_null",
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Streaming.SpectrumStreamTests",
        "live",
        (
            F("Stream_DeliversFrames", "view", "nfft", n=36, secs=0.9),
            F("Stream_HonoursFrameRate", "fps", secs=2.5),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.RateLimiting.RateLimitTests",
        "ratelimit",
        (
            F("Burst_IsThrottled", "rate", "burst", secs=1.2),
            F("Window_Refills", "rate", flaky=0.4, flaky_when=_is("rate", "500"), secs=2.0),
            F("Tenants_AreIsolated", "tenant", secs=0.6),
        ),
    ),
    Group(
        "nunit",
        "Prism.Gateway.Tests.Spectrum.SpectrumProxyTests",
        "engine",
        (
            F("QueryBand_IsForwarded", "band", "fs", secs=0.2),
            F(
                "ExportRoi_StreamsBody",
                "roi",
                "fmt",
                n=20,
                skip="Spectrum sandbox tenant not provisioned in prism-qa",
                skip_when=_is("fmt", "hdf5"),
                secs=0.6,
            ),
        ),
    ),
)

TRX_GROUPS: tuple[Group, ...] = (
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.JobsContractTests",
        "contract",
        (
            F("CreateJob_MatchesSchema", "profile", "backend", secs=0.2),
            F("GetJob_HasAuditFields", "doc", issue="created_by_missing", when=_is("doc", "job"), secs=0.15),
            F("CancelJob_Returns202", "backend", secs=0.18),
            F("JobStates_AreDocumented", "state", secs=0.05),
        ),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.PaginationContractTests",
        "contract",
        (
            F(
                "TotalCount_MatchesItems",
                "page_size",
                "state",
                issue="wrong_totals",
                when=_is("page_size", "100"),
                secs=0.9,
            ),
            F("NextLink_IsAbsolute", "page_size", secs=0.1),
            F("Crawl_AllPages", "page_size", issue="rate_limited", when=_is("page_size", "10"), secs=3.2),
        ),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.LiveConfigureContractTests",
        "contract",
        (
            F("Configure_MatchesSchema", "view", "nfft", secs=0.12),
            F("Configure_RejectsUnknownField", "lfield", secs=0.05),
        ),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.AlertsContractTests",
        "contract",
        (
            F("CreateAlert_MatchesSchema", "metric", "severity", secs=0.1),
            F(
                "InvalidThreshold_IsRejected",
                "bad_threshold",
                issue="threshold_accepted",
                when=_is("bad_threshold", "nan", "above-max"),
                secs=0.1,
            ),
            F("AlertEvents_MatchSchema", "event", secs=0.05),
        ),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.ProfilesContractTests",
        "contract",
        (F("Profile_MatchesSchema", "profile", "op", secs=0.1),),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.AuthContractTests",
        "contract",
        (F("Endpoint_RequiresRole", "role", "endpoint", n=40, secs=0.05),),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.ErrorContractTests",
        "contract",
        (
            F("Errors_UseProblemJson", "route", "case", n=40, secs=0.05),
            F("Webhook_MatchesSchema", "channel", "severity", secs=0.05),
        ),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.SpectrumContractTests",
        "contract",
        (
            F("Spectrum_MatchesSchema", "band", "fs", secs=0.2),
            F("RoiExport_ContentType", "fmt", secs=0.3),
        ),
    ),
    Group(
        "mstest",
        "Prism.Gateway.ContractTests.SchemaCompatibilityTests",
        "contract",
        (
            F("OpenApi_IsBackwardCompatible", "route", "api", secs=0.4),
            F("Events_AreBackwardCompatible", "event", "version", secs=0.1),
            F(
                "GrpcBridge_IsCompatible",
                skip="gRPC bridge contract is checked in the prism-proto repository",
            ),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# Building the catalog (depends on seed and scale only)
# --------------------------------------------------------------------------------------------


def _param_sets(fn: Fn, scale: float, rng: random.Random) -> list[Values]:
    if not fn.axes:
        return [{}]
    combos = list(itertools.product(*(AXES[a] for a in fn.axes)))
    base = fn.n or len(combos)
    count = max(1, round(base * scale))
    if count <= len(combos):
        chosen = (
            [combos[i] for i in sorted(rng.sample(range(len(combos)), count))]
            if count < len(combos)
            else combos
        )
        return [dict(zip(fn.axes, c, strict=True)) for c in chosen]
    # More than every combination: repeat the product, as pytest-repeat or extra shards would.
    out = [dict(zip(fn.axes, c, strict=True)) for c in combos]
    shards = AXES["shard"]
    for i in range(count - len(combos)):
        shard = shards[(i // len(combos)) % len(shards)]
        values = dict(zip(fn.axes, combos[i % len(combos)], strict=True))
        values["shard"] = (
            shard if i < len(combos) * len(shards) else f"{shard}{i // (len(combos) * len(shards))}"
        )
        out.append(values)
    return out


def _java_type(axis: str) -> str:
    return "int" if axis in NUMERIC else "String"


def _case_name(group: Group, fn: Fn, values: Values, index: int) -> str:
    if not values:
        return fn.name
    axes = list(values)
    if group.fmt == "py":
        return f"{fn.name}[{'-'.join(values.values())}]"
    if group.fmt == "java":
        return f"{fn.name}({', '.join(_java_type(a) for a in axes)})[{index + 1}]"
    if group.fmt == "nunit":
        args = ",".join(v if a in NUMERIC else f'"{v}"' for a, v in values.items())
        return f"{fn.name}({args})"
    return f"{fn.name} ({','.join(values.values())})"


def build_catalog(seed: int, scale: float) -> list[Case]:
    """Every test case of the suite, in run order. Independent of the build number."""
    rng = random.Random(f"prism-suite-{seed}")  # noqa: S311 - sample data, not security
    keys = list(range(13000, 13000 + 900))
    rng.shuffle(keys)
    cases: list[Case] = []
    for group in (*PY_GROUPS, *JAVA_GROUPS, *NUNIT_GROUPS, *TRX_GROUPS):
        out = (
            group.out
            or {
                "java": f"surefire/TEST-{group.suite}.xml",
                "nunit": NUNIT,
                "mstest": TRX,
            }[group.fmt]
        )
        line = rng.randint(18, 40)
        for fn in group.fns:
            key = f"PZ-{keys.pop()}" if group.fmt == "py" and rng.random() < 0.45 else None
            for index, values in enumerate(_param_sets(fn, scale, rng)):
                name = _case_name(group, fn, values, index)
                cases.append(Case(group, fn, name, values, line, key, out))
            line += rng.randint(9, 34)
    return cases


# --------------------------------------------------------------------------------------------
# Volatile tokens and the build's context
# --------------------------------------------------------------------------------------------


class Tokens:
    """Ids, addresses, ports and paths that differ on every occurrence."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def addr(self) -> str:
        return "0x7f" + self.hex(10)

    def job(self) -> str:
        return "job-" + self.hex(8)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def port(self) -> int:
        return self.rng.randint(32768, 60999)

    def ip(self) -> str:
        return f"10.42.{self.rng.randint(0, 15)}.{self.rng.randint(2, 254)}"

    def pod(self, prefix: str) -> str:
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        suffix = "".join(self.rng.choice(alphabet) for _ in range(5))
        return f"{prefix}-{self.hex(9)}-{suffix}"

    def num(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def pytest_tmp(self, test: str) -> str:
        return f"{TMP}/pytest-of-runner/pytest-{self.num(3, 60)}/{test[:30]}0"


@dataclass
class Ctx:
    """What a failure template may use: the case, the build and a source of volatile tokens."""

    case: Case
    tok: Tokens
    build: int
    at: datetime


@dataclass
class Failure:
    kind: str  # assert | exception | setup
    exc: str  # exception type as the tool prints it
    message: str  # the tool's message attribute
    trace: str  # stack trace / pytest longrepr
    stdout: str = ""
    stderr: str = ""


Template = Callable[[Ctx], Failure]


@dataclass
class Result:
    status: str  # passed | failed | error | skipped | xfail | inconclusive
    seconds: float
    failure: Failure | None = None
    reason: str = ""
    category: str = ""
    retry: Template | None = None  # how a rerun fails (Surefire reruns)
    reruns: list[Failure] = field(default_factory=list)  # Surefire: failed on every rerun
    flakes: list[Failure] = field(default_factory=list)  # Surefire: failed, then passed on a rerun


def _log_ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S,") + f"{at.microsecond // 1000:03d}"


# --------------------------------------------------------------------------------------------
# pytest long tracebacks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One traceback entry: long (arguments + source up to the failing line) or short."""

    path: str
    line: int
    src: tuple[str, ...]  # source lines; the last one is where it failed
    args: str = ""
    func: str = ""
    short: bool = False


SEP = "_ " * 40


def py_trace(entries: Sequence[Entry], exc: str, e_lines: Sequence[str]) -> str:
    """Format ``entries`` the way pytest's default --tb=auto writes them into JUnit XML."""
    assert not entries[-1].short, "the failing frame is always shown in full"
    out: list[str] = []
    short_name = exc.rsplit(".", 1)[-1]
    for position, entry in enumerate(entries):
        last = position == len(entries) - 1
        if entry.short:
            out += [f"{entry.path}:{entry.line}: in {entry.func}", "    " + entry.src[-1].strip()]
            continue
        if position:
            out.append(SEP)
            out.append("")
        if entry.args:
            out += [entry.args, ""]
        out += ["    " + s if s else "" for s in entry.src[:-1]]
        fail = entry.src[-1]
        out.append(">   " + fail)
        if last:
            indent = " " * (len(fail) - len(fail.lstrip()))
            out += ["E   " + indent + t if t else "E" for t in e_lines]
            out += ["", f"{entry.path}:{entry.line}: {short_name}"]
        else:
            out += ["", f"{entry.path}:{entry.line}: "]
            if not entries[position + 1].short:
                continue
            out.append(SEP)
    return "\n".join(out)


def _py_path(case: Case) -> str:
    module = case.suite.rsplit(".", 1)[0]
    return module.replace(".", "/") + ".py"


def _funcargs(x: Ctx) -> str:
    case = x.case
    parts = [
        f"{name} = '{x.tok.job()}'"
        if name == "job_id"
        else f"{name} = <{_fixture_repr(name)} object at {x.tok.addr()}>"
        for name in _fixtures(case)
    ]
    parts += [f"{axis} = {value if axis in NUMERIC else repr(value)}" for axis, value in case.values.items()]
    return f"self = <{case.suite} object at {x.tok.addr()}>\n" + ", ".join(parts)


def _fixtures(case: Case) -> list[str]:
    return [f.strip() for f in case.group.fixtures.split(",")]


def _fixture_repr(name: str) -> str:
    return {
        "api_client": "prism_testkit.client.PrismClient",
        "k8s_core": "kubernetes.client.api.core_v1_api.CoreV1Api",
        "amqp_channel": "pika.adapters.blocking_connection.BlockingChannel",
        "pg": "psycopg.Connection",
        "repo": "prism_testkit.storage.Repository",
        "alembic_cfg": "alembic.config.Config",
        "engine": "prism_testkit.engine.EngineClient",
        "job_id": "str",
    }.get(name, "object")


def _test_entry(x: Ctx, body: Sequence[str], fail: str) -> Entry:
    case = x.case
    params = ", ".join(["self", *_fixtures(case), *case.values])
    src = (f"def {case.fn.name}({params}):", *("    " + b for b in body), "    " + fail)
    return Entry(_py_path(case), case.line + len(body) + 1, src, args=_funcargs(x))


def py_assert(x: Ctx, body: Sequence[str], fail: str, e_lines: Sequence[str]) -> Failure:
    trace = py_trace([_test_entry(x, body, fail)], "AssertionError", e_lines)
    return Failure("assert", "AssertionError", "\n".join(e_lines), trace)


def py_raise(
    x: Ctx,
    body: Sequence[str],
    fail: str,
    inner: Sequence[Entry],
    exc: str,
    msg: Sequence[str],
) -> Failure:
    """An exception raised below the test function, shown through ``inner`` entries."""
    e_lines = [f"{exc}: {msg[0]}", *msg[1:]]
    trace = py_trace([_test_entry(x, body, fail), *inner], exc, e_lines)
    return Failure("exception", exc, "\n".join(e_lines), trace)


def py_setup(fixture_entry: Entry, inner: Sequence[Entry], exc: str, msg: Sequence[str]) -> Failure:
    e_lines = [f"{exc}: {msg[0]}", *msg[1:]]
    trace = py_trace([fixture_entry, *inner], exc, e_lines)
    message = 'failed on setup with "' + "\n".join(e_lines) + '"'
    return Failure("setup", exc, message, trace)


def _captured_log(x: Ctx, lines: Sequence[tuple[str, str, str]]) -> str:
    """pytest's 'Captured Log' section (junit_logging=all, junit_log_passing_tests=False)."""
    at = x.at
    out = [" Captured Log ".center(80, "-")]
    for level, where, text in lines:
        at += timedelta(milliseconds=x.tok.num(3, 900))
        out.append(f"{_log_ts(at)} {level:<8} {where} {text}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Java and .NET stack traces
# --------------------------------------------------------------------------------------------

JUNIT_FRAMES = (
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
    "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:767)",
    "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)",
    "org.junit.jupiter.engine.execution.InvocationInterceptorChain$ValidatingInvocation.proceed"
    "(InvocationInterceptorChain.java:131)",
    "org.junit.jupiter.engine.extension.TimeoutExtension.intercept(TimeoutExtension.java:156)",
    "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:218)",
    "org.junit.platform.engine.support.hierarchical.NodeTestTask.executeRecursively(NodeTestTask.java:160)",
    "org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invokeAllTests(JUnitPlatformProvider.java:184)",
    "org.apache.maven.surefire.booter.ForkedBooter.runSuitesInProcess(ForkedBooter.java:385)",
    "org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:507)",
)
ASSERT_EQUALS_FRAMES = (
    "org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)",
    "org.junit.jupiter.api.AssertionFailureBuilder.buildAndThrow(AssertionFailureBuilder.java:132)",
    "org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)",
    "org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:150)",
    "org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:563)",
)


def java_trace(
    x: Ctx,
    exc: str,
    message: str,
    frames: Sequence[str],
    caused_by: Sequence[tuple[str, str, Sequence[str]]] = (),
    offset: int = 6,
) -> str:
    case = x.case
    test_frame = f"{case.suite}.{case.fn.name}({case.simple}.java:{case.line + offset})"
    lines = [f"{exc}: {message}" if message else exc]
    lines += [f"\tat {f}" for f in (*frames, test_frame, *JUNIT_FRAMES)]
    for cause_exc, cause_msg, cause_frames in caused_by:
        lines.append(f"Caused by: {cause_exc}: {cause_msg}")
        lines += [f"\tat {f}" for f in cause_frames]
        lines.append(f"\t... {len(JUNIT_FRAMES) + len(frames) - 1} more")
    return "\n".join(lines) + "\n"


def java_fail(x: Ctx, exc: str, message: str, frames: Sequence[str], **kw: object) -> Failure:
    kind = (
        "assert"
        if exc in ("org.opentest4j.AssertionFailedError", "java.lang.AssertionError")
        else "exception"
    )
    return Failure(kind, exc, message, java_trace(x, exc, message, frames, **kw))  # type: ignore[arg-type]


def _cs_path(case: Case) -> str:
    parts = case.suite.split(".")
    if case.fmt == "nunit":
        return NUNIT_ROOT + "\\tests\\" + ".".join(parts[:3]) + "\\" + "\\".join(parts[3:]) + ".cs"
    return f"{TRX_ROOT}/tests/{'.'.join(parts[:3])}/{parts[-1]}.cs"


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _cs_signature(case: Case) -> str:
    args = ", ".join(("Int32 " if a in NUMERIC else "String ") + _camel(a) for a in case.values)
    return f"{case.suite}.{case.fn.name}({args})"


def cs_test_frame(x: Ctx, offset: int = 7) -> str:
    case = x.case
    return f"   at {_cs_signature(case)} in {_cs_path(case)}:line {case.line + offset}"


INNER_FRAMES = {
    "System.Net.Sockets.SocketException": "   at System.Net.Sockets.Socket.AwaitableSocketAsyncEventArgs"
    ".ThrowException(SocketError error, CancellationToken cancellationToken)",
    "RabbitMQ.Client.Exceptions.ConnectFailureException": "   at RabbitMQ.Client.Impl.SocketFrameHandler"
    ".ConnectOrFail(ITcpClient socket, AmqpTcpEndpoint endpoint, TimeSpan timeout)",
    "System.TimeoutException": "   at System.Threading.CancellationToken.ThrowOperationCanceledException()",
}
NUNIT_RUNNER_FRAMES = (
    "   at NUnit.Framework.Internal.TaskAwaitAdapter.GenericAdapter`1.BlockUntilCompleted()",
    "   at NUnit.Framework.Internal.MessagePumpStrategy.NoMessagePumpStrategy"
    ".WaitForCompletion(AwaitAdapter awaiter)",
    "   at NUnit.Framework.Internal.AsyncToSyncAdapter.Await(Func`1 invoke)",
    "   at NUnit.Framework.Internal.Commands.TestMethodCommand.RunTestMethod(TestExecutionContext context)",
)
HTTP_FRAMES = (
    "   at System.Net.Http.HttpClient.<SendAsync>g__Core|83_0(HttpRequestMessage request, "
    "HttpCompletionOption completionOption, CancellationTokenSource cts, Boolean disposeCts, "
    "CancellationTokenSource pendingRequestsCts, CancellationToken originalCancellationToken)",
)


def cs_fail(
    x: Ctx,
    exc: str,
    message: str,
    frames: Sequence[str],
    inner: Sequence[tuple[str, str]] = (),
    kind: str = "exception",
) -> Failure:
    """A .NET exception as NUnit (``Type : message``) or vstest (``Test method … threw``) writes it."""
    case = x.case
    trace_lines = [*frames, cs_test_frame(x)]
    if case.fmt == "nunit":
        head = f"{exc} : {message}" if kind == "exception" else message
        head += "".join(f"\n  ----> {t} : {m}" for t, m in inner)
        trace_lines += NUNIT_RUNNER_FRAMES if kind == "exception" else ()
        for inner_exc, _ in inner:
            trace_lines += [
                f"--{inner_exc.split(' ')[0].rsplit('.', 1)[-1]}",
                INNER_FRAMES[inner_exc.split(" ")[0]],
            ]
        return Failure(kind, exc, head, "\n".join(trace_lines) + ("\n" if kind == "assert" else ""))
    if kind == "assert":
        return Failure(kind, exc, message, "\n".join(trace_lines))
    head = f"Test method {case.suite}.{case.fn.name} threw exception: \n{exc}: {message}"
    head += "".join(f" ---> {t}: {m}" for t, m in inner)
    if inner:
        innermost = inner[-1][0].split(" ")[0]
        trace_lines = [INNER_FRAMES[innermost], "   --- End of inner exception stack trace ---", *trace_lines]
    return Failure(kind, exc, head, "\n".join(trace_lines))


def cs_assert_equal(x: Ctx, expected: str, actual: str, note: str, frames: Sequence[str] = ()) -> Failure:
    if x.case.fmt == "nunit":
        message = f"  {note}\n  Expected: {expected}\n  But was:  {actual}\n"
        return cs_fail(x, "NUnit.Framework.AssertionException", message, frames, kind="assert")
    message = f"Assert.AreEqual failed. Expected:<{expected}>. Actual:<{actual}>. {note}"
    trace = [*frames, cs_test_frame(x)]
    return Failure(
        "assert",
        "Microsoft.VisualStudio.TestTools.UnitTesting.AssertFailedException",
        message,
        "\n".join(trace),
    )


# --------------------------------------------------------------------------------------------
# Failure templates: product bugs
# --------------------------------------------------------------------------------------------


def cancel_leaves_jobs(x: Ctx) -> Failure:
    found = [x.tok.job() for _ in range(x.tok.num(1, 4))]
    if x.case.fmt == "java":
        pods = [x.tok.pod("prism-fft-worker") for _ in found]
        msg = (
            f"expected 0 active pods after cancel of {x.tok.job()} but found {len(pods)}: [{', '.join(pods)}]"
            f" ==> expected: <0> but was: <{len(pods)}>"
        )
        return java_fail(x, "org.opentest4j.AssertionFailedError", msg, ASSERT_EQUALS_FRAMES)
    body = [
        "job = api_client.jobs.create(profile=profile, backend=backend)",
        'api_client.jobs.wait_for(job.id, "running", timeout=30)',
        "api_client.jobs.cancel(job.id)",
        'active = api_client.jobs.list(state="running", parent=job.id)',
    ]
    fail = (
        'assert not active, f"expected 0 active jobs after cancel, found {len(active)}: '
        '{[j.id for j in active]}"'
    )
    e_lines = [
        f"AssertionError: expected 0 active jobs after cancel, found {len(found)}: {found!r}",
        "assert not [" + ", ".join(f"<Job {j} running>" for j in found) + "]",
    ]
    failure = py_assert(x, body, fail, e_lines)
    failure.stdout = _captured_log(
        x,
        [
            (
                "INFO",
                "prism_testkit.client:client.py:88",
                f"POST https://{API_HOST}/jobs/{found[0]}/cancel -> 202",
            ),
            (
                "WARNING",
                "prism_testkit.client:client.py:131",
                f"{len(found)} child job(s) still running after cancel",
            ),
        ],
    )
    return failure


THRESHOLD_VALUES = {
    "nan": '"NaN"',
    "above-max": "250.0",
    "inverted-hysteresis": "-40.0",
    "negative-window": "-60.0",
}


def threshold_accepted(x: Ctx) -> Failure:
    case = x.case
    bad = case.values.get("bad_threshold", "nan")
    value = THRESHOLD_VALUES.get(bad, "-60.0")
    if case.fmt == "java":
        msg = f"invalid threshold ({bad}) must be rejected ==> expected: <422> but was: <201>"
        return java_fail(x, "org.opentest4j.AssertionFailedError", msg, ASSERT_EQUALS_FRAMES)
    if case.fmt in ("nunit", "mstest"):
        return cs_assert_equal(x, "422", "201", f"Invalid threshold '{bad}' must be rejected")
    alert = "alr-" + x.tok.hex(8)
    body = [
        f'payload = {{"metric": "peak-power", "threshold_db": {value}, "window_s": 10, "channel": "email"}}',
        'resp = api_client.post("/alerts", json=payload)',
    ]
    e_lines = [
        f'AssertionError: {{"id":"{alert}","metric":"peak-power","threshold_db":{value},'
        f'"window_s":10,"channel":"email","state":"armed","created_at":"{x.at.isoformat()}"}}',
        "assert 201 == 422",
        " +  where 201 = <Response [201 Created]>.status_code",
    ]
    return py_assert(x, body, "assert resp.status_code == 422, resp.text", e_lines)


def route_npe(x: Ctx) -> Failure:
    case = x.case
    line = 142
    npe = 'Cannot invoke "com.prism.gateway.Route.target()" because "route" is null'
    if case.fmt == "java":
        frames = (
            f"com.prism.gateway.RouteResolver.resolve(RouteResolver.java:{line})",
            "com.prism.gateway.RouteResolver.resolveForTenant(RouteResolver.java:97)",
        )
        return java_fail(x, "java.lang.NullPointerException", npe, frames)
    request_id = x.tok.uuid()
    route = case.values.get("route", "/jobs/{id}")
    prefix = {"/alerts/{id}": "alr-", "/roi/{id}/export": "roi-"}.get(route, "job-")
    path = route.replace("{id}", prefix + x.tok.hex(8))
    url = f"https://{API_HOST}/v2/tenants/{case.values.get('tenant', 'acme')}{path}"
    failure = cs_assert_equal(x, "OK", "InternalServerError", f"GET {url}")
    body = {
        "error": "java.lang.NullPointerException",
        "message": npe,
        "at": f"com.prism.gateway.RouteResolver.resolve(RouteResolver.java:{line})",
        "requestId": request_id,
    }
    failure.stdout = (
        f"-> GET {url} (X-Request-Id: {request_id})\n<- 500 {json.dumps(body, separators=(',', ':'))}\n"
    )
    return failure


def wrong_totals(x: Ctx) -> Failure:
    total = x.tok.num(900, 4000)
    seen = total - x.tok.num(1, 3)
    if x.case.fmt == "mstest":
        note = "X-Total-Count disagrees with the number of items returned across all pages"
        return cs_assert_equal(x, str(total), str(seen), note)
    body = [
        'page = api_client.jobs.list(page_size=page_size, state="completed")',
        'items = list(api_client.jobs.iter_all(state="completed", page_size=page_size))',
    ]
    e_lines = [
        f"assert {total} == {seen}",
        f" +  where {total} = <Page total={total} page_size={x.case.values.get('page_size')}>.total",
        f" +  and   {seen} = len([<Job {x.tok.job()} completed>, <Job {x.tok.job()} completed>, ...])",
    ]
    return py_assert(x, body, "assert page.total == len(items)", e_lines)


def degraded_500(x: Ctx) -> Failure:
    if x.case.fmt == "nunit":
        message = (
            "  engine scaled to 0 replicas; gateway must answer 502 or 503\n"
            "  Expected: any of < BadGateway, ServiceUnavailable >\n  But was:  InternalServerError\n"
        )
        return cs_fail(x, "NUnit.Framework.AssertionException", message, (), kind="assert")
    body = [
        'with engine_outage(namespace="prism-qa"):',
        '    resp = api_client.post("/live/configure", json={"view": view, "nfft": 4096})',
    ]
    e_lines = [
        "assert 500 in (502, 503)",
        " +  where 500 = <Response [500 Internal Server Error]>.status_code",
    ]
    failure = py_assert(x, body, "    assert resp.status_code in (502, 503)", e_lines)
    failure.stdout = _captured_log(
        x,
        [
            ("INFO", "prism_testkit.k8s:k8s.py:204", "scaled deployment prism-qa/prism-engine to 0 replicas"),
            (
                "ERROR",
                "prism_testkit.client:client.py:74",
                f"POST https://{API_HOST}/live/configure -> 500 "
                f'{{"detail":"upstream engine error","trace_id":"{x.tok.hex(32)}"}}',
            ),
        ],
    )
    return failure


# --------------------------------------------------------------------------------------------
# Failure templates: automation bugs (test code, test data, test configuration)
# --------------------------------------------------------------------------------------------


def pydantic_extra(x: Ctx) -> Failure:
    count = x.tok.num(2, 9)
    body = ["session = api_client.live.open(view=view)"]
    fail = f"request = LiveViewRequest(view=view, nfft=nfft, roi_count={count})"
    exc = "pydantic_core._pydantic_core.ValidationError"
    e_lines = [
        f"{exc}: 1 validation error for LiveViewRequest",
        "roi_count",
        f"  Extra inputs are not permitted [type=extra_forbidden, input_value={count}, input_type=int]",
        "    For further information visit https://errors.pydantic.dev/2.9/v/extra_forbidden",
    ]
    trace = py_trace([_test_entry(x, body, fail)], exc, e_lines)
    return Failure("exception", exc, "\n".join(e_lines), trace)


def env_missing(x: Ctx) -> Failure:
    region = x.case.values.get("region", "staging-eu")
    if x.case.fmt == "java":
        msg = f"Unknown environment '{region}' in environments.yaml (known: [ap-south, eu-west, us-east])"
        frames = (
            "com.prism.it.support.EnvConfig.load(EnvConfig.java:57)",
            "com.prism.it.support.EnvConfig.forName(EnvConfig.java:41)",
        )
        return java_fail(x, "java.lang.IllegalArgumentException", msg, frames, offset=3)
    entry = Entry(
        "tests/conftest.py",
        47,
        (
            "@pytest.fixture",
            "def env(request):",
            '    name = request.node.callspec.params.get("region", DEFAULT_ENV)',
            "    return EnvConfig.from_mapping(ENVIRONMENTS[name])",
        ),
        args=f"request = <SubRequest 'env' for <Function {x.case.name}>>",
    )
    failure = py_setup(entry, (), "KeyError", [f"'{region}'"])
    failure.stdout = _captured_log(
        x,
        [
            (
                "INFO",
                "tests.conftest:conftest.py:31",
                f"loaded 3 environments from {PY_ROOT}/config/environments.yaml: eu-west, us-east, ap-south",
            ),
        ],
    )
    return failure


def rate_limited(x: Ctx) -> Failure:
    page = x.tok.num(9, 40)
    url = f"https://{API_HOST}/jobs?page={page}&page_size=10&state={x.case.values.get('state', 'queued')}"
    if x.case.fmt == "mstest":
        frames = (
            "   at System.Net.Http.HttpResponseMessage.EnsureSuccessStatusCode()",
            "   at Prism.Gateway.ContractTests.Support.ContractClient.GetPageAsync(Int32 page, Int32 "
            "size) in "
            f"{TRX_ROOT}/tests/Prism.Gateway.ContractTests/Support/ContractClient.cs:line 64",
        )
        msg = "Response status code does not indicate success: 429 (Too Many Requests)."
        return cs_fail(x, "System.Net.Http.HttpRequestException", msg, frames)
    body = ["seen = []"]
    fail = "for page in api_client.jobs.pages(page_size=page_size, state=state):"
    inner = (
        Entry(
            "src/prism_testkit/client.py",
            142,
            ("resp = self._get(path, params=params)",),
            func="pages",
            short=True,
        ),
        Entry(
            "src/prism_testkit/client.py",
            61,
            (
                "def _get(self, path, params=None):",
                "    resp = self._http.get(path, params=params)",
                "    resp.raise_for_status()",
            ),
            args=f"self = <prism_testkit.client.JobsResource object at {x.tok.addr()}>, path = '/jobs'",
        ),
    )
    lines = [
        f"Client error '429 Too Many Requests' for url '{url}'",
        "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/429",
    ]
    failure = py_raise(x, body, fail, inner, "httpx.HTTPStatusError", lines)
    failure.stdout = _captured_log(
        x,
        [
            (
                "WARNING",
                "prism_testkit.client:client.py:59",
                f"GET {url} -> 429 (Retry-After: {x.tok.num(1, 30)})",
            )
        ],
    )
    return failure


def k8s_none(x: Ctx) -> Failure:
    entry = Entry(
        "tests/integration/conftest.py",
        112,
        (
            '@pytest.fixture(scope="class")',
            "def k8s_core(env):",
            "    kube = load_kube_client(env)  # None when the runner has no kubeconfig",
            "    return kube.CoreV1Api()",
        ),
        args=f"env = EnvConfig(name='prism-qa', k8s_mode='ssh', namespace='prism-qa', api='https://{API_HOST}')",
    )
    failure = py_setup(entry, (), "AttributeError", ["'NoneType' object has no attribute 'CoreV1Api'"])
    failure.stdout = _captured_log(
        x,
        [
            (
                "WARNING",
                "prism_testkit.k8s:k8s.py:38",
                "kubeconfig not found at /home/runner/.kube/config; "
                "falling back to SSH executor (host=k8s-bastion.prism-qa.internal)",
            ),
        ],
    )
    return failure


def relay_fixture_null(x: Ctx) -> Failure:
    """NUnit OneTimeSetUp of WebSocketRelayTests: the fixture reads an unset agent variable."""
    frames = (
        "   at Prism.Gateway.Tests.Support.GatewayFixture.get_RelayClient() in "
        f"{NUNIT_ROOT}\\tests\\Prism.Gateway.Tests\\Support\\GatewayFixture.cs:line 52",
        "   at Prism.Gateway.Tests.Streaming.WebSocketRelayTests.ConnectRelay() in "
        f"{NUNIT_ROOT}\\tests\\Prism.Gateway.Tests\\Streaming\\WebSocketRelayTests.cs:line 31",
    )
    msg = "Object reference not set to an instance of an object."
    failure = Failure(
        "setup", "System.NullReferenceException", f"System.NullReferenceException : {msg}", "\n".join(frames)
    )
    failure.stdout = "PRISM_RELAY_URL is not set; relay client not created\n"
    return failure


def module_missing(x: Ctx) -> Failure:
    trace = "\n".join(
        (
            f"ImportError while importing test module '{PY_ROOT}/tests/integration/test_grpc_bridge.py'.",
            "Hint: make sure your test modules/packages have valid Python names.",
            "Traceback:",
            f"{PYLIB}/importlib/__init__.py:126: in import_module",
            "    return _bootstrap._gcd_import(name[level:], package, level)",
            "tests/integration/test_grpc_bridge.py:9: in <module>",
            "    from prism_proto.v2 import bridge_pb2, bridge_pb2_grpc",
            "E   ModuleNotFoundError: No module named 'prism_proto'",
        )
    )
    return Failure("setup", "ModuleNotFoundError", "collection failure", trace)


# --------------------------------------------------------------------------------------------
# Failure templates: to investigate (numbers and data that look wrong, cause unknown)
# --------------------------------------------------------------------------------------------


def freq_resolution(x: Ctx) -> Failure:
    fs = int(x.case.values.get("fs", "8000"))
    nfft = int(x.case.values.get("nfft", "4096"))
    expected = fs / nfft
    actual = fs / (nfft / 2 + 8)
    summary = f"frequency resolution {actual:.3f} Hz != expected {expected:.3f} Hz (tolerance 0.01)"
    if x.case.fmt == "java":
        msg = f"{summary} ==> expected: <{expected}> but was: <{actual:.6f}>"
        return java_fail(x, "org.opentest4j.AssertionFailedError", msg, ASSERT_EQUALS_FRAMES)
    body = [
        'spectrum = engine.fft(signal=sine(1000.0, fs=fs, seconds=2), nfft=nfft, window="hann")',
        "resolution = spectrum.frequencies[1] - spectrum.frequencies[0]",
    ]
    fail = (
        'assert resolution == pytest.approx(fs / nfft, abs=0.01), f"frequency resolution {resolution:.3f} Hz '
        '!= expected {fs / nfft:.3f} Hz (tolerance 0.01)"'
    )
    e_lines = [
        f"AssertionError: {summary}",
        f"assert {actual:.6f} == {expected:.6f} ± 1.0e-02",
        "  ",
        "  comparison failed",
        f"  Obtained: {actual:.6f}",
        f"  Expected: {expected:.6f} ± 1.0e-02",
    ]
    return py_assert(x, body, fail, e_lines)


def roi_size(x: Ctx) -> Failure:
    roi = x.case.values.get("roi", "roi3")
    base = 262144 * x.tok.num(1, 4)
    other = base * 2 + x.tok.pick((0, 0, 4096, 8192))
    body = [
        'exports = {r: engine.export_roi(job_id, r, fmt=fmt) for r in ("roi1", roi)}',
        "sizes = {r: path.stat().st_size for r, path in exports.items()}",
    ]
    fail = (
        'assert sizes[roi] == sizes["roi1"], f"ROI {roi} payload {sizes[roi]} bytes != ROI roi1 payload '
        "{sizes['roi1']} bytes for identical band width (12.5 kHz)\""
    )
    e_lines = [
        f"AssertionError: ROI {roi} payload {other} bytes != ROI roi1 payload {base} bytes "
        "for identical band width (12.5 kHz)",
        f"assert {other} == {base}",
    ]
    failure = py_assert(x, body, fail, e_lines)
    failure.stdout = _captured_log(
        x,
        [
            (
                "INFO",
                "prism_testkit.engine:engine.py:77",
                f"exported {roi} of {x.tok.job()} to "
                f"{x.tok.pytest_tmp(x.case.fn.name)}/{roi}.{x.case.values.get('fmt', 'npy')}",
            ),
        ],
    )
    return failure


def created_by_missing(x: Ctx) -> Failure:
    kind = x.case.values.get("doc", "roi")
    doc_id = f"{kind}-{x.tok.hex(8)}"
    if x.case.fmt == "mstest":
        msg = (
            f"Assert.IsTrue failed. Response body for GET /jobs/{x.tok.job()} is missing required "
            "property 'created_by'."
        )
        trace = cs_test_frame(x)
        return Failure(
            "assert", "Microsoft.VisualStudio.TestTools.UnitTesting.AssertFailedException", msg, trace
        )
    body = [
        "created = repo.create(kind=doc, payload=sample_payload(doc))",
        "stored = repo.get_document(kind=doc, id=created.id)",
    ]
    fail = (
        'assert REQUIRED_AUDIT_FIELDS <= stored.keys(), f"stored {doc} document {created.id} '
        'missing required field(s): {sorted(REQUIRED_AUDIT_FIELDS - stored.keys())}"'
    )
    e_lines = [
        f"AssertionError: stored {kind} document {doc_id} missing required field(s): ['created_by']",
        "assert {'created_at', 'created_by', 'tenant_id', 'updated_at'} <= "
        "dict_keys(['_id', 'job_id', 'band', 'created_at', 'tenant_id', 'updated_at'])",
    ]
    return py_assert(x, body, fail, e_lines)


def missing_index(x: Ctx) -> Failure:
    table = x.case.values.get("table", "spectrum_frames")
    rows = x.tok.num(900_000, 2_400_000)
    job = x.tok.job()
    plan = (
        "Limit  (cost=48210.77..48211.02 rows=100 width=1064)\\n  ->  Sort  (cost=48210.77..48522.41 "
        f"rows={rows // 10} "
        f"width=1064)\\n        Sort Key: ts DESC\\n        ->  Seq Scan on {table}  (cost=0.00..43446.21 "
        f"rows={rows // 10} width=1064)\\n              Filter: (job_id = '{job}'::text)"
    )
    body = [
        'sql = f"SELECT * FROM {table} WHERE job_id = %s ORDER BY ts DESC LIMIT 100"',
        "plan = pg.explain(sql, [job_id])",
    ]
    e_lines = [f"AssertionError: query on {table} does not use an index", f"assert 'Index Scan' in '{plan}'"]
    failure = py_assert(
        x, body, 'assert "Index Scan" in plan, f"query on {table} does not use an index"', e_lines
    )
    failure.stderr = (
        f"WARNING  prism.storage:repository.py:211 missing index on {table}(job_id, ts): "
        f"sequential scan over {rows} rows took {x.tok.num(900, 4000)} ms\n"
    )
    return failure


# --------------------------------------------------------------------------------------------
# Failure templates: flaky (timing)
# --------------------------------------------------------------------------------------------


def flaky_timeout(x: Ctx) -> Failure:
    case = x.case
    if case.fmt == "java":
        version = x.tok.num(40, 400)
        msg = f"live config v{version} not applied within 10000 ms ==> expected: <true> but was: <false>"
        frames = (
            "org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)",
            "org.junit.jupiter.api.AssertTrue.failNotTrue(AssertTrue.java:63)",
            "org.junit.jupiter.api.Assertions.assertTrue(Assertions.java:214)",
        )
        return java_fail(x, "org.opentest4j.AssertionFailedError", msg, frames)
    if case.fmt == "nunit":
        got = x.tok.num(31, 48)
        message = (
            f"  refill window elapsed but only {got} of 50 requests were admitted\n  Expected: "
            f"50\n  But was:  {got}\n"
        )
        return cs_fail(x, "NUnit.Framework.AssertionException", message, (), kind="assert")
    if case.fn.name == "test_session_frame_rate":
        fps = int(case.values.get("fps", "25"))
        measured = round(fps * (0.55 + x.tok.num(0, 30) / 100), 1)
        body = [
            "session = api_client.live.open(view=view, fps=fps)",
            "measured = session.measure_fps(seconds=5)",
        ]
        fail = 'assert measured >= fps * 0.9, f"measured {measured:.1f} fps < {fps} fps * 0.9"'
        e_lines = [
            f"AssertionError: measured {measured:.1f} fps < {fps} fps * 0.9",
            f"assert {measured} >= ({fps} * 0.9)",
        ]
        return py_assert(x, body, fail, e_lines)
    job = x.tok.job()
    body = ['job = api_client.jobs.create(profile="live", view=view, sample_rate=fs)']
    fail = 'api_client.jobs.wait_for(job.id, "completed", timeout=60)'
    inner = (
        Entry(
            "src/prism_testkit/client.py",
            97,
            (
                "def wait_for(self, job_id, state, timeout=30.0, poll=0.5):",
                "    deadline = time.monotonic() + timeout",
                "    while (current := self.get(job_id).state) != state:",
                "        if time.monotonic() > deadline:",
                '            raise TimeoutError(f"job {job_id} did not reach state {state!r} within '
                "{timeout}s "
                '(last state: {current!r})")',
            ),
            args=f"self = <prism_testkit.client.JobsResource object at {x.tok.addr()}>, job_id = '{job}', "
            "state = 'completed', timeout = 60, poll = 0.5",
        ),
    )
    lines = [f"job {job} did not reach state 'completed' within 60s (last state: 'running')"]
    return py_raise(x, body, fail, inner, "TimeoutError", lines)


# --------------------------------------------------------------------------------------------
# Failure templates: environment incidents (system issues)
# --------------------------------------------------------------------------------------------


def _py_http_path(case: Case) -> str:
    return {"live": "/live/configure", "alerts": "/alerts", "notify": "/alerts"}.get(case.group.area, "/jobs")


def _py_http_body(case: Case) -> tuple[list[str], str]:
    if "api_client" in _fixtures(case):
        return [
            "payload = build_payload(**locals())"
        ], f'resp = api_client.post("{_py_http_path(case)}", json=payload)'
    client = _fixtures(case)[0]
    return [
        "payload = build_payload(**locals())"
    ], f'resp = {client}.post("/engine/v1/analyze", json=payload)'


def _httpx_inner() -> tuple[Entry, ...]:
    return (
        Entry(
            f"{SITE}/httpx/_client.py",
            1014,
            ("response = transport.handle_request(request)",),
            func="_send_single_request",
            short=True,
        ),
        Entry(
            f"{SITE}/httpx/_transports/default.py",
            249,
            ("with map_httpcore_exceptions():",),
            func="handle_request",
            short=True,
        ),
        Entry(
            f"{PYLIB}/contextlib.py",
            158,
            ("self.gen.throw(typ, value, traceback)",),
            func="__exit__",
            short=True,
        ),
        Entry(
            f"{SITE}/httpx/_transports/default.py",
            118,
            (
                "@contextlib.contextmanager",
                "def map_httpcore_exceptions() -> typing.Iterator[None]:",
                "    try:",
                "        yield",
                "    except Exception as exc:",
                "        mapped_exc = None",
                "        ...",
                "        message = str(exc)",
                "        raise mapped_exc(message) from exc",
            ),
            args="",
        ),
    )


def _cs_http_frames(x: Ctx) -> tuple[str, ...]:
    root = (
        NUNIT_ROOT + "\\src\\Prism.Gateway.Client"
        if x.case.fmt == "nunit"
        else f"{TRX_ROOT}/src/Prism.Gateway.Client"
    )
    sep = "\\" if x.case.fmt == "nunit" else "/"
    return (
        *HTTP_FRAMES,
        "   at Prism.Gateway.Client.GatewayClient.SendAsync(HttpRequestMessage request, "
        "CancellationToken ct) "
        f"in {root}{sep}GatewayClient.cs:line 88",
    )


def rabbit_down(x: Ctx) -> Failure:
    case = x.case
    if case.fmt == "java":
        frames = (
            "java.base/sun.nio.ch.Net.pollConnect(Native Method)",
            "java.base/sun.nio.ch.Net.pollConnectNow(Net.java:682)",
            "java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:542)",
            "java.base/java.net.Socket.connect(Socket.java:751)",
            "com.rabbitmq.client.impl.SocketFrameHandlerFactory.create(SocketFrameHandlerFactory.java:61)",
            "com.rabbitmq.client.ConnectionFactory.newConnection(ConnectionFactory.java:1249)",
            "com.prism.integration.messaging.AmqpSupport.connect(AmqpSupport.java:44)",
        )
        return java_fail(x, "java.net.ConnectException", "Connection refused", frames)
    if case.fmt in ("nunit", "mstest"):
        net_frames = (
            "   at RabbitMQ.Client.ConnectionFactory.CreateConnection(IEndpointResolver "
            "endpointResolver, String clientProvidedName)",
            "   at Prism.Gateway.Streaming.RabbitBridge.Connect() in "
            + (
                "C:\\agent\\_work\\7\\s\\src\\Prism.Gateway\\Streaming\\RabbitBridge.cs:line 61"
                if case.fmt == "nunit"
                else f"{TRX_ROOT}/src/Prism.Gateway/Streaming/RabbitBridge.cs:line 61"
            ),
        )
        inner = (
            ("RabbitMQ.Client.Exceptions.ConnectFailureException", "Connection failed"),
            ("System.Net.Sockets.SocketException", "Connection refused"),
        )
        msg = "None of the specified endpoints were reachable"
        return cs_fail(x, "RabbitMQ.Client.Exceptions.BrokerUnreachableException", msg, net_frames, inner)
    if x.tok.num(0, 3) == 0 and case.group.area == "messaging":
        return _stream_lost(x)
    fixture = Entry(
        "tests/integration/conftest.py" if case.out == INTEG else "tests/conftest.py",
        88,
        (
            '@pytest.fixture(scope="class")',
            "def amqp_channel(env):",
            "    wait_for_port(env.amqp_host, env.amqp_port, timeout=5.0)",
        ),
        args=f"env = EnvConfig(name='prism-qa', amqp_host='{AMQP_HOST}', amqp_port=5672)",
    )
    entries = (
        Entry(
            "src/prism_testkit/amqp.py",
            44,
            ("with socket.create_connection((host, port), timeout=timeout):",),
            func="wait_for_port",
            short=True,
        ),
        Entry(f"{PYLIB}/socket.py", 851, ("raise exceptions[0]",), func="create_connection", short=True),
        Entry(
            f"{PYLIB}/socket.py",
            836,
            (
                "def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT,",
                "    ...",
                "            sock.connect(sa)",
            ),
            args=f"address = ('{AMQP_HOST}', 5672), timeout = 5.0, source_address = None, all_errors = False",
        ),
    )
    failure = py_setup(fixture, entries, "ConnectionRefusedError", ["[Errno 111] Connection refused"])
    failure.stdout = _captured_log(
        x,
        [
            (
                "WARNING",
                "prism_testkit.amqp:amqp.py:41",
                f"AMQP connect to {AMQP_HOST}:5672 failed (attempt 3/3)",
            )
        ],
    )
    return failure


def _stream_lost(x: Ctx) -> Failure:
    body = [
        "amqp_channel.basic_qos(prefetch_count=10)",
        "amqp_channel.basic_publish(exchange, routing_key, body)",
    ]
    fail = "method, props, payload = next(amqp_channel.consume(queue, inactivity_timeout=10))"
    inner = (
        Entry(
            f"{SITE}/pika/adapters/blocking_connection.py",
            1993,
            ("self._process_data_events(time_limit)",),
            func="consume",
            short=True,
        ),
        Entry(
            f"{SITE}/pika/adapters/blocking_connection.py",
            532,
            (
                "def _flush_output(self, *waiters):",
                "    ...",
                "        raise self._closed_result.value.error",
            ),
            args="self = <BlockingConnection impl=<SelectConnection CLOSED transport=None "
            "params=<URLParameters "
            f"host={AMQP_HOST} port=5672 virtual_host=prism-qa ssl=False>>>",
        ),
    )
    msg = ["Stream connection lost: ConnectionResetError(104, 'Connection reset by peer')"]
    return py_raise(x, body, fail, inner, "pika.exceptions.StreamLostError", msg)


def pg_timeout(x: Ctx) -> Failure:
    case = x.case
    ip = x.tok.ip()
    if case.fmt == "java":
        frames = (
            "org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:352)",
            "org.postgresql.core.ConnectionFactory.openConnection(ConnectionFactory.java:54)",
            "org.postgresql.jdbc.PgConnection.<init>(PgConnection.java:273)",
            "com.zaxxer.hikari.pool.HikariPool.createPoolEntry(HikariPool.java:479)",
            "com.prism.integration.storage.PgSupport.dataSource(PgSupport.java:37)",
        )
        cause = (
            "java.net.SocketTimeoutException",
            "Connect timed out",
            (
                "java.base/sun.nio.ch.NioSocketImpl.timedFinishConnect(NioSocketImpl.java:546)",
                "java.base/java.net.Socket.connect(Socket.java:751)",
            ),
        )
        return java_fail(
            x,
            "org.postgresql.util.PSQLException",
            "The connection attempt failed.",
            frames,
            caused_by=(cause,),
        )
    if case.fmt in ("nunit", "mstest"):
        net_frames = (
            "   at Npgsql.Internal.NpgsqlReadBuffer.<Ensure>g__EnsureLong|55_0(NpgsqlReadBuffer "
            "buffer, Int32 count, Boolean async, Boolean readingNotifications)",
            "   at Npgsql.NpgsqlConnection.<Open>g__OpenAsync|42_0(Boolean async, CancellationToken "
            "cancellationToken)",
        )
        inner = (("System.TimeoutException", "Timeout during reading attempt"),)
        return cs_fail(x, "Npgsql.NpgsqlException", "Exception while reading from stream", net_frames, inner)
    fixture = Entry(
        "tests/integration/conftest.py",
        131,
        (
            '@pytest.fixture(scope="session")',
            "def pg(env):",
            "    conn = psycopg.connect(env.database_url, connect_timeout=10)",
        ),
        args=f"env = EnvConfig(name='prism-qa', database_url='postgresql://prism_qa:***@{ip}:5432/prism')",
    )
    entries = (
        Entry(
            f"{SITE}/psycopg/connection.py",
            119,
            (
                "@classmethod",
                'def connect(cls, conninfo: str = "", *, autocommit: bool = False, **kwargs: Any) -> Self:',
                "    ...",
                "    raise last_ex.with_traceback(None)",
            ),
            args=f"cls = <class 'psycopg.Connection'>, conninfo = 'host={ip} port=5432 dbname=prism "
            "user=prism_qa "
            "connect_timeout=10'",
        ),
    )
    msg = [f'connection to server at "{ip}", port 5432 failed: timeout expired']
    return py_setup(fixture, entries, "psycopg.OperationalError", msg)


def k8s_503(x: Ctx) -> Failure:
    case = x.case
    audit = x.tok.uuid()
    job = x.tok.job()
    body_json = (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"the server is currently unable to handle the '
        'request","reason":"ServiceUnavailable","code":503}'
    )
    if case.fmt == "java":
        msg = (
            "Failure executing: GET at: "
            f"{K8S_API}/api/v1/namespaces/prism-qa/pods?labelSelector=prism.io%2Fjob%3D{job}. "
            "Message: the server is currently unable to handle the request. Received status: "
            "Status(apiVersion=v1, "
            "code=503, details=null, kind=Status, message=the server is currently unable to handle the "
            "request, "
            "metadata=ListMeta(_continue=null, remainingItemCount=null, resourceVersion=null, selfLink=null, "
            "additionalProperties={}), reason=ServiceUnavailable, status=Failure, additionalProperties={})."
        )
        frames = (
            "io.fabric8.kubernetes.client.dsl.internal.OperationSupport.requestFailure(OperationSupport.java:660)",
            "io.fabric8.kubernetes.client.dsl.internal.OperationSupport.assertResponseCode(OperationSupport.java:640)",
            "io.fabric8.kubernetes.client.dsl.internal.BaseOperation.list(BaseOperation.java:424)",
            "com.prism.integration.k8s.PodProbe.podsFor(PodProbe.java:58)",
        )
        return java_fail(x, "io.fabric8.kubernetes.client.KubernetesClientException", msg, frames)
    date = x.at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    lines = [
        "(503)",
        "Reason: Service Unavailable",
        "HTTP response headers: "
        f"HTTPHeaderDict({{'Audit-Id': '{audit}', 'Cache-Control': 'no-cache, private', "
        f"'Content-Type': 'application/json', 'Date': '{date}', 'Content-Length': '{len(body_json)}'}})",
        f"HTTP response body: {body_json}",
        "",
    ]
    inner: list[Entry] = []
    if "k8s_core" in _fixtures(case):
        fail = 'pods = k8s_core.list_namespaced_pod("prism-qa", label_selector=f"prism.io/job={job.id}")'
    else:
        fail = "pods = api_client.jobs.pods(job.id)"
        inner.append(
            Entry(
                "src/prism_testkit/client.py",
                177,
                (
                    "return self._k8s.list_namespaced_pod(self._namespace, "
                    'label_selector=f"prism.io/job={job_id}")',
                ),
                func="pods",
                short=True,
            )
        )
    inner += [
        Entry(
            f"{SITE}/kubernetes/client/api/core_v1_api.py",
            15823,
            ("return self.list_namespaced_pod_with_http_info(namespace, **kwargs)  # noqa: E501",),
            func="list_namespaced_pod",
            short=True,
        ),
        Entry(
            f"{SITE}/kubernetes/client/rest.py",
            238,
            (
                "def request(self, method, url, query_params=None, headers=None,",
                "            body=None, post_params=None, _preload_content=True,",
                "            _request_timeout=None):",
                "    ...",
                "    if not 200 <= r.status <= 299:",
                "        raise ApiException(http_resp=r)",
            ),
            args=f"self = <kubernetes.client.rest.RESTClientObject object at {x.tok.addr()}>, method = "
            "'GET'\n"
            f"url = '{K8S_API}/api/v1/namespaces/prism-qa/pods', query_params = [('labelSelector', "
            f"'prism.io/job={job}')]",
        ),
    ]
    exc = "kubernetes.client.exceptions.ApiException"
    if case.group.issue == "k8s_none":
        fixture = Entry(
            "tests/integration/conftest.py",
            118,
            (
                '@pytest.fixture(scope="class")',
                "def scheduler_ready(k8s_core):",
                '    k8s_core.read_namespace("prism-qa")',
            ),
            args=f"k8s_core = <kubernetes.client.api.core_v1_api.CoreV1Api object at {x.tok.addr()}>",
        )
        return py_setup(fixture, inner[-2:], exc, lines)
    body = ['job = api_client.jobs.create(profile="fft-4096")']
    return py_raise(x, body, fail, inner, exc, lines)


def ingress_502(x: Ctx) -> Failure:
    case = x.case
    job = x.tok.job()
    html = (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
        "Gateway</h1></center>\r\n"
        "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    if case.fmt == "java":
        msg = f"HTTP 502 Bad Gateway from https://{API_HOST}/jobs/{job}: {html.strip()}"
        frames = (
            "com.prism.client.ApiClient.checkStatus(ApiClient.java:211)",
            "com.prism.client.ApiClient.send(ApiClient.java:164)",
        )
        return java_fail(x, "com.prism.client.ApiException", msg, frames)
    if case.fmt in ("nunit", "mstest"):
        net_frames = (
            "   at System.Net.Http.HttpResponseMessage.EnsureSuccessStatusCode()",
            *_cs_http_frames(x)[1:],
        )
        failure = cs_fail(
            x,
            "System.Net.Http.HttpRequestException",
            "Response status code does not indicate success: 502 (Bad Gateway).",
            net_frames,
        )
        failure.stdout = html
        return failure
    body, fail = _py_http_body(case)
    inner = (
        Entry("src/prism_testkit/client.py", 74, ("resp.raise_for_status()",), func="post", short=True),
        Entry(
            f"{SITE}/httpx/_models.py",
            829,
            (
                "def raise_for_status(self) -> Response:",
                "    ...",
                "    raise HTTPStatusError(message, request=request, response=self)",
            ),
            args="self = <Response [502 Bad Gateway]>",
        ),
    )
    lines = [
        f"Server error '502 Bad Gateway' for url 'https://{API_HOST}{_py_http_path(case)}'",
        "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/502",
    ]
    failure = py_raise(x, body, fail, inner, "httpx.HTTPStatusError", lines)
    failure.stdout = " Captured Out ".center(80, "-") + "\n" + html.replace("\r\n", "\n")
    return failure


def read_timeout(x: Ctx) -> Failure:
    case = x.case
    if case.fmt == "java":
        frames = (
            "java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
            "java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)",
            "java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
            "okio.InputStreamSource.read(JvmOkio.kt:93)",
            "okhttp3.internal.http1.Http1ExchangeCodec.readResponseHeaders(Http1ExchangeCodec.kt:180)",
            "com.prism.client.ApiClient.send(ApiClient.java:158)",
        )
        return java_fail(x, "java.net.SocketTimeoutException", "Read timed out", frames)
    if case.fmt in ("nunit", "mstest"):
        msg = "The request was canceled due to the configured HttpClient.Timeout of 30 seconds elapsing."
        inner = (("System.TimeoutException", "The operation was canceled."),)
        return cs_fail(x, "System.Threading.Tasks.TaskCanceledException", msg, _cs_http_frames(x), inner)
    body, fail = _py_http_body(case)
    return py_raise(x, body, fail, _httpx_inner(), "httpx.ReadTimeout", ["The read operation timed out"])


def disk_full(x: Ctx) -> Failure:
    case = x.case
    roi = case.values.get("roi", "roi" + str(x.tok.num(0, 7)))
    ext = case.values.get("fmt", "npy")
    if case.fmt == "java":
        frames = (
            "java.base/sun.nio.ch.FileDispatcherImpl.write0(Native Method)",
            "java.base/sun.nio.ch.FileChannelImpl.write(FileChannelImpl.java:311)",
            "com.prism.analysis.RoiWriter.write(RoiWriter.java:73)",
        )
        return java_fail(x, "java.io.IOException", "No space left on device", frames)
    if case.fmt in ("nunit", "mstest"):
        net_frames = (
            "   at System.IO.RandomAccess.WriteAtOffset(SafeFileHandle handle, ReadOnlySpan`1 buffer, "
            "Int64 fileOffset)",
            "   at System.IO.Strategies.OSFileStreamStrategy.Write(ReadOnlySpan`1 buffer)",
        )
        if case.fmt == "nunit":
            return cs_fail(x, "System.IO.IOException", "There is not enough space on the disk.", net_frames)
        path = f"{TMP}/prism-contract-{x.tok.hex(6)}/{roi}.{ext}"
        return cs_fail(x, "System.IO.IOException", f"No space left on device : '{path}'", net_frames)
    path = f"{x.tok.pytest_tmp(case.fn.name)}/{roi}.{ext}"
    client = "api_client" if "api_client" in _fixtures(case) else _fixtures(case)[0]
    body = [f"artifact = {client}.artifact_url(kind={roi!r}, fmt={ext!r})"]
    fail = "local = download(artifact, dest_dir=tmp_path)"
    inner = (
        Entry(
            "src/prism_testkit/files.py",
            58,
            ("target.write_bytes(resp.content)",),
            func="download",
            short=True,
        ),
        Entry(
            f"{PYLIB}/pathlib.py",
            1074,
            (
                "def write_bytes(self, data):",
                "    view = memoryview(data)",
                "    with self.open(mode='wb') as f:",
                "        return f.write(view)",
            ),
            args=f"self = PosixPath('{path}'), data = <memory at {x.tok.addr()}>",
        ),
    )
    return py_raise(x, body, fail, inner, "OSError", [f"[Errno 28] No space left on device: '{path}'"])


def dns_failure(x: Ctx) -> Failure:
    case = x.case
    host = AMQP_HOST if case.group.area == "messaging" else API_HOST
    if case.fmt == "java":
        frames = (
            "java.base/java.net.Inet6AddressImpl.lookupAllHostAddr(Native Method)",
            "java.base/java.net.InetAddress$PlatformResolver.lookupByName(InetAddress.java:1211)",
            "java.base/java.net.InetAddress.getAllByName0(InetAddress.java:1828)",
            "java.base/java.net.InetAddress.getAllByName(InetAddress.java:1704)",
        )
        return java_fail(
            x, "java.net.UnknownHostException", f"{host}: Temporary failure in name resolution", frames
        )
    if case.fmt == "nunit":
        msg = (
            "This is usually a temporary error during hostname resolution and means that the local "
            "server did not receive a response from an authoritative server."
        )
        return cs_fail(
            x,
            "System.Net.Http.HttpRequestException",
            f"{msg} ({host}:443)",
            _cs_http_frames(x),
            (("System.Net.Sockets.SocketException", msg),),
        )
    if case.fmt == "mstest":
        msg = "Resource temporarily unavailable"
        return cs_fail(
            x,
            "System.Net.Http.HttpRequestException",
            f"{msg} ({host}:443)",
            _cs_http_frames(x),
            (("System.Net.Sockets.SocketException (11)", msg),),
        )
    if case.group.area in ("messaging", "storage"):
        return _py_dns_setup(x)
    body, fail = _py_http_body(case)
    return py_raise(
        x,
        body,
        fail,
        _httpx_inner(),
        "httpx.ConnectError",
        ["[Errno -3] Temporary failure in name resolution"],
    )


def _py_dns_setup(x: Ctx) -> Failure:
    """A fixture cannot resolve the broker's or the database's service name."""
    if x.case.group.area == "messaging":
        fixture = Entry(
            "tests/integration/conftest.py",
            88,
            (
                '@pytest.fixture(scope="class")',
                "def amqp_channel(env):",
                "    wait_for_port(env.amqp_host, env.amqp_port, timeout=5.0)",
            ),
            args=f"env = EnvConfig(name='prism-qa', amqp_host='{AMQP_HOST}', amqp_port=5672)",
        )
        inner = (
            Entry(
                "src/prism_testkit/amqp.py",
                44,
                ("with socket.create_connection((host, port), timeout=timeout):",),
                func="wait_for_port",
                short=True,
            ),
            Entry(
                f"{PYLIB}/socket.py",
                827,
                (
                    "def create_connection(address, timeout=_GLOBAL_DEFAULT_TIMEOUT,",
                    "    ...",
                    "    for res in getaddrinfo(host, port, 0, SOCK_STREAM):",
                ),
                args=f"address = ('{AMQP_HOST}', 5672), timeout = 5.0, source_address = None, "
                "all_errors = False",
            ),
        )
        return py_setup(
            fixture, inner, "socket.gaierror", ["[Errno -3] Temporary failure in name resolution"]
        )
    fixture = Entry(
        "tests/integration/conftest.py",
        131,
        (
            '@pytest.fixture(scope="session")',
            "def pg(env):",
            "    conn = psycopg.connect(env.database_url, connect_timeout=10)",
        ),
        args="env = EnvConfig(name='prism-qa', database_url='postgresql://prism_qa:***@postgres.prism-qa.svc:5432/prism')",
    )
    entries = (
        Entry(
            f"{SITE}/psycopg/connection.py",
            100,
            (
                "@classmethod",
                'def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:',
                "    ...",
                "    params = cls._get_connection_params(conninfo, **kwargs)",
            ),
            args="cls = <class 'psycopg.Connection'>, conninfo = 'host=postgres.prism-qa.svc port=5432 "
            "dbname=prism'",
        ),
    )
    msg = ['failed to resolve host "postgres.prism-qa.svc": [Errno -3] Temporary failure in name resolution']
    return py_setup(fixture, entries, "psycopg.OperationalError", msg)


# --------------------------------------------------------------------------------------------
# Issues and incidents
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    category: str
    template: Template
    active: Callable[[int], bool] = lambda build: True
    chance: float = 1.0  # chance per affected case per build (intermittent problems)


ISSUES: dict[str, Issue] = {
    # product bugs
    "cancel_leaves_jobs": Issue(PRODUCT, cancel_leaves_jobs),
    "threshold_accepted": Issue(PRODUCT, threshold_accepted),
    "route_npe": Issue(PRODUCT, route_npe, active=lambda b: b < FIX_BUILD),
    "wrong_totals": Issue(PRODUCT, wrong_totals),
    "degraded_500": Issue(PRODUCT, degraded_500, active=lambda b: b >= REGRESSION_BUILD),
    # automation bugs
    "pydantic_extra": Issue(AUTOMATION, pydantic_extra),
    "env_missing": Issue(AUTOMATION, env_missing, active=lambda b: b < ENV_FIX_BUILD),
    "rate_limited": Issue(AUTOMATION, rate_limited, chance=0.5),
    "k8s_none": Issue(AUTOMATION, k8s_none, active=lambda b: b % 3 != 0),  # runs on an SSH-fallback runner
    "relay_fixture_null": Issue(AUTOMATION, relay_fixture_null, active=lambda b: b % 2 == 1),
    "module_missing": Issue(AUTOMATION, module_missing),
    # to investigate
    "freq_resolution": Issue(INVESTIGATE, freq_resolution),
    "roi_size": Issue(INVESTIGATE, roi_size),
    "created_by_missing": Issue(INVESTIGATE, created_by_missing),
    "missing_index": Issue(INVESTIGATE, missing_index),
}


@dataclass(frozen=True)
class Incident:
    template: Template
    areas: frozenset[str]
    seconds: float = 0.0  # how long a hit takes (a timeout), 0 = fails fast


INCIDENTS: dict[str, Incident] = {
    "rabbit_down": Incident(rabbit_down, frozenset({"messaging", "notify", "e2e"})),
    "pg_timeout": Incident(pg_timeout, frozenset({"storage", "e2e"}), seconds=10.0),
    "k8s_503": Incident(k8s_503, frozenset({"k8s", "e2e"})),
    "ingress_502": Incident(
        ingress_502, frozenset({"jobs", "live", "alerts", "auth", "routing", "contract"})
    ),
    "read_timeout": Incident(
        read_timeout, frozenset({"engine", "live", "jobs", "contract", "e2e"}), seconds=30.0
    ),
    "disk_full": Incident(disk_full, frozenset({"export", "engine"})),
    "dns_failure": Incident(
        dns_failure, frozenset({"messaging", "storage", "jobs", "contract", "routing", "notify"})
    ),
}


def plan_incidents(rng: random.Random, catalog: Sequence[Case], seed: int) -> dict[str, tuple[float, float]]:
    """Which incidents happen during this build, as (start, length) fractions of each run.

    One larger outage and three short blips a night; each is sized as a share of the whole
    run (about 2.7% and 0.5%), then spread over the cases of the areas it touches. Each kind
    of incident has its usual time of night (the database backup, the broker's log rotation),
    so when it recurs it tends to hit the same tests again.
    """
    usual = random.Random(f"prism-incidents-{seed}")  # noqa: S311 - sample data, not security
    habit = {name: usual.uniform(0.05, 0.8) for name in sorted(INCIDENTS)}
    areas = Counter(case.group.area for case in catalog)
    names = sorted(INCIDENTS)
    major = rng.choice(names)
    shares = {major: rng.uniform(0.02, 0.034)}
    for name in rng.sample([n for n in names if n != major], 3):
        shares[name] = rng.uniform(0.003, 0.007)
    plan: dict[str, tuple[float, float]] = {}
    for name, share in shares.items():
        exposed = sum(areas[a] for a in INCIDENTS[name].areas) or 1
        length = min(0.9, share * len(catalog) / exposed)
        start = min(max(0.0, habit[name] + rng.uniform(-0.06, 0.06)), 1.0 - length)
        plan[name] = (start, length)
    return plan


# --------------------------------------------------------------------------------------------
# Deciding outcomes
# --------------------------------------------------------------------------------------------


@dataclass
class Build:
    number: int
    rng: random.Random
    tok: Tokens
    incidents: dict[str, tuple[float, float]]
    start: datetime


def _duration(build: Build, fn: Fn) -> float:
    return max(0.001, fn.secs * build.rng.lognormvariate(0.0, 0.35))


def _static(case: Case, build: Build) -> Result | None:
    fn = case.fn
    if fn.skip and (fn.skip_when is None or fn.skip_when(case.values)):
        return Result("skipped", 0.0, reason=fn.skip)
    if fn.xfail and (fn.xfail_when is None or fn.xfail_when(case.values)):
        return Result("xfail", _duration(build, fn), reason=fn.xfail)
    return None


def _status_of(case: Case, failure: Failure) -> str:
    """JUnit 'error' vs 'failure': pytest errors only outside the test call; JUnit and NUnit on exceptions."""
    if failure.kind == "setup" or (case.fmt in ("java", "nunit") and failure.kind == "exception"):
        return "error"
    return "failed"


def _issue_result(case: Case, build: Build, name: str, at: datetime) -> Result | None:
    issue = ISSUES[name]
    if not issue.active(build.number):
        return None
    if issue.chance < 1.0 and build.rng.random() >= issue.chance:
        return None
    failure = issue.template(Ctx(case, build.tok, build.number, at))
    status = _status_of(case, failure)
    seconds = 0.002 + build.rng.random() * 0.01 if failure.kind == "setup" else _duration(build, case.fn)
    return Result(status, seconds, failure, category=issue.category, retry=issue.template)


def _hit_incident(case: Case, build: Build, position: dict[str, tuple[int, int]]) -> str | None:
    for name, (start, length) in build.incidents.items():
        if name not in position:
            continue
        index, total = position[name]
        if start <= index / total < start + length:
            return name
    return None


def decide(case: Case, build: Build, position: dict[str, tuple[int, int]], at: datetime) -> Result:
    """The outcome of one case in this build."""
    static = _static(case, build)
    if static is not None:
        return static
    for name in (case.group.issue, case.fn.issue):
        if name and (name == case.group.issue or case.fn.when is None or case.fn.when(case.values)):
            result = _issue_result(case, build, name, at)
            if result is not None:
                return result
    incident = _hit_incident(case, build, position)
    if incident is None and case.group.area != "unit" and build.rng.random() < 0.0015:
        incident = "read_timeout"  # background noise: a slow node, a GC pause, a noisy neighbour
    if incident is not None:
        spec = INCIDENTS[incident]
        failure = spec.template(Ctx(case, build.tok, build.number, at))
        status = _status_of(case, failure)
        seconds = spec.seconds + build.rng.random() * 0.5 if spec.seconds else _duration(build, case.fn) * 0.3
        return Result(status, seconds, failure, category=SYSTEM, retry=spec.template)
    flaky = case.fn.flaky if case.fn.flaky_when is None or case.fn.flaky_when(case.values) else 0.0
    if flaky and build.rng.random() < flaky:
        failure = flaky_timeout(Ctx(case, build.tok, build.number, at))
        seconds = (
            60.0 + build.rng.random() if "wait_for" in failure.trace else _duration(build, case.fn) * 1.8
        )
        return Result("failed", seconds, failure, category=FLAKY, retry=flaky_timeout)
    return Result("passed", _duration(build, case.fn))


def run_cases(cases: Sequence[Case], build: Build, start: datetime) -> list[tuple[Case, Result, datetime]]:
    """Decide every case of one output file, in order, with its start time."""
    positions: list[dict[str, tuple[int, int]]] = [{} for _ in cases]
    for name, incident in INCIDENTS.items():
        hit = [i for i, c in enumerate(cases) if c.group.area in incident.areas]
        for rank, i in enumerate(hit):
            positions[i][name] = (rank, len(hit))
    out: list[tuple[Case, Result, datetime]] = []
    at = start
    for case, position in zip(cases, positions, strict=True):
        result = decide(case, build, position, at)
        out.append((case, result, at))
        at += timedelta(seconds=result.seconds + build.rng.random() * 0.02)
    return out


# --------------------------------------------------------------------------------------------
# XML helpers
# --------------------------------------------------------------------------------------------


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def qa(value: object) -> str:
    text = esc(str(value)).replace('"', "&quot;")
    return '"' + text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def tag(name: str, attrs: Sequence[tuple[str, object]], *, close: bool = False) -> str:
    inner = "".join(f" {k}={qa(v)}" for k, v in attrs)
    return f"<{name}{inner}{' /' if close else ''}>"


def secs3(value: float) -> str:
    return f"{value:.3f}"


def surefire_time(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def iso7(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond:06d}0"


# --------------------------------------------------------------------------------------------
# pytest (junit_family=xunit2)
# --------------------------------------------------------------------------------------------

PY_HOSTS = (
    "gitlab-runner-prism-qa-7c9d5f-2xk8q",
    "gitlab-runner-prism-qa-7c9d5f-9wz4m",
    "gitlab-runner-prism-qa-7c9d5f-r5tbn",
)


def _pytest_case(case: Case, result: Result) -> str:
    classname = "" if case.fn.issue == "module_missing" else case.suite  # a collection error
    parts = [
        tag("testcase", [("classname", classname), ("name", case.name), ("time", secs3(result.seconds))])
    ]
    if case.key:
        parts.append(f'<properties><property name="test_key" value="{case.key}" /></properties>')
    failure = result.failure
    path = f"{PY_ROOT}/{_py_path(case)}"
    if result.status == "skipped":
        parts.append(tag("skipped", [("type", "pytest.skip"), ("message", result.reason)]))
        parts.append(esc(f"{path}:{case.line}: {result.reason}") + "</skipped>")
    elif result.status == "xfail":
        parts.append(tag("skipped", [("type", "pytest.xfail"), ("message", result.reason)], close=True))
    elif failure is not None:
        element = "error" if result.status == "error" else "failure"
        parts.append(tag(element, [("message", failure.message)]) + esc(failure.trace) + f"</{element}>")
        if failure.stdout:
            parts.append(f"<system-out>{esc(failure.stdout)}</system-out>")
        if failure.stderr:
            parts.append(
                f"<system-err>{esc(' Captured Err '.center(80, '-') + chr(10) + failure.stderr)}</system-err>"
            )
    if len(parts) == 1:
        return parts[0][:-1] + " />"
    return "".join(parts) + "</testcase>"


def render_pytest(
    runs: Sequence[tuple[Case, Result, datetime]], build: Build, start: datetime, workers: int
) -> str:
    counts = Counter(r.status for _, r, _ in runs)
    total_secs = sum(r.seconds for _, r, _ in runs) / workers + 4.0 + build.rng.random() * 3
    head = tag(
        "testsuite",
        [
            ("name", "pytest"),
            ("errors", counts["error"]),
            ("failures", counts["failed"]),
            ("skipped", counts["skipped"] + counts["xfail"]),
            ("tests", len(runs)),
            ("time", secs3(total_secs)),
            ("timestamp", start.isoformat()),
            ("hostname", build.tok.pick(PY_HOSTS)),
        ],
    )
    body = "".join(_pytest_case(c, r) for c, r, _ in runs)
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest '
        f'tests">{head}{body}</testsuite></testsuites>'
    )


def _collection_error(build: Build, at: datetime) -> tuple[Case, Result, datetime]:
    group = Group("py", "tests.integration.test_grpc_bridge", "grpc", (), out=INTEG)
    fn = Fn("test_grpc_bridge", issue="module_missing")
    case = Case(group, fn, "tests.integration.test_grpc_bridge", {}, 1, None, INTEG)
    failure = module_missing(Ctx(case, build.tok, build.number, at))
    return case, Result("error", 0.0, failure, category=AUTOMATION), at


# --------------------------------------------------------------------------------------------
# Maven Surefire
# --------------------------------------------------------------------------------------------

SUREFIRE_XSD = "https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd"
JVM_HOSTS = ("prism-ci-java-01", "prism-ci-java-02")


def _surefire_properties(build: Build) -> list[str]:
    tmp = f"{TMP}/surefire{build.tok.num(10**17, 10**18 - 1)}"
    run = (
        build.start.strftime("%Y-%m-%dT%H-%M-%S_") + f"{build.tok.num(100, 999)}-jvmRun{build.tok.num(1, 4)}"
    )
    props = (
        ("java.specification.version", "21"),
        ("sun.jnu.encoding", "UTF-8"),
        ("java.class.path", f"{JAVA_ROOT}/target/test-classes:{JAVA_ROOT}/target/classes"),
        ("java.vm.vendor", "Eclipse Adoptium"),
        ("sun.arch.data.model", "64"),
        ("user.timezone", "UTC"),
        ("os.name", "Linux"),
        ("java.vm.specification.version", "21"),
        ("sun.java.launcher", "SUN_STANDARD"),
        ("user.country", "US"),
        ("sun.boot.library.path", "/opt/java/openjdk/lib"),
        (
            "sun.java.command",
            f"{tmp}/surefirebooter-{build.tok.hex(16)}.jar {tmp} {run} surefire-{build.tok.hex(8)}tmp",
        ),
        ("surefire.test.class.path", f"{JAVA_ROOT}/target/test-classes:{JAVA_ROOT}/target/classes"),
        ("user.home", "/home/ci"),
        ("user.language", "en"),
        ("java.vendor.url", "https://adoptium.net/"),
        ("java.home", "/opt/java/openjdk"),
        ("basedir", JAVA_ROOT),
        ("file.separator", "/"),
        ("line.separator", "\n"),
        ("java.vm.name", "OpenJDK 64-Bit Server VM"),
        ("java.runtime.version", "21.0.5+11-LTS"),
        ("os.version", "6.1.0-27-cloud-amd64"),
        ("java.io.tmpdir", TMP),
        ("java.version", "21.0.5"),
        ("user.dir", JAVA_ROOT),
        ("os.arch", "amd64"),
        ("surefire.real.class.path", f"{tmp}/surefirebooter-{build.tok.hex(16)}.jar"),
        ("file.encoding", "UTF-8"),
        ("prism.env", "prism-qa"),
        ("prism.api.url", f"https://{API_HOST}"),
        ("prism.amqp.host", AMQP_HOST),
        ("prism.runner", build.tok.pick(JVM_HOSTS)),
    )
    return [f"    {tag('property', [('name', k), ('value', v)], close=True)}" for k, v in props]


def _java_failure_element(element: str, failure: Failure, indent: str) -> list[str]:
    attrs = (
        [("message", failure.message), ("type", failure.exc)] if failure.message else [("type", failure.exc)]
    )
    if element in ("failure", "error"):
        return [f"{indent}{tag(element, attrs)}{esc(failure.trace)}</{element}>"]
    lines = [f"{indent}{tag(element, attrs)}", f"{indent}  <stackTrace>{esc(failure.trace)}</stackTrace>"]
    if failure.stdout:
        lines.append(f"{indent}  <system-out>{cdata(failure.stdout)}</system-out>")
    lines.append(f"{indent}</{element}>")
    return lines


def _java_log(x: Ctx, text: str) -> str:
    at = x.at + timedelta(milliseconds=x.tok.num(1, 400))
    thread = x.tok.pick(("main", "ForkJoinPool-1-worker-1", "ForkJoinPool-1-worker-2"))
    logger = ".".join([p[0] for p in x.case.suite.split(".")[:-1]] + [x.case.simple])
    return f"{at.strftime('%H:%M:%S.')}{at.microsecond // 1000:03d} [{thread}] INFO  {logger} - {text}\n"


def _surefire_reruns(case: Case, result: Result, build: Build, at: datetime) -> None:
    """rerunFailingTestsCount=2: each failing test is run again up to twice.

    A test that passes on a rerun is reported as passed with flakyFailure/flakyError children;
    one that fails every time keeps its failure/error followed by rerunFailure/rerunError children.
    """
    if result.failure is None or result.retry is None:
        return
    ctx = Ctx(case, build.tok, build.number, at)
    passes_on_rerun = {FLAKY: 0.75, SYSTEM: 0.3}.get(result.category, 0.0)
    if build.rng.random() < passes_on_rerun:
        result.flakes = [result.failure, *([result.retry(ctx)] if build.rng.random() < 0.3 else [])]
        result.failure = None
        result.status = "passed"
        result.category = ""
        return
    result.reruns = [result.retry(ctx), result.retry(ctx)]


def render_surefire(case_runs: Sequence[tuple[Case, Result, datetime]], build: Build) -> str:
    suite = case_runs[0][0].suite
    counts = Counter(r.status for _, r, _ in case_runs)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:noNamespaceSchemaLocation="{SUREFIRE_XSD}" '
        f'version="3.0" name={qa(suite)} time={qa(surefire_time(sum(r.seconds for _, r, _ in case_runs)))} '
        f'tests="{len(case_runs)}" errors="{counts["error"]}" skipped="{counts["skipped"]}" '
        f'failures="{counts["failed"]}">',
        "  <properties>",
        *_surefire_properties(build),
        "  </properties>",
    ]
    for case, result, at in case_runs:
        head = tag(
            "testcase",
            [("name", case.name), ("classname", case.suite), ("time", surefire_time(result.seconds))],
        )
        children: list[str] = []
        if result.status == "skipped":
            children.append("    " + tag("skipped", [("message", result.reason)], close=True))
        for flake in result.flakes:
            element = "flakyFailure" if flake.kind == "assert" else "flakyError"
            children += _java_failure_element(element, flake, "    ")
        if result.failure is not None:
            element = "failure" if result.status == "failed" else "error"
            children += _java_failure_element(element, result.failure, "    ")
            ctx = Ctx(case, build.tok, build.number, at)
            children.append(f"    <system-out>{cdata(_java_log(ctx, 'starting ' + case.name))}</system-out>")
            rerun_element = "rerunFailure" if element == "failure" else "rerunError"
            for rerun in result.reruns:
                children += _java_failure_element(rerun_element, rerun, "    ")
        elif result.status == "passed" and build.rng.random() < 0.04:
            ctx = Ctx(case, build.tok, build.number, at)
            children.append(f"    <system-out>{cdata(_java_log(ctx, 'completed ' + case.name))}</system-out>")
        if children:
            lines += ["  " + head, *children, "  </testcase>"]
        else:
            lines.append("  " + head[:-1] + "/>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# NUnit 3
# --------------------------------------------------------------------------------------------


Run = tuple[Case, Result, datetime]


@dataclass
class NNode:
    """A suite in the NUnit tree: assembly, namespace, fixture or parameterized method."""

    kind: str
    name: str
    fullname: str
    classname: str = ""
    items: list[NNode | Run] = field(default_factory=list)  # child suites and test cases, in order
    setup_failure: Failure | None = None

    def runs(self) -> list[Run]:
        out: list[Run] = []
        for item in self.items:
            out += item.runs() if isinstance(item, NNode) else [item]
        return out


def _nunit_status(result: Result) -> tuple[str, str]:
    return {
        "passed": ("Passed", ""),
        "failed": ("Failed", ""),
        "error": ("Failed", "Error"),
        "skipped": ("Skipped", "Ignored"),
        "inconclusive": ("Inconclusive", ""),
    }[result.status]


def _asserts(case: Case, result: Result) -> int:
    return 0 if result.status in ("skipped", "error", "inconclusive") else 1 + len(case.name) % 3


def _nunit_counts(runs: Sequence[Run]) -> dict[str, int]:
    statuses = Counter(_nunit_status(r)[0] for _, r, _ in runs)
    return {
        "total": len(runs),
        "passed": statuses["Passed"],
        "failed": statuses["Failed"],
        "warnings": 0,
        "inconclusive": statuses["Inconclusive"],
        "skipped": statuses["Skipped"],
        "asserts": sum(_asserts(c, r) for c, r, _ in runs),
    }


def _nunit_suite_result(
    node: NNode, counts: dict[str, int], parent: Failure | None
) -> list[tuple[str, object]]:
    if parent is not None:
        return [("result", "Failed"), ("label", "Error"), ("site", "Parent")]
    if node.setup_failure is not None:
        return [("result", "Failed"), ("label", "Error"), ("site", "SetUp")]
    if counts["failed"]:
        return [("result", "Failed"), ("site", "Child")]
    if counts["skipped"]:
        return [("result", "Skipped"), ("label", "Ignored"), ("site", "Child")]
    if counts["inconclusive"] and not counts["passed"]:
        return [("result", "Inconclusive"), ("site", "Child")]
    return [("result", "Passed")]


def _message(pad: str, element: str, text: str) -> str:
    return f"{pad}<{element}>\n{pad}  <message>{cdata(text)}</message>\n{pad}</{element}>"


class NUnitWriter:
    """Writes the tree depth first; ids are numbered in the same order, as NUnit does at load time."""

    def __init__(self, build: Build) -> None:
        self.build = build
        self.next_id = 1000
        self.lines: list[str] = []

    def new_id(self) -> str:
        self.next_id += 1
        return f"0-{self.next_id}"

    def suite(self, node: NNode, depth: int, parent: Failure | None = None) -> None:
        pad = "  " * depth
        runs = node.runs()
        counts = _nunit_counts(runs)
        begin = min(a for _, _, a in runs)
        end = max(a + timedelta(seconds=r.seconds) for _, r, a in runs)
        attrs: list[tuple[str, object]] = [
            ("type", node.kind),
            ("id", self.new_id()),
            ("name", node.name),
            ("fullname", node.fullname),
        ]
        if node.classname:
            attrs.append(("classname", node.classname))
        attrs += [("runstate", "Runnable"), ("testcasecount", counts["total"])]
        attrs += _nunit_suite_result(node, counts, parent)
        attrs += [("start-time", iso7(begin) + "Z"), ("end-time", iso7(end) + "Z")]
        attrs += [("duration", f"{(end - begin).total_seconds():.6f}"), *counts.items()]
        self.lines.append(pad + tag("test-suite", attrs))
        if node.kind == "Assembly":
            self.assembly_header(pad + "  ")
        failure = node.setup_failure
        if parent is not None:
            self.lines.append(_message(pad + "  ", "failure", "OneTimeSetUp: " + parent.message))
        elif failure is not None:
            self.lines += [
                f"{pad}  <failure>",
                f"{pad}    <message>{cdata(failure.message)}</message>",
                f"{pad}    <stack-trace>{cdata(failure.trace)}</stack-trace>",
                f"{pad}  </failure>",
            ]
            if failure.stdout:
                self.lines.append(f"{pad}  <output>{cdata(failure.stdout)}</output>")
        elif counts["failed"]:
            self.lines.append(_message(pad + "  ", "failure", "One or more child tests had errors"))
        elif counts["skipped"]:
            self.lines.append(_message(pad + "  ", "reason", "One or more child tests were ignored"))
        for item in node.items:
            if isinstance(item, NNode):
                self.suite(item, depth + 1, parent or failure)
            else:
                self.case(*item, depth + 1, parent or failure)
        self.lines.append(pad + "</test-suite>")

    def assembly_header(self, pad: str) -> None:
        tok = self.build.tok
        environment = [
            ("framework-version", "3.14.0.0"),
            ("clr-version", "8.0.11"),
            ("os-version", "Microsoft Windows 10.0.20348"),
            ("platform", "Win32NT"),
            ("cwd", NUNIT_ROOT),
            ("machine-name", tok.pick(("PRISM-BLD-W07", "PRISM-BLD-W09"))),
            ("user", "svc-prism-build"),
            ("user-domain", "PRISM"),
            ("culture", "en-US"),
            ("uiculture", "en-US"),
            ("os-architecture", "x64"),
        ]
        self.lines += [
            pad + tag("environment", environment, close=True),
            pad + "<settings>",
            pad + '  <setting name="DisposeRunners" value="True" />',
            pad + f'  <setting name="WorkDirectory" value={qa(NUNIT_ROOT)} />',
            pad + '  <setting name="ImageRuntimeVersion" value="4.0.30319" />',
            pad + '  <setting name="ImageTargetFrameworkName" value=".NETCoreApp,Version=v8.0" />',
            pad + '  <setting name="NumberOfTestWorkers" value="4" />',
            pad + "</settings>",
            pad + "<properties>",
            pad + f'  <property name="_PID" value="{tok.num(2000, 30000)}" />',
            pad + '  <property name="_APPDOMAIN" value="nunit3-console" />',
            pad + "</properties>",
        ]

    def case(self, case: Case, result: Result, at: datetime, depth: int, parent: Failure | None) -> None:
        pad = "  " * depth
        status, label = _nunit_status(result)
        end = at + timedelta(seconds=result.seconds)
        attrs: list[tuple[str, object]] = [
            ("id", self.new_id()),
            ("name", case.name),
            ("fullname", f"{case.suite}.{case.name}"),
            ("methodname", case.fn.name),
            ("classname", case.suite),
            ("runstate", "Ignored" if result.status == "skipped" else "Runnable"),
            ("seed", self.build.tok.num(10_000_000, 2_147_483_647)),
            ("result", status),
            *([("label", label)] if label else []),
            *([("site", "Parent")] if parent is not None and result.status == "error" else []),
            ("start-time", iso7(at) + "Z"),
            ("end-time", iso7(end) + "Z"),
            ("duration", f"{result.seconds:.6f}"),
            ("asserts", _asserts(case, result)),
        ]
        body = [
            f"{pad}  <properties>",
            f'{pad}    <property name="Category" value="{case.group.area.capitalize()}" />',
        ]
        if result.status == "skipped":
            body.append(f'{pad}    <property name="_SKIPREASON" value={qa(result.reason)} />')
        body.append(f"{pad}  </properties>")
        failure = result.failure
        if parent is not None and result.status == "error":
            body.append(_message(pad + "  ", "failure", "OneTimeSetUp: " + parent.message))
        elif failure is not None:
            body += _nunit_failure(pad + "  ", failure)
        elif result.status in ("skipped", "inconclusive"):
            body.append(_message(pad + "  ", "reason", result.reason))
        self.lines += [pad + tag("test-case", attrs), *body, pad + "</test-case>"]


def _nunit_failure(pad: str, failure: Failure) -> list[str]:
    lines = [
        f"{pad}<failure>",
        f"{pad}  <message>{cdata(failure.message)}</message>",
        f"{pad}  <stack-trace>{cdata(failure.trace)}</stack-trace>",
        f"{pad}</failure>",
    ]
    if failure.stdout:
        lines.append(f"{pad}<output>{cdata(failure.stdout)}</output>")
    if failure.kind == "assert":
        lines += [
            f"{pad}<assertions>",
            f'{pad}  <assertion result="Failed">',
            f"{pad}    <message>{cdata(failure.message)}</message>",
            f"{pad}    <stack-trace>{cdata(failure.trace)}</stack-trace>",
            f"{pad}  </assertion>",
            f"{pad}</assertions>",
        ]
    return lines


def _nunit_tree(runs: Sequence[Run]) -> tuple[NNode, list[Run]]:
    """Namespaces, fixtures and parameterized methods around the cases; also the cases as reported."""
    dll = f"{NUNIT_ROOT}\\tests\\Prism.Gateway.Tests\\bin\\Release\\net8.0\\Prism.Gateway.Tests.dll"
    assembly = NNode("Assembly", "Prism.Gateway.Tests.dll", dll)
    tests = NNode("TestSuite", "Tests", "Prism.Gateway.Tests")
    gateway = NNode("TestSuite", "Gateway", "Prism.Gateway", items=[tests])
    assembly.items.append(NNode("TestSuite", "Prism", "Prism", items=[gateway]))
    suites: dict[str, NNode] = {}
    reported: list[Run] = []
    for case, result, at in runs:
        namespace, _, fixture_name = case.suite.rpartition(".")
        if namespace not in suites:
            suites[namespace] = NNode("TestSuite", namespace.rsplit(".", 1)[-1], namespace)
            tests.items.append(suites[namespace])
        if case.suite not in suites:
            suites[case.suite] = NNode("TestFixture", fixture_name, case.suite, classname=case.suite)
            suites[namespace].items.append(suites[case.suite])
        fixture = suites[case.suite]
        if case.group.issue and result.failure is not None and result.failure.kind == "setup":
            fixture.setup_failure = fixture.setup_failure or result.failure
            result = Result("error", 0.0, category=result.category)  # noqa: PLW2901 - reported through the fixture
        parent = fixture
        if case.values:
            method = f"{case.suite}.{case.fn.name}"
            if method not in suites:
                suites[method] = NNode("ParameterizedMethod", case.fn.name, method, classname=case.suite)
                fixture.items.append(suites[method])
            parent = suites[method]
        parent.items.append((case, result, at))
        reported.append((case, result, at))
    return assembly, reported


def render_nunit(runs: Sequence[Run], build: Build) -> tuple[str, list[Run]]:
    tree, reported = _nunit_tree([(c, _inconclusive(c, r), a) for c, r, a in runs])
    counts = _nunit_counts(reported)
    start = min(a for _, _, a in reported)
    end = max(a + timedelta(seconds=r.seconds) for _, r, a in reported)
    head = tag(
        "test-run",
        [
            ("id", "0"),
            ("runstate", "Runnable"),
            ("testcasecount", counts["total"]),
            ("result", "Failed" if counts["failed"] else "Passed"),
            *counts.items(),
            ("engine-version", "3.18.3.0"),
            ("clr-version", "8.0.11"),
            ("start-time", start.strftime("%Y-%m-%d %H:%M:%SZ")),
            ("end-time", end.strftime("%Y-%m-%d %H:%M:%SZ")),
            ("duration", f"{(end - start).total_seconds():.6f}"),
        ],
    )
    command = (
        f"C:\\Tools\\nunit-console\\nunit3-console.exe {tree.fullname} "
        f'--result={NUNIT_ROOT}\\TestResult.xml --where "cat != Manual" --workers=4'
    )
    writer = NUnitWriter(build)
    writer.lines = [
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>',
        head,
        f"  <command-line>{cdata(command)}</command-line>",
        "  <filter>\n    <not>\n      <cat>Manual</cat>\n    </not>\n  </filter>",
    ]
    writer.suite(tree, 1)
    writer.lines.append("</test-run>")
    return "\n".join(writer.lines) + "\n", reported


def _inconclusive(case: Case, result: Result) -> Result:
    """Spectrum sandbox checks end inconclusive when the sandbox tenant has no data yet."""
    if (
        case.suite.endswith("SpectrumProxyTests")
        and result.status == "passed"
        and case.values.get("band") == "uhf"
    ):
        return Result(
            "inconclusive", result.seconds, reason="Spectrum sandbox tenant has no UHF captures yet"
        )
    return result


# --------------------------------------------------------------------------------------------
# MSTest TRX
# --------------------------------------------------------------------------------------------


def _trx_duration(seconds: float) -> str:
    ticks = round(seconds * 10_000_000)  # .NET ticks of 100 ns
    whole, frac = divmod(ticks, 10_000_000)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{frac:07d}"


def _trx_time(at: datetime) -> str:
    return iso7(at) + "+00:00"


TRX_STORAGE = (
    f"{TRX_ROOT}/tests/prism.gateway.contracttests/bin/release/net8.0/prism.gateway.contracttests.dll"
)
TRX_CODEBASE = (
    f"{TRX_ROOT}/tests/Prism.Gateway.ContractTests/bin/Release/net8.0/Prism.Gateway.ContractTests.dll"
)


def render_trx(runs: Sequence[tuple[Case, Result, datetime]], build: Build) -> str:
    tok = build.tok
    host = tok.pick(("prism-ci-lnx-04", "prism-ci-lnx-06"))
    start = min(a for _, _, a in runs)
    finish = max(a + timedelta(seconds=r.seconds) for _, r, a in runs)
    results: list[str] = []
    definitions: list[str] = []
    entries: list[str] = []
    counts: Counter[str] = Counter()
    for case, result, at in runs:
        test_id = str(uuid.uuid5(TRX_ID_NAMESPACE, f"{case.suite}.{case.name}"))
        execution_id = tok.uuid()
        outcome = {"passed": "Passed", "skipped": "NotExecuted"}.get(result.status, "Failed")
        counts[outcome] += 1
        attrs = [
            ("executionId", execution_id),
            ("testId", test_id),
            ("testName", case.name),
            ("computerName", host),
            ("duration", _trx_duration(result.seconds)),
            ("startTime", _trx_time(at)),
            ("endTime", _trx_time(at + timedelta(seconds=result.seconds))),
            ("testType", TRX_TEST_TYPE),
            ("outcome", outcome),
            ("testListId", TRX_LIST_NOT_IN_LIST),
            ("relativeResultsDirectory", execution_id),
        ]
        output = _trx_output(result)
        if output:
            results += ["    " + tag("UnitTestResult", attrs), *output, "    </UnitTestResult>"]
        else:
            results.append("    " + tag("UnitTestResult", attrs, close=True))
        definitions += [
            "    " + tag("UnitTest", [("name", case.name), ("storage", TRX_STORAGE), ("id", test_id)]),
            *_trx_definition_extras(case),
            f'      <Execution id="{execution_id}" />',
            "      "
            + tag(
                "TestMethod",
                [
                    ("codeBase", TRX_CODEBASE),
                    ("adapterTypeName", "executor://mstestadapter/v2"),
                    ("className", case.suite),
                    ("name", case.fn.name),
                ],
                close=True,
            ),
            "    </UnitTest>",
        ]
        entries.append(
            "    "
            + tag(
                "TestEntry",
                [("testId", test_id), ("executionId", execution_id), ("testListId", TRX_LIST_NOT_IN_LIST)],
                close=True,
            )
        )
    run_id = tok.uuid()
    executed = counts["Passed"] + counts["Failed"]
    stamp = start.strftime("%Y-%m-%d %H:%M:%S")
    lines = [
        '\ufeff<?xml version="1.0" encoding="utf-8"?>',
        f'<TestRun id="{run_id}" name="svc-prism-build@{host} {stamp}" runUser="svc-prism-build" '
        'xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">',
        f'  <Times creation="{_trx_time(finish)}" queuing="{_trx_time(finish)}" '
        f'start="{_trx_time(start)}" finish="{_trx_time(finish)}" />',
        f'  <TestSettings name="default" id="{tok.uuid()}">',
        f'    <Deployment runDeploymentRoot="svc-prism-build_{host}_{start:%Y-%m-%d_%H_%M_%S}" />',
        "  </TestSettings>",
        "  <Results>",
        *results,
        "  </Results>",
        "  <TestDefinitions>",
        *definitions,
        "  </TestDefinitions>",
        "  <TestEntries>",
        *entries,
        "  </TestEntries>",
        "  <TestLists>",
        f'    <TestList name="Results Not in a List" id="{TRX_LIST_NOT_IN_LIST}" />',
        f'    <TestList name="All Loaded Results" id="{TRX_LIST_ALL_LOADED}" />',
        "  </TestLists>",
        f'  <ResultSummary outcome="{"Failed" if counts["Failed"] else "Completed"}">',
        "    "
        + tag(
            "Counters",
            [
                ("total", len(runs)),
                ("executed", executed),
                ("passed", counts["Passed"]),
                ("failed", counts["Failed"]),
                *[
                    (k, 0)
                    for k in (
                        "error",
                        "timeout",
                        "aborted",
                        "inconclusive",
                        "passedButRunAborted",
                        "notRunnable",
                    )
                ],
                ("notExecuted", 0),
                *[(k, 0) for k in ("disconnected", "warning", "completed", "inProgress", "pending")],
            ],
            close=True,
        ),
        "  </ResultSummary>",
        "</TestRun>",
    ]
    return "\n".join(lines) + "\n"


def _trx_definition_extras(case: Case) -> list[str]:
    out: list[str] = []
    if len(case.fn.name) % 3 == 0:
        out.append(
            f"      <Description>{esc(case.fn.name.replace('_', ' '))} against the gateway's published "
            "contract</Description>"
        )
    out.append("      <TestCategory>")
    out.append('        <TestCategoryItem TestCategory="Contract" />')
    out.append("      </TestCategory>")
    return out


def _trx_output(result: Result) -> list[str]:
    failure = result.failure
    if failure is not None:
        lines = ["      <Output>"]
        if failure.stdout:
            lines.append(f"        <StdOut>{esc(failure.stdout)}</StdOut>")
        lines += [
            "        <ErrorInfo>",
            f"          <Message>{esc(failure.message)}</Message>",
            f"          <StackTrace>{esc(failure.trace)}</StackTrace>",
            "        </ErrorInfo>",
            "      </Output>",
        ]
        return lines
    if result.status == "skipped":
        return ["      <Output>", f"        <StdOut>{esc(result.reason)}</StdOut>", "      </Output>"]
    return []


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def generate(
    out_dir: Path, *, build_number: int = 1, seed: int = 42, scale: float = 1.0
) -> dict[str, Counter[str]]:
    """Write every sample file under ``out_dir``; return each file's status counts."""
    catalog = build_catalog(seed, scale)
    rng = random.Random(seed * 1000 + build_number)  # noqa: S311 - sample data, not security
    offset = timedelta(
        days=build_number - 1, minutes=rng.randint(0, 20), microseconds=rng.randint(0, 59_999_999)
    )
    start = FIRST_NIGHT + offset
    build = Build(build_number, rng, Tokens(rng), plan_incidents(rng, catalog, seed), start)
    by_file: dict[str, list[Case]] = {}
    for case in catalog:
        by_file.setdefault(case.out, []).append(case)
    texts: dict[str, str] = {}
    stats: dict[str, Counter[str]] = {}
    offsets = {API: 0, INTEG: 11, NUNIT: 4, TRX: 6}
    for out, cases in by_file.items():
        begin = start + timedelta(minutes=offsets.get(out, 16), seconds=rng.randint(0, 59))
        runs = run_cases(cases, build, begin)
        if out == INTEG:
            runs.insert(0, _collection_error(build, begin))
        if out.startswith("pytest/"):
            texts[out] = render_pytest(runs, build, begin, workers=4 if out == API else 8)
        elif out.startswith("surefire/"):
            for case, result, at in runs:
                _surefire_reruns(case, result, build, at)
            texts[out] = render_surefire(runs, build)
        elif out == NUNIT:
            texts[out], runs = render_nunit(runs, build)
        else:
            texts[out] = render_trx(runs, build)
        stats[out] = Counter(r.status for _, r, _ in runs) + Counter(
            "cat:" + r.category for _, r, _ in runs if r.category
        )
    for out, text in sorted(texts.items()):
        path = out_dir / out
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument(
        "out_dir", type=Path, help="folder to write the result files into (created if missing)"
    )
    parser.add_argument("--build", type=int, default=1, help="CI build number, 1 or more (default: 1)")
    parser.add_argument(
        "--seed",
        type=int,
        default=42,
        help="suite seed: which parametrizations run, line numbers, Xray keys (default: 42)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="size factor, 0 < F <= 50; 1.0 gives about 3,400 cases (default: 1.0)",
    )
    args = parser.parse_args(argv)
    if args.build < 1:
        parser.error("--build must be 1 or more")
    if not 0 < args.scale <= 50:
        parser.error("--scale must be greater than 0 and at most 50")
    started = time.perf_counter()
    stats = generate(args.out_dir, build_number=args.build, seed=args.seed, scale=args.scale)
    total = sum(sum(v for k, v in s.items() if not k.startswith("cat:")) for s in stats.values())
    elapsed = time.perf_counter() - started
    print(
        f"wrote {len(stats)} files, {total:,} test cases (build {args.build}, seed {args.seed}) to "
        f"{args.out_dir} in {elapsed:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
