"""Roles and the permission strings they grant.

Routes and services ask for permissions, never for roles, so a role can change
what it grants in this one place. Each role includes the one before it.
"""

from __future__ import annotations

from enum import StrEnum

from evidencehub.errors import InputError


class Role(StrEnum):
    VIEWER = "viewer"
    TESTER = "tester"
    RELEASE_MANAGER = "release_manager"
    ADMIN = "admin"


VIEWER_PERMISSIONS = frozenset(
    {
        "org:read",
        "results:read",
        "triage:read",
        "audit:read",
        "promotions:read",
        "reports:read",
    }
)
TESTER_PERMISSIONS = VIEWER_PERMISSIONS | {
    "results:ingest",
    "triage:decide",
    "audit:run",
    "reports:create",
}
RELEASE_MANAGER_PERMISSIONS = TESTER_PERMISSIONS | {
    "promotions:request",
    "promotions:cancel",
    "publish:run",
}
ADMIN_PERMISSIONS = RELEASE_MANAGER_PERMISSIONS | {
    "org:manage",
    "users:manage",
    "tokens:manage",
    "security:read",
}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VIEWER: VIEWER_PERMISSIONS,
    Role.TESTER: frozenset(TESTER_PERMISSIONS),
    Role.RELEASE_MANAGER: frozenset(RELEASE_MANAGER_PERMISSIONS),
    Role.ADMIN: frozenset(ADMIN_PERMISSIONS),
}

ALL_PERMISSIONS = ROLE_PERMISSIONS[Role.ADMIN]
# What an API token may carry: everything but managing people, tokens and the organization.
TOKEN_SCOPES = ALL_PERMISSIONS - {"org:manage", "users:manage", "tokens:manage", "security:read"}
DEFAULT_TOKEN_SCOPES = ("results:ingest", "results:read")


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InputError(
            f"role '{value}' is not known; choose one of {', '.join(role.value for role in Role)}",
            details={"field": "role", "value": value},
        ) from None


def permissions_for(role: Role | str) -> frozenset[str]:
    return ROLE_PERMISSIONS[Role(role)]


def validate_scopes(scopes: list[str]) -> list[str]:
    """Scopes of an API token: known, tokens-allowed permissions, each once, sorted."""
    unknown = sorted(set(scopes) - TOKEN_SCOPES)
    if unknown:
        raise InputError(
            f"scope(s) {', '.join(unknown)} cannot be given to an API token; "
            f"allowed: {', '.join(sorted(TOKEN_SCOPES))}",
            details={"field": "scopes", "invalid": unknown},
        )
    if not scopes:
        raise InputError("an API token needs at least one scope", details={"field": "scopes"})
    return sorted(set(scopes))
