"""Organization → projects → builds → runs, with pass/fail/skip and duration trends over builds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from evidencehub.results import service as results
from evidencehub.web.deps import services
from evidencehub.web.pages.charts import duration_trend, status_trend
from evidencehub.web.pages.render import render
from evidencehub.web.pages.session import SignedIn
from evidencehub.web.routers.paging import MAX_ID, ObjectId

router = APIRouter(include_in_schema=False)
PAGE = 25
TREND_BUILDS = 30
Cursor = Annotated[int | None, Query(ge=0, le=MAX_ID)]


@router.get("/projects")
def projects_page(request: Request, principal: SignedIn, after: Cursor = None) -> Response:
    with services(request).database.session() as session:
        projects = results.list_projects(session, principal.organization_id, limit=PAGE + 1, after_id=after)
    more = len(projects) > PAGE
    projects = projects[:PAGE]
    return render(
        request,
        "projects.html.j2",
        projects=projects,
        next_url=f"/projects?after={projects[-1].id}" if more else None,
        first_url="/projects" if after else None,
    )


@router.get("/projects/{project_id}")
def project_page(
    request: Request, project_id: ObjectId, principal: SignedIn, before: Cursor = None
) -> Response:
    with services(request).database.session() as session:
        project = results.get_project(session, principal.organization_id, project_id)
        trend = results.build_trend(session, principal.organization_id, project_id, limit=TREND_BUILDS)
        builds = results.list_builds(
            session, principal.organization_id, project_id=project_id, limit=PAGE + 1, before_id=before
        )
    more = len(builds) > PAGE
    builds = builds[:PAGE]
    return render(
        request,
        "project.html.j2",
        project=project,
        trend=trend,
        status_chart=status_trend(trend) if trend else None,
        duration_chart=duration_trend(trend) if trend else None,
        builds=builds,
        next_url=f"/projects/{project_id}?before={builds[-1].id}" if more else None,
        first_url=f"/projects/{project_id}" if before else None,
    )


@router.get("/builds/{build_id}")
def build_page(request: Request, build_id: ObjectId, principal: SignedIn) -> Response:
    with services(request).database.session() as session:
        build = results.get_build(session, principal.organization_id, build_id)
        runs = results.list_runs(
            session,
            results.RunFilter(
                organization_id=principal.organization_id, project=build.project, build=build.name, limit=1000
            ),
        )
    return render(request, "build.html.j2", build=build, runs=runs)
