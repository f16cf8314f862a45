"""triage tables: error clusters, failure analyses, decisions

Revision ID: triage_0001
Revises: -
Create Date: 2026-11-22 02:43:34.898077
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import evidencehub.db.base

revision: str = "triage_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("triage",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "error_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=20), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("exception_type", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_seen_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_run_id", sa.Integer(), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("tests_affected", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("issue", sa.String(length=200), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "category IS NULL OR category IN "
            "('product_bug', 'automation_bug', 'system_issue', 'no_defect', 'to_investigate')",
            name=op.f("ck_error_clusters_category_known"),
        ),
        sa.ForeignKeyConstraint(
            ["first_run_id"],
            ["test_runs.id"],
            name=op.f("fk_error_clusters_first_run_id_test_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["test_runs.id"],
            name=op.f("fk_error_clusters_last_run_id_test_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_error_clusters_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_error_clusters")),
        sa.UniqueConstraint("project_id", "key", name=op.f("uq_error_clusters_project_id_key")),
    )
    with op.batch_alter_table("error_clusters", schema=None) as batch_op:
        batch_op.create_index(
            "ix_error_clusters_project_id_exception_type", ["project_id", "exception_type"], unique=False
        )

    op.create_table(
        "cluster_fingerprints",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["error_clusters.id"],
            name=op.f("fk_cluster_fingerprints_cluster_id_error_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_cluster_fingerprints_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "fingerprint", name=op.f("pk_cluster_fingerprints")),
    )
    with op.batch_alter_table("cluster_fingerprints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cluster_fingerprints_cluster_id"), ["cluster_id"], unique=False)

    op.create_table(
        "failure_analyses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("result_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("test_id", sa.BigInteger(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("issue", sa.String(length=200), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("decision_scope", sa.String(length=10), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("flaky", sa.Boolean(), nullable=False),
        sa.Column("flaky_score", sa.Float(), nullable=False),
        sa.Column("new", sa.Boolean(), nullable=False),
        sa.Column("regression", sa.Boolean(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('product_bug', 'automation_bug', 'system_issue', 'no_defect', 'to_investigate')",
            name=op.f("ck_failure_analyses_category_known"),
        ),
        sa.CheckConstraint(
            "source IN ('human', 'rule', 'history', 'default')", name=op.f("ck_failure_analyses_source_known")
        ),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["error_clusters.id"],
            name=op.f("fk_failure_analyses_cluster_id_error_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_failure_analyses_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["results.id"],
            name=op.f("fk_failure_analyses_result_id_results"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["test_runs.id"],
            name=op.f("fk_failure_analyses_run_id_test_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["test_id"], ["tests.id"], name=op.f("fk_failure_analyses_test_id_tests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failure_analyses")),
        sa.UniqueConstraint("result_id", name=op.f("uq_failure_analyses_result_id")),
    )
    with op.batch_alter_table("failure_analyses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_failure_analyses_cluster_id_test_id", ["cluster_id", "test_id"], unique=False
        )
        batch_op.create_index("ix_failure_analyses_project_id_source", ["project_id", "source"], unique=False)
        batch_op.create_index(batch_op.f("ix_failure_analyses_run_id"), ["run_id"], unique=False)

    op.create_table(
        "triage_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("result_id", sa.BigInteger(), nullable=True),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("previous_category", sa.String(length=20), nullable=True),
        sa.Column("issue", sa.String(length=200), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", evidencehub.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('product_bug', 'automation_bug', 'system_issue', 'no_defect', 'to_investigate')",
            name=op.f("ck_triage_decisions_category_known"),
        ),
        sa.CheckConstraint("scope IN ('failure', 'cluster')", name=op.f("ck_triage_decisions_scope_known")),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["error_clusters.id"],
            name=op.f("fk_triage_decisions_cluster_id_error_clusters"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_triage_decisions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["results.id"],
            name=op.f("fk_triage_decisions_result_id_results"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_decisions")),
    )
    with op.batch_alter_table("triage_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_triage_decisions_cluster_id"), ["cluster_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_triage_decisions_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_triage_decisions_result_id"), ["result_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("triage_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_decisions_result_id"))
        batch_op.drop_index(batch_op.f("ix_triage_decisions_project_id"))
        batch_op.drop_index(batch_op.f("ix_triage_decisions_cluster_id"))

    op.drop_table("triage_decisions")
    with op.batch_alter_table("failure_analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_failure_analyses_run_id"))
        batch_op.drop_index("ix_failure_analyses_project_id_source")
        batch_op.drop_index("ix_failure_analyses_cluster_id_test_id")

    op.drop_table("failure_analyses")
    with op.batch_alter_table("cluster_fingerprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_fingerprints_cluster_id"))

    op.drop_table("cluster_fingerprints")
    with op.batch_alter_table("error_clusters", schema=None) as batch_op:
        batch_op.drop_index("ix_error_clusters_project_id_exception_type")

    op.drop_table("error_clusters")
