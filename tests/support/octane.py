"""The Octane emulator for tests: one server per test module, reset before each test.

Fixtures (import them into a conftest.py): ``octane_emulator`` (a RunningEmulator
on 127.0.0.1, port 0, in a fresh state), ``octane_settings`` (Settings with the
test database pointed at the emulator, short intervals; also exported as
EVIDENCEHUB_OCTANE__* variables for CLI runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidencehub.config import OctaneSettings, Settings, load_settings
from evidencehub.emulators.octane.config import EmulatorConfig
from evidencehub.emulators.octane.runner import RunningEmulator, start_in_thread

CLIENT_ID = "evidencehub-ci"
CLIENT_SECRET = "not-a-real-secret-4f1c"

# Short waits so that retries, polls and backoffs take milliseconds in tests.
FAST = {
    "POLL_INTERVAL_SECONDS": "0.05",
    "QUEUE_FULL_RETRY_SECONDS": "0.1",
    "BACKOFF_INITIAL_SECONDS": "0.02",
    "BACKOFF_MAX_SECONDS": "0.1",
    "REQUESTS_PER_SECOND": "1000",
    "MAX_RUNS_PER_CALL": "10",
    "JOB_DEADLINE_SECONDS": "60",
    "READ_TIMEOUT_SECONDS": "10",
}


def emulator_config(**changes: Any) -> EmulatorConfig:
    values: dict[str, Any] = {"api_keys": {CLIENT_ID: CLIENT_SECRET}, "tasks_per_second": 200.0}
    values.update(changes)
    return EmulatorConfig.model_validate(values)


@pytest.fixture(scope="module")
def _octane_server() -> Iterator[RunningEmulator]:
    emulator = start_in_thread(emulator_config())
    yield emulator
    emulator.stop()


@pytest.fixture
def octane_emulator(_octane_server: RunningEmulator) -> RunningEmulator:
    _octane_server.state.reset(emulator_config())
    return _octane_server


@pytest.fixture
def octane_settings(
    settings: Settings, octane_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    variables = {
        "BASE_URL": octane_emulator.url,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "CREDENTIALS_PATH": str(settings.data_dir / "no-credentials-file-{space_id}"),
        **FAST,
    }
    for name, value in variables.items():
        monkeypatch.setenv(f"EVIDENCEHUB_OCTANE__{name}", value)
    return load_settings()


@pytest.fixture
def octane_config(octane_emulator: RunningEmulator, tmp_path: Path) -> OctaneSettings:
    """Octane settings for the emulator, for tests that need no database (run once, not per backend)."""
    values: dict[str, Any] = {
        "base_url": octane_emulator.url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "credentials_path": str(tmp_path / "no-credentials-file-{space_id}"),
    }
    values.update({name.lower(): value for name, value in FAST.items()})
    return OctaneSettings.model_validate(values)


def stored_runs(emulator: RunningEmulator) -> list[dict[str, Any]]:
    """Every run the emulator holds, with its test identity and how often it was written."""
    response = emulator.control("GET", "runs")
    runs: list[dict[str, Any]] = response.json()
    return runs


def assert_exactly(emulator: RunningEmulator, names: set[str]) -> None:
    """The emulator holds one run for each test name, each written once, and nothing else."""
    runs = stored_runs(emulator)
    counters = emulator.counters()
    assert counters["duplicate_runs"] == 0, f"{counters['duplicate_runs']} runs were received twice"
    assert sorted(run["test_name"] for run in runs) == sorted(names)
    assert all(run["writes"] == 1 for run in runs)
