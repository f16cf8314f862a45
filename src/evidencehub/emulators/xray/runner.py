"""Starting the Xray emulator: in a background thread (tests, demos) or in the foreground (CLI)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from evidencehub.emulators.octane.faults import silence_deliberate_drops
from evidencehub.emulators.octane.runner import bind
from evidencehub.emulators.xray.app import create_app
from evidencehub.emulators.xray.config import XrayEmulatorConfig, XrayFaults
from evidencehub.emulators.xray.state import XrayEmulatorState


def _server(state: XrayEmulatorState, log_level: str) -> uvicorn.Server:
    silence_deliberate_drops()
    config = uvicorn.Config(
        create_app(state), log_level=log_level, access_log=False, lifespan="off", timeout_keep_alive=30
    )
    return uvicorn.Server(config)


@dataclass
class RunningXrayEmulator:
    """An emulator serving on 127.0.0.1:<port> in this process; ``stop()`` (or ``with``) ends it."""

    state: XrayEmulatorState
    host: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def counters(self) -> dict[str, Any]:
        return self.state.snapshot()

    def set_faults(self, **faults: Any) -> None:
        self.state.set_faults(XrayFaults.model_validate(faults))

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

    def __enter__(self) -> RunningXrayEmulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_in_thread(
    config: XrayEmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> RunningXrayEmulator:
    """Serve the emulator from a daemon thread; returns once it accepts connections."""
    state = XrayEmulatorState(config or XrayEmulatorConfig())
    sock = bind(host, port)
    server = _server(state, log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="xray-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the Xray emulator did not start")
        time.sleep(0.01)
    return RunningXrayEmulator(state, host, sock.getsockname()[1], server, thread)


def serve_forever(
    config: XrayEmulatorConfig, *, host: str, port: int, ready: Any = None, log_level: str = "info"
) -> None:
    """Serve in the foreground until interrupted; ``ready(url)`` is called once listening."""
    state = XrayEmulatorState(config)
    sock = bind(host, port)
    server = _server(state, log_level)
    if ready is not None:
        ready(f"http://{host}:{sock.getsockname()[1]}")
    server.run(sockets=[sock])
