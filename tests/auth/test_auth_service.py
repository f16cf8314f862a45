"""Sign-in, refresh rotation and reuse detection, API tokens, members and the permission cache."""

from __future__ import annotations

import datetime as dt
import itertools

import jwt
import pytest
from sqlalchemy import select

from evidencehub.auth.audit import list_events
from evidencehub.auth.model import RefreshToken
from evidencehub.auth.rbac import Role, permissions_for, validate_scopes
from evidencehub.auth.service import (
    Authenticator,
    create_api_token,
    create_member,
    ensure_admin,
    remove_member,
    revoke_api_token,
    update_member,
)
from evidencehub.auth.tokens import (
    AccessTokens,
    BearerMissingError,
    TokenExpiredError,
    TokenInvalidError,
    TokenMissingError,
    bearer_token,
    ensure_jwt_secret,
)
from evidencehub.config import AuthSettings, Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.errors import AuthenticationError, ConflictError, InputError
from evidencehub.orgs.service import ensure_organization

PASSWORD = "correct horse battery staple"


@pytest.fixture
def authenticator(database: Database, settings: Settings) -> Authenticator:
    return Authenticator(database, settings, ensure_jwt_secret(settings))


@pytest.fixture
def org_id(database: Database) -> int:
    with database.session() as session:
        return ensure_organization(session, "acme").id


def _member(database: Database, settings: Settings, org_id: int, email: str, role: Role) -> int:
    with database.session() as session:
        return create_member(session, settings.auth, org_id, email=email, role=role, password=PASSWORD).id


def _events(database: Database, org_id: int) -> list[str]:
    with database.session() as session:
        return [event.kind for event in list_events(session, org_id, limit=100)]


def test_login_issues_tokens_and_records_the_sign_in(
    authenticator: Authenticator, database: Database, settings: Settings, org_id: int
) -> None:
    user_id = _member(database, settings, org_id, "Ana@Acme.test", Role.TESTER)
    pair = authenticator.login("ana@acme.test", PASSWORD, None, ip="10.0.0.1")
    assert pair.organization == "acme"
    assert pair.expires_in == 15 * 60
    claims = authenticator.access_tokens.verify(pair.access_token)
    assert (claims.user_id, claims.organization_id) == (user_id, org_id)
    with database.session() as session:
        principal = authenticator.authenticate(session, pair.access_token)
    assert principal.role == Role.TESTER
    assert "results:ingest" in principal.permissions
    assert "users:manage" not in principal.permissions
    assert _events(database, org_id)[0] == "login"


@pytest.mark.parametrize(
    ("email", "password"), [("ana@acme.test", "wrong password!!"), ("nobody@acme.test", PASSWORD)]
)
def test_failed_sign_in_says_the_same_and_is_recorded(
    authenticator: Authenticator,
    database: Database,
    settings: Settings,
    org_id: int,
    email: str,
    password: str,
) -> None:
    _member(database, settings, org_id, "ana@acme.test", Role.VIEWER)
    with pytest.raises(AuthenticationError, match="Invalid credentials"):
        authenticator.login(email, password, None, ip="10.0.0.9")
    with database.session() as session:
        from evidencehub.auth.model import SecurityEvent

        failed = session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "login_failed")).all()
    assert [event.subject for event in failed] == [email]
    assert failed[0].ip == "10.0.0.9"
    assert "password" not in str(failed[0].details).lower() or failed[0].details["reason"] == "wrong password"


def test_sign_in_to_an_organization_one_is_not_member_of_fails(
    authenticator: Authenticator, database: Database, settings: Settings, org_id: int
) -> None:
    _member(database, settings, org_id, "ana@acme.test", Role.VIEWER)
    with database.session() as session:
        ensure_organization(session, "globex")
    with pytest.raises(AuthenticationError):
        authenticator.login("ana@acme.test", PASSWORD, "globex", ip=None)


