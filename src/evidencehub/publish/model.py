"""Tables of the publish domain: jobs, their slices (upload tasks) and every change to a slice.

``upload_tasks`` serves every target; the Octane runbook's name for it,
``octane_upload_tasks``, is a SQL view over its Octane rows (created by the
migration, not part of this metadata).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evidencehub.db.base import Base, BigIntKey, utcnow


class PublishJob(Base):
    """One publication of some runs' results to one target; resumable by its readable id."""

    __tablename__ = "publish_jobs"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    target: Mapped[str] = mapped_column(String(40), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    project: Mapped[str | None] = mapped_column(String(100))
    build: Mapped[str | None] = mapped_column(String(200))
    release: Mapped[str | None] = mapped_column(String(200))
    backlog: Mapped[str | None] = mapped_column(String(64))
    run_ids: Mapped[list[Any]]
    params: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), default="pending")
    slice_size: Mapped[int]
    slices_total: Mapped[int] = mapped_column(default=0)
    slices_done: Mapped[int] = mapped_column(default=0)
    slices_warning: Mapped[int] = mapped_column(default=0)
    slices_failed: Mapped[int] = mapped_column(default=0)
    tests_total: Mapped[int] = mapped_column(default=0)
    warnings: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    runner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[dt.datetime | None]
    deadline_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UploadTask(Base):
    """One slice of a job and what became of it at the target."""

    __tablename__ = "upload_tasks"
    __table_args__ = (
        UniqueConstraint("job_id", "slice_no"),
        Index("ix_upload_tasks_target_status", "target", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("publish_jobs.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(40))
    slice_no: Mapped[int]
    first_result_id: Mapped[int] = mapped_column(BigIntKey)
    last_result_id: Mapped[int] = mapped_column(BigIntKey)
    test_count: Mapped[int]
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    payload_bytes: Mapped[int | None]
    generation: Mapped[int] = mapped_column(default=0)  # re-sends after the target lost the task
    remote_task_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]


class UploadTaskEvent(Base):
    """Every status change, retry and warning of a slice, timestamped."""

    __tablename__ = "upload_task_events"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("publish_jobs.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("upload_tasks.id", ondelete="CASCADE"), index=True)
    slice_no: Mapped[int | None]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # status | retry | warning | job
    status: Mapped[str | None] = mapped_column(String(12))
    attempt: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(Text)
