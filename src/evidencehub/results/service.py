"""Queries over stored runs and results (no HTTP, no terminal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from evidencehub.errors import InputError, NotFoundError
from evidencehub.orgs.model import Organization
from evidencehub.results.model import Build, Project, Result, RunSource, Test, TestRun
from evidencehub.results.schemas import (
    BuildOut,
    BuildTrendPoint,
    ProjectOut,
    ResultExport,
    ResultOut,
    RunSourceOut,
    RunSummary,
    RunTotals,
)
from evidencehub.results.status import Status


def _summary(run: TestRun, build: Build, project: Project, sources: Sequence[RunSource]) -> RunSummary:
    return RunSummary(
        id=run.id,
        project=project.key,
        build=build.name,
        release=build.release,
        name=run.name,
        environment=run.environment,
        started_at=run.started_at,
        finished_at=run.finished_at,
        created_at=run.created_at,
        totals=RunTotals(
            tests=run.tests,
            passed=run.passed,
            failures=run.failures,
            errors=run.errors,
            skipped=run.skipped,
            flaky=run.flaky,
            duration_ms=run.duration_ms,
        ),
        sources=[RunSourceOut.model_validate(source) for source in sources],
    )


def _runs_query(organization_id: int | None) -> Select[TestRun, Build, Project]:
    query = (
        select(TestRun, Build, Project)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
    )
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    return query


def run_summary(session: Session, run_id: int, *, organization_id: int | None = None) -> RunSummary:
    """The run with its totals and source files; NotFoundError when absent (or in another organization)."""
    row = session.execute(
        _runs_query(organization_id).where(TestRun.id == run_id).options(selectinload(TestRun.sources))
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"run {run_id} does not exist", details={"run": run_id})
    run, build, project = row
    return _summary(run, build, project, run.sources)


def build_with_runs(session: Session, build_id: int) -> tuple[BuildOut, list[RunSummary]]:
    """The build and its runs (with their source files), oldest first; NotFoundError when absent."""
    row = session.execute(
        select(Build, Project).join(Project, Project.id == Build.project_id).where(Build.id == build_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"build {build_id} does not exist", details={"build": build_id})
    build, project = row
    runs = session.scalars(
        select(TestRun)
        .where(TestRun.build_id == build_id)
        .order_by(TestRun.id)
        .options(selectinload(TestRun.sources))
    ).all()
    return _build_out(build, project), [_summary(run, build, project, run.sources) for run in runs]


@dataclass(frozen=True)
class RunFilter:
    organization_id: int | None = None
    project: str | None = None
    build: str | None = None
    release: str | None = None
    limit: int = 50
    before_id: int | None = None  # keyset paging: runs older than this id


def list_runs(session: Session, run_filter: RunFilter) -> list[RunSummary]:
    """Runs newest first, without their source lists."""
    if not 1 <= run_filter.limit <= 1000:
        raise InputError("limit must be between 1 and 1000", details={"parameter": "limit"})
    query = _runs_query(run_filter.organization_id)
    if run_filter.project:
        query = query.where(Project.key == run_filter.project)
    if run_filter.build:
        query = query.where(Build.name == run_filter.build)
    if run_filter.release:
        query = query.where(Build.release == run_filter.release)
    if run_filter.before_id is not None:
        query = query.where(TestRun.id < run_filter.before_id)
    rows = session.execute(query.order_by(TestRun.id.desc()).limit(run_filter.limit)).all()
    return [_summary(run, build, project, []) for run, build, project in rows]


def run_results(
    session: Session,
    run_id: int,
    *,
    statuses: Sequence[Status] | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[ResultOut]:
    """Results of a run in id order, optionally by status, keyset-paged by ``after_id``."""
    if not 1 <= limit <= 10_000:
        raise InputError("limit must be between 1 and 10000", details={"parameter": "limit"})
    query = (
        select(Result, Test)
        .join(Test, Test.id == Result.test_id)
        .where(Result.run_id == run_id)
        .order_by(Result.id)
        .limit(limit)
    )
    if statuses:
        query = query.where(Result.status.in_([status.value for status in statuses]))
    if after_id is not None:
        query = query.where(Result.id > after_id)
    return [
        ResultOut(
            id=result.id,
            test_key=test.key,
            classname=test.classname,
            name=test.name,
            status=result.status,
            duration_ms=result.duration_ms,
            failure_type=result.failure_type,
            message=result.message,
            flaky=result.flaky,
            attempts=len(result.attempts or []),
        )
        for result, test in session.execute(query).all()
    ]


def organization_id_for(session: Session, slug: str) -> int | None:
    return session.scalar(select(Organization.id).where(Organization.slug == slug))


def ensure_run_visible(session: Session, run_id: int, organization_id: int) -> None:
    """NotFoundError unless the run exists in the organization (the same answer either way)."""
    found = session.scalar(
        select(TestRun.id)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(TestRun.id == run_id, Project.organization_id == organization_id)
    )
    if found is None:
        raise NotFoundError(f"run {run_id} does not exist", details={"run": run_id})


def list_projects(
    session: Session, organization_id: int, *, limit: int, after_id: int | None = None
) -> list[ProjectOut]:
    """Projects of the organization in id order, keyset-paged by ``after_id``."""
    query = (
        select(Project).where(Project.organization_id == organization_id).order_by(Project.id).limit(limit)
    )
    if after_id is not None:
        query = query.where(Project.id > after_id)
    return [ProjectOut.model_validate(project) for project in session.scalars(query)]


def get_project(session: Session, organization_id: int, project_id: int) -> ProjectOut:
    project = session.scalar(
        select(Project).where(Project.id == project_id, Project.organization_id == organization_id)
    )
    if project is None:
        raise NotFoundError(f"project {project_id} does not exist", details={"project": project_id})
    return ProjectOut.model_validate(project)


def _build_out(build: Build, project: Project) -> BuildOut:
    return BuildOut(
        id=build.id,
        project=project.key,
        project_id=project.id,
        name=build.name,
        release=build.release,
        commit=build.commit,
        branch=build.branch,
        ci_url=build.ci_url,
        created_at=build.created_at,
    )


def list_builds(
    session: Session,
    organization_id: int,
    *,
    project_id: int | None = None,
    release: str | None = None,
    limit: int,
    before_id: int | None = None,
) -> list[BuildOut]:
    """Builds of the organization, newest first, keyset-paged by ``before_id``."""
    query = (
        select(Build, Project)
        .join(Project, Project.id == Build.project_id)
        .where(Project.organization_id == organization_id)
        .order_by(Build.id.desc())
        .limit(limit)
    )
    if project_id is not None:
        query = query.where(Build.project_id == project_id)
    if release:
        query = query.where(Build.release == release)
    if before_id is not None:
        query = query.where(Build.id < before_id)
    return [_build_out(build, project) for build, project in session.execute(query).all()]


def get_build(session: Session, organization_id: int, build_id: int) -> BuildOut:
    row = session.execute(
        select(Build, Project)
        .join(Project, Project.id == Build.project_id)
        .where(Build.id == build_id, Project.organization_id == organization_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"build {build_id} does not exist", details={"build": build_id})
    return _build_out(row[0], row[1])


def build_trend(
    session: Session, organization_id: int, project_id: int, *, limit: int = 30
) -> list[BuildTrendPoint]:
    """The project's newest ``limit`` builds with runs, oldest first, each with its runs' totals summed."""
    if not 1 <= limit <= 1000:
        raise InputError("limit must be between 1 and 1000", details={"parameter": "limit"})
    rows = session.execute(
        select(
            Build.id,
            Build.name,
            Build.release,
            Build.created_at,
            func.count(TestRun.id),
            func.sum(TestRun.tests),
            func.sum(TestRun.passed),
            func.sum(TestRun.failures + TestRun.errors),
            func.sum(TestRun.skipped),
            func.sum(TestRun.duration_ms),
        )
        .join(TestRun, TestRun.build_id == Build.id)
        .join(Project, Project.id == Build.project_id)
        .where(Build.project_id == project_id, Project.organization_id == organization_id)
        .group_by(Build.id, Build.name, Build.release, Build.created_at)
        .order_by(Build.id.desc())
        .limit(limit)
    ).all()
    return [
        BuildTrendPoint(
            build_id=row[0],
            build=row[1],
            release=row[2],
            created_at=row[3],
            runs=row[4],
            tests=int(row[5] or 0),
            passed=int(row[6] or 0),
            failed=int(row[7] or 0),
            skipped=int(row[8] or 0),
            duration_ms=float(row[9] or 0.0),
        )
        for row in reversed(rows)
    ]


def result_traces(session: Session, run_id: int, result_ids: Sequence[int]) -> dict[int, str | None]:
    """Stack traces of some results of one run (the dashboard shows them beside each failure)."""
    if not result_ids:
        return {}
    rows = session.execute(
        select(Result.id, Result.trace).where(Result.run_id == run_id, Result.id.in_(list(result_ids)))
    ).all()
    return {row[0]: row[1] for row in rows}


@dataclass(frozen=True)
class TestMatch:
    """Ways to find a test's results, tried in order: an Xray key, then classname and name.

    ``xray_key`` matches the ``test_key``/``test_id`` result properties that
    Xray's JUnit extensions and pytest-jira-xray write. ``classname`` may be a
    suffix of the stored one (reports made from another root directory);
    ``name`` also matches its parametrized variants (``name[...]``).
    """

    __test__ = False

    xray_key: str | None = None
    classname: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class LatestResult:
    """The result of a test in the newest run that has one."""

    status: str
    run_id: int
    project: str
    build: str
    release: str | None
    environment: str | None
    executed_at: dt.datetime | None
    test_key: str
    classname: str | None
    name: str
    message: str | None
    matched_by: str


def latest_result(
    session: Session, match: TestMatch, *, organization_id: int | None = None, project: str | None = None
) -> LatestResult | None:
    """The newest ingested result of the test ``match`` describes, or None when it never ran."""
    base = (
        select(Result, Test, TestRun, Build, Project)
        .join(Test, Test.id == Result.test_id)
        .join(TestRun, TestRun.id == Result.run_id)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .order_by(TestRun.id.desc(), Result.id.desc())
        .limit(1)
    )
    if organization_id is not None:
        base = base.where(Project.organization_id == organization_id)
    if project is not None:
        base = base.where(Project.key == project)
    attempts: list[tuple[str, Any]] = []
    if match.xray_key:
        attempts.append(
            (
                "xray key property",
                or_(
                    Result.properties["test_key"].as_string() == match.xray_key,
                    Result.properties["test_id"].as_string() == match.xray_key,
                ),
            )
        )
    if match.name:
        by_name = or_(Test.name == match.name, Test.name.startswith(f"{match.name}[", autoescape=True))
        if match.classname:
            by_class = or_(
                Test.classname == match.classname,
                Test.classname.endswith(f".{match.classname}", autoescape=True),
            )
            attempts.append(("classname and name", and_(by_name, by_class)))
        else:
            attempts.append(("name", by_name))
    for matched_by, condition in attempts:
        row = session.execute(base.where(condition)).one_or_none()
        if row is None:
            continue
        result, test, run, build, found_project = row
        return LatestResult(
            status=result.status,
            run_id=run.id,
            project=found_project.key,
            build=build.name,
            release=build.release,
            environment=run.environment,
            executed_at=result.started_at or run.finished_at or run.started_at or run.created_at,
            test_key=test.key,
            classname=test.classname,
            name=test.name,
            message=result.message,
            matched_by=matched_by,
        )
    return None


def result_ids(session: Session, run_ids: Sequence[int]) -> list[int]:
    """Ids of every result of the runs, ascending: the stable order publishing slices are cut from."""
    if not run_ids:
        return []
    return list(
        session.scalars(select(Result.id).where(Result.run_id.in_(list(run_ids))).order_by(Result.id)).all()
    )


def export_results(
    session: Session, run_ids: Sequence[int], *, first_id: int, last_id: int
) -> list[ResultExport]:
    """The results of the runs with ids in [first_id, last_id], in id order, with test and run context.

    Selects columns, not ORM objects: publishing exports a thousand rows per slice, and building
    five ORM instances per row cost ten times the query.
    """
    columns = (
        Result.id,
        TestRun.id.label("run_id"),
        Project.key.label("project"),
        Build.name.label("build"),
        TestRun.environment.label("run_environment"),
        TestRun.started_at.label("run_started_at"),
        Test.module,
        Test.classname,
        Test.name,
        Result.status,
        Result.duration_ms,
        Result.started_at,
        Result.failure_type,
        Result.message,
        Result.trace,
    )
    rows = session.connection().execute(
        select(*columns)
        .join(Test, Test.id == Result.test_id)
        .join(TestRun, TestRun.id == Result.run_id)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(Result.run_id.in_(list(run_ids)), Result.id >= first_id, Result.id <= last_id)
        .order_by(Result.id)
    )
    return [ResultExport(*row) for row in rows]  # type: ignore[call-arg]  # columns in field order


def runs_of_build(
    session: Session, *, project: str, build: str, organization_id: int | None = None
) -> list[int]:
    """Ids of the runs of a build, oldest first; NotFoundError naming what is missing."""
    query = (
        _runs_query(organization_id).where(Project.key == project, Build.name == build).order_by(TestRun.id)
    )
    ids = [run.id for run, _build, _project in session.execute(query).all()]
    if not ids:
        raise NotFoundError(
            f"build '{build}' of project '{project}' has no runs",
            details={"project": project, "build": build},
        )
    return ids


def project_ids_of_runs(session: Session, run_ids: Sequence[int]) -> list[int]:
    """The distinct project ids the runs belong to."""
    query = (
        select(Build.project_id)
        .join(TestRun, TestRun.build_id == Build.id)
        .where(TestRun.id.in_(list(run_ids)))
        .distinct()
        .order_by(Build.project_id)
    )
    return list(session.scalars(query).all())


def find_build(session: Session, organization_id: int, *, project: str, build: str) -> BuildOut:
    """A build by project key and build name; NotFoundError naming which of the two is missing."""
    project_row = session.scalar(
        select(Project).where(Project.organization_id == organization_id, Project.key == project)
    )
    if project_row is None:
        raise NotFoundError(f"project '{project}' does not exist", details={"project": project})
    build_row = session.scalar(select(Build).where(Build.project_id == project_row.id, Build.name == build))
    if build_row is None:
        raise NotFoundError(
            f"build '{build}' of project '{project}' does not exist",
            details={"project": project, "build": build},
        )
    return _build_out(build_row, project_row)


@dataclass(frozen=True)
class ResultExtras:
    """What some targets attach beyond :class:`ResultExport`: properties and captured output."""

    properties: dict[str, Any]
    stdout: str | None
    stderr: str | None


def export_extras(session: Session, result_ids: Sequence[int]) -> dict[int, ResultExtras]:
    """Properties, stdout and stderr of the results (not in export_results: most targets skip them)."""
    if not result_ids:
        return {}
    rows = session.execute(
        select(Result.id, Result.properties, Result.stdout, Result.stderr).where(
            Result.id.in_(list(result_ids))
        )
    ).all()
    return {
        row.id: ResultExtras(properties=dict(row.properties or {}), stdout=row.stdout, stderr=row.stderr)
        for row in rows
    }
