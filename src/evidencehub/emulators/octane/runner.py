"""Starting the emulator: in a background thread (tests, demos, benchmarks) or in the foreground (CLI).

The listening socket is bound before uvicorn starts, so port 0 works and the
chosen port is known at once.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from evidencehub.emulators.octane.app import create_app
from evidencehub.emulators.octane.config import EmulatorConfig, FaultConfig
from evidencehub.emulators.octane.faults import silence_deliberate_drops
from evidencehub.emulators.octane.state import EmulatorState


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


def _server(state: EmulatorState, log_level: str) -> uvicorn.Server:
    silence_deliberate_drops()
    config = uvicorn.Config(
        create_app(state),
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


@dataclass
class RunningEmulator:
    """An emulator serving on 127.0.0.1:<port> in this process; ``stop()`` (or ``with``) ends it."""

    state: EmulatorState
    host: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def counters(self) -> dict[str, Any]:
        return self.state.snapshot()

    def set_faults(self, **faults: Any) -> None:
        self.state.set_faults(FaultConfig.model_validate(faults))

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

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_in_thread(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> RunningEmulator:
    """Serve the emulator from a daemon thread; returns once it accepts connections."""
    state = EmulatorState(config or EmulatorConfig())
    sock = bind(host, port)
    server = _server(state, log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="octane-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the Octane emulator did not start")
        time.sleep(0.01)
    return RunningEmulator(state, host, sock.getsockname()[1], server, thread)


def serve_forever(
    config: EmulatorConfig, *, host: str, port: int, ready: Any = None, log_level: str = "info"
) -> None:
    """Serve in the foreground until interrupted; ``ready(url)`` is called once listening."""
    state = EmulatorState(config)
    sock = bind(host, port)
    server = _server(state, log_level)
    actual = sock.getsockname()[1]
    if ready is not None:
        shown = f"[{host}]" if ":" in host else host
        ready(f"http://{shown}:{actual}")
    server.run(sockets=[sock])
