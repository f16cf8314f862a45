"""A promotion whose project publishes to Octane and Jira Xray (promotions.project_targets)."""

from __future__ import annotations

import pytest

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.emulators.octane.runner import RunningEmulator
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from tests.support.cli import CliRunner
from tests.support.octane import assert_exactly
from tests.support.promotions import wait_for_state, worker
from tests.support.runs import cases, store_run
from tests.support.xray import _xray_servers, only_execution, xray_server, xray_settings

__all__ = ["_xray_servers", "xray_server", "xray_settings"]  # fixtures used below

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@sqlite_only
def test_a_promotion_publishes_to_octane_and_xray(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    xray_settings: Settings,
    xray_server: RunningXrayEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVIDENCEHUB_PROMOTIONS__PROJECT_TARGETS", '{"prism": ["octane", "xray"]}')
    monkeypatch.setenv("EVIDENCEHUB_XRAY__PROJECT_KEYS", '{"prism": "PZ"}')
    settings = load_settings()
    items = cases(25, failing_every=5)
    store_run(database, items)

    asked = cli(
        "promote", "request", "--project", "prism", "--release", "2026.11", "--build", "1042", "--json"
    )
    assert asked.exit_code == 0, asked.stderr
    with worker(settings):
        done = wait_for_state(database, settings, int(asked.json()["id"]), "succeeded", "failed")
    assert done.promotion.state == "succeeded", done.promotion.error

    assert {item.target: item.state for item in done.promotion.publications} == {
        "octane": "succeeded",
        "xray": "succeeded",
    }
    assert_exactly(octane_emulator, {case.name for case in items})
    execution = only_execution(xray_server)
    assert (execution["project"], execution["summary"]) == ("PZ", "prism build 1042")
    statuses = sorted(run["status"] for run in execution["runs"])
    assert (statuses.count("PASS"), statuses.count("FAIL")) == (20, 5)
