"""Reading a run's triage piece by piece: its summary, clusters with examples, filtered failures, one failure.

What the web API and dashboards page through; the CLI prints whole reports
(:func:`evidencehub.triage.service.triage_report`) instead. Every function is
organization-scoped like the service: another organization's run or failure
raises NotFoundError.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from evidencehub.errors import InputError, NotFoundError
from evidencehub.results.model import Build, Project, Result, Test, TestRun
from evidencehub.triage.categories import Category
from evidencehub.triage.model import ErrorCluster, FailureAnalysis, TriageDecision
from evidencehub.triage.report_data import failure_out
from evidencehub.triage.schemas import (
    ClusterExample,
    DecisionOut,
    FailureDetail,
    FailureOut,
    RunClusterOut,
    RunTriageOut,
    TriageOutcome,
    TriageReport,
)
from evidencehub.triage.service import FAILED_STATUSES, decision_out, history_of_test, triage_report

# An example is for reading, not for storage: a trace is cut to this many characters.
EXAMPLE_TRACE_CHARS = 8000
EXAMPLE_MESSAGE_CHARS = 2000
MAX_TEST_FILTER_CHARS = 500


def needs_triage(session: Session, run_id: int, *, organization_id: int | None) -> bool:
    """Whether the run has failures and none is triaged yet (a triage pass would do something).

    Cheaper than a triage pass that finds nothing to do: no project lock, no rules, no index.
    """
    _visible_run(session, run_id, organization_id)
    analysed = session.scalar(select(FailureAnalysis.id).where(FailureAnalysis.run_id == run_id).limit(1))
    if analysed is not None:
        return False
    failed = session.scalar(
        select(Result.id).where(Result.run_id == run_id, Result.status.in_(FAILED_STATUSES)).limit(1)
    )
    return failed is not None


def run_triage(
    session: Session,
    run_id: int,
    *,
    organization_id: int | None,
    count_flaky_as_product_bugs: bool = False,
    triaged: TriageOutcome | None = None,
) -> RunTriageOut:
    """The run's triage summary (counts by category and source, clusters, flaky, regressions)."""
    report = triage_report(
        session,
        run_id,
        organization_id=organization_id,
        count_flaky_as_product_bugs=count_flaky_as_product_bugs,
    )
    project_id = session.scalar(
        select(Build.project_id).join(TestRun, TestRun.build_id == Build.id).where(TestRun.id == run_id)
    )
    assert project_id is not None  # triage_report found the run
    return RunTriageOut(
        run=report.run,
        project_id=project_id,
        project=report.project,
        build=report.build,
        release=report.release,
        environment=report.environment,
        branch=report.branch,
        summary=report.summary,
        triaged=triaged,
    )


def run_clusters(
    session: Session,
    run_id: int,
    *,
    organization_id: int | None,
    count_flaky_as_product_bugs: bool = False,
) -> list[RunClusterOut]:
    """The run's unique errors in report order, each with an explanation and its first failure as example."""
    report = triage_report(
        session,
        run_id,
        organization_id=organization_id,
        count_flaky_as_product_bugs=count_flaky_as_product_bugs,
    )
    return explained_clusters(session, report)


def explained_clusters(session: Session, report: TriageReport) -> list[RunClusterOut]:
    """The report's unique errors in its order, each with an explanation and its first failure as example.

    For callers that already hold the run's report (the triage kind of report executions needs its
    summary too) and should not build it twice.
    """
    first = (
        select(func.min(FailureAnalysis.result_id))
        .where(FailureAnalysis.run_id == report.run)
        .group_by(FailureAnalysis.cluster_id)
    )
    rows = session.execute(
        select(
            ErrorCluster.key,
            FailureAnalysis.explanation,
            Result.id,
            Test.key,
            Result.message,
            Result.trace,
        )
        .join(ErrorCluster, ErrorCluster.id == FailureAnalysis.cluster_id)
        .join(Result, Result.id == FailureAnalysis.result_id)
        .join(Test, Test.id == FailureAnalysis.test_id)
        .where(FailureAnalysis.result_id.in_(first))
    ).all()
    examples = {
        key: (
            explanation,
            ClusterExample(
                failure=result_id,
                test=test_key,
                message=message[:EXAMPLE_MESSAGE_CHARS] if message else None,
                trace=trace[:EXAMPLE_TRACE_CHARS] if trace else None,
            ),
        )
        for key, explanation, result_id, test_key, message, trace in rows
    }
    clusters = []
    for cluster in report.clusters:
        explanation, example = examples.get(cluster.id, ("", None))
        clusters.append(RunClusterOut(**cluster.model_dump(), explanation=explanation, example=example))
    return clusters


