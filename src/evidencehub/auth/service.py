"""Sign-in, token rotation, API tokens, members of an organization, and who a request is.

No HTTP here: the web layer hands in the bearer token, the client's address and
the settings, and maps the errors raised to status codes.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from evidencehub.auth.audit import record_event
from evidencehub.auth.model import ApiToken, Membership, RefreshToken, User
from evidencehub.auth.passwords import hash_password, needs_rehash, verify_password
from evidencehub.auth.rbac import Role, parse_role, permissions_for, validate_scopes
from evidencehub.auth.schemas import ApiTokenCreated, ApiTokenOut, MemberOut, TokenPair
from evidencehub.auth.tokens import (
    API_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    AccessTokens,
    TokenExpiredError,
    TokenInvalidError,
    hash_token,
    new_opaque_token,
)
from evidencehub.config import AuthSettings, Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.db.statements import rows_changed
from evidencehub.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from evidencehub.orgs.model import Organization
from evidencehub.orgs.service import ensure_organization

# An API token's last-used time is written at most this often (not on every request).
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which organization, allowed to do what."""

    kind: str  # "user" or "api_token"
    organization_id: int
    organization: str
    permissions: frozenset[str]
    name: str
    user_id: int | None = None
    api_token_id: int | None = None
    role: Role | None = None

    @property
    def rate_key(self) -> str:
        return f"user:{self.user_id}" if self.kind == "user" else f"token:{self.api_token_id}"


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(char.isspace() for char in value):
        raise InputError(f"'{email}' is not an email address", details={"field": "email"})
    return value


# ---------------------------------------------------------------- permission cache


@dataclass
class _CacheEntry:
    role: Role | None
    organization: str
    expires: float


