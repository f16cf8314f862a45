"""Tables of the promotions domain: promotion requests and every change of their state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from evidencehub.db.base import Base, utcnow

STATES = ("requested", "running", "succeeded", "failed", "cancelling", "cancelled")
ACTIVE_STATES = ("requested", "running", "cancelling")
_ACTIVE_SQL = "state IN ('requested', 'running', 'cancelling')"


class Promotion(Base):
    """A request to promote a build of a release to a target environment, and what became of it."""

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint(
            "state IN ('requested', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled')",
            name="state_known",
        ),
        # At most one active promotion per project, release, build and target — kept by the
        # database, so two requests racing on different web workers cannot both get in.
        Index(
            "uq_promotions_active",
            "project_id",
            "release",
            "build_id",
            "target",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_promotions_organization_id_id", "organization_id", "id"),
        Index("ix_promotions_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"))
    project: Mapped[str] = mapped_column(String(100))  # the project key, as requested
    release: Mapped[str] = mapped_column(String(200))
    build: Mapped[str] = mapped_column(String(200))  # the build name, as requested
    target: Mapped[str] = mapped_column(String(40))  # target environment, e.g. PROD
    upload_regression: Mapped[bool] = mapped_column(default=False)
    regression_key: Mapped[str | None] = mapped_column(String(64))
    requester: Mapped[str] = mapped_column(String(320))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    job_name: Mapped[str] = mapped_column(String(300))
    task_id: Mapped[str | None] = mapped_column(String(64))
    # target name → {"job_id", "state", "linked", "message"}: what was published where.
    publications: Mapped[dict[str, Any]]
    bundle_url: Mapped[str | None] = mapped_column(Text)
    bundle_sha256: Mapped[str | None] = mapped_column(String(64))
    bundle_files: Mapped[int | None]
    bundle_bytes: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    runner: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    delink_state: Mapped[str | None] = mapped_column(String(20))  # pending | done | failed | none
    delink_attempts: Mapped[int] = mapped_column(default=0)
    delink_error: Mapped[str | None] = mapped_column(Text)
    delink_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PromotionEvent(Base):
    """One change of a promotion's state (or a step of its job): who, when, from what to what."""

    __tablename__ = "promotion_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
