"""The one error hierarchy of evidencehub.

Services raise these; the CLI maps them to exit codes and the web API to
``{"error": {"code", "message", "details"}}`` with an HTTP status. Messages are
written for the person who has to act on them: they name the file, line, field
or parameter and say what was expected. They never contain secrets.
"""

from __future__ import annotations

from typing import Any, ClassVar


class EvidenceHubError(Exception):
    """Base of every error evidencehub raises on purpose."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InputError(EvidenceHubError):
    """The input (a file, a request body, a parameter) is not what was expected."""

    code = "bad_input"
    exit_code = 2
    http_status = 422


class ConfigError(EvidenceHubError):
    """The configuration is missing, unknown or inconsistent."""

    code = "config_error"
    exit_code = 3
    http_status = 500


class NotFoundError(EvidenceHubError):
    """The object named does not exist (or is not visible to the caller)."""

    code = "not_found"
    exit_code = 4
    http_status = 404


class ConflictError(EvidenceHubError):
    """The request conflicts with the current state (e.g. an active promotion exists)."""

    code = "conflict"
    exit_code = 5
    http_status = 409


class RemoteError(EvidenceHubError):
    """A remote system (Octane, Xray, the landing zone) failed or refused."""

    code = "remote_error"
    exit_code = 6
    http_status = 502


class UnavailableError(EvidenceHubError):
    """A part evidencehub needs (database, task queue) is unreachable right now."""

    code = "unavailable"
    exit_code = 7
    http_status = 503


class AuthenticationError(EvidenceHubError):
    """The caller could not be authenticated (missing, invalid or expired credentials)."""

    code = "unauthenticated"
    exit_code = 8
    http_status = 401


class PermissionDeniedError(EvidenceHubError):
    """The caller is authenticated but lacks a permission."""

    code = "insufficient_permissions"
    exit_code = 9
    http_status = 403


class RateLimitedError(EvidenceHubError):
    """Too many requests; ``retry_after`` says when to try again."""

    code = "rate_limited"
    exit_code = 10
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
