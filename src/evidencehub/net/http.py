"""The one HTTP client factory of evidencehub.

Octane, Xray, the landing zone and health checks all build their
``httpx.Client`` here, so timeouts, TLS verification, proxies and the user
agent are decided in one place. Turning TLS verification off is allowed (test
servers with self-signed certificates exist) but is logged loudly every time a
client is built that way.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from evidencehub import __version__
from evidencehub.errors import ConfigError
from evidencehub.ops.logging import get_logger

log = get_logger(__name__)

USER_AGENT = f"evidencehub/{__version__}"


@dataclass(frozen=True)
class HttpSettings:
    """What a remote needs to be reached: URL, timeouts, TLS and proxy."""

    base_url: str
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    verify_tls: bool = True
    ca_bundle: Path | None = None
    proxy: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    max_connections: int = 20
    # Shown in the TLS warning, so a person knows which remote is unprotected.
    remote_name: str = "remote"


class RemoteSettings(Protocol):
    """The connection settings every remote's section of the settings has."""

    @property
    def base_url(self) -> str: ...

    @property
    def connect_timeout_seconds(self) -> float: ...

    @property
    def read_timeout_seconds(self) -> float: ...

    @property
    def verify_tls(self) -> bool: ...

    @property
    def ca_bundle(self) -> Path | None: ...

    @property
    def workers(self) -> int: ...


def remote_http_settings(settings: RemoteSettings, *, remote_name: str, min_connections: int) -> HttpSettings:
    """A JSON API's client settings: at least ``min_connections``, two per worker beyond that."""
    return HttpSettings(
        base_url=settings.base_url,
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        verify_tls=settings.verify_tls,
        ca_bundle=settings.ca_bundle,
        headers={"Accept": "application/json"},
        max_connections=max(min_connections, settings.workers * 2),
        remote_name=remote_name,
    )


@functools.cache
def _verifying_context(ca_bundle: str | None) -> ssl.SSLContext:
    """One verifying TLS context per CA source for the process: loading CAs costs ~0.15 s each time."""
    if ca_bundle is None:
        return httpx.create_ssl_context()
    return ssl.create_default_context(cafile=ca_bundle)


def tls_verification(settings: HttpSettings) -> ssl.SSLContext | bool:
    """``verify`` for httpx: a context with the system CAs or a CA bundle, or False (logged loudly)."""
    if not settings.verify_tls:
        log.warning(
            "TLS CERTIFICATE VERIFICATION IS OFF: anyone on the network path can read and alter the "
            "traffic, including credentials. Use a CA bundle instead in production.",
            remote=settings.remote_name,
            base_url=settings.base_url,
        )
        return False
    if settings.ca_bundle is None:
        return _verifying_context(None)
    if not settings.ca_bundle.is_file():
        raise ConfigError(
            f"CA bundle {settings.ca_bundle} for {settings.remote_name} does not exist or is not a file",
            details={"ca_bundle": str(settings.ca_bundle)},
        )
    try:
        return _verifying_context(str(settings.ca_bundle.resolve()))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"CA bundle {settings.ca_bundle} for {settings.remote_name} cannot be loaded: {exc}",
            details={"ca_bundle": str(settings.ca_bundle)},
        ) from exc


def build_client(settings: HttpSettings) -> httpx.Client:
    """An ``httpx.Client`` for one remote (thread-safe; share it between worker threads)."""
    if not settings.base_url.startswith(("http://", "https://")):
        raise ConfigError(
            f"{settings.remote_name} URL {settings.base_url!r} must start with http:// or https://",
            details={"base_url": settings.base_url},
        )
    headers = {"User-Agent": USER_AGENT, **settings.headers}
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    limits = httpx.Limits(
        max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections
    )
    return httpx.Client(
        base_url=settings.base_url.rstrip("/"),
        headers=headers,
        timeout=timeout,
        verify=tls_verification(settings),
        proxy=settings.proxy,
        limits=limits,
        follow_redirects=False,
    )
