"""Storing runs straight into the results tables, for tests and benchmarks that need many results fast.

(Ingesting result files is tested by the results domain; publishing tests only
need stored results.) Uses the same bulk writer as ingestion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.orgs.service import ensure_organization
from evidencehub.results.bulk import bulk_writer
from evidencehub.results.identity import test_id, test_key
from evidencehub.results.model import Build, Project, TestRun

STARTED = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Case:
    classname: str | None
    name: str
    status: str = "passed"
    module: str | None = None
    duration_ms: float = 250.0
    message: str | None = None
    trace: str | None = None
    failure_type: str | None = None


def cases(count: int, *, prefix: str = "com.acme", classes: int = 10, failing_every: int = 0) -> list[Case]:
    """``count`` distinct tests spread over ``classes`` classes; every n-th one failing."""
    made = []
    for index in range(count):
        failing = failing_every and index % failing_every == 0
        made.append(
            Case(
                classname=f"{prefix}.Suite{index % classes}Test",
                name=f"test_{index:06d}",
                status="failed" if failing else "passed",
                message="expected 1 but was 2" if failing else None,
                trace="AssertionError: expected 1 but was 2\n\tat Suite.test(Suite.java:10)"
                if failing
                else None,
                failure_type="java.lang.AssertionError" if failing else None,
            )
        )
    return made


def store_run(
    database: Database,
    items: Iterable[Case],
    *,
    project: str = "prism",
    build: str = "1042",
    environment: str | None = None,
    organization: str = "default",
) -> int:
    """One run of ``build`` holding ``items``; returns the run id."""
    now = utcnow()
    with database.session() as session:
        org = ensure_organization(session, organization)
        project_row = session.query(Project).filter_by(organization_id=org.id, key=project).one_or_none()
        if project_row is None:
            project_row = Project(organization_id=org.id, key=project, name=project)
            session.add(project_row)
            session.flush()
        build_row = session.query(Build).filter_by(project_id=project_row.id, name=build).one_or_none()
        if build_row is None:
            build_row = Build(project_id=project_row.id, name=build)
            session.add(build_row)
            session.flush()
        run = TestRun(build_id=build_row.id, name="tests", environment=environment, started_at=STARTED)
        session.add(run)
        session.flush()
        writer = bulk_writer(session)
        tests, results = [], []
        for offset, case in enumerate(items):
            key = test_key(case.module, case.classname, case.name)
            identity = test_id(project_row.id, key)
            tests.append((identity, project_row.id, key, case.module, case.classname, case.name, None, now))
            results.append(
                (
                    run.id,
                    identity,
                    case.status,
                    case.duration_ms,
                    STARTED + dt.timedelta(seconds=offset),
                    case.failure_type,
                    case.message,
                    case.trace,
                    None,
                    None,
                    None,
                    None,
                    False,
                )
            )
        writer.write_tests(tests)
        writer.write_results(results)
        run.tests = len(results)
        return run.id
