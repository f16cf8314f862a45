"""Tables of the reports domain: definitions, executions and their rendered outputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evidencehub.db.base import Base, CreatedAtMixin

EXECUTION_STATUSES = ("queued", "processing", "completed", "failed", "timed_out")


class ReportDefinition(CreatedAtMixin, Base):
    __tablename__ = "report_definitions"
    __table_args__ = (
        Index("ix_report_definitions_organization_id_id", "organization_id", "id"),
        CheckConstraint("kind IN ('evidence', 'triage', 'audit', 'trend')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parameters: Mapped[dict[str, Any]]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ReportExecution(Base):
    __tablename__ = "report_executions"
    __table_args__ = (
        # The watchdog and "executions of this organization by status" read this.
        Index("ix_report_executions_organization_id_status", "organization_id", "status"),
        Index("ix_report_executions_definition_id_id", "definition_id", "id"),
        CheckConstraint(
            "status IN ('queued', 'processing', 'completed', 'failed', 'timed_out')", name="status_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("report_definitions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    deadline_at: Mapped[dt.datetime | None]
    task_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)


class ReportOutput(Base):
    """A rendered output, kept in the database so any web process can serve it."""

    __tablename__ = "report_outputs"
    __table_args__ = (UniqueConstraint("execution_id", "format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("report_executions.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(10))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary)
