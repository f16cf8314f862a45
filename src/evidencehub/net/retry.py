"""The one retry policy for remote calls (tenacity), shared by every publishing target.

A remote call raises one of the retryable errors below; everything else is
final. How long to wait depends on why the call failed:

* ``QueueFullError`` — the remote's work queue is full: wait a fixed
  ``queue_full_wait`` and try again, as often as needed, until the deadline.
* ``ThrottledError`` (429, 502, 503, 504) — honour ``Retry-After`` when the
  remote sent one, else back off exponentially with full jitter.
* ``TransientError`` (timeouts, dropped connections, 500) — back off.

Throttled and transient failures count against ``max_attempts``; queue-full
waits do not (they are bounded by the deadline only). Waits are interruptible:
setting the ``cancel`` event ends the wait with ``CancelledError``.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from evidencehub.errors import EvidenceHubError, RemoteError

T = TypeVar("T")


class RetryableError(RemoteError):
    """A remote failure that may go away if the same call is made again later."""

    reason = "retryable"
    # Set when call_with_retries stopped trying: "attempts" or "deadline".
    gave_up: str | None = None


class QueueFullError(RetryableError):
    """The remote refuses new work until its queue drains (Octane: 'Queue limit exceeded')."""

    reason = "queue_full"


class ThrottledError(RetryableError):
    """429 / 502 / 503 / 504: the remote or a proxy asks us to slow down."""

    reason = "throttled"

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message, details={"retry_after": retry_after, "status": status})
        self.retry_after = retry_after
        self.status = status


class TransientError(RetryableError):
    """A timeout, a dropped connection or a 500: worth another try after a pause."""

    reason = "transient"


class CancelledError(EvidenceHubError):
    """The caller asked to stop while a retry was waiting."""

    code = "cancelled"
    exit_code = 130


@dataclass(frozen=True)
class RetryNotice:
    """Handed to ``on_retry`` before each wait: what failed, which attempt, how long we wait."""

    attempt: int
    reason: str
    error: str
    wait_seconds: float


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    queue_full_wait: float = 10.0
    # time.monotonic() value after which no new attempt starts; None = no deadline.
    deadline: float | None = None
    cancel: threading.Event | None = None


class _Attempts:
    """Counts the failures that are bounded by max_attempts (everything but queue-full)."""

    def __init__(self) -> None:
        self.bounded = 0


def retry_wait(policy: RetryPolicy, error: BaseException | None, attempt: int) -> float:
    """Seconds to wait after ``error`` on ``attempt`` (1-based)."""
    if isinstance(error, QueueFullError):
        return policy.queue_full_wait
    if isinstance(error, ThrottledError) and error.retry_after is not None:
        return max(0.0, error.retry_after)
    # Exponential backoff with full jitter: uniform in [0, min(max, initial * 2^(n-1))].
    ceiling = min(policy.backoff_max, policy.backoff_initial * 2 ** max(0, attempt - 1))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[RetryNotice], None] | None = None,
) -> T:
    """Run ``call`` until it succeeds, fails for good, runs out of attempts or passes the deadline.

    The last error is re-raised when giving up; its message says why we gave up.
    """
    attempts = _Attempts()
    planned: dict[int, float] = {}
    give_up: dict[int, str] = {}

    def plan(state: RetryCallState) -> float:
        """The wait after this attempt, decided once (tenacity asks wait and stop, in either order)."""
        number = state.attempt_number
        if number in planned:
            return planned[number]
        error = state.outcome.exception() if state.outcome is not None else None
        if not isinstance(error, QueueFullError):
            attempts.bounded += 1
            if attempts.bounded >= policy.max_attempts:
                give_up[number] = f"gave up after {attempts.bounded} attempts"
                _mark(error, "attempts")
        seconds = retry_wait(policy, error, attempts.bounded or 1)
        if (
            number not in give_up
            and policy.deadline is not None
            and time.monotonic() + seconds > policy.deadline
        ):
            give_up[number] = "the job's deadline would pass before the next try"
            _mark(error, "deadline")
        if number in give_up:
            _note_give_up(error, give_up[number])
        planned[number] = seconds
        return seconds

    def wait(state: RetryCallState) -> float:
        return plan(state)

    def stop(state: RetryCallState) -> bool:
        plan(state)
        return state.attempt_number in give_up

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is None:
            return
        error = state.outcome.exception() if state.outcome is not None else None
        on_retry(
            RetryNotice(
                attempt=state.attempt_number,
                reason=getattr(error, "reason", "error"),
                error=str(error),
                wait_seconds=planned.get(state.attempt_number, 0.0),
            )
        )

    def sleep(seconds: float) -> None:
        if policy.cancel is None:
            time.sleep(seconds)
        elif policy.cancel.wait(seconds):
            raise CancelledError("cancelled while waiting to retry")

    retrying = Retrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop,
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    result: T = retrying(call)
    return result


def _mark(error: BaseException | None, why: str) -> None:
    if isinstance(error, RetryableError):
        error.gave_up = why


def _note_give_up(error: BaseException | None, why: str) -> None:
    if isinstance(error, EvidenceHubError) and "giving up:" not in error.message:
        error.message = f"{error.message} (giving up: {why})"
        error.args = (error.message,)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def describe(error: Any) -> str:
    """A one-line description of an error for task logs."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__
