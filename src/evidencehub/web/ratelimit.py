"""Token-bucket rate limiting per API token, user or client address.

The bucket arithmetic is pyrate-limiter's TokenBucket (GCRA) algorithm; this
module keeps one bucket state per key, in memory, bounded in size. Limits are
per web process: with N workers behind a balancer the effective limit is up
to N times the configured one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pyrate_limiter import Rate, TokenBucket

from evidencehub.config import RateLimit, WebSettings

MAX_KEYS = 100_000


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int  # requests a minute
    burst: int
    remaining: int
    retry_after_seconds: float  # 0 when allowed
    reset_seconds: float  # until the bucket is full again

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_seconds)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return headers


class _Bucket:
    def __init__(self, limit: RateLimit) -> None:
        self.rates = [Rate(limit.per_minute, 60_000, burst=limit.burst)]
        self.limit = limit
        self.states: OrderedDict[str, tuple[Any, ...]] = OrderedDict()


class RateLimiter:
    """Buckets for the kinds "user", "token" and "ip", configured from web settings."""

    def __init__(self, settings: WebSettings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._algorithm = TokenBucket()
        self._buckets = {
            "user": _Bucket(settings.rate_limit_user),
            "token": _Bucket(settings.rate_limit_token),
            "ip": _Bucket(settings.rate_limit_ip),
        }
        self._lock = threading.Lock()

    def hit(self, kind: str, key: str, *, now_ms: int | None = None) -> RateDecision:
        """Spend one token of the key's bucket, or say how long until one is there."""
        bucket = self._buckets[kind]
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        with self._lock:
            state = bucket.states.get(key) or self._algorithm.initial(bucket.rates)
            new_state, decision = self._algorithm.step(bucket.rates, state, now, 1)
            bucket.states[key] = new_state
            bucket.states.move_to_end(key)
            if len(bucket.states) > MAX_KEYS:
                bucket.states.popitem(last=False)
            used = self._algorithm.consumed(bucket.rates, new_state, now)
        emission_seconds = 60 / bucket.limit.per_minute
        remaining = max(0, bucket.limit.burst - used)
        reset = used * emission_seconds
        if decision.allowed:
            return RateDecision(True, bucket.limit.per_minute, bucket.limit.burst, remaining, 0.0, reset)
        retry = (decision.retry_after_ms or 1000) / 1000
        return RateDecision(False, bucket.limit.per_minute, bucket.limit.burst, 0, retry, reset)
