"""Pydantic shapes and vocabularies of the publish domain (CLI --json, web API, promotions)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class TaskStatus(StrEnum):
    PENDING = "pending"  # not sent yet (or to be sent again)
    SENDING = "sending"  # being converted and sent; after a crash it is sent again (the target de-duplicates)
    QUEUED = "queued"  # accepted, waiting in the target's queue
    RUNNING = "running"  # the target is processing it
    SUCCESS = "success"
    WARNING = "warning"  # processed, with recoverable problems (e.g. Octane skip-errors)
    FAILED = "failed"  # refused for good (invalid payload, or the target processed it and failed)
    LOST = "lost"  # the target no longer knows the task: it is sent again


IN_FLIGHT = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING})
FINISHED = frozenset({TaskStatus.SUCCESS, TaskStatus.WARNING, TaskStatus.FAILED})
DONE_OK = frozenset({TaskStatus.SUCCESS, TaskStatus.WARNING})


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SliceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slice_no: int
    test_count: int
    first_result_id: int
    last_result_id: int
    status: str
    remote_task_id: str | None
    attempts: int
    generation: int
    payload_sha256: str | None
    payload_bytes: int | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    target: str
    project: str | None
    build: str | None
    release: str | None
    backlog: str | None
    run_ids: list[int]
    state: str
    slice_size: int
    slices_total: int
    slices_done: int
    slices_warning: int
    slices_failed: int
    tests_total: int
    warnings: int
    error: str | None
    runner: str | None
    deadline_at: dt.datetime | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    updated_at: dt.datetime


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    slice_no: int | None
    kind: str
    status: str | None
    attempt: int | None
    detail: str | None


class JobDetail(BaseModel):
    """A job with every slice: what the promotion page's target tab shows."""

    job: JobOut
    slices: list[SliceOut]
    log_path: str
