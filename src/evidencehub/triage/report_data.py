"""Assembling a run's triage report from the stored analyses: failures, clusters, summary table.

The cluster rows are the analysis document's summary table: each unique error
with its category, a priority, a status (confirmed by a person, suggested
automatically, or needing verification) and its bug reference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidencehub.results.model import Build, Project, Result, Test, TestRun
from evidencehub.triage.categories import CATEGORY_ORDER, Category, Source
from evidencehub.triage.model import ErrorCluster, FailureAnalysis
from evidencehub.triage.schemas import ClusterOut, FailureOut, TriageReport, TriageSummary

MESSAGE_PREVIEW_CHARS = 300
PRIORITY_ORDER = ("high", "medium", "low")
# A system issue hitting at least this share of a run's failures is worth more than a shrug.
WIDESPREAD_SHARE = 0.1


def priority(category: Category, *, regressions: int, all_flaky: bool, share: float) -> str:
    """How urgently a cluster needs attention.

    Product bugs are high; what nobody has looked at is high when it broke a
    test that passed before, else medium; automation bugs are medium; system
    issues are medium when widespread, else low; no-defect is low. A cluster of
    flaky failures only is one level lower.
    """
    if category is Category.PRODUCT_BUG:
        level = "high"
    elif category is Category.TO_INVESTIGATE:
        level = "high" if regressions else "medium"
    elif category is Category.AUTOMATION_BUG:
        level = "medium"
    elif category is Category.SYSTEM_ISSUE:
        level = "medium" if share >= WIDESPREAD_SHARE else "low"
    else:
        level = "low"
    if all_flaky and level != "low":
        level = PRIORITY_ORDER[PRIORITY_ORDER.index(level) + 1]
    return level


def status(category: Category, sources: Counter[str]) -> str:
    """Confirmed by a person, suggested automatically, or needing verification."""
    if sources.get(Source.HUMAN.value):
        return "confirmed"
    if category is Category.TO_INVESTIGATE:
        return "needs verification"
    source = Source.RULE.value if sources.get(Source.RULE.value) else Source.HISTORY.value
    return f"suggested by {source}"


@dataclass
class _ClusterTally:
    cluster: ErrorCluster
    failures: int = 0
    tests: set[int] = field(default_factory=set)
    categories: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    regressions: int = 0
    flaky: int = 0
    issue: str | None = None


def _preview(message: str | None) -> str | None:
    if not message:
        return None
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first[:MESSAGE_PREVIEW_CHARS]


def _majority(categories: Counter[str]) -> Category:
    # Ties go to what needs attention first.
    return max(
        (Category(name) for name in categories),
        key=lambda category: (categories[category.value], -CATEGORY_ORDER.index(category)),
    )


def _cluster_out(tally: _ClusterTally, *, run_id: int | None, run_failures: int) -> ClusterOut:
    cluster = tally.cluster
    category = (
        _majority(tally.categories) if tally.categories else Category(cluster.category or "to_investigate")
    )
    return ClusterOut(
        id=cluster.key,
        exception=cluster.exception_type,
        message=cluster.message,
        category=category,
        priority=priority(
            category,
            regressions=tally.regressions,
            all_flaky=tally.failures > 0 and tally.flaky == tally.failures,
            share=tally.failures / run_failures if run_failures else 0.0,
        ),
        status=status(category, tally.sources),
        issue=tally.issue or cluster.issue,
        failures=tally.failures,
        tests=len(tally.tests),
        total_failures=cluster.failure_count,
        tests_affected=cluster.tests_affected,
        first_seen=cluster.first_seen_at,
        last_seen=cluster.last_seen_at,
        new=run_id is not None and cluster.first_run_id == run_id,
        regressions=tally.regressions,
        flaky=tally.flaky,
        decided_by=cluster.decided_by,
        comment=cluster.comment,
    )


def _summary(
    failures: Sequence[FailureOut], clusters: Sequence[ClusterOut], *, count_flaky: bool
) -> TriageSummary:
    by_category = Counter(failure.category.value for failure in failures)
    by_source = Counter(failure.source.value for failure in failures)
    return TriageSummary(
        failures=len(failures),
        by_category={category.value: by_category.get(category.value, 0) for category in CATEGORY_ORDER},
        by_source={source.value: by_source.get(source.value, 0) for source in Source},
        clusters=len(clusters),
        new_clusters=sum(1 for cluster in clusters if cluster.new),
        flaky=sum(1 for failure in failures if failure.flaky),
        regressions=sum(1 for failure in failures if failure.regression),
        product_bugs=sum(
            1
            for failure in failures
            if failure.category is Category.PRODUCT_BUG and (count_flaky or not failure.flaky)
        ),
        to_investigate=by_category.get(Category.TO_INVESTIGATE.value, 0),
        flaky_counted_as_product_bugs=count_flaky,
    )


def failure_out(
    analysis: FailureAnalysis,
    result_status: str,
    failure_type: str | None,
    message: str | None,
    test: Test,
    cluster_key: str,
) -> FailureOut:
    """A stored analysis with its result and test, as reports and the API show it."""
    return FailureOut(
        id=analysis.result_id,
        test_id=test.id,
        classname=test.classname,
        name=test.name,
        status=result_status,
        category=Category(analysis.category),
        source=Source(analysis.source),
        confidence=round(analysis.confidence, 3),
        cluster=cluster_key,
        issue=analysis.issue,
        explanation=analysis.explanation,
        flaky=analysis.flaky,
        new=analysis.new,
        regression=analysis.regression,
        flaky_score=analysis.flaky_score,
        rule=analysis.rule,
        exception=failure_type,
        message=_preview(message),
        decided_by=analysis.decided_by,
        comment=analysis.comment,
    )


def build_report(
    session: Session, run: TestRun, build: Build, project: Project, *, count_flaky_as_product_bugs: bool
) -> TriageReport:
    rows = session.execute(
        select(FailureAnalysis, Result.status, Result.failure_type, Result.message, Test, ErrorCluster)
        .join(Result, Result.id == FailureAnalysis.result_id)
        .join(Test, Test.id == FailureAnalysis.test_id)
        .join(ErrorCluster, ErrorCluster.id == FailureAnalysis.cluster_id)
        .where(FailureAnalysis.run_id == run.id)
        .order_by(FailureAnalysis.result_id)
    ).all()
    failures: list[FailureOut] = []
    tallies: dict[int, _ClusterTally] = {}
    for analysis, result_status, failure_type, message, test, cluster in rows:
        failures.append(failure_out(analysis, result_status, failure_type, message, test, cluster.key))
        tally = tallies.setdefault(cluster.id, _ClusterTally(cluster))
        tally.failures += 1
        tally.tests.add(test.id)
        tally.categories[analysis.category] += 1
        tally.sources[analysis.source] += 1
        tally.regressions += int(analysis.regression)
        tally.flaky += int(analysis.flaky)
        tally.issue = tally.issue or analysis.issue
    clusters = [_cluster_out(tally, run_id=run.id, run_failures=len(failures)) for tally in tallies.values()]
    clusters.sort(
        key=lambda item: (
            CATEGORY_ORDER.index(item.category),
            PRIORITY_ORDER.index(item.priority),
            -item.failures,
            item.id,
        )
    )
    order = {cluster.id: position for position, cluster in enumerate(clusters)}
    failures.sort(key=lambda item: (CATEGORY_ORDER.index(item.category), order[item.cluster], item.id))
    return TriageReport(
        run=run.id,
        project=project.key,
        build=build.name,
        release=build.release,
        environment=run.environment,
        branch=build.branch,
        failures=failures,
        clusters=clusters,
        summary=_summary(failures, clusters, count_flaky=count_flaky_as_product_bugs),
    )


def project_cluster_out(session: Session, cluster: ErrorCluster) -> ClusterOut:
    """A project-wide cluster row: all-time counts; category, status and flags from its latest failures."""
    rows = session.execute(
        select(
            FailureAnalysis.category,
            FailureAnalysis.source,
            FailureAnalysis.flaky,
            FailureAnalysis.regression,
        )
        .where(FailureAnalysis.cluster_id == cluster.id)
        .order_by(FailureAnalysis.id.desc())
        .limit(1000)
    ).all()
    tally = _ClusterTally(cluster, failures=len(rows))
    for category, source, flaky, regression in rows:
        tally.categories[category] += 1
        tally.sources[source] += 1
        tally.flaky += int(flaky)
        tally.regressions += int(regression)
    if cluster.category:
        tally.categories = Counter({cluster.category: 1})
    out = _cluster_out(tally, run_id=None, run_failures=0)
    return out.model_copy(update={"failures": cluster.failure_count, "tests": cluster.tests_affected})
