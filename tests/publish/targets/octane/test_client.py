"""The Octane client against the emulator: lazy sign-in, one re-sign-in on 401, retries, errors, secrets."""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from evidencehub.config import OctaneSettings
from evidencehub.emulators.octane.runner import RunningEmulator
from evidencehub.errors import AuthenticationError, NotFoundError, RemoteError
from evidencehub.net.retry import QueueFullError, RetryNotice, RetryPolicy, ThrottledError
from evidencehub.publish.targets.octane.client import OctaneClient, UnknownTaskError
from tests.support.octane import CLIENT_SECRET

PAYLOAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<test_result><test_runs>'
    b'<test_run class="LoginTest" name="%s" status="Passed" duration="1"/></test_runs></test_result>'
)


def test_sign_in_is_lazy_and_happens_once(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    with OctaneClient(octane_config) as client:
        assert octane_emulator.counters()["sign_ins"] == 0
        client.query("tests")
        client.query("releases")
    assert octane_emulator.counters()["sign_ins"] == 1


def test_an_expired_session_is_renewed_once_and_the_request_replayed(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.configure(session_expire_after_requests=3)
    with OctaneClient(octane_config) as client:
        for _ in range(10):
            assert client.query("tests")["total_count"] == 0
    counters = octane_emulator.counters()
    assert counters["sign_ins"] >= 4
    assert counters["unauthorized"] == counters["sign_ins"] - 1


def test_rejected_credentials_say_which_check_failed(octane_config: OctaneSettings) -> None:
    wrong = octane_config.model_copy(update={"client_secret": SecretStr("wrong-secret-123")})
    with pytest.raises(AuthenticationError) as raised, OctaneClient(wrong) as client:
        client.query("tests")
    message = raised.value.message
    assert "sign-in failed" in message
    assert "platform.not_authorized" in message
    assert "evidencehub-ci" in message
    assert "wrong-secret-123" not in message
    assert raised.value.details["check"] == "sign_in"


def test_secrets_never_reach_the_logs(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.configure(session_expire_after_requests=1)
    with capture_logs() as logs, OctaneClient(octane_config) as client:
        client.query("tests")
        client.query("tests")
    assert CLIENT_SECRET not in repr(logs)


def test_a_5xx_storm_is_retried_until_attempts_run_out(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(error_503=1.0)
    notices: list[RetryNotice] = []
    policy = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02)
    with pytest.raises(ThrottledError, match="giving up") as raised, OctaneClient(octane_config) as client:
        client.post_test_results(PAYLOAD % b"a", policy=policy, on_retry=notices.append)
    assert raised.value.status == 503
    assert [notice.attempt for notice in notices] == [1, 2]
    assert octane_emulator.counters()["posts_accepted"] == 0


def test_throttling_honours_retry_after(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(throttle_429=1.0, retry_after_seconds=0.05)
    notices: list[RetryNotice] = []

    def heal(_notice: RetryNotice) -> None:
        notices.append(_notice)
        octane_emulator.set_faults()

    with OctaneClient(octane_config) as client:
        task = client.post_test_results(PAYLOAD % b"a", on_retry=heal)
    assert task.status == "queued"
    assert notices[0].wait_seconds == 0.05
    assert notices[0].reason == "throttled"


def test_queue_full_waits_and_retries_until_there_is_room(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.configure(tasks_per_second=0, queue_limit=1)
    notices: list[RetryNotice] = []
    with OctaneClient(octane_config) as client:
        client.post_test_results(PAYLOAD % b"first")
        threading.Timer(0.3, lambda: octane_emulator.configure(tasks_per_second=200)).start()
        task = client.post_test_results(PAYLOAD % b"second", on_retry=notices.append)
    assert task.status in ("queued", "running", "success")
    assert notices
    assert {notice.reason for notice in notices} == {"queue_full"}
    assert {notice.wait_seconds for notice in notices} == {octane_config.queue_full_retry_seconds}


def test_queue_full_gives_up_at_the_deadline(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.configure(tasks_per_second=0, queue_limit=0)
    policy = RetryPolicy(queue_full_wait=0.05, deadline=time.monotonic() + 0.3)
    with pytest.raises(QueueFullError, match="Queue limit exceeded"), OctaneClient(octane_config) as client:
        client.post_test_results(PAYLOAD % b"a", policy=policy)
    assert octane_emulator.counters()["posts_rejected_queue_full"] >= 3


def test_other_4xx_fail_with_the_servers_description(octane_config: OctaneSettings) -> None:
    with (
        pytest.raises(RemoteError, match="does not conform to the test results XSD"),
        OctaneClient(octane_config) as client,
    ):
        client.post_test_results(b"<test_result/>")


def test_unknown_tasks_and_entities(octane_config: OctaneSettings) -> None:
    with OctaneClient(octane_config) as client:
        with pytest.raises(UnknownTaskError):
            client.task_status("99999")
        assert client.get("work_items", "99999") is None


def test_a_wrong_workspace_is_named(octane_config: OctaneSettings) -> None:
    wrong = octane_config.model_copy(update={"workspace_id": 9})
    with pytest.raises(NotFoundError, match="type workspace does not exist"), OctaneClient(wrong) as client:
        client.query("tests")


def test_a_proxy_error_page_is_described_not_parsed(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(error_502=1.0)
    policy = RetryPolicy(max_attempts=1)
    with (
        pytest.raises(ThrottledError, match=r"non-JSON answer \(text/html\).*502 Bad Gateway"),
        OctaneClient(octane_config) as client,
    ):
        client.post_test_results(PAYLOAD % b"a", policy=policy)


def test_a_dropped_connection_is_retried_and_deduplicated(
    octane_config: OctaneSettings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(drop_connection=1.0)
    notices: list[RetryNotice] = []

    def heal(notice: RetryNotice) -> None:
        notices.append(notice)
        octane_emulator.set_faults()

    with OctaneClient(octane_config) as client:
        task = client.post_test_results(PAYLOAD % b"a", on_retry=heal)
    assert notices[0].reason == "transient"
    counters = octane_emulator.counters()
    assert counters["posts_accepted"] == 1
    assert counters["posts_duplicate_payload"] == 1
    assert task.id == "1001"


def test_requests_are_rate_limited(octane_config: OctaneSettings) -> None:
    slow = octane_config.model_copy(update={"requests_per_second": 20.0})
    started = time.monotonic()
    with OctaneClient(slow) as client:
        for _ in range(25):
            client.query("releases", limit=1)
    # 26 requests (one sign-in) at 20/s after a burst of 20: at least 5 × 50 ms.
    assert time.monotonic() - started >= 0.25