@dataclass(frozen=True)
class FailureFilter:
    """Which failures of a run to list: all of them unless narrowed."""

    category: Category | None = None
    cluster: str | None = None  # a cluster id (key), e.g. c1a2b3c4d5e6
    test: str | None = None  # text contained in the test's key (class and name), any case


def run_failures(
    session: Session,
    run_id: int,
    *,
    organization_id: int | None,
    where: FailureFilter,
    limit: int,
    after_id: int | None = None,
) -> list[FailureOut]:
    """The run's triaged failures in id order, filtered, keyset-paged by ``after_id`` (a result id)."""
    if not 1 <= limit <= 10_000:
        raise InputError("limit must be between 1 and 10000", details={"parameter": "limit"})
    if where.test is not None and len(where.test) > MAX_TEST_FILTER_CHARS:
        raise InputError(
            f"the test filter is at most {MAX_TEST_FILTER_CHARS} characters", details={"parameter": "test"}
        )
    _visible_run(session, run_id, organization_id)
    query = (
        select(FailureAnalysis, Result.status, Result.failure_type, Result.message, Test, ErrorCluster.key)
        .join(Result, Result.id == FailureAnalysis.result_id)
        .join(Test, Test.id == FailureAnalysis.test_id)
        .join(ErrorCluster, ErrorCluster.id == FailureAnalysis.cluster_id)
        .where(FailureAnalysis.run_id == run_id)
        .order_by(FailureAnalysis.result_id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(FailureAnalysis.result_id > after_id)
    if where.category is not None:
        query = query.where(FailureAnalysis.category == where.category.value)
    if where.cluster:
        query = query.where(ErrorCluster.key == where.cluster.strip())
    if where.test:
        query = query.where(Test.key.icontains(where.test, autoescape=True))
    return [failure_out(*row) for row in session.execute(query).all()]


def failure_detail(
    session: Session, result_id: int, *, organization_id: int | None, history: int = 30
) -> FailureDetail:
    """One triaged failure in full, its test's last ``history`` results and the decisions that shaped it."""
    query = (
        select(FailureAnalysis, Result, Test, ErrorCluster.key, Build.name, Project.key)
        .join(Result, Result.id == FailureAnalysis.result_id)
        .join(Test, Test.id == FailureAnalysis.test_id)
        .join(ErrorCluster, ErrorCluster.id == FailureAnalysis.cluster_id)
        .join(TestRun, TestRun.id == FailureAnalysis.run_id)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(FailureAnalysis.result_id == result_id)
    )
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(
            f"failure {result_id} does not exist (or its run has not been triaged yet)",
            details={"failure": result_id},
        )
    analysis, result, test, cluster_key, build_name, project_key = row
    summary = failure_out(analysis, result.status, result.failure_type, result.message, test, cluster_key)
    return FailureDetail(
        **summary.model_dump(),
        run=analysis.run_id,
        project=project_key,
        build=build_name,
        full_message=result.message,
        trace=result.trace,
        duration_ms=result.duration_ms,
        history=history_of_test(session, test_id=test.id, limit=history, organization_id=organization_id),
        decisions=_decisions_of(session, analysis),
    )


def _decisions_of(session: Session, analysis: FailureAnalysis, limit: int = 50) -> list[DecisionOut]:
    rows = session.execute(
        select(TriageDecision, ErrorCluster.key)
        .outerjoin(ErrorCluster, ErrorCluster.id == TriageDecision.cluster_id)
        .where(
            TriageDecision.project_id == analysis.project_id,
            or_(
                TriageDecision.result_id == analysis.result_id,
                (TriageDecision.scope == "cluster") & (TriageDecision.cluster_id == analysis.cluster_id),
            ),
        )
        .order_by(TriageDecision.id.desc())
        .limit(limit)
    ).all()
    return [decision_out(decision, key) for decision, key in rows]


def _visible_run(session: Session, run_id: int, organization_id: int | None) -> None:
    query = (
        select(TestRun.id)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(TestRun.id == run_id)
    )
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    if session.scalar(query) is None:
        raise NotFoundError(f"run {run_id} does not exist", details={"run": run_id})
