"""The emulator over real HTTP on 127.0.0.1: the behaviours SPEC.md documents, and the faults it injects."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from evidencehub.emulators.octane.runner import RunningEmulator
from tests.support.octane import CLIENT_ID, CLIENT_SECRET, emulator_config
from tests.support.shared import require_shared

API = "/api/shared_spaces/1001/workspaces/1002"

RUN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<test_result>{head}<test_runs>'
    '<test_run package="com.acme" class="LoginTest" name="{name}" status="{status}" duration="12"'
    ' started="1700000000000"/>'
    "</test_runs></test_result>"
)


def payload(name: str = "test_login", status: str = "Passed", head: str = "") -> bytes:
    return RUN.format(name=name, status=status, head=head).encode()


@pytest.fixture
def client(octane_emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=octane_emulator.url, timeout=10) as http:
        response = http.post(
            "/authentication/sign_in", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        )
        assert response.status_code == 200
        yield http


def post(client: httpx.Client, body: bytes, **headers: str) -> httpx.Response:
    return client.post(
        f"{API}/test-results", content=body, headers={"Content-Type": "application/xml", **headers}
    )


def wait_for(client: httpx.Client, task_id: int, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"{API}/test-results/{task_id}").json()
        if task["status"] not in ("queued", "running"):
            return task
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} did not finish")


def test_sign_in_accepts_both_body_shapes_and_sets_both_cookies(octane_emulator: RunningEmulator) -> None:
    with httpx.Client(base_url=octane_emulator.url) as http:
        keys = http.post(
            "/authentication/sign_in", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        )
        user = http.post("/authentication/sign_in", json={"user": CLIENT_ID, "password": CLIENT_SECRET})
    assert keys.status_code == user.status_code == 200
    assert {"LWSSO_COOKIE_KEY", "OCTANE_USER"} <= set(keys.cookies)


def test_bad_credentials_and_missing_cookies_answer_401_not_authorized(
    octane_emulator: RunningEmulator,
) -> None:
    with httpx.Client(base_url=octane_emulator.url) as http:
        refused = http.post(
            "/authentication/sign_in", json={"client_id": CLIENT_ID, "client_secret": "wrong"}
        )
        anonymous = http.get(f"{API}/tests")
    assert refused.status_code == anonymous.status_code == 401
    assert refused.json()["error_code"] == anonymous.json()["error_code"] == "platform.not_authorized"
    assert "correlation_id" in refused.json()


def test_a_session_expires_after_the_configured_number_of_requests(
    octane_emulator: RunningEmulator, client: httpx.Client
) -> None:
    octane_emulator.configure(session_expire_after_requests=2)
    assert client.get(f"{API}/tests").status_code == 200
    assert client.get(f"{API}/tests").status_code == 200
    expired = client.get(f"{API}/tests")
    assert expired.status_code == 401
    assert "expired" in expired.json()["description"]


def test_sign_out_ends_the_session(client: httpx.Client) -> None:
    assert client.post("/authentication/sign_out").status_code == 200
    assert client.get(f"{API}/tests").status_code == 401


def test_unknown_space_or_workspace_is_named(client: httpx.Client) -> None:
    space = client.get("/api/shared_spaces/9/workspaces/1002/tests")
    workspace = client.get("/api/shared_spaces/1001/workspaces/9/tests")
    assert space.status_code == workspace.status_code == 404
    assert space.json()["description"] == "type shared_space does not exist"
    assert workspace.json()["description"] == "type workspace does not exist"


def test_an_upload_is_queued_then_processed_into_tests_and_runs(client: httpx.Client) -> None:
    accepted = post(client, payload())
    assert accepted.status_code == 202
    task = accepted.json()
    assert task["status"] == "queued"
    assert isinstance(task["id"], int)
    assert wait_for(client, task["id"])["status"] == "success"
    tests = client.get(f"{API}/tests", params={"fields": "name,package,class_name,subtype"}).json()
    assert tests["total_count"] == 1
    assert tests["data"][0] | {"id": "x"} == {
        "id": "x",
        "type": "test",
        "name": "test_login",
        "package": "com.acme",
        "class_name": "LoginTest",
        "subtype": "test_automated",
    }
    runs = client.get(f"{API}/runs", params={"fields": "name,native_status,duration"}).json()["data"]
    assert runs[0]["native_status"]["id"] == "list_node.run_native_status.passed"
    assert runs[0]["duration"] == 12


@pytest.mark.parametrize("encoding", ["gzip", "application/gzip"])
def test_gzip_bodies_are_accepted_with_either_content_encoding(client: httpx.Client, encoding: str) -> None:
    response = post(client, gzip.compress(payload()), **{"Content-Encoding": encoding})
    assert response.status_code == 202
    assert wait_for(client, response.json()["id"])["status"] == "success"


def test_only_application_xml_is_accepted(client: httpx.Client) -> None:
    response = post(client, payload(), **{"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_an_xsd_invalid_payload_is_refused_with_the_reason(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    response = post(client, payload(name="x" * 256))
    assert response.status_code == 400
    assert "XSD" in response.json()["description"]
    assert octane_emulator.counters()["posts_rejected_invalid"] == 1
    assert octane_emulator.counters()["runs"] == 0


def test_a_duplicate_payload_returns_the_original_task(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    first = post(client, payload()).json()
    wait_for(client, first["id"])
    again = post(client, payload())
    assert again.status_code == 202
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "success"
    counters = octane_emulator.counters()
    assert counters["posts_duplicate_payload"] == 1
    assert counters["runs"] == 1
    assert counters["duplicate_runs"] == 0


def test_a_run_posted_twice_is_counted_as_a_duplicate(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    wait_for(client, post(client, payload(status="Failed")).json()["id"])
    wait_for(client, post(client, payload(status="Passed")).json()["id"])  # other bytes, same run identity
    counters = octane_emulator.counters()
    assert counters["runs"] == 1
    assert counters["duplicate_runs"] == 1


@pytest.mark.parametrize(("mode", "status"), [("503", 503), ("429", 429)])
def test_queue_full_is_refused_with_the_configured_answer(
    client: httpx.Client, octane_emulator: RunningEmulator, mode: str, status: int
) -> None:
    octane_emulator.configure(tasks_per_second=0, queue_limit=2, queue_full_mode=mode)
    assert post(client, payload("a")).status_code == 202
    assert post(client, payload("b")).status_code == 202
    refused = post(client, payload("c"))
    assert refused.status_code == status
    body = refused.json()
    assert body["error_code"] == "testbox_queue_full"
    assert body["description"] == "Queue limit exceeded: 2 test-result tasks are queued"
    if mode == "429":
        assert refused.headers["Retry-After"] == "10"
    octane_emulator.configure(tasks_per_second=200)
    assert post(client, payload("c")).status_code in (202, status)  # accepted once the queue drains


def test_skip_errors_false_skips_runs_with_missing_references_and_fails_the_task(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    broken = payload(head='<release_ref id="2147483647"/>')
    task = wait_for(client, post(client, broken).json()["id"])
    assert task["status"] == "failed"
    assert "release with id 2147483647 does not exist" in task["errorDetails"]
    assert octane_emulator.counters()["runs"] == 0


def test_skip_errors_true_stores_the_run_with_a_warning(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    broken = payload(head='<release_ref id="2147483647"/>')
    response = client.post(
        f"{API}/test-results",
        params={"skip-errors": "true"},
        content=broken,
        headers={"Content-Type": "application/xml"},
    )
    assert wait_for(client, response.json()["id"])["status"] == "warning"
    assert octane_emulator.counters()["runs"] == 1


def test_unknown_task_ids_answer_404(client: httpx.Client) -> None:
    assert client.get(f"{API}/test-results/999999").status_code == 404


def test_lost_tasks_vanish_and_their_payload_can_be_sent_again(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(lost_tasks=1.0)
    task_id = post(client, payload()).json()["id"]
    deadline = time.monotonic() + 5
    while client.get(f"{API}/test-results/{task_id}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    octane_emulator.set_faults()
    resent = post(client, payload()).json()
    assert resent["id"] != task_id
    assert wait_for(client, resent["id"])["status"] == "success"
    assert octane_emulator.counters()["tasks_lost"] == 1


def test_the_xsd_is_served(client: httpx.Client) -> None:
    response = client.get(f"{API}/test-results/xsd")
    assert response.status_code == 200
    assert b'<xs:element name="test_result"' in response.content


def test_injected_faults_answer_before_anything_happens(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(error_502=1.0)
    proxy = post(client, payload())
    octane_emulator.set_faults(throttle_429=1.0, retry_after_seconds=3)
    throttled = post(client, payload())
    octane_emulator.set_faults(error_500=1.0)
    general = post(client, payload())
    assert (proxy.status_code, throttled.status_code, general.status_code) == (502, 429, 500)
    assert proxy.headers["content-type"].startswith("text/html")
    assert throttled.headers["Retry-After"] == "3"
    assert general.json()["error_code"] == "platform.general_error"
    assert octane_emulator.counters()["posts_accepted"] == 0
    assert client.get(f"{API}/tests").status_code == 200  # entity calls are not affected by default


def test_latency_is_added_to_api_requests(client: httpx.Client, octane_emulator: RunningEmulator) -> None:
    octane_emulator.set_faults(latency_ms=150, only_test_results=False)
    started = time.monotonic()
    assert client.get(f"{API}/tests").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_a_dropped_connection_happens_after_the_request_took_effect(
    client: httpx.Client, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(drop_connection=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, payload())
    octane_emulator.set_faults()
    assert octane_emulator.counters()["posts_accepted"] == 1
    assert post(client, payload()).json()["id"] == 1001  # the re-send finds the original task


def test_entities_page_sort_and_project_fields(client: httpx.Client) -> None:
    created = client.post(f"{API}/stories", json={"data": [{"name": f"story {index}"} for index in range(5)]})
    assert created.status_code == 201
    assert [item["type"] for item in created.json()["data"]] == ["story"] * 5
    page = client.get(
        f"{API}/work_items",
        params={
            "limit": 2,
            "offset": 1,
            "order_by": "-name",
            "fields": "name",
            "query": '"name EQ ^story*^"',
        },
    ).json()
    assert page["total_count"] == 5
    assert [item["name"] for item in page["data"]] == ["story 3", "story 2"]
    assert set(page["data"][0]) == {"id", "type", "name"}
    assert client.get(f"{API}/work_items", params={"limit": 0}).status_code == 400
    assert client.get(f"{API}/work_items", params={"query": '"name EQ"'}).status_code == 400


def test_put_replaces_a_multi_reference_and_refuses_unknown_targets(client: httpx.Client) -> None:
    story = client.post(f"{API}/stories", json={"data": [{"name": "login"}]}).json()["data"][0]
    test = client.post(f"{API}/tests", json={"data": [{"name": "manual login"}]}).json()["data"][0]
    linked = client.put(
        f"{API}/tests/{test['id']}",
        json={"covered_content": {"data": [{"type": "story", "id": story["id"]}]}},
    )
    assert linked.status_code == 200
    assert linked.json()["covered_content"] == {
        "total_count": 1,
        "data": [{"type": "story", "id": story["id"]}],
    }
    cleared = client.put(f"{API}/tests/{test['id']}", json={"covered_content": {"data": []}}).json()
    assert cleared["covered_content"]["total_count"] == 0
    missing = client.put(
        f"{API}/tests/{test['id']}", json={"covered_content": {"data": [{"type": "story", "id": "9"}]}}
    )
    assert missing.status_code == 404
    partial = client.put(
        f"{API}/tests", json={"data": [{"id": test["id"], "name": "renamed"}, {"id": "424242", "name": "x"}]}
    )
    assert partial.status_code == 409
    body = partial.json()
    assert [item["name"] for item in body["data"]] == ["renamed"]
    assert body["errors"][0]["index"] == body["errors"][0]["entity_index"] == 1


def test_root_application_modules_are_found_with_parent_null(client: httpx.Client) -> None:
    roots = client.get(f"{API}/product_areas", params={"query": '"parent EQ {null}"'}).json()
    assert [root["name"] for root in roots["data"]] == ["Application Modules"]
    orphan = client.post(f"{API}/application_modules", json={"data": [{"name": "no parent"}]})
    assert orphan.status_code == 400


@pytest.mark.parametrize(
    "name",
    [
        "conversion-junit_failedAndSkippedTestCasesExpected.xml",
        "conversion-junit_allBuildContextFieldsExpected.xml",
        "conversion-gherkin_twoFeaturesExpected.xml",
        "collection-tool-publicApi.xml",
    ],
)
def test_payloads_of_the_official_tools_are_accepted_and_processed(client: httpx.Client, name: str) -> None:
    example = Path(require_shared("reference", "octane", "examples", name)).read_bytes()
    response = post(client, example)
    assert response.status_code == 202, response.text
    assert wait_for(client, response.json()["id"])["status"] == "success"


def test_control_endpoint_reports_counters_and_resets(
    octane_emulator: RunningEmulator, client: httpx.Client
) -> None:
    post(client, payload())
    assert octane_emulator.control("GET", "counters").json()["posts_total"] == 1
    octane_emulator.control("POST", "reset")
    assert octane_emulator.control("GET", "counters").json().get("posts_total", 0) == 0
    config = octane_emulator.control("GET", "config").json()
    assert config["api_keys"] == [CLIENT_ID]  # ids only: secrets never leave the emulator
    octane_emulator.state.reset(emulator_config())
