"""The caller's organization."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from evidencehub.auth.service import Principal
from evidencehub.orgs.schemas import OrganizationOut
from evidencehub.orgs.service import organization_out, rename_organization
from evidencehub.web.deps import DbSession, require
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/organization", tags=["organizations"])


class OrganizationUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


@router.get("", response_model=OrganizationOut)
def show_organization(
    session: DbSession, principal: Annotated[Principal, Depends(require("org:read"))]
) -> OrganizationOut:
    """The organization the credentials belong to."""
    return organization_out(session, principal.organization_id)


@router.patch("", response_model=OrganizationOut)
def update_organization(
    body: OrganizationUpdate,
    session: DbSession,
    principal: Annotated[Principal, Depends(require("org:manage"))],
) -> OrganizationOut:
    return rename_organization(session, principal.organization_id, body.name)
