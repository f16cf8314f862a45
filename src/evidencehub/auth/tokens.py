"""Access tokens (JWT), opaque refresh and API tokens, and the signing secret.

Access tokens are short-lived JWTs signed with HMAC. Refresh and API tokens are
random strings shown once; only their sha256 is stored. The three kinds have
distinct prefixes so a token pasted in the wrong place is recognised and
reported as such rather than as "invalid".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from evidencehub.config import AuthSettings, Settings
from evidencehub.errors import AuthenticationError, ConfigError

# Prefixes and file names, not secrets.
API_TOKEN_PREFIX = "ehp_"  # noqa: S105
REFRESH_TOKEN_PREFIX = "ehr_"  # noqa: S105
SECRET_FILE_NAME = "jwt-secret"  # noqa: S105
_ACCESS_TYPE = "access"


class TokenMissingError(AuthenticationError):
    """No credentials were sent."""

    code = "token_missing"


class BearerMissingError(AuthenticationError):
    """An Authorization header came without the ``Bearer `` scheme."""

    code = "bearer_missing"


class TokenInvalidError(AuthenticationError):
    """The token is malformed, forged, revoked, or of the wrong kind."""

    code = "token_invalid"


class TokenExpiredError(AuthenticationError):
    """The token was valid but its time is up (refresh it)."""

    code = "token_expired"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_opaque_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def ensure_jwt_secret(settings: Settings) -> str:
    """The signing secret: from settings, else read from (or first written to) ``<data_dir>/jwt-secret``.

    The file is created with mode 0600 and never logged. Every process of one
    deployment must share it: set ``auth.jwt_secret`` when the data dir is not shared.
    """
    configured = settings.auth.jwt_secret
    if configured is not None:
        secret = configured.get_secret_value()
        if len(secret) < 32:
            raise ConfigError(
                "auth.jwt_secret must have at least 32 characters", details={"field": "jwt_secret"}
            )
        return secret
    path = settings.data_dir / SECRET_FILE_NAME
    if not path.exists():
        _write_secret(path)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the JWT secret file {path}: {exc.strerror}") from exc
    if len(secret) < 32:
        raise ConfigError(
            f"the JWT secret file {path} holds fewer than 32 characters; delete it to regenerate"
        )
    return secret


def _write_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process won the race; its secret is the one
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    organization_id: int
    expires_at: dt.datetime


class AccessTokens:
    """Issues and checks access tokens with one secret and the auth settings."""

    def __init__(self, settings: AuthSettings, secret: str) -> None:
        self._settings = settings
        self._secret = secret

    @property
    def lifetime(self) -> dt.timedelta:
        return dt.timedelta(minutes=self._settings.access_token_minutes)

    def issue(self, user_id: int, organization_id: int, *, now: dt.datetime) -> tuple[str, dt.datetime]:
        expires = now + self.lifetime
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "org": organization_id,
            "typ": _ACCESS_TYPE,
            "iss": self._settings.issuer,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        token = jwt.encode(claims, self._secret, algorithm=self._settings.jwt_algorithm)
        return token, expires

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; TokenExpiredError or TokenInvalidError otherwise."""
        if token.startswith((API_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX)):
            raise TokenInvalidError("not an access token: send a refresh token to POST /api/v1/auth/refresh")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self._settings.jwt_algorithm],
                issuer=self._settings.issuer,
                leeway=self._settings.clock_tolerance_seconds,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError(
                "Token expired: get a new access token from POST /api/v1/auth/refresh "
                'with {"refreshToken": …}',
                details={"clock_tolerance_seconds": self._settings.clock_tolerance_seconds},
            ) from None
        except jwt.ImmatureSignatureError:
            raise TokenInvalidError(
                "Invalid JWT Token: issued in the future; "
                "check the clocks or raise auth.clock_tolerance_seconds",
                details={"clock_tolerance_seconds": self._settings.clock_tolerance_seconds},
            ) from None
        except jwt.InvalidTokenError as exc:
            raise TokenInvalidError(f"Invalid JWT Token: {_reason(exc)}") from None
        if claims.get("typ") != _ACCESS_TYPE or not isinstance(claims.get("org"), int):
            raise TokenInvalidError("Invalid JWT Token: not an evidencehub access token")
        try:
            user_id = int(claims["sub"])
        except (TypeError, ValueError):
            raise TokenInvalidError("Invalid JWT Token: malformed subject") from None
        return AccessClaims(
            user_id=user_id,
            organization_id=claims["org"],
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        )


def _reason(exc: jwt.InvalidTokenError) -> str:
    if isinstance(exc, jwt.InvalidSignatureError):
        return "signature does not match (signed with another secret?)"
    if isinstance(exc, jwt.DecodeError):
        return "not a well-formed JWT"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "issued by another service"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"claim '{exc.claim}' is missing"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "signed with an algorithm this service does not accept"
    return "rejected"


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header, with errors that say what is wrong."""
    if authorization is None or not authorization.strip():
        raise TokenMissingError("no credentials: send 'Authorization: Bearer <access token or API token>'")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise BearerMissingError(
            "the Authorization header must be 'Bearer <token>' (the 'Bearer ' prefix is missing)",
        )
    value = value.strip()
    if not value:
        raise TokenMissingError("the Authorization header has the 'Bearer' scheme but no token")
    return value
