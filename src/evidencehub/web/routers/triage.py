"""Triage: a run's triage, its clusters and failures, one failure in full, people's decisions, flaky tests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from evidencehub.auth.service import Principal
from evidencehub.ops.metrics import count_triage_decisions
from evidencehub.results import service as results
from evidencehub.triage import browse
from evidencehub.triage import service as triage
from evidencehub.triage.categories import Category
from evidencehub.triage.schemas import (
    DecisionOut,
    FailureDetail,
    FailureOut,
    FlakyTestOut,
    RunClusterOut,
    RunTriageOut,
    TriageOutcome,
)
from evidencehub.web import decisions
from evidencehub.web.deps import DbSession, PageLimit, Services, event_origin, require
from evidencehub.web.routers.paging import MAX_BIG_ID, MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["triage"])
Reader = Annotated[Principal, Depends(require("triage:read"))]
Decider = Annotated[Principal, Depends(require("triage:decide"))]
FailureId = Annotated[
    int, Path(ge=1, le=MAX_BIG_ID, description="The failure's id (the id of its failed result).")
]
ClusterKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=20,
        pattern=r"^[A-Za-z0-9]+$",
        description="A cluster id as listed, e.g. c1a2b3c4d5e6.",
    ),
]
CountFlaky = Annotated[
    bool | None,
    Query(description="Count flaky failures as product bugs (default: triage.count_flaky_as_product_bugs)."),
]


class DecisionIn(BaseModel):
    """A person's decision: the category, and optionally the bug it is and why."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    issue: str | None = Field(
        None, max_length=triage.MAX_ISSUE_CHARS, description="Bug reference, e.g. PRISM-123 or #26."
    )
    comment: str | None = Field(None, max_length=2000, description="Why (kept in the decision history).")

    def verdict(self) -> decisions.Verdict:
        return decisions.Verdict(self.category, self.issue, self.comment)


def _count_flaky(app: Services, asked: bool | None) -> bool:
    return app.settings.triage.count_flaky_as_product_bugs if asked is None else asked


def _run_triage(
    app: Services,
    principal: Principal,
    run_id: int,
    count_flaky_as_product_bugs: bool | None,
    triaged: TriageOutcome | None,
) -> RunTriageOut:
    """The run's triage summary, with what the triage pass of this request did (when one ran)."""
    if triaged is not None:
        count_triage_decisions(triaged.by_source)
    with app.database.session() as session:
        return browse.run_triage(
            session,
            run_id,
            organization_id=principal.organization_id,
            count_flaky_as_product_bugs=_count_flaky(app, count_flaky_as_product_bugs),
            triaged=triaged,
        )


@router.get("/runs/{run_id}/triage", response_model=RunTriageOut)
def show_run_triage(
    run_id: ObjectId, app: Services, principal: Reader, count_flaky_as_product_bugs: CountFlaky = None
) -> RunTriageOut:
    """The run's triage summary; a run never triaged (automatic triage off) is triaged first."""
    with app.database.session() as session:
        pending = browse.needs_triage(session, run_id, organization_id=principal.organization_id)
    outcome = (
        triage.triage_run(app.database, app.settings, run_id, organization_id=principal.organization_id)
        if pending
        else None
    )
    triaged = outcome if outcome is not None and not outcome.already_triaged else None
    return _run_triage(app, principal, run_id, count_flaky_as_product_bugs, triaged)


@router.post("/runs/{run_id}/triage", response_model=RunTriageOut)
def triage_run(
    run_id: ObjectId,
    app: Services,
    principal: Decider,
    retriage: Annotated[
        bool,
        Query(
            description="Decide every automatic failure again (after new rules or decisions); people's stay."
        ),
    ] = False,
    count_flaky_as_product_bugs: CountFlaky = None,
) -> RunTriageOut:
    """Triage the run's failures: cluster them, flag flaky/new/regressions, categorize with explanations."""
    outcome = triage.triage_run(
        app.database, app.settings, run_id, retriage=retriage, organization_id=principal.organization_id
    )
    return _run_triage(app, principal, run_id, count_flaky_as_product_bugs, outcome)


