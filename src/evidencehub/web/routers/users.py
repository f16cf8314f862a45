"""Members of the caller's organization (admins: users:manage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from evidencehub.auth import service as auth
from evidencehub.auth.schemas import MemberCreate, MemberOut, MemberUpdate
from evidencehub.auth.service import Principal
from evidencehub.web.deps import DbSession, PageLimit, Services, require
from evidencehub.web.routers.paging import MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/users", tags=["users"])
Admin = Annotated[Principal, Depends(require("users:manage"))]


@router.get("", response_model=Page[MemberOut])
def list_users(
    session: DbSession,
    principal: Admin,
    limit: PageLimit,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Cursor: users after this id.")] = None,
) -> Page[MemberOut]:
    members = auth.list_members(session, principal.organization_id, limit=limit, after_id=after)
    return page_of(members, limit, lambda member: member.id)


@router.post("", response_model=MemberOut, status_code=201)
def create_user(body: MemberCreate, session: DbSession, principal: Admin, app: Services) -> MemberOut:
    """Add a person to the organization with a role (the user is created when new)."""
    return auth.create_member(
        session,
        app.settings.auth,
        principal.organization_id,
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        actor_user_id=principal.user_id,
    )


@router.get("/{user_id}", response_model=MemberOut)
def show_user(user_id: ObjectId, session: DbSession, principal: Admin) -> MemberOut:
    return auth.get_member(session, principal.organization_id, user_id)


@router.patch("/{user_id}", response_model=MemberOut)
def update_user(
    user_id: ObjectId, body: MemberUpdate, session: DbSession, principal: Admin, app: Services
) -> MemberOut:
    """Change a member's role, name, password or active flag (takes effect on their next request)."""
    return auth.update_member(
        session,
        app.settings.auth,
        principal.organization_id,
        user_id,
        name=body.name,
        role=body.role,
        is_active=body.is_active,
        password=body.password,
        actor_user_id=principal.user_id,
    )


@router.delete("/{user_id}", status_code=204)
def remove_user(user_id: ObjectId, session: DbSession, principal: Admin) -> Response:
    """Remove a member from the organization and sign them out of it."""
    auth.remove_member(session, principal.organization_id, user_id, actor_user_id=principal.user_id)
    return Response(status_code=204)
