"""What an HTTP error status means in the project's error hierarchy, for every remote's client.

Throttling (429 and the proxy statuses 502/503/504, with ``Retry-After``) and
transient failures (500, 408) are retryable; 401, 403 and 404 are the
hierarchy's own errors; anything else is a plain :class:`RemoteError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidencehub.errors import (
    AuthenticationError,
    EvidenceHubError,
    NotFoundError,
    PermissionDeniedError,
    RemoteError,
)
from evidencehub.net.retry import ThrottledError, TransientError, parse_retry_after

THROTTLING = frozenset({429, 502, 503, 504})
TRANSIENT = frozenset({500, 408})
_BY_STATUS: Mapping[int, type[EvidenceHubError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
}


def raise_for_status(
    status: int,
    message: str,
    *,
    retry_after: str | None,
    details: dict[str, Any],
    also: Mapping[int, type[EvidenceHubError]] | None = None,
) -> None:
    """Raise the error an HTTP status of 300 or more means (nothing below 300).

    ``retry_after`` is the answer's ``Retry-After`` header; ``also`` maps
    statuses a remote gives a meaning of its own (Octane: 409 → conflict).
    """
    if status < 300:
        return
    if status in THROTTLING:
        raise ThrottledError(message, retry_after=parse_retry_after(retry_after), status=status)
    if status in TRANSIENT:
        raise TransientError(message, details=details)
    error = {**_BY_STATUS, **(also or {})}.get(status, RemoteError)
    raise error(message, details=details)
