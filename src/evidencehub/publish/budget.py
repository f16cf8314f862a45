"""One in-flight budget per remote queue for every job this process publishes.

A target's ``queue_limit`` caps *our* tasks queued at the remote (Octane
refuses uploads past 50 queued tasks). Each job counts its own tasks in flight;
when two jobs publish to the same queue at once — two promotions on a worker's
two consumer threads — each must also see the other's, or together they hold
twice the limit and queue-full refusals become the normal case again. Jobs
register how many tasks they hold under the target's ``queue_key`` (the remote
queue's identity: server, space, workspace) and ask for the others' total
before sending. The counts are read without stopping the other jobs, so for an
instant the sum can be off by a task that is being sent; the remote's own
refusal, which the engine retries, covers that. Jobs in other processes are
not seen: run one worker per Octane workspace to keep the limit exact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Usage = Callable[[], int]

_lock = threading.Lock()
_holders: dict[str, dict[int, Usage]] = {}


@contextmanager
def shared_queue(queue_key: str | None, usage: Usage) -> Iterator[Callable[[], int]]:
    """While inside, ``usage`` counts toward ``queue_key``; yields a function giving the other jobs' total."""
    if queue_key is None:
        yield lambda: 0
        return
    token = id(usage)
    with _lock:
        _holders.setdefault(queue_key, {})[token] = usage

    def others() -> int:
        with _lock:
            counts = [count for holder, count in _holders.get(queue_key, {}).items() if holder != token]
        return sum(count() for count in counts)

    try:
        yield others
    finally:
        with _lock:
            holders = _holders.get(queue_key, {})
            holders.pop(token, None)
            if not holders:
                _holders.pop(queue_key, None)
