"""publish jobs, upload tasks and their events

Revision ID: publish_0001
Revises: -
Create Date: 2026-11-22 02:52:34.013650
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import evidencehub.db.base

revision: str = "publish_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("publish",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "publish_jobs",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("project", sa.String(length=100), nullable=True),
        sa.Column("build", sa.String(length=200), nullable=True),
        sa.Column("release", sa.String(length=200), nullable=True),
        sa.Column("backlog", sa.String(length=64), nullable=True),
        sa.Column(
            "run_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("slice_size", sa.Integer(), nullable=False),
        sa.Column("slices_total", sa.Integer(), nullable=False),
        sa.Column("slices_done", sa.Integer(), nullable=False),
        sa.Column("slices_warning", sa.Integer(), nullable=False),
        sa.Column("slices_failed", sa.Integer(), nullable=False),
        sa.Column("tests_total", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("runner", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_publish_jobs_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_jobs")),
    )
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publish_jobs_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_publish_jobs_target"), ["target"], unique=False)

    op.create_table(
        "upload_tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.String(length=120), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("slice_no", sa.Integer(), nullable=False),
        sa.Column("first_result_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_result_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("test_count", sa.Integer(), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=True),
        sa.Column("payload_bytes", sa.Integer(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("remote_task_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["publish_jobs.id"],
            name=op.f("fk_upload_tasks_job_id_publish_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_tasks")),
        sa.UniqueConstraint("job_id", "slice_no", name=op.f("uq_upload_tasks_job_id_slice_no")),
    )
    with op.batch_alter_table("upload_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_upload_tasks_target_status", ["target", "status"], unique=False)

    op.create_table(
        "upload_task_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.String(length=120), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("slice_no", sa.Integer(), nullable=True),
        sa.Column("at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["publish_jobs.id"],
            name=op.f("fk_upload_task_events_job_id_publish_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["upload_tasks.id"],
            name=op.f("fk_upload_task_events_task_id_upload_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_task_events")),
    )
    with op.batch_alter_table("upload_task_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_task_events_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_upload_task_events_task_id"), ["task_id"], unique=False)

    # The runbook calls the table of Octane uploads octane_upload_tasks: a view keeps that name working.
    op.execute("CREATE VIEW octane_upload_tasks AS SELECT * FROM upload_tasks WHERE target = 'octane'")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS octane_upload_tasks")
    with op.batch_alter_table("upload_task_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_task_events_task_id"))
        batch_op.drop_index(batch_op.f("ix_upload_task_events_job_id"))

    op.drop_table("upload_task_events")
    with op.batch_alter_table("upload_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_upload_tasks_target_status")

    op.drop_table("upload_tasks")
    with op.batch_alter_table("publish_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publish_jobs_target"))
        batch_op.drop_index(batch_op.f("ix_publish_jobs_project_id"))

    op.drop_table("publish_jobs")
