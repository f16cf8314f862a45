"""Tables of the triage domain: unique-error clusters, one analysis per failure, and people's decisions.

The core ``results`` table is never changed: a failure's triage lives in
``failure_analyses``, one row per failed result.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evidencehub.db.base import Base, BigIntKey, CreatedAtMixin, utcnow

_CATEGORIES = "('product_bug', 'automation_bug', 'system_issue', 'no_defect', 'to_investigate')"


class ErrorCluster(Base):
    """A unique error of a project: failures whose normalized errors are the same or nearly so.

    ``key`` is the id people see (``c1a2b3c4d5e6``); it is derived from the first
    fingerprint and never changes. A person's decision for the whole cluster is
    kept here so that it also covers the cluster's failures in later runs.
    """

    __tablename__ = "error_clusters"
    __table_args__ = (
        UniqueConstraint("project_id", "key"),
        Index("ix_error_clusters_project_id_exception_type", "project_id", "exception_type"),
        CheckConstraint(f"category IS NULL OR category IN {_CATEGORIES}", name="category_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(20))
    fingerprint: Mapped[str] = mapped_column(String(16))  # the first member's fingerprint
    exception_type: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)  # the normalized message of the first member
    first_seen_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    first_run_id: Mapped[int | None] = mapped_column(ForeignKey("test_runs.id", ondelete="SET NULL"))
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("test_runs.id", ondelete="SET NULL"))
    failure_count: Mapped[int] = mapped_column(default=0)
    tests_affected: Mapped[int] = mapped_column(default=0)
    # A person's decision for the whole cluster (None until someone decides).
    category: Mapped[str | None] = mapped_column(String(20))
    issue: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None]


class ClusterFingerprint(Base):
    """Every fingerprint seen, mapped to the cluster it joined: the same error always lands in one cluster."""

    __tablename__ = "cluster_fingerprints"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(16), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("error_clusters.id", ondelete="CASCADE"), index=True)


class FailureAnalysis(Base):
    """The triage of one failed result: its cluster, category, where that came from, and why."""

    __tablename__ = "failure_analyses"
    __table_args__ = (
        Index("ix_failure_analyses_project_id_source", "project_id", "source"),
        Index("ix_failure_analyses_cluster_id_test_id", "cluster_id", "test_id"),
        CheckConstraint(f"category IN {_CATEGORIES}", name="category_known"),
        CheckConstraint("source IN ('human', 'rule', 'history', 'default')", name="source_known"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    result_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("results.id", ondelete="CASCADE"), unique=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("test_runs.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    test_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tests.id", ondelete="CASCADE"))
    cluster_id: Mapped[int] = mapped_column(ForeignKey("error_clusters.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(10))
    confidence: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(String(100))
    issue: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    # "failure" or "cluster" for a person's decision; None for automatic ones.
    decision_scope: Mapped[str | None] = mapped_column(String(10))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    flaky: Mapped[bool] = mapped_column(default=False)
    flaky_score: Mapped[float] = mapped_column(Float, default=0.0)
    new: Mapped[bool] = mapped_column(default=False)
    regression: Mapped[bool] = mapped_column(default=False)
    # The normalized exception, message and trace: what the learned index compares.
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TriageDecision(CreatedAtMixin, Base):
    """A person's decision, kept as an append-only history (who, when, what, why)."""

    __tablename__ = "triage_decisions"
    __table_args__ = (
        CheckConstraint(f"category IN {_CATEGORIES}", name="category_known"),
        CheckConstraint("scope IN ('failure', 'cluster')", name="scope_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(10))
    result_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("results.id", ondelete="SET NULL"), index=True
    )
    cluster_id: Mapped[int | None] = mapped_column(
        ForeignKey("error_clusters.id", ondelete="SET NULL"), index=True
    )
    category: Mapped[str] = mapped_column(String(20))
    previous_category: Mapped[str | None] = mapped_column(String(20))
    issue: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
