"""Starting the Octane emulator: in a background thread (tests, demos, benchmarks) or in the foreground."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evidencehub.emulators.octane.app import create_app
from evidencehub.emulators.octane.config import EmulatorConfig, FaultConfig
from evidencehub.emulators.octane.state import EmulatorState
from evidencehub.emulators.serving import RunningServer, serve_in_foreground, serve_in_thread


class RunningEmulator(RunningServer[EmulatorState]):
    """An Octane emulator serving in this process; ``stop()`` (or ``with``) ends it."""

    def set_faults(self, **faults: Any) -> None:
        self.state.set_faults(FaultConfig.model_validate(faults))


def start_in_thread(
    config: EmulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> RunningEmulator:
    """Serve the emulator from a daemon thread; returns once it accepts connections."""
    state = EmulatorState(config or EmulatorConfig())
    serving = serve_in_thread(
        create_app(state), name="Octane emulator", host=host, port=port, log_level=log_level, lifespan="on"
    )
    return RunningEmulator(state, host, serving.port, serving.server, serving.thread)


def serve_forever(
    config: EmulatorConfig,
    *,
    host: str,
    port: int,
    ready: Callable[[str], object] | None = None,
    log_level: str = "info",
) -> None:
    """Serve in the foreground until interrupted; ``ready(url)`` is called once listening."""
    app = create_app(EmulatorState(config))
    serve_in_foreground(app, host=host, port=port, ready=ready, log_level=log_level, lifespan="on")
