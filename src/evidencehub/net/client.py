"""What every remote's client shares: an owned connection pool, and retried, authorised calls.

A client says how a path becomes a URL, how a request is authorised (and
re-authorised once on a 401), and what an error status means; ``call`` sends
it through :func:`evidencehub.net.retry.call_with_retries` with the caller's
policy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Self

import httpx

from evidencehub.net.retry import RetryNotice, RetryPolicy, call_with_retries


class RemoteClient(ABC):
    """A thread-safe client of one remote; ``close()`` (or ``with``) releases its connections."""

    def __init__(
        self, http: httpx.Client | None, build_http: Callable[[], httpx.Client], policy: RetryPolicy
    ):
        self._http = http or build_http()
        self._owns_http = http is None  # a shared pool is closed by whoever built it
        self.default_policy = policy

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @abstractmethod
    def _url(self, path: str) -> str:
        """The URL of an API path."""

    @abstractmethod
    def _authed(self, method: str, url: str, policy: RetryPolicy, **kwargs: Any) -> httpx.Response:
        """Send an authorised request (authorising again once if the remote refuses it with 401)."""

    @abstractmethod
    def _raise_for(self, response: httpx.Response, what: str) -> None:
        """Raise what an error answer means; ``what`` names the request in the message."""

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        policy: RetryPolicy | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A retried, authorised request to ``path`` (see the client's ``_url``)."""
        chosen = policy or self.default_policy
        url = self._url(path)

        def attempt() -> httpx.Response:
            response = self._authed(method, url, chosen, **kwargs)
            self._raise_for(response, what)
            return response

        return call_with_retries(attempt, chosen, on_retry=on_retry)
