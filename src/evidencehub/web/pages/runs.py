"""The run page: failures grouped by triage category and unique error, and deciding them.

Deciding goes through the triage service (``decide_failure`` / ``decide_cluster``)
with the permission ``triage:decide``; the service records it in the security
audit log as ``triage_decision``, as for the API. With htmx the triage section is
swapped in place; without script the form posts and the browser is sent back to
the run (POST/redirect/GET).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from evidencehub.auth.audit import EventOrigin
from evidencehub.auth.service import Principal
from evidencehub.errors import InputError, NotFoundError
from evidencehub.results import service as results
from evidencehub.results.schemas import BuildOut, RunSummary
from evidencehub.results.status import Status
from evidencehub.triage import service as triage
from evidencehub.triage.categories import CATEGORY_ORDER, CATEGORY_TITLES, Category
from evidencehub.triage.schemas import ClusterOut, FailureOut, TriageReport
from evidencehub.web import decisions
from evidencehub.web.deps import AppServices, event_origin, services
from evidencehub.web.pages.charts import Mark, sparkline
from evidencehub.web.pages.render import is_htmx, redirect, render
from evidencehub.web.pages.session import CsrfChecked, SignedIn, allowed
from evidencehub.web.routers.paging import MAX_BIG_ID, ObjectId

router = APIRouter(include_in_schema=False)
GROUPS_PER_PAGE = 10
FAILURES_PER_GROUP = 5
HISTORY_RUNS = 20
RESULTS_PAGE = 100
MAX_TRACE_CHARS = 20_000


@dataclass
class FailureView:
    failure: FailureOut
    trace: str | None
    history: object  # the sparkline markup


@dataclass
class Group:
    """The failures of one cluster that share one category in this run."""

    category: Category
    cluster: ClusterOut
    failures: list[FailureView] = field(default_factory=list)
    total: int = 0

    @property
    def anchor(self) -> str:
        return f"cluster-{self.cluster.id}-{self.category.value}"


@dataclass
class CategorySection:
    category: Category
    title: str
    groups: list[Group]
    failures: int


def _groups(report: TriageReport) -> list[Group]:
    clusters = {cluster.id: cluster for cluster in report.clusters}
    grouped: OrderedDict[tuple[Category, str], list[FailureOut]] = OrderedDict()
    for failure in report.failures:  # already in category order, then cluster size
        grouped.setdefault((failure.category, failure.cluster), []).append(failure)
    return [
        Group(category=category, cluster=clusters[key], total=len(items), failures=[])
        for (category, key), items in grouped.items()
        if key in clusters
    ]


def _failures_by_group(report: TriageReport) -> dict[tuple[Category, str], list[FailureOut]]:
    grouped: dict[tuple[Category, str], list[FailureOut]] = {}
    for failure in report.failures:
        grouped.setdefault((failure.category, failure.cluster), []).append(failure)
    return grouped


def _history(app: AppServices, organization_id: int, failure: FailureOut) -> object:
    with app.database.session() as session:
        points = triage.history_of_test(
            session, test_id=failure.test_id, limit=HISTORY_RUNS, organization_id=organization_id
        )
    marks = [
        Mark(
            status=point.status,
            flaky=point.flaky,
            tip=f"run {point.run} (build {point.build}): {point.status}"
            + (f", {point.category.value.replace('_', ' ')}" if point.category else ""),
        )
        for point in points
    ]
    return sparkline(marks, f"last {len(marks)} results of {failure.name}")


@dataclass
class RunView:
    run: RunSummary
    build: BuildOut
    report: TriageReport
    sections: list[CategorySection]
    page: int
    pages: int
    groups: int


def run_view(app: AppServices, principal: Principal, run_id: int, page: int) -> RunView:
    organization_id = principal.organization_id
    with app.database.session() as session:
        run = results.run_summary(session, run_id, organization_id=organization_id)
        build = results.find_build(session, organization_id, project=run.project, build=run.build)
        report = triage.triage_report(
            session,
            run_id,
            organization_id=organization_id,
            count_flaky_as_product_bugs=app.settings.triage.count_flaky_as_product_bugs,
        )
    groups = _groups(report)
    pages = max(1, -(-len(groups) // GROUPS_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = groups[(page - 1) * GROUPS_PER_PAGE : page * GROUPS_PER_PAGE]
    by_group = _failures_by_group(report)
    wanted = [
        failure
        for group in shown
        for failure in by_group[(group.category, group.cluster.id)][:FAILURES_PER_GROUP]
    ]
    with app.database.session() as session:
        traces = results.result_traces(session, run_id, [failure.id for failure in wanted])
    for group in shown:
        for failure in by_group[(group.category, group.cluster.id)][:FAILURES_PER_GROUP]:
            trace = traces.get(failure.id)
            if trace and len(trace) > MAX_TRACE_CHARS:
                trace = trace[:MAX_TRACE_CHARS] + "\n… (trace cut)"
            group.failures.append(FailureView(failure, trace, _history(app, organization_id, failure)))
    sections = []
    for category in CATEGORY_ORDER:
        in_category = [group for group in shown if group.category == category]
        if in_category:
            sections.append(
                CategorySection(
                    category=category,
                    title=CATEGORY_TITLES[category],
                    groups=in_category,
                    failures=sum(group.total for group in in_category),
                )
            )
    return RunView(
        run=run, build=build, report=report, sections=sections, page=page, pages=pages, groups=len(groups)
    )


def _render_run(
    request: Request,
    principal: Principal,
    run_id: int,
    page: int,
    *,
    status_code: int = 200,
    error: str | None = None,
    error_anchor: str | None = None,
    notice: str | None = None,
) -> Response:
    view = run_view(services(request), principal, run_id, page)
    template = "run_triage.html.j2" if is_htmx(request) else "run.html.j2"
    return render(
        request,
        template,
        status_code=status_code,
        view=view,
        categories=list(CATEGORY_ORDER),
        can_decide="triage:decide" in principal.permissions,
        error=error,
        error_anchor=error_anchor,
        notice=notice,
    )


@router.get("/runs/{run_id}")
def run_page(
    request: Request, run_id: ObjectId, principal: SignedIn, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    return _render_run(request, principal, run_id, page)


Decider = Annotated[Principal, Depends(allowed("triage:decide"))]


@router.post("/runs/{run_id}/decide", dependencies=[CsrfChecked])
async def decide(
    request: Request,
    run_id: ObjectId,
    principal: Decider,
    scope: Annotated[Literal["failure", "cluster"], Form()],
    target: Annotated[str, Form(min_length=1, max_length=100)],
    category: Annotated[str, Form(max_length=40)],
    anchor: Annotated[str, Form(max_length=200)] = "",
    issue: Annotated[str, Form(max_length=1000)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    page: Annotated[int, Form(ge=1, le=100_000)] = 1,
) -> Response:
    """Decide one failure of the run, or a whole cluster of it (every failure, now and later)."""
    app = services(request)
    try:
        outcome = await run_in_threadpool(
            _decide,
            app,
            principal,
            run_id,
            scope,
            target.strip(),
            decisions.Verdict(category, issue or None, comment.strip() or None),
            event_origin(request, principal),
        )
    except InputError as exc:
        return _render_run(
            request, principal, run_id, page, status_code=422, error=exc.message, error_anchor=anchor
        )
    if is_htmx(request):
        return _render_run(request, principal, run_id, page, notice=outcome)
    return redirect(
        request, f"/runs/{run_id}?page={page}#{anchor}" if anchor else f"/runs/{run_id}?page={page}"
    )


def _decide(
    app: AppServices,
    principal: Principal,
    run_id: int,
    scope: str,
    target: str,
    verdict: decisions.Verdict,
    origin: EventOrigin,
) -> str:
    with app.database.session() as session:
        report = triage.triage_report(session, run_id, organization_id=principal.organization_id)
    if scope == "cluster":
        if target not in {cluster.id for cluster in report.clusters}:
            raise NotFoundError(
                f"cluster {target} has no failure in run {run_id}", details={"cluster": target}
            )
        decision = decisions.decide_cluster(app, principal, origin, target, verdict, project=report.project)
    else:
        result_id = int(target) if target.isdigit() and int(target) <= MAX_BIG_ID else -1
        if result_id not in {failure.id for failure in report.failures}:
            raise NotFoundError(f"failure {target} is not in run {run_id}", details={"failure": target})
        decision = decisions.decide_failure(app, principal, origin, result_id, verdict)
    what = f"cluster {decision.cluster}" if scope == "cluster" else f"failure {target}"
    count = f" ({decision.failures_updated} failures)" if scope == "cluster" else ""
    return f"{what}{count} decided {decision.category.value.replace('_', ' ')}"


@router.get("/runs/{run_id}/results")
def run_results_page(
    request: Request,
    run_id: ObjectId,
    principal: SignedIn,
    status: Annotated[Status | None, Query()] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_BIG_ID)] = None,
) -> Response:
    """Every result of the run, a page at a time, optionally of one status."""
    with services(request).database.session() as session:
        run = results.run_summary(session, run_id, organization_id=principal.organization_id)
        items = results.run_results(
            session, run_id, statuses=[status] if status else None, limit=RESULTS_PAGE + 1, after_id=after
        )
    more = len(items) > RESULTS_PAGE
    items = items[:RESULTS_PAGE]
    query = f"status={status.value}&" if status else ""
    return render(
        request,
        "run_results.html.j2",
        run=run,
        items=items,
        status=status.value if status else "",
        statuses=[item.value for item in Status],
        next_url=f"/runs/{run_id}/results?{query}after={items[-1].id}" if more else None,
        first_url=f"/runs/{run_id}/results?{query}".rstrip("?&") if after else None,
    )
