"""Tables of the auth domain: users, memberships, refresh tokens, API tokens, security events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from evidencehub.db.base import Base, BigIntKey, CreatedAtMixin

ROLE_NAMES = ("viewer", "tester", "release_manager", "admin")


class User(CreatedAtMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped on every change of the user's memberships or status: cached
    # permissions are keyed by it, so a change is seen by every process at once.
    authz_version: Mapped[int] = mapped_column(default=1)
    last_login_at: Mapped[dt.datetime | None]


class Membership(CreatedAtMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organization_id"),
        CheckConstraint(
            "role IN ('viewer', 'tester', 'release_manager', 'admin')",
            name="role_known",
        ),
        Index("ix_memberships_organization_id_role", "organization_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))


class RefreshToken(Base):
    """One refresh token of a sign-in "family"; only its sha256 is stored.

    Each refresh spends the token and issues its successor in the same family.
    Presenting a spent token again means it was stolen: the whole family is revoked.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    family: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    spent_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class ApiToken(CreatedAtMixin, Base):
    """A long-lived, scoped token of one organization (CI uploads); only its sha256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_organization_id_id", "organization_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so people can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class SecurityEvent(Base):
    """The security audit log: sign-ins, failures, token and role changes, decisions, promotions."""

    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_organization_id_id", "organization_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(60))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    ip: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(320))  # e.g. the email a failed sign-in named
    details: Mapped[dict[str, Any]]
