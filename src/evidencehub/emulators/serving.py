"""Serving an emulator app: in a background thread (tests, demos, benchmarks) or in the foreground (CLI).

Every emulator starts the same way; only its app, its state and its fault model
differ. The listening socket is bound before uvicorn starts, so port 0 works
and the chosen port is known at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

import httpx
import uvicorn
from starlette.types import ASGIApp

from evidencehub.emulators.faults import silence_deliberate_drops

Lifespan = Literal["on", "off"]


class EmulatorStateLike(Protocol):
    """What every emulator's state offers its runner."""

    def snapshot(self) -> dict[str, Any]: ...

    def update_config(self, changes: dict[str, Any]) -> None: ...


StateT = TypeVar("StateT", bound=EmulatorStateLike)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def base_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 host in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server(app: ASGIApp, log_level: str, lifespan: Lifespan) -> uvicorn.Server:
    silence_deliberate_drops()
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan=lifespan, timeout_keep_alive=30
    )
    return uvicorn.Server(config)


@dataclass
class RunningServer(Generic[StateT]):
    """An emulator serving on <host>:<port> in this process; ``stop()`` (or ``with``) ends it."""

    state: StateT
    host: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return base_url(self.host, self.port)

    def counters(self) -> dict[str, Any]:
        return self.state.snapshot()

    def configure(self, **changes: Any) -> None:
        self.state.update_config(changes)

    def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the control endpoint over HTTP (what a separate process would do)."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            response = client.request(method, f"/__emulator__/{path.lstrip('/')}", **kwargs)
        response.raise_for_status()
        return response

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@dataclass
class ServingThread:
    """A uvicorn server started by :func:`serve_in_thread`, and the port it listens on."""

    server: uvicorn.Server
    thread: threading.Thread
    port: int


def serve_in_thread(
    app: ASGIApp, *, name: str, host: str, port: int, log_level: str, lifespan: Lifespan
) -> ServingThread:
    """Serve ``app`` from a daemon thread; returns once it accepts connections."""
    sock = bind(host, port)
    server = _server(app, log_level, lifespan)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=name.lower().replace(" ", "-"), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the {name} did not start")
        time.sleep(0.01)
    return ServingThread(server, thread, sock.getsockname()[1])


def serve_in_foreground(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    ready: Callable[[str], object] | None,
    log_level: str,
    lifespan: Lifespan,
) -> None:
    """Serve until interrupted; ``ready(url)`` is called once listening."""
    sock = bind(host, port)
    server = _server(app, log_level, lifespan)
    if ready is not None:
        ready(base_url(host, sock.getsockname()[1]))
    server.run(sockets=[sock])
