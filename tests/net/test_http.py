"""The one HTTP client factory, the rate limiter and the retry policy."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from evidencehub import __version__
from evidencehub.errors import ConfigError, RemoteError
from evidencehub.net.http import HttpSettings, build_client
from evidencehub.net.ratelimit import RateLimiter
from evidencehub.net.retry import (
    CancelledError,
    QueueFullError,
    RetryNotice,
    RetryPolicy,
    ThrottledError,
    TransientError,
    call_with_retries,
    parse_retry_after,
)


def test_clients_identify_themselves_and_verify_tls_by_default() -> None:
    with capture_logs() as logs, build_client(HttpSettings(base_url="https://octane.example/")) as client:
        assert client.headers["User-Agent"] == f"evidencehub/{__version__}"
        assert str(client.base_url) == "https://octane.example"
    assert logs == []


def test_turning_tls_verification_off_is_logged_loudly() -> None:
    with capture_logs() as logs:
        build_client(
            HttpSettings(base_url="https://octane.example", verify_tls=False, remote_name="Octane")
        ).close()
    assert logs[0]["log_level"] == "warning"
    assert "TLS CERTIFICATE VERIFICATION IS OFF" in logs[0]["event"]
    assert logs[0]["remote"] == "Octane"


def test_a_missing_ca_bundle_or_a_bad_url_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CA bundle"):
        build_client(HttpSettings(base_url="https://octane.example", ca_bundle=tmp_path / "none.pem"))
    with pytest.raises(ConfigError, match="must start with http"):
        build_client(HttpSettings(base_url="octane.example"))


def test_the_rate_limiter_spaces_requests_after_the_burst() -> None:
    limiter = RateLimiter(20)
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [limiter.acquire() for _ in range(6)]) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 30 requests at 20/s with a burst of 20: the last 10 wait at least 10 × 50 ms.
    assert time.monotonic() - started >= 0.45


def test_rates_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        RateLimiter(0)


class Flaky:
    """Fails with the given errors, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


FAST = RetryPolicy(max_attempts=4, backoff_initial=0.001, backoff_max=0.002, queue_full_wait=0.003)


def test_queue_full_waits_the_fixed_interval_and_is_not_counted_against_attempts() -> None:
    notices: list[RetryNotice] = []
    call = Flaky(*[QueueFullError("Queue limit exceeded")] * 6)
    assert call_with_retries(call, FAST, on_retry=notices.append) == "done"
    assert call.calls == 7
    assert {notice.reason for notice in notices} == {"queue_full"}
    assert {notice.wait_seconds for notice in notices} == {0.003}


def test_retry_after_is_honoured_and_backoff_is_bounded() -> None:
    notices: list[RetryNotice] = []
    call = Flaky(ThrottledError("slow down", retry_after=0.01, status=429), TransientError("reset"))
    assert call_with_retries(call, FAST, on_retry=notices.append) == "done"
    assert notices[0].wait_seconds == 0.01
    assert 0 <= notices[1].wait_seconds <= FAST.backoff_max


def test_giving_up_after_max_attempts_says_so() -> None:
    call = Flaky(*[TransientError("connection reset")] * 10)
    with pytest.raises(TransientError, match=r"giving up: gave up after 4 attempts"):
        call_with_retries(call, FAST)
    assert call.calls == 4


def test_final_errors_are_not_retried() -> None:
    call = Flaky(RemoteError("HTTP 400: invalid"))
    with pytest.raises(RemoteError, match="400"):
        call_with_retries(call, FAST)
    assert call.calls == 1


def test_the_deadline_stops_queue_full_retries() -> None:
    policy = RetryPolicy(queue_full_wait=0.05, deadline=time.monotonic() + 0.12)
    call = Flaky(*[QueueFullError("Queue limit exceeded")] * 100)
    with pytest.raises(QueueFullError, match="deadline"):
        call_with_retries(call, policy)
    assert 2 <= call.calls <= 4


def test_cancelling_interrupts_a_wait() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        call_with_retries(Flaky(QueueFullError("full")), RetryPolicy(queue_full_wait=30, cancel=cancel))


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0.5", 0.5), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_parsing(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected
