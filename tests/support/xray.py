"""The Xray emulator for tests: one Server and one Cloud server per test module, reset before each test.

Fixtures (import them into a conftest.py): ``xray_server`` / ``xray_cloud``
(RunningXrayEmulator on 127.0.0.1, fresh state), ``xray_settings`` /
``xray_cloud_settings`` (Settings with the test database pointed at that
emulator, short waits; also exported as EVIDENCEHUB_XRAY__* for CLI runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from evidencehub.config import Settings, load_settings
from evidencehub.emulators.xray.config import XrayEmulatorConfig
from evidencehub.emulators.xray.runner import RunningXrayEmulator, start_in_thread

USER, PASSWORD = "ci-bot", "not-a-real-password-81c"
PAT = "not-a-real-pat-0b7e4c"
CLIENT_ID, CLIENT_SECRET = "0AB1C2D3E4", "not-a-real-client-secret-5d2e"

# Short waits so retries and backoffs take milliseconds; a loose client budget by default.
FAST = {
    "BACKOFF_INITIAL_SECONDS": "0.02",
    "BACKOFF_MAX_SECONDS": "0.1",
    "REQUESTS_PER_WINDOW": "100000",
    "WINDOW_SECONDS": "1",
    "MAX_TESTS_PER_IMPORT": "10",
    "JOB_DEADLINE_SECONDS": "60",
    "READ_TIMEOUT_SECONDS": "10",
}


def emulator_config(flavour: str, **changes: Any) -> XrayEmulatorConfig:
    values: dict[str, Any] = {
        "flavour": flavour,
        "users": {USER: PASSWORD},
        "tokens": [PAT],
        "api_keys": {CLIENT_ID: CLIENT_SECRET},
    }
    values.update(changes)
    return XrayEmulatorConfig.model_validate(values)


@pytest.fixture(scope="module")
def _xray_servers() -> Iterator[dict[str, RunningXrayEmulator]]:
    servers = {flavour: start_in_thread(emulator_config(flavour)) for flavour in ("server", "cloud")}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def xray_server(_xray_servers: dict[str, RunningXrayEmulator]) -> RunningXrayEmulator:
    _xray_servers["server"].state.reset(emulator_config("server"))
    return _xray_servers["server"]


@pytest.fixture
def xray_cloud(_xray_servers: dict[str, RunningXrayEmulator]) -> RunningXrayEmulator:
    _xray_servers["cloud"].state.reset(emulator_config("cloud"))
    return _xray_servers["cloud"]


def export(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    for name, value in variables.items():
        monkeypatch.setenv(f"EVIDENCEHUB_XRAY__{name}", value)
    return load_settings()


@pytest.fixture
def xray_settings(
    settings: Settings, xray_server: RunningXrayEmulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return export(
        monkeypatch, BASE_URL=xray_server.url, FLAVOUR="server", USER=USER, PASSWORD=PASSWORD, **FAST
    )


@pytest.fixture
def xray_cloud_settings(
    settings: Settings, xray_cloud: RunningXrayEmulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return export(
        monkeypatch,
        BASE_URL=xray_cloud.url,
        FLAVOUR="cloud",
        CLIENT_ID=CLIENT_ID,
        CLIENT_SECRET=CLIENT_SECRET,
        **FAST,
    )


def executions(emulator: RunningXrayEmulator) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = emulator.control("GET", "executions").json()
    return found


def only_execution(emulator: RunningXrayEmulator) -> dict[str, Any]:
    found = executions(emulator)
    assert len(found) == 1, f"expected one Test Execution, found {[item['key'] for item in found]}"
    return found[0]


def seed(emulator: RunningXrayEmulator, project: str, type_: str = "Test", **fields: Any) -> str:
    key: str = emulator.control("POST", "issues", json={"project": project, "type": type_, **fields}).json()[
        "key"
    ]
    return key
