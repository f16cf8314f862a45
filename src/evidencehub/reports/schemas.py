"""Pydantic shapes of the reports domain."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

ReportKind = Literal["evidence", "triage", "audit", "trend"]
ExecutionStatus = Literal["queued", "processing", "completed", "failed", "timed_out"]
OutputFormat = Literal["html", "pdf"]


class ReportParameters(BaseModel):
    """What a report covers; every field optional, narrowing the data when given."""

    model_config = {"extra": "forbid"}

    project: str | None = Field(None, max_length=100)
    build: str | None = Field(None, max_length=200)
    release: str | None = Field(None, max_length=200)
    builds: int = Field(10, ge=1, le=200, description="Trend: how many recent builds.")
    max_failures: int = Field(200, ge=1, le=5000, description="Failures listed at most.")


class ReportDefinitionCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: ReportKind
    parameters: ReportParameters = Field(default_factory=ReportParameters)


class ReportDefinitionOut(BaseModel):
    id: int
    name: str
    kind: ReportKind
    parameters: dict[str, Any]
    created_at: dt.datetime


class ReportOutputOut(BaseModel):
    format: OutputFormat
    media_type: str
    size_bytes: int
    url: str


class ReportExecutionOut(BaseModel):
    id: int
    report_id: int
    status: ExecutionStatus
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    deadline_at: dt.datetime | None
    error: str | None
    outputs: list[ReportOutputOut] = []