@dataclass
class PermissionCache:
    """Memberships per (user, authorization version, organization), for a short time.

    The user's ``authz_version`` is part of the key and is bumped whenever a
    membership or the user's status changes, so a change takes effect on the
    next request in every process; the time limit bounds memory, not staleness.
    """

    ttl_seconds: float
    max_entries: int = 10_000
    _entries: dict[tuple[int, int, int], _CacheEntry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def lookup(self, session: Session, user: User, organization_id: int) -> _CacheEntry:
        key = (user.id, user.authz_version, organization_id)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires > now:
                return entry
        row = session.execute(
            select(Membership.role, Organization.slug)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(Membership.user_id == user.id, Membership.organization_id == organization_id)
        ).one_or_none()
        entry = _CacheEntry(
            role=Role(row[0]) if row else None,
            organization=row[1] if row else "",
            expires=now + self.ttl_seconds,
        )
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = entry
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _bump_authz(session: Session, user_id: int) -> None:
    session.execute(update(User).where(User.id == user_id).values(authz_version=User.authz_version + 1))


# ---------------------------------------------------------------- sign-in


class Authenticator:
    """Everything that issues or checks credentials, sharing one secret and one permission cache."""

    def __init__(self, database: Database, settings: Settings, secret: str) -> None:
        self.database = database
        self.settings: AuthSettings = settings.auth
        self.access_tokens = AccessTokens(settings.auth, secret)
        self.cache = PermissionCache(ttl_seconds=settings.auth.permission_cache_seconds)

    # -- sign-in and refresh

    def login(self, email: str, password: str, organization: str | None, *, ip: str | None) -> TokenPair:
        """Tokens for a valid email and password; a recorded failure otherwise (same message either way)."""
        failure: str | None = None
        with self.database.session() as session:
            user = session.scalar(select(User).where(User.email == email.strip().lower()))
            valid = verify_password(self.settings, user.password_hash if user else None, password)
            if user is None or not valid:
                failure = "unknown email" if user is None else "wrong password"
            elif not user.is_active:
                failure = "user deactivated"
            else:
                organization_id, slug = self._login_organization(session, user, organization)
                if organization_id is None:
                    failure = "not a member of the organization"
                else:
                    if user.password_hash and needs_rehash(self.settings, user.password_hash):
                        user.password_hash = hash_password(self.settings, password)
                    now = utcnow()
                    user.last_login_at = now
                    pair = self._issue(
                        session, user.id, organization_id, slug, family=str(uuid.uuid4()), now=now
                    )
                    record_event(
                        session,
                        "login",
                        organization_id=organization_id,
                        user_id=user.id,
                        ip=ip,
                        subject=user.email,
                    )
                    return pair
        with self.database.session() as session:
            record_event(
                session,
                "login_failed",
                # Shown to the admins of the organization named, or of the user's first one.
                organization_id=self._failure_organization(session, user, organization),
                user_id=user.id if user is not None else None,
                ip=ip,
                subject=email.strip().lower()[:320],
                details={"reason": failure},
            )
        raise AuthenticationError(
            "Invalid credentials: the email or password is wrong, or the account cannot sign in"
        )

    @staticmethod
    def _failure_organization(session: Session, user: User | None, organization: str | None) -> int | None:
        if organization:
            named = session.scalar(select(Organization.id).where(Organization.slug == organization))
            if named is not None:
                return named
        if user is None:
            return None
        return session.scalar(
            select(Membership.organization_id)
            .where(Membership.user_id == user.id)
            .order_by(Membership.organization_id)
            .limit(1)
        )

    def _login_organization(
        self, session: Session, user: User, organization: str | None
    ) -> tuple[int | None, str]:
        query = (
            select(Organization.id, Organization.slug)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == user.id)
            .order_by(Organization.id)
        )
        if organization:
            query = query.where(Organization.slug == organization)
        row = session.execute(query.limit(1)).one_or_none()
        return (row[0], row[1]) if row else (None, "")

    def _issue(
        self,
        session: Session,
        user_id: int,
        organization_id: int,
        slug: str,
        *,
        family: str,
        now: dt.datetime,
    ) -> TokenPair:
        access, expires = self.access_tokens.issue(user_id, organization_id, now=now)
        refresh = new_opaque_token(REFRESH_TOKEN_PREFIX)
        refresh_expires = now + dt.timedelta(days=self.settings.refresh_token_days)
        session.add(
            RefreshToken(
                user_id=user_id,
                organization_id=organization_id,
                family=family,
                token_hash=hash_token(refresh),
                issued_at=now,
                expires_at=refresh_expires,
            )
        )
        session.flush()
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=int((expires - now).total_seconds()),
            expires_at=expires,
            refresh_expires_at=refresh_expires,
            organization=slug,
        )

    def refresh(self, refresh_token: str, *, ip: str | None) -> TokenPair:
        """Spend a refresh token for a new pair; a spent token presented again revokes its family."""
        now = utcnow()
        reused: RefreshToken | None = None
        with self.database.session() as session:
            stored = session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
            )
            if stored is None:
                raise TokenInvalidError("Invalid refresh token: unknown (sign in again)")
            if stored.revoked_at is not None:
                raise TokenInvalidError("Invalid refresh token: revoked (sign in again)")
            if stored.spent_at is not None:
                reused = stored
            else:
                if stored.expires_at <= now:
                    raise TokenExpiredError("Refresh token expired: sign in again")
                user = session.get(User, stored.user_id)
                entry = self.cache.lookup(session, user, stored.organization_id) if user else None
                if user is None or not user.is_active or entry is None or entry.role is None:
                    self._revoke_family(session, stored.family, "access withdrawn", now)
                    raise TokenInvalidError("Invalid refresh token: the account no longer has access")
                # Spend it with a guarded update, so two concurrent refreshes cannot both succeed.
                spent = rows_changed(
                    session,
                    update(RefreshToken)
                    .where(RefreshToken.id == stored.id, RefreshToken.spent_at.is_(None))
                    .values(spent_at=now),
                )
                if spent == 1:
                    return self._issue(
                        session,
                        stored.user_id,
                        stored.organization_id,
                        entry.organization,
                        family=stored.family,
                        now=now,
                    )
                reused = stored
        with self.database.session() as session:
            self._revoke_family(session, reused.family, "reuse detected", now)
            record_event(
                session,
                "refresh_token_reuse",
                organization_id=reused.organization_id,
                user_id=reused.user_id,
                ip=ip,
                details={"family": reused.family},
            )
        raise TokenInvalidError(
            "Invalid refresh token: it was already used, so every session it belongs to has been "
            "signed out (sign in again)"
        )

    def logout(self, refresh_token: str, *, ip: str | None) -> None:
        """Revoke the sign-in the refresh token belongs to (idempotent for known tokens)."""
        with self.database.session() as session:
            stored = session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
            )
            if stored is None:
                raise TokenInvalidError("Invalid refresh token: unknown")
            self._revoke_family(session, stored.family, "logout", utcnow())
            record_event(
                session, "logout", organization_id=stored.organization_id, user_id=stored.user_id, ip=ip
            )

    @staticmethod
    def _revoke_family(session: Session, family: str, reason: str, now: dt.datetime) -> None:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )

    # -- who is calling

    def authenticate(self, session: Session, token: str) -> Principal:
        """The principal of a bearer token (an access token or an API token)."""
        if token.startswith(API_TOKEN_PREFIX):
            return self._api_token_principal(session, token)
        claims = self.access_tokens.verify(token)
        user = session.get(User, claims.user_id)
        if user is None or not user.is_active:
            raise TokenInvalidError("Invalid JWT Token: the account is no longer active")
        entry = self.cache.lookup(session, user, claims.organization_id)
        if entry.role is None:
            raise TokenInvalidError("Invalid JWT Token: no longer a member of the organization")
        return Principal(
            kind="user",
            user_id=user.id,
            organization_id=claims.organization_id,
            organization=entry.organization,
            role=entry.role,
            permissions=permissions_for(entry.role),
            name=user.email,
        )

    def _api_token_principal(self, session: Session, token: str) -> Principal:
        row = session.execute(
            select(ApiToken, Organization.slug)
            .join(Organization, Organization.id == ApiToken.organization_id)
            .where(ApiToken.token_hash == hash_token(token))
        ).one_or_none()
        if row is None:
            raise TokenInvalidError("Invalid API token: unknown")
        api_token, slug = row
        now = utcnow()
        if api_token.revoked_at is not None:
            raise TokenInvalidError("Invalid API token: revoked")
        if api_token.expires_at is not None and api_token.expires_at <= now:
            raise TokenExpiredError("API token expired: create a new one")
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            api_token.last_used_at = now
        return Principal(
            kind="api_token",
            api_token_id=api_token.id,
            organization_id=api_token.organization_id,
            organization=slug,
            permissions=frozenset(api_token.scopes),
            name=f"token {api_token.name}",
        )


