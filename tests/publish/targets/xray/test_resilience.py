"""Rate limits, faults, token expiry and oversized slices: the job still lands every test exactly once."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from evidencehub.config import Settings, XraySettings
from evidencehub.db.session import Database
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from evidencehub.publish import service as publish
from evidencehub.publish.targets.xray.client import XrayClient
from evidencehub.publish.targets.xray.service import PublishRequest, publish_run_to_xray
from tests.support.runs import Case, cases, store_run
from tests.support.xray import CLIENT_ID, CLIENT_SECRET, FAST, only_execution

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def assert_landed_once(emulator: RunningXrayEmulator, names: set[str]) -> None:
    execution = only_execution(emulator)
    definitions = [run["definition"] for run in execution["runs"]]
    assert sorted(definitions) == sorted(names)
    tests = emulator.control("GET", "tests").json()
    assert len({test["definition"] for test in tests}) == len(tests) == len(names)


def names_of(items: list[Case]) -> set[str]:
    return {f"{case.classname}.{case.name}" for case in items}


@sqlite_only
def test_the_cloud_rate_limit_is_honoured_without_early_retries(
    database: Database,
    xray_cloud_settings: Settings,
    xray_cloud: RunningXrayEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    xray_cloud.configure(rate_limit_requests=3, rate_limit_window_seconds=0.4)
    items = cases(40)
    run_id = store_run(database, items, project="shop")
    job = publish_run_to_xray(
        database, xray_cloud_settings, PublishRequest(project_key="SHOP", run_ids=[run_id], cloud=True)
    )
    assert job.state == "succeeded", job.error
    counters = xray_cloud.counters()
    assert counters["rate_limited"] > 0  # the limit was reached …
    assert counters.get("early_retries", 0) == 0  # … and no refused request came back before Retry-After
    assert_landed_once(xray_cloud, names_of(items))
    retries = [event for event in publish.job_events(database, job.id) if event.kind == "retry"]
    assert retries and all("throttled" in (event.detail or "") for event in retries)


@sqlite_only
def test_a_budget_below_the_limit_is_never_refused(
    database: Database,
    xray_cloud_settings: Settings,
    xray_cloud: RunningXrayEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    xray_cloud.configure(rate_limit_requests=5, rate_limit_window_seconds=0.5)
    monkeypatch.setenv("EVIDENCEHUB_XRAY__REQUESTS_PER_WINDOW", "3")
    monkeypatch.setenv("EVIDENCEHUB_XRAY__WINDOW_SECONDS", "0.5")
    from evidencehub.config import load_settings

    settings = load_settings()
    items = cases(30)
    run_id = store_run(database, items, project="shop")
    job = publish_run_to_xray(database, settings, PublishRequest(project_key="SHOP", run_ids=[run_id]))
    assert job.state == "succeeded", job.error
    assert xray_cloud.counters().get("rate_limited", 0) == 0
    assert_landed_once(xray_cloud, names_of(items))


@sqlite_only
def test_faults_and_dropped_answers_neither_lose_nor_duplicate(
    database: Database,
    xray_settings: Settings,
    xray_server: RunningXrayEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    xray_server.set_faults(error_500=0.1, error_503=0.1, throttle_429=0.1, retry_after_seconds=0.05,
                           drop_connection=0.25, seed=11)  # fmt: skip
    monkeypatch.setenv("EVIDENCEHUB_XRAY__RETRY_MAX_ATTEMPTS", "20")  # so no slice runs out of tries
    from evidencehub.config import load_settings

    items = cases(200, failing_every=7)
    run_id = store_run(database, items, project="shop")
    job = publish_run_to_xray(database, load_settings(), PublishRequest(project_key="SHOP", run_ids=[run_id]))
    assert job.state == "succeeded", job.error
    counters = xray_server.counters()
    assert counters["fault_500"] + counters["fault_503"] > 0 and counters["fault_drop"] > 0
    assert counters.get("early_retries", 0) == 0
    assert_landed_once(xray_server, names_of(items))


@sqlite_only
def test_proxy_502_pages_are_retried_and_every_test_lands_once(
    database: Database,
    xray_settings: Settings,
    xray_server: RunningXrayEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    xray_server.set_faults(error_502=0.3, seed=5)
    monkeypatch.setenv("EVIDENCEHUB_XRAY__RETRY_MAX_ATTEMPTS", "20")  # so no slice runs out of tries
    from evidencehub.config import load_settings

    items = cases(60, failing_every=5)
    run_id = store_run(database, items, project="shop")
    job = publish_run_to_xray(database, load_settings(), PublishRequest(project_key="SHOP", run_ids=[run_id]))
    assert job.state == "succeeded", job.error
    counters = xray_server.counters()
    assert counters["fault_502"] > 0
    assert counters.get("run_overwrites", 0) == 0  # a 502 comes from the proxy: nothing to import twice
    assert_landed_once(xray_server, names_of(items))


@sqlite_only
def test_a_cloud_token_that_expires_mid_publish_is_renewed_without_duplicates(
    database: Database, xray_cloud_settings: Settings, xray_cloud: RunningXrayEmulator
) -> None:
    xray_cloud.configure(token_expire_after_requests=2)  # 60 tests in slices of 10: several tokens
    items = cases(60, failing_every=5)
    run_id = store_run(database, items, project="shop")
    job = publish_run_to_xray(
        database, xray_cloud_settings, PublishRequest(project_key="SHOP", run_ids=[run_id], cloud=True)
    )
    assert job.state == "succeeded", job.error
    counters = xray_cloud.counters()
    assert counters["tokens_expired_by_count"] >= 2
    # one sign-in to prepare the job, one for its first slice, then one per expiry: never more
    assert counters["tokens_issued"] == counters["tokens_expired_by_count"] + 2
    assert counters.get("run_overwrites", 0) == 0
    assert_landed_once(xray_cloud, names_of(items))


def test_an_expired_cloud_token_is_renewed_once(xray_cloud: RunningXrayEmulator) -> None:
    xray_cloud.configure(token_ttl_seconds=1.0)  # long enough for the first import on a busy machine
    settings = XraySettings.model_validate(
        {
            "base_url": xray_cloud.url,
            "flavour": "cloud",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **{name.lower(): value for name, value in FAST.items()},
        }
    )
    document = {"info": {"project": "SHOP", "summary": "token test"}, "tests": []}
    with XrayClient(settings) as client:
        first = client.import_execution(json.dumps(document).encode())
        import time

        time.sleep(1.05)  # the emulator's token expires; the client still believes it valid
        second = client.import_execution(json.dumps({"testExecutionKey": first.key, "tests": []}).encode())
    assert second.key == first.key
    counters = xray_cloud.counters()
    assert (counters["tokens_issued"], counters["auth_failures"]) == (2, 1)


def test_a_token_another_thread_renewed_and_used_up_is_renewed_again(
    xray_cloud: RunningXrayEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    xray_cloud.configure(token_expire_after_requests=1)  # every token serves one import
    settings = XraySettings.model_validate(
        {
            "base_url": xray_cloud.url,
            "flavour": "cloud",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **{name.lower(): value for name, value in FAST.items()},
        }
    )
    new_execution = json.dumps({"info": {"project": "SHOP", "summary": "race"}, "tests": []}).encode()
    with XrayClient(settings) as client:
        client.import_execution(new_execution)  # the shared token is used up
        send = client._send
        raced: list[str] = []

        def send_then_race(method: str, url: str, policy: Any, **kwargs: Any) -> httpx.Response:
            response = send(method, url, policy, **kwargs)
            if response.status_code == 401 and not raced:
                raced.append("refused")
                # another worker, refused with the same token, renews first and its replay uses that up
                worker = threading.Thread(
                    target=lambda: raced.append(client.import_execution(new_execution).key)
                )
                worker.start()
                worker.join()
            return response

        monkeypatch.setattr(client, "_send", send_then_race)
        answer = client.import_execution(new_execution)
    assert answer.key and len(raced) == 2  # the other worker's import went through too
    counters = xray_cloud.counters()
    assert (counters["imports"], counters["tokens_issued"], counters["tokens_expired_by_count"]) == (3, 3, 2)


@sqlite_only
def test_evidence_that_would_not_fit_is_left_out_with_a_warning(
    database: Database,
    xray_settings: Settings,
    xray_server: RunningXrayEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVIDENCEHUB_XRAY__MAX_REQUEST_KB", "24")
    monkeypatch.setenv("EVIDENCEHUB_XRAY__MAX_EVIDENCE_KB", "12")
    from evidencehub.config import load_settings

    settings = load_settings()
    trace = "at frame\n" * 4000  # 36 KB, cut to 12 KB per file
    items = [
        Case("shop.BigTest", f"test_{index}", "failed", message="boom", trace=trace, failure_type="E")
        for index in range(4)
    ]
    run_id = store_run(database, items, project="shop")
    job = publish_run_to_xray(database, settings, PublishRequest(project_key="SHOP", run_ids=[run_id]))
    assert job.state == "succeeded", job.error
    assert job.warnings >= 1
    warnings = [event.detail for event in publish.job_events(database, job.id) if event.kind == "warning"]
    assert any("evidence file(s) left out" in (text or "") for text in warnings)
    runs = only_execution(xray_server)["runs"]
    assert len(runs) == 4
    assert 0 < sum(len(run["evidence"]) for run in runs) < 4  # some kept, some dropped


@sqlite_only
def test_the_runs_environments_are_the_executions_by_default(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator
) -> None:
    first = store_run(database, cases(2), project="shop", build="5", environment="staging eu")
    second = store_run(database, cases(2, prefix="org.other"), project="shop", build="5", environment="qa")
    job = publish_run_to_xray(
        database, xray_settings, PublishRequest(project_key="SHOP", run_ids=[first, second])
    )
    assert job.state == "succeeded", job.error
    assert only_execution(xray_server)["info"]["testEnvironments"] == ["qa", "staging-eu"]
