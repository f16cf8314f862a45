"""Tables of the results domain: projects, builds, runs, their source files, tests and results."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evidencehub.db.base import Base, BigIntKey, CreatedAtMixin


class Project(CreatedAtMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))


class Build(CreatedAtMixin, Base):
    __tablename__ = "builds"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))  # the CI's build id, e.g. "1042" or "2024.11.3-rc1"
    release: Mapped[str | None] = mapped_column(String(200))
    commit: Mapped[str | None] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(200))
    ci_url: Mapped[str | None] = mapped_column(String(1000))

    project: Mapped[Project] = relationship()


class TestRun(CreatedAtMixin, Base):
    """One ingestion: a set of result files for one build."""

    __tablename__ = "test_runs"
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    tests: Mapped[int] = mapped_column(default=0)
    passed: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    flaky: Mapped[int] = mapped_column(default=0)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)

    build: Mapped[Build] = relationship()
    sources: Mapped[list[RunSource]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="RunSource.id"
    )


class RunSource(Base):
    """A result file that went into a run, with its checksum (re-ingestion is detected by it)."""

    __tablename__ = "run_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("test_runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(2000))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    cases: Mapped[int]

    run: Mapped[TestRun] = relationship(back_populates="sources")


class Test(Base):
    """A test's stable identity within a project.

    The id is derived from (project, key) — see results.identity — so ingestion
    never has to look tests up: the same test always gets the same id.
    """

    __tablename__ = "tests"
    __test__ = False

    # BigIntKey: on SQLite the hash id becomes the rowid itself (one B-tree fewer to update per new test).
    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(Text)
    module: Mapped[str | None] = mapped_column(String(500))
    classname: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    file: Mapped[str | None] = mapped_column(String(1000))
    first_seen_at: Mapped[dt.datetime]


class Result(Base):
    """The outcome of one test in one run (reruns and extra results kept as attempts)."""

    __tablename__ = "results"
    __table_args__ = (
        # One result per test and run; also serves "this test over time".
        UniqueConstraint("test_id", "run_id"),
        # A run's results by status in id order (the keyset-paged, filtered listing): on PostgreSQL
        # the id must be in the index to avoid sorting every match; SQLite appends the rowid anyway.
        Index("ix_results_run_id_status_id", "run_id", "status", "id"),
        CheckConstraint("status IN ('passed', 'failed', 'error', 'skipped')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("test_runs.id", ondelete="CASCADE"))
    test_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tests.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(8))
    duration_ms: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[dt.datetime | None]
    failure_type: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    trace: Mapped[str | None] = mapped_column(Text)
    stdout: Mapped[str | None] = mapped_column(Text)
    stderr: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any] | None]
    attempts: Mapped[list[Any] | None]
    flaky: Mapped[bool] = mapped_column(default=False)

    test: Mapped[Test] = relationship()
