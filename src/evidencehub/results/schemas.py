"""Pydantic shapes of the results domain, shared by the CLI (--json) and the web API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class RunTotals(BaseModel):
    """Counts as in JUnit: failures are assertion failures, errors are unexpected errors."""

    tests: int = 0
    passed: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    flaky: int = 0
    duration_ms: float = 0.0


class RunSourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    path: str
    sha256: str
    format: str
    size_bytes: int
    cases: int


class RunSummary(BaseModel):
    id: int
    project: str
    build: str
    release: str | None
    name: str
    environment: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    created_at: dt.datetime
    totals: RunTotals
    sources: list[RunSourceOut] = []


class SkippedSource(BaseModel):
    path: str
    sha256: str
    run_id: int


class IngestOutcome(BaseModel):
    """What an ingestion did. ``run`` is None when every file had been ingested before."""

    run: RunSummary | None
    created: bool
    skipped_sources: list[SkippedSource] = []
    warnings: list[str] = []
    message: str


class ResultOut(BaseModel):
    id: int
    test_key: str
    classname: str | None
    name: str
    status: str
    duration_ms: float | None
    failure_type: str | None
    message: str | None
    flaky: bool
    attempts: int


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    name: str
    created_at: dt.datetime


class BuildOut(BaseModel):
    id: int
    project: str
    project_id: int
    name: str
    release: str | None
    commit: str | None
    branch: str | None
    ci_url: str | None
    created_at: dt.datetime


class BuildTrendPoint(BaseModel):
    """One build's totals summed over its runs: a point of a project's trend charts."""

    build_id: int
    build: str
    release: str | None
    created_at: dt.datetime
    runs: int
    tests: int
    passed: int
    failed: int  # failures and errors
    skipped: int
    duration_ms: float


@dataclass(frozen=True, slots=True)
class ResultExport:
    """Everything a publishing target needs about one stored result, in a stable order by ``id``.

    A slotted dataclass, not a pydantic model: publishing builds a thousand per slice from
    typed database columns, where validation would only cost time (3x the query).
    """

    id: int
    run_id: int
    project: str
    build: str
    run_environment: str | None
    run_started_at: dt.datetime | None
    module: str | None
    classname: str | None
    name: str
    status: str
    duration_ms: float | None
    started_at: dt.datetime | None
    failure_type: str | None
    message: str | None
    trace: str | None