def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    authenticator: Authenticator, database: Database, settings: Settings, org_id: int
) -> None:
    _member(database, settings, org_id, "ana@acme.test", Role.VIEWER)
    first = authenticator.login("ana@acme.test", PASSWORD, None, ip=None)
    second = authenticator.refresh(first.refresh_token, ip=None)
    assert second.refresh_token != first.refresh_token
    third = authenticator.refresh(second.refresh_token, ip=None)
    # The first token is presented again: stolen. Every token of the sign-in dies.
    with pytest.raises(TokenInvalidError, match="already used"):
        authenticator.refresh(first.refresh_token, ip="6.6.6.6")
    with pytest.raises(TokenInvalidError, match="revoked"):
        authenticator.refresh(third.refresh_token, ip=None)
    with database.session() as session:
        tokens = session.scalars(select(RefreshToken)).all()
        assert {token.family for token in tokens} == {tokens[0].family}
        assert all(token.revoked_at is not None for token in tokens)
        assert all(
            len(token.token_hash) == 64 and token.token_hash != first.refresh_token for token in tokens
        )
    assert "refresh_token_reuse" in _events(database, org_id)


def test_logout_revokes_the_sign_in(
    authenticator: Authenticator, database: Database, settings: Settings, org_id: int
) -> None:
    _member(database, settings, org_id, "ana@acme.test", Role.VIEWER)
    pair = authenticator.login("ana@acme.test", PASSWORD, None, ip=None)
    authenticator.logout(pair.refresh_token, ip=None)
    with pytest.raises(TokenInvalidError, match="revoked"):
        authenticator.refresh(pair.refresh_token, ip=None)
    assert "logout" in _events(database, org_id)


def test_expired_and_skewed_tokens_respect_the_clock_tolerance() -> None:
    secret = "s" * 40
    strict = AccessTokens(AuthSettings(access_token_minutes=1), secret)
    tolerant = AccessTokens(AuthSettings(access_token_minutes=1, clock_tolerance_seconds=300), secret)
    two_minutes_ago = utcnow() - dt.timedelta(minutes=2)
    token, _ = strict.issue(1, 1, now=two_minutes_ago)
    with pytest.raises(TokenExpiredError, match="Token expired"):
        strict.verify(token)
    assert tolerant.verify(token).user_id == 1
    # A token from a server whose clock runs ahead.
    future, _ = strict.issue(1, 1, now=utcnow() + dt.timedelta(minutes=2))
    with pytest.raises(TokenInvalidError, match="future"):
        strict.verify(future)
    assert tolerant.verify(future).organization_id == 1


def test_forged_and_foreign_tokens_are_invalid() -> None:
    tokens = AccessTokens(AuthSettings(), "a" * 40)
    other = AccessTokens(AuthSettings(), "b" * 40)
    forged, _ = other.issue(1, 1, now=utcnow())
    with pytest.raises(TokenInvalidError, match="signature"):
        tokens.verify(forged)
    with pytest.raises(TokenInvalidError, match="well-formed"):
        tokens.verify("not.a.jwt")
    unsigned = jwt.encode({"sub": "1", "org": 1, "typ": "access"}, "a" * 40, algorithm="HS256")
    with pytest.raises(TokenInvalidError, match="missing"):
        tokens.verify(unsigned)
    with pytest.raises(TokenInvalidError, match="refresh"):
        tokens.verify("ehr_something")


def test_bearer_header_errors_are_told_apart() -> None:
    with pytest.raises(TokenMissingError):
        bearer_token(None)
    with pytest.raises(BearerMissingError):
        bearer_token("eyJhbGciOi.abc.def")
    with pytest.raises(TokenMissingError):
        bearer_token("Bearer   ")
    assert bearer_token("bearer abc") == "abc"


def test_role_changes_take_effect_on_the_next_request(
    authenticator: Authenticator, database: Database, settings: Settings, org_id: int
) -> None:
    user_id = _member(database, settings, org_id, "ana@acme.test", Role.VIEWER)
    _member(database, settings, org_id, "boss@acme.test", Role.ADMIN)
    pair = authenticator.login("ana@acme.test", PASSWORD, None, ip=None)
    with database.session() as session:
        assert "reports:create" not in authenticator.authenticate(session, pair.access_token).permissions
    with database.session() as session:
        update_member(session, settings.auth, org_id, user_id, role=Role.TESTER)
    with database.session() as session:
        assert "reports:create" in authenticator.authenticate(session, pair.access_token).permissions
    with database.session() as session:
        update_member(session, settings.auth, org_id, user_id, is_active=False)
    with database.session() as session, pytest.raises(TokenInvalidError, match="no longer active"):
        authenticator.authenticate(session, pair.access_token)
    with database.session() as session:
        update_member(session, settings.auth, org_id, user_id, is_active=True)
        remove_member(session, org_id, user_id, actor_user_id=None)
    with database.session() as session, pytest.raises(TokenInvalidError, match="no longer a member"):
        authenticator.authenticate(session, pair.access_token)
    with pytest.raises(TokenInvalidError):
        authenticator.refresh(pair.refresh_token, ip=None)