# ---------------------------------------------------------------- members


def _member_out(user: User, membership: Membership) -> MemberOut:
    return MemberOut(
        id=user.id,
        email=user.email,
        name=user.name,
        role=Role(membership.role),
        is_active=user.is_active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def create_member(
    session: Session,
    settings: AuthSettings,
    organization_id: int,
    *,
    email: str,
    role: Role | str,
    password: str | None,
    name: str | None = None,
    actor_user_id: int | None = None,
) -> MemberOut:
    """Add a user (created when new) to the organization with a role; ConflictError when already a member."""
    address = normalize_email(email)
    chosen = parse_role(role) if isinstance(role, str) else role
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        user = User(
            email=address,
            name=name or address.split("@", 1)[0],
            password_hash=hash_password(settings, password) if password else None,
        )
        session.add(user)
        session.flush()
    elif password:
        raise ConflictError(
            f"user {address} already exists; their password is theirs to change",
            details={"email": address},
        )
    existing = session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.organization_id == organization_id)
    )
    if existing is not None:
        raise ConflictError(
            f"{address} is already a member (role {existing.role})", details={"email": address}
        )
    membership = Membership(user_id=user.id, organization_id=organization_id, role=chosen.value)
    session.add(membership)
    _bump_authz(session, user.id)
    session.flush()
    session.refresh(user)
    record_event(
        session,
        "member_added",
        organization_id=organization_id,
        user_id=actor_user_id,
        subject=address,
        details={"role": chosen.value, "member_id": user.id},
    )
    return _member_out(user, membership)


def _membership(session: Session, organization_id: int, user_id: int) -> tuple[User, Membership]:
    row = session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.organization_id == organization_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"user {user_id} does not exist", details={"user": user_id})
    return row[0], row[1]


def get_member(session: Session, organization_id: int, user_id: int) -> MemberOut:
    return _member_out(*_membership(session, organization_id, user_id))


def list_members(
    session: Session, organization_id: int, *, limit: int, after_id: int | None = None
) -> list[MemberOut]:
    query = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization_id)
        .order_by(User.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(User.id > after_id)
    return [_member_out(user, membership) for user, membership in session.execute(query).all()]


def _admins_left(session: Session, organization_id: int, without_user: int) -> int:
    return len(
        session.scalars(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.organization_id == organization_id,
                Membership.role == Role.ADMIN.value,
                Membership.user_id != without_user,
                User.is_active.is_(True),
            )
        ).all()
    )


