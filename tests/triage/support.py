"""Building runs with chosen results straight into the database, for triage tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.orgs.service import ensure_organization
from evidencehub.results.identity import test_id, test_key
from evidencehub.results.model import Build, Project, Result, Test, TestRun


@dataclass
class Case:
    """One test's result in a run."""

    name: str
    status: str = "passed"
    classname: str | None = "tests.suite"
    failure_type: str | None = None
    message: str | None = None
    trace: str | None = None
    flaky: bool = False


@dataclass
class RunSpec:
    build: str
    cases: list[Case] = field(default_factory=list)
    project: str = "prism"
    release: str | None = "2026.11"
    branch: str | None = "main"
    environment: str | None = "staging"
    organization: str = "default"


def add_run(database: Database, spec: RunSpec) -> int:
    """Store the run and its results; returns the run id."""
    with database.session() as session:
        organization = ensure_organization(session, spec.organization)
        project = session.scalar(
            select(Project).where(Project.organization_id == organization.id, Project.key == spec.project)
        )
        if project is None:
            project = Project(organization_id=organization.id, key=spec.project, name=spec.project)
            session.add(project)
            session.flush()
        build = session.scalar(select(Build).where(Build.project_id == project.id, Build.name == spec.build))
        if build is None:
            build = Build(project_id=project.id, name=spec.build, release=spec.release, branch=spec.branch)
            session.add(build)
            session.flush()
        run = TestRun(build_id=build.id, name=f"run of {spec.build}", environment=spec.environment)
        session.add(run)
        session.flush()
        for case in spec.cases:
            key = test_key(None, case.classname, case.name)
            identity = test_id(project.id, key)
            if session.get(Test, identity) is None:
                session.add(
                    Test(
                        id=identity,
                        project_id=project.id,
                        key=key,
                        classname=case.classname,
                        name=case.name,
                        first_seen_at=utcnow(),
                    )
                )
                session.flush()
            session.add(
                Result(
                    run_id=run.id,
                    test_id=identity,
                    status=case.status,
                    duration_ms=10.0,
                    failure_type=case.failure_type,
                    message=case.message,
                    trace=case.trace,
                    flaky=case.flaky,
                )
            )
        run.tests = len(spec.cases)
        run.failures = sum(1 for case in spec.cases if case.status == "failed")
        run.errors = sum(1 for case in spec.cases if case.status == "error")
        run.passed = sum(1 for case in spec.cases if case.status == "passed")
        run.created_at = utcnow() + dt.timedelta(microseconds=run.id)
        return run.id


def result_ids(database: Database, run_id: int) -> dict[str, int]:
    """Result id per test name of a run."""
    with database.session() as session:
        rows = session.execute(
            select(Test.name, Result.id).join(Test, Test.id == Result.test_id).where(Result.run_id == run_id)
        ).all()
    return dict(rows)


def by_name(report: Any) -> dict[str, Any]:
    """A report's failures keyed by test name."""
    return {failure.name: failure for failure in report.failures}