def test_the_last_admin_cannot_be_demoted_or_removed(
    database: Database, settings: Settings, org_id: int
) -> None:
    admin = _member(database, settings, org_id, "boss@acme.test", Role.ADMIN)
    with database.session() as session, pytest.raises(ConflictError, match="last active admin"):
        update_member(session, settings.auth, org_id, admin, role=Role.VIEWER)
    with database.session() as session, pytest.raises(ConflictError, match="last active admin"):
        remove_member(session, org_id, admin, actor_user_id=None)


def test_api_tokens_are_hashed_scoped_tracked_and_revocable(
    authenticator: Authenticator, database: Database, org_id: int
) -> None:
    with database.session() as session:
        created = create_api_token(session, org_id, name="jenkins", scopes=["results:ingest"])
    assert created.token.startswith("ehp_") and created.prefix == created.token[:10]
    with database.session() as session:
        principal = authenticator.authenticate(session, created.token)
    assert principal.permissions == frozenset({"results:ingest"})
    assert principal.kind == "api_token"
    with database.session() as session:
        from evidencehub.auth.model import ApiToken

        stored = session.get_one(ApiToken, created.id)
        assert stored.token_hash != created.token and created.token not in stored.token_hash
        assert stored.last_used_at is not None
    with database.session() as session:
        revoke_api_token(session, org_id, created.id, actor_user_id=None)
    with database.session() as session, pytest.raises(TokenInvalidError, match="revoked"):
        authenticator.authenticate(session, created.token)
    assert {"api_token_created", "api_token_revoked"} <= set(_events(database, org_id))


def test_api_token_expiry(authenticator: Authenticator, database: Database, org_id: int) -> None:
    with database.session() as session:
        created = create_api_token(session, org_id, name="old", scopes=["results:read"], expires_in_days=1)
        from evidencehub.auth.model import ApiToken

        session.get_one(ApiToken, created.id).expires_at = utcnow() - dt.timedelta(seconds=1)
    with database.session() as session, pytest.raises(TokenExpiredError):
        authenticator.authenticate(session, created.token)


def test_token_scopes_exclude_administration() -> None:
    with pytest.raises(InputError, match=r"users:manage"):
        validate_scopes(["results:read", "users:manage"])
    with pytest.raises(InputError):
        validate_scopes([])
    assert validate_scopes(["results:read", "results:read"]) == ["results:read"]


def test_roles_grow_by_inclusion() -> None:
    ordered = [permissions_for(role) for role in Role]
    assert all(lower < higher for lower, higher in itertools.pairwise(ordered))
    assert {"promotions:request", "promotions:cancel"} <= permissions_for(Role.RELEASE_MANAGER)
    assert "promotions:request" not in permissions_for(Role.TESTER)


def test_ensure_admin_returns_a_password_once(database: Database, settings: Settings) -> None:
    first = ensure_admin(database, settings, organization="demo", email="admin@demo.test")
    again = ensure_admin(database, settings, organization="demo", email="admin@demo.test")
    assert first.password and len(first.password) >= 20
    assert again.password is None
    authenticator = Authenticator(database, settings, ensure_jwt_secret(settings))
    assert authenticator.login("admin@demo.test", first.password, "demo", ip=None).organization == "demo"


def test_jwt_secret_is_generated_private_and_stable(settings: Settings) -> None:
    first = ensure_jwt_secret(settings)
    path = settings.data_dir / "jwt-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_jwt_secret(settings) == first and len(first) >= 32


def test_weak_passwords_are_refused(database: Database, settings: Settings, org_id: int) -> None:
    with database.session() as session, pytest.raises(InputError, match="at least 12"):
        create_member(session, settings.auth, org_id, email="x@acme.test", role=Role.VIEWER, password="short")
