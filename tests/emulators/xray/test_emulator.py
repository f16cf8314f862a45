"""The Xray emulator over real HTTP: auth per flavour, validation bodies, the rate window, JUnit, the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from evidencehub.config import XraySettings
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from evidencehub.errors import AuthenticationError, RemoteError
from evidencehub.publish.targets.xray.client import XrayClient
from tests.support.junit import junit_xml
from tests.support.xray import CLIENT_ID, CLIENT_SECRET, FAST, PASSWORD, PAT, USER, only_execution, seed

SERVER_IMPORT = "/rest/raven/2.0/import/execution"
CLOUD_IMPORT = "/api/v2/import/execution"
NEW_EXECUTION = {"info": {"project": "SHOP", "summary": "emulator test"}, "tests": []}


def generic(name: str, status: str) -> dict[str, Any]:
    info = {"projectKey": "SHOP", "summary": name, "type": "Generic", "definition": f"shop.T.{name}"}
    return {"testInfo": info, "status": status}


def cloud_token(emulator: RunningXrayEmulator) -> str:
    answer = httpx.post(
        f"{emulator.url}/api/v2/authenticate", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert answer.status_code == 200
    token: str = answer.json()
    return token


def client_settings(emulator: RunningXrayEmulator, flavour: str, **values: Any) -> XraySettings:
    merged: dict[str, Any] = {"base_url": emulator.url, "flavour": flavour}
    merged.update({name.lower(): value for name, value in FAST.items()})
    merged.update(values)
    return XraySettings.model_validate(merged)


def test_server_accepts_basic_auth_and_tokens_and_refuses_others(xray_server: RunningXrayEmulator) -> None:
    url = xray_server.url + SERVER_IMPORT
    assert httpx.post(url, json=NEW_EXECUTION, auth=(USER, PASSWORD)).status_code == 200
    assert httpx.post(url, json=NEW_EXECUTION, headers={"Authorization": f"Bearer {PAT}"}).status_code == 200
    refused = httpx.post(url, json=NEW_EXECUTION, auth=(USER, "wrong"))
    assert refused.status_code == 401 and "not authenticated" in refused.json()["error"]
    assert (
        httpx.post(xray_server.url + CLOUD_IMPORT, json=NEW_EXECUTION, auth=(USER, PASSWORD)).status_code
        == 404
    )


def test_cloud_tokens_expire(xray_cloud: RunningXrayEmulator) -> None:
    xray_cloud.configure(token_ttl_seconds=1.0)  # long enough for the first import on a busy machine
    token = cloud_token(xray_cloud)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(xray_cloud.url + CLOUD_IMPORT, json=NEW_EXECUTION, headers=headers).status_code == 200
    time.sleep(1.05)
    expired = httpx.post(xray_cloud.url + CLOUD_IMPORT, json=NEW_EXECUTION, headers=headers)
    assert (expired.status_code, expired.json()["error"]) == (401, "Authentication failed. Token expired.")
    wrong = httpx.post(
        f"{xray_cloud.url}/api/v2/authenticate", json={"client_id": CLIENT_ID, "client_secret": "x"}
    )
    assert wrong.status_code == 401


def test_cloud_tokens_expire_after_some_requests(xray_cloud: RunningXrayEmulator) -> None:
    xray_cloud.configure(token_expire_after_requests=2)
    headers = {"Authorization": f"Bearer {cloud_token(xray_cloud)}"}
    statuses = [
        httpx.post(xray_cloud.url + CLOUD_IMPORT, json=NEW_EXECUTION, headers=headers).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 401, 401]
    expired = httpx.post(xray_cloud.url + CLOUD_IMPORT, json=NEW_EXECUTION, headers=headers)
    assert expired.json()["error"] == "Authentication failed. Token expired."
    fresh = {"Authorization": f"Bearer {cloud_token(xray_cloud)}"}
    assert httpx.post(xray_cloud.url + CLOUD_IMPORT, json=NEW_EXECUTION, headers=fresh).status_code == 200
    counters = xray_cloud.counters()
    assert (counters["tokens_expired_by_count"], counters["tokens_issued"], counters["imports"]) == (1, 2, 3)


def test_an_injected_502_is_a_proxy_page_and_imports_nothing(xray_server: RunningXrayEmulator) -> None:
    xray_server.set_faults(error_502=1.0)
    answer = httpx.post(xray_server.url + SERVER_IMPORT, json=NEW_EXECUTION, auth=(USER, PASSWORD))
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html") and "502 Bad Gateway" in answer.text
    counters = xray_server.counters()
    assert counters["fault_502"] == 1 and counters.get("imports", 0) == 0


@pytest.mark.parametrize(
    ("flavour", "status", "error"),
    [
        ("server", "PASSED", "status 'PASSED' is not valid"),
        ("cloud", "PASS", "status 'PASS' is not valid"),
    ],
)
def test_each_flavour_refuses_the_other_flavours_status_words(
    flavour: str, status: str, error: str, request: pytest.FixtureRequest
) -> None:
    emulator: RunningXrayEmulator = request.getfixturevalue(f"xray_{flavour}")
    document = {**NEW_EXECUTION, "tests": [generic("test_a", "TODO"), generic("test_b", status)]}
    if flavour == "cloud":
        answer = httpx.post(
            emulator.url + CLOUD_IMPORT,
            json=document,
            headers={"Authorization": f"Bearer {cloud_token(emulator)}"},
        )
    else:
        answer = httpx.post(emulator.url + SERVER_IMPORT, json=document, auth=(USER, PASSWORD))
    assert answer.status_code == 400
    assert error in answer.json()["error"] and "tests[1]" in answer.json()["error"]
    assert emulator.counters()["executions"] == 0  # a refused import leaves nothing behind


def test_the_rate_window_answers_429_with_retry_after(xray_server: RunningXrayEmulator) -> None:
    xray_server.configure(rate_limit_requests=2, rate_limit_window_seconds=60)
    url = xray_server.url + SERVER_IMPORT
    for _ in range(2):
        assert httpx.post(url, json=NEW_EXECUTION, auth=(USER, PASSWORD)).status_code == 200
    refused = httpx.post(url, json=NEW_EXECUTION, auth=(USER, PASSWORD))
    assert refused.status_code == 429
    assert 30 < float(refused.headers["Retry-After"]) <= 60
    again = httpx.post(url, json=NEW_EXECUTION, auth=(USER, PASSWORD))  # too early: noted
    assert again.status_code == 429
    assert xray_server.counters()["early_retries"] == 1
    assert httpx.post(url, json=NEW_EXECUTION, headers={"Authorization": f"Bearer {PAT}"}).status_code == 200


@pytest.mark.parametrize("flavour", ["server", "cloud"])
def test_junit_import_maps_tests_like_xray(flavour: str, request: pytest.FixtureRequest) -> None:
    emulator: RunningXrayEmulator = request.getfixturevalue(f"xray_{flavour}")
    plan = seed(emulator, "SHOP", "Test Plan")
    credentials = (
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET} if flavour == "cloud" else {"token": PAT}
    )
    report = junit_xml(
        [
            ("shop.A", "test_ok", "passed"),
            ("shop.A", "test_bad", "failed"),
            ("shop.B", "test_skip", "skipped"),
        ]
    )
    with XrayClient(client_settings(emulator, flavour, **credentials)) as client:
        answer = client.import_junit(
            report.encode(), project_key="SHOP", test_plan=plan, environments=["qa", "eu"], revision="r1"
        )
    execution = only_execution(emulator)
    assert execution["key"] == answer.key
    assert execution["info"]["testEnvironments"] == ["qa", "eu"]
    words = ("PASSED", "FAILED") if flavour == "cloud" else ("PASS", "FAIL")
    assert {run["definition"]: run["status"] for run in execution["runs"]} == {
        "shop.A.test_ok": words[0],
        "shop.A.test_bad": words[1],
        "shop.B.test_skip": "TODO",
    }


def test_the_client_reports_validation_errors_and_refusals(xray_server: RunningXrayEmulator) -> None:
    with XrayClient(client_settings(xray_server, "server", user=USER, password=PASSWORD)) as client:
        document = {"testExecutionKey": "SHOP-77", "tests": []}
        with pytest.raises(RemoteError, match="Test Execution with key 'SHOP-77' was not found"):
            client.import_execution(json.dumps(document).encode())
    with (
        XrayClient(client_settings(xray_server, "server", user=USER, password="nope")) as client,
        pytest.raises(AuthenticationError) as refused,
    ):
        client.import_execution(json.dumps(NEW_EXECUTION).encode())
    assert USER in refused.value.message and "nope" not in refused.value.message
    assert refused.value.details["check"] == "authorization"  # Server/DC: no token to renew, a clear refusal


def test_emulate_xray_serves_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "evidencehub", "emulate", "xray", "--port", "0", "--flavour", "cloud",
         "--api-key", f"{CLIENT_ID}:{CLIENT_SECRET}", "--rate-limit", "300",
         "--fault-502", "1", "--expire-token-after", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        url = match.group(0)
        answer = httpx.post(
            f"{url}/api/v2/authenticate", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        )
        assert answer.status_code == 200 and isinstance(answer.json(), str)
        headers = {"Authorization": f"Bearer {answer.json()}"}
        statuses = [
            httpx.post(url + CLOUD_IMPORT, json=NEW_EXECUTION, headers=headers).status_code for _ in range(2)
        ]
        assert statuses == [502, 401]  # --fault-502 1, then --expire-token-after 1
        counters = httpx.get(f"{url}/__emulator__/counters").json()
        assert (counters["tokens_issued"], counters["fault_502"], counters["tokens_expired_by_count"]) == (
            1,
            1,
            1,
        )
    finally:
        process.terminate()
        process.wait(timeout=15)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def test_the_client_speaks_raven_1_0_too(xray_server: RunningXrayEmulator) -> None:
    settings = client_settings(xray_server, "server", api_version="1.0", user=USER, password=PASSWORD)
    with XrayClient(settings) as client:
        assert client.api == "/rest/raven/1.0"
        answer = client.import_execution(json.dumps(NEW_EXECUTION).encode())
    assert only_execution(xray_server)["key"] == answer.key