@router.get("/runs/{run_id}/triage/clusters", response_model=Page[RunClusterOut])
def list_run_clusters(
    run_id: ObjectId,
    session: DbSession,
    app: Services,
    principal: Reader,
    limit: PageLimit,
    offset: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Cursor: position of the first cluster (next_cursor).")
    ] = 0,
    count_flaky_as_product_bugs: CountFlaky = None,
) -> Page[RunClusterOut]:
    """The run's unique errors, most urgent first: category, priority, counts, explanation, an example."""
    clusters = browse.run_clusters(
        session,
        run_id,
        organization_id=principal.organization_id,
        count_flaky_as_product_bugs=_count_flaky(app, count_flaky_as_product_bugs),
    )
    end = offset + limit
    return Page[RunClusterOut](items=clusters[offset:end], next_cursor=end if end < len(clusters) else None)


@router.post(
    "/runs/{run_id}/triage/clusters/{cluster_key}/decision", response_model=DecisionOut, status_code=201
)
def decide_cluster(
    run_id: ObjectId,
    cluster_key: ClusterKey,
    body: DecisionIn,
    request: Request,
    app: Services,
    principal: Decider,
) -> DecisionOut:
    """Decide a cluster of the run's project: its failures now and later (not those decided one by one)."""
    with app.database.session() as session:
        project = results.run_summary(session, run_id, organization_id=principal.organization_id).project
    origin = event_origin(request, principal)
    return decisions.decide_cluster(app, principal, origin, cluster_key, body.verdict(), project=project)


@router.get("/runs/{run_id}/triage/failures", response_model=Page[FailureOut])
def list_run_failures(
    run_id: ObjectId,
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    category: Annotated[Category | None, Query(description="Only failures of this category.")] = None,
    cluster: Annotated[
        str | None, Query(max_length=20, description="Only failures of this cluster (its id).")
    ] = None,
    test: Annotated[
        str | None,
        Query(
            max_length=browse.MAX_TEST_FILTER_CHARS,
            description="Only tests whose key contains this (any case).",
        ),
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_BIG_ID, description="Cursor: failures after this id.")
    ] = None,
) -> Page[FailureOut]:
    """The run's triaged failures in id order, filtered, keyset-paged: pass ``next_cursor`` as ``after``."""
    failures = browse.run_failures(
        session,
        run_id,
        organization_id=principal.organization_id,
        where=browse.FailureFilter(category=category, cluster=cluster, test=test),
        limit=limit,
        after_id=after,
    )
    return page_of(failures, limit, lambda failure: failure.id)


@router.get("/failures/{failure_id}", response_model=FailureDetail)
def show_failure(
    failure_id: FailureId,
    session: DbSession,
    principal: Reader,
    history: Annotated[int, Query(ge=1, le=1000, description="How many of the test's last results.")] = 30,
) -> FailureDetail:
    """One failure in full: message, trace, category and why, its test's history, the decisions on it."""
    return browse.failure_detail(
        session, failure_id, organization_id=principal.organization_id, history=history
    )


@router.post("/failures/{failure_id}/decision", response_model=DecisionOut, status_code=201)
def decide_failure(
    failure_id: FailureId, body: DecisionIn, request: Request, app: Services, principal: Decider
) -> DecisionOut:
    """Decide one failure's category; it is never re-decided automatically and later runs learn from it."""
    origin = event_origin(request, principal)
    return decisions.decide_failure(app, principal, origin, failure_id, body.verdict())


@router.get("/projects/{project_id}/triage/decisions", response_model=Page[DecisionOut])
def list_decisions(
    project_id: ObjectId,
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Cursor: decisions older than this id.")
    ] = None,
) -> Page[DecisionOut]:
    """People's decisions in the project, newest first: who decided what, when and why."""
    results.get_project(session, principal.organization_id, project_id)
    found = triage.decisions(session, project_id=project_id, limit=limit, before_id=before)
    return page_of(found, limit, lambda decision: decision.id)


@router.get("/projects/{project_id}/flaky-tests", response_model=Page[FlakyTestOut])
def list_flaky_tests(
    project_id: ObjectId,
    session: DbSession,
    app: Services,
    principal: Reader,
    limit: PageLimit,
    branch: Annotated[str | None, Query(max_length=200, description="Default: the newest run's.")] = None,
    environment: Annotated[
        str | None, Query(max_length=200, description="Default: the newest run's.")
    ] = None,
) -> Page[FlakyTestOut]:
    """The ``limit`` flakiest tests of a branch and environment, highest score first, with their history."""
    results.get_project(session, principal.organization_id, project_id)
    found = triage.flaky_tests(
        session,
        project_id=project_id,
        settings=app.settings.triage,
        branch=branch,
        environment=environment,
        limit=limit,
        organization_id=principal.organization_id,
    )
    # A ranking, not a listing in id order: there is no next page, ask for a larger limit instead.
    return Page[FlakyTestOut](items=found, next_cursor=None)
