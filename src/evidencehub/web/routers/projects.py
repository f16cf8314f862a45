"""Projects and builds of the caller's organization."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from evidencehub.auth.service import Principal
from evidencehub.results import service as results
from evidencehub.results.schemas import BuildOut, ProjectOut
from evidencehub.web.deps import DbSession, PageLimit, require
from evidencehub.web.routers.paging import MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["projects and builds"])
Reader = Annotated[Principal, Depends(require("results:read"))]


@router.get("/projects", response_model=Page[ProjectOut])
def list_projects(
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Cursor: projects after this id.")
    ] = None,
) -> Page[ProjectOut]:
    projects = results.list_projects(session, principal.organization_id, limit=limit, after_id=after)
    return page_of(projects, limit, lambda project: project.id)


@router.get("/projects/{project_id}", response_model=ProjectOut)
def show_project(project_id: ObjectId, session: DbSession, principal: Reader) -> ProjectOut:
    return results.get_project(session, principal.organization_id, project_id)


@router.get("/builds", response_model=Page[BuildOut])
def list_builds(
    session: DbSession,
    principal: Reader,
    limit: PageLimit,
    project_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    release: Annotated[str | None, Query(max_length=200)] = None,
    before: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Cursor: builds older than this id.")
    ] = None,
) -> Page[BuildOut]:
    """Builds, newest first."""
    builds = results.list_builds(
        session,
        principal.organization_id,
        project_id=project_id,
        release=release,
        limit=limit,
        before_id=before,
    )
    return page_of(builds, limit, lambda build: build.id)


@router.get("/builds/{build_id}", response_model=BuildOut)
def show_build(build_id: ObjectId, session: DbSession, principal: Reader) -> BuildOut:
    return results.get_build(session, principal.organization_id, build_id)