def update_member(
    session: Session,
    settings: AuthSettings,
    organization_id: int,
    user_id: int,
    *,
    name: str | None = None,
    role: Role | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    actor_user_id: int | None = None,
) -> MemberOut:
    user, membership = _membership(session, organization_id, user_id)
    losing_admin = membership.role == Role.ADMIN.value and (
        (role is not None and role != Role.ADMIN) or is_active is False
    )
    if losing_admin and _admins_left(session, organization_id, user.id) == 0:
        raise ConflictError(
            "the organization's last active admin cannot be demoted or deactivated",
            details={"user": user_id},
        )
    changes: dict[str, Any] = {}
    if name is not None:
        user.name = name
    if role is not None and role.value != membership.role:
        changes["role"] = [membership.role, role.value]
        membership.role = role.value
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = is_active
        user.is_active = is_active
    if password is not None:
        user.password_hash = hash_password(settings, password)
        changes["password"] = "changed"  # noqa: S105 - an audit note, not a password
    if changes:
        _bump_authz(session, user.id)
        session.flush()
        session.refresh(user)
        record_event(
            session,
            "member_changed",
            organization_id=organization_id,
            user_id=actor_user_id,
            subject=user.email,
            details={"member_id": user.id, **changes},
        )
    return _member_out(user, membership)


def remove_member(session: Session, organization_id: int, user_id: int, *, actor_user_id: int | None) -> None:
    user, membership = _membership(session, organization_id, user_id)
    if membership.role == Role.ADMIN.value and _admins_left(session, organization_id, user.id) == 0:
        raise ConflictError(
            "the organization's last active admin cannot be removed", details={"user": user_id}
        )
    session.delete(membership)
    _bump_authz(session, user.id)
    session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.user_id == user.id,
            RefreshToken.organization_id == organization_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow(), revoked_reason="membership removed")
        .execution_options(synchronize_session=False)
    )
    record_event(
        session,
        "member_removed",
        organization_id=organization_id,
        user_id=actor_user_id,
        subject=user.email,
        details={"member_id": user.id},
    )


# ---------------------------------------------------------------- API tokens


def _token_out(token: ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        scopes=list(token.scopes),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


def create_api_token(
    session: Session,
    organization_id: int,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: float | None = None,
    actor_user_id: int | None = None,
) -> ApiTokenCreated:
    """A new API token; the token text is in the result and nowhere else."""
    checked = validate_scopes(scopes)
    token = new_opaque_token(API_TOKEN_PREFIX)
    now = utcnow()
    row = ApiToken(
        organization_id=organization_id,
        name=name.strip() or "token",
        prefix=token[: len(API_TOKEN_PREFIX) + 6],
        token_hash=hash_token(token),
        scopes=checked,
        created_by=actor_user_id,
        created_at=now,
        expires_at=now + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        "api_token_created",
        organization_id=organization_id,
        user_id=actor_user_id,
        api_token_id=row.id,
        subject=row.name,
        details={"scopes": checked, "prefix": row.prefix},
    )
    return ApiTokenCreated(**_token_out(row).model_dump(), token=token)


def list_api_tokens(
    session: Session, organization_id: int, *, limit: int, after_id: int | None = None
) -> list[ApiTokenOut]:
    query = (
        select(ApiToken).where(ApiToken.organization_id == organization_id).order_by(ApiToken.id).limit(limit)
    )
    if after_id is not None:
        query = query.where(ApiToken.id > after_id)
    return [_token_out(token) for token in session.scalars(query)]


def revoke_api_token(
    session: Session, organization_id: int, token_id: int, *, actor_user_id: int | None
) -> ApiTokenOut:
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.organization_id == organization_id)
    )
    if token is None:
        raise NotFoundError(f"API token {token_id} does not exist", details={"token": token_id})
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record_event(
            session,
            "api_token_revoked",
            organization_id=organization_id,
            user_id=actor_user_id,
            api_token_id=token.id,
            subject=token.name,
        )
    return _token_out(token)


# ---------------------------------------------------------------- bootstrapping


@dataclass(frozen=True)
class DemoAdmin:
    organization: str
    email: str
    password: str | None  # None when the admin already existed (the password was shown before)


def ensure_admin(database: Database, settings: Settings, *, organization: str, email: str) -> DemoAdmin:
    """The organization and an admin in it; a new admin gets a generated password, returned once."""
    address = normalize_email(email)
    with database.session() as session:
        org = ensure_organization(session, organization)
        user = session.scalar(select(User).where(User.email == address))
        if user is not None:
            member = session.scalar(
                select(Membership).where(Membership.user_id == user.id, Membership.organization_id == org.id)
            )
            if member is None:
                create_member(session, settings.auth, org.id, email=address, role=Role.ADMIN, password=None)
            return DemoAdmin(organization=org.slug, email=address, password=None)
        password = secrets.token_urlsafe(18)
        create_member(session, settings.auth, org.id, email=address, role=Role.ADMIN, password=password)
        return DemoAdmin(organization=org.slug, email=address, password=password)
