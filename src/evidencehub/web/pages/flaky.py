"""Flaky tests of a project, ranked by score, each with its flip history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from evidencehub.results import service as results
from evidencehub.triage import service as triage
from evidencehub.web.deps import services
from evidencehub.web.pages.charts import Mark, sparkline
from evidencehub.web.pages.render import render
from evidencehub.web.pages.session import SignedIn
from evidencehub.web.routers.paging import ObjectId

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/projects/{project_id}/flaky")
def flaky_page(
    request: Request,
    project_id: ObjectId,
    principal: SignedIn,
    page: Annotated[int, Query(ge=1, le=200)] = 1,
) -> Response:
    app = services(request)
    with app.database.session() as session:
        project = results.get_project(session, principal.organization_id, project_id)
        ranked = triage.flaky_tests(
            session,
            project_id=project_id,
            settings=app.settings.triage,
            limit=page * PAGE + 1,
            organization_id=principal.organization_id,
        )
    more = len(ranked) > page * PAGE
    shown = ranked[(page - 1) * PAGE : page * PAGE]
    rows = [
        (
            test,
            sparkline(
                [
                    Mark(
                        status=outcome.status,
                        flaky=outcome.flaky,
                        tip=f"run {outcome.run}: {outcome.status}"
                        + (" (passed on retry)" if outcome.flaky else ""),
                    )
                    for outcome in test.history
                ],
                f"flip history of {test.name}: {test.flips} flips in {test.observed} runs",
            ),
        )
        for test in shown
    ]
    return render(
        request,
        "flaky.html.j2",
        project=project,
        rows=rows,
        rank_offset=(page - 1) * PAGE,
        window=app.settings.triage.flaky_window,
        next_url=f"/projects/{project_id}/flaky?page={page + 1}" if more else None,
        previous_url=f"/projects/{project_id}/flaky?page={page - 1}" if page > 1 else None,
    )
