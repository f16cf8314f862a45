"""Pydantic shapes of the auth domain (API bodies and CLI --json)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from evidencehub.auth.rbac import DEFAULT_TOKEN_SCOPES, Role


class _Camel(BaseModel):
    """The sign-in bodies use camelCase (``refreshToken``) as the platform's clients expect."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class LoginRequest(_Camel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    organization: str | None = Field(
        None, max_length=100, description="Organization slug; optional when the user belongs to one."
    )


class RefreshRequest(_Camel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(_Camel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the token scheme, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")
    expires_at: dt.datetime
    refresh_expires_at: dt.datetime
    organization: str


class MemberOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class MemberCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    name: str | None = Field(None, max_length=200)
    role: Role = Role.VIEWER
    password: str | None = Field(
        None, min_length=12, max_length=1024, description="Omit to create the user without a password."
    )


class MemberUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(None, min_length=12, max_length=1024)


class ApiTokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_TOKEN_SCOPES), max_length=32)
    expires_in_days: float | None = Field(None, gt=0, le=3650)


class ApiTokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="The token itself: shown this once, store it in the CI's secrets.")


class SecurityEventOut(BaseModel):
    id: int
    at: dt.datetime
    kind: str
    user_id: int | None
    api_token_id: int | None
    ip: str | None
    subject: str | None
    details: dict[str, Any]


class PrincipalOut(BaseModel):
    kind: str
    user_id: int | None
    api_token_id: int | None
    name: str
    organization: str
    role: Role | None
    permissions: list[str]
