"""API tokens of the caller's organization, for CI uploads (admins: tokens:manage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from evidencehub.auth import service as auth
from evidencehub.auth.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenOut
from evidencehub.auth.service import Principal
from evidencehub.web.deps import DbSession, PageLimit, require
from evidencehub.web.routers.paging import MAX_ID, ObjectId, Page, page_of
from evidencehub.web.routers.prefix import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/tokens", tags=["api tokens"])
TokenAdmin = Annotated[Principal, Depends(require("tokens:manage"))]


@router.get("", response_model=Page[ApiTokenOut])
def list_tokens(
    session: DbSession,
    principal: TokenAdmin,
    limit: PageLimit,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Cursor: tokens after this id.")] = None,
) -> Page[ApiTokenOut]:
    tokens = auth.list_api_tokens(session, principal.organization_id, limit=limit, after_id=after)
    return page_of(tokens, limit, lambda token: token.id)


@router.post("", response_model=ApiTokenCreated, status_code=201)
def create_token(body: ApiTokenCreate, session: DbSession, principal: TokenAdmin) -> ApiTokenCreated:
    """A new scoped token; its text is in this answer only (only a hash is stored)."""
    return auth.create_api_token(
        session,
        principal.organization_id,
        name=body.name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        actor_user_id=principal.user_id,
    )


@router.delete("/{token_id}", response_model=ApiTokenOut)
def revoke_token(token_id: ObjectId, session: DbSession, principal: TokenAdmin) -> ApiTokenOut:
    """Revoke a token: it stops working at once."""
    return auth.revoke_api_token(
        session, principal.organization_id, token_id, actor_user_id=principal.user_id
    )
