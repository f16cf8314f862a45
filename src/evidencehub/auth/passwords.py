"""Password hashing with argon2id (parameters from settings; old hashes re-hashed on sign-in)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from evidencehub.config import AuthSettings
from evidencehub.errors import InputError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher(settings: AuthSettings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            details={"field": "password"},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(
            f"the password must have at most {MAX_PASSWORD_LENGTH} characters", details={"field": "password"}
        )


def hash_password(settings: AuthSettings, password: str) -> str:
    check_password_policy(password)
    return hasher(settings).hash(password)


# A real hash to verify against when the user does not exist, so a failed sign-in
# takes the same time whether or not the email is known.
_DUMMY_PASSWORD = "not-a-real-password-for-timing"  # noqa: S105 - not a credential


def verify_password(settings: AuthSettings, password_hash: str | None, password: str) -> bool:
    ph = hasher(settings)
    if password_hash is None or len(password) > MAX_PASSWORD_LENGTH:
        ph.verify(
            _dummy_hash(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism),
            _DUMMY_PASSWORD,
        )
        return False
    try:
        return ph.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(settings: AuthSettings, password_hash: str) -> bool:
    return hasher(settings).check_needs_rehash(password_hash)


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(_DUMMY_PASSWORD)
