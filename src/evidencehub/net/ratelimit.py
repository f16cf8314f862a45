"""The one request-rate limiter: a token bucket from pyrate-limiter.

pyrate-limiter was chosen over ``limits`` because it has a true token-bucket
algorithm (``TokenBucket`` on a ``StateBucket``: one number of state, exact
waits) and a blocking, thread-safe ``try_acquire`` — worker threads simply wait
for their turn instead of polling. ``limits`` only offers window strategies and
no blocking acquire.
"""

from __future__ import annotations

import math

from pyrate_limiter import Duration, Limiter, Rate, StateBucket, TokenBucket

from evidencehub.errors import ConfigError

# Rates are kept as "units per 1000 s" so fractional per-second rates stay exact integers.
_WINDOW_SECONDS = 1000


class RateLimiter:
    """At most ``per_second`` acquisitions per second on average, bursting up to ``burst``."""

    def __init__(self, per_second: float, *, burst: int | None = None, name: str = "remote") -> None:
        if per_second <= 0:
            raise ConfigError(f"request rate for {name} must be above 0, got {per_second}")
        self.per_second = per_second
        self.name = name
        size = burst if burst is not None else max(1, math.ceil(per_second))
        rate = Rate(
            limit=max(1, round(per_second * _WINDOW_SECONDS)),
            interval=Duration.SECOND * _WINDOW_SECONDS,
            burst=size,
        )
        self._limiter = Limiter(StateBucket([rate], algorithm=TokenBucket()), buffer_ms=1)

    def acquire(self) -> None:
        """Block until one request may be sent."""
        self._limiter.try_acquire(self.name, blocking=True)
