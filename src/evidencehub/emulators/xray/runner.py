"""Starting the Xray emulator: in a background thread (tests, demos) or in the foreground (CLI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidencehub.emulators.serving import RunningServer, serve_in_foreground, serve_in_thread
from evidencehub.emulators.xray.app import create_app
from evidencehub.emulators.xray.config import XrayEmulatorConfig, XrayFaults
from evidencehub.emulators.xray.state import XrayEmulatorState


class RunningXrayEmulator(RunningServer[XrayEmulatorState]):
    """An Xray emulator serving in this process; ``stop()`` (or ``with``) ends it."""

    def set_faults(self, **faults: Any) -> None:
        self.state.set_faults(XrayFaults.model_validate(faults))


def start_in_thread(
    config: XrayEmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> RunningXrayEmulator:
    """Serve the emulator from a daemon thread; returns once it accepts connections."""
    state = XrayEmulatorState(config or XrayEmulatorConfig())
    serving = serve_in_thread(
        create_app(state), name="Xray emulator", host=host, port=port, log_level=log_level, lifespan="off"
    )
    return RunningXrayEmulator(state, host, serving.port, serving.server, serving.thread)


def serve_forever(
    config: XrayEmulatorConfig,
    *,
    host: str,
    port: int,
    ready: Callable[[str], object] | None = None,
    log_level: str = "info",
) -> None:
    """Serve in the foreground until interrupted; ``ready(url)`` is called once listening."""
    app = create_app(XrayEmulatorState(config))
    serve_in_foreground(app, host=host, port=port, ready=ready, log_level=log_level, lifespan="off")
