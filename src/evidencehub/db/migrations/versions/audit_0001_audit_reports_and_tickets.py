"""audit reports and tickets

Revision ID: audit_0001
Revises: -
Create Date: 2026-11-22 02:50:58.665303
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import evidencehub.db.base

revision: str = "audit_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("audit",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "audit_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("rubric_name", sa.String(length=200), nullable=False),
        sa.Column("rubric_version", sa.String(length=50), nullable=False),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("ticket_count", sa.Integer(), nullable=False),
        sa.Column("average_score", sa.Float(), nullable=False),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_audit_reports_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_audit_reports_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_reports")),
    )
    with op.batch_alter_table("audit_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_reports_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_reports_project_id_created_at", ["project_id", "created_at"], unique=False
        )

    op.create_table(
        "audit_tickets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=2000), nullable=False),
        sa.Column("source_format", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "findings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "templates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["audit_reports.id"],
            name=op.f("fk_audit_tickets_report_id_audit_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tickets")),
    )
    with op.batch_alter_table("audit_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_tickets_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_tickets_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_tickets_report_id"))
        batch_op.drop_index(batch_op.f("ix_audit_tickets_key"))

    op.drop_table("audit_tickets")
    with op.batch_alter_table("audit_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_reports_project_id_created_at")
        batch_op.drop_index(batch_op.f("ix_audit_reports_organization_id"))

    op.drop_table("audit_reports")
