"""Test statuses and their severity order."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # an assertion failed (JUnit <failure>)
    ERROR = "error"  # an unexpected error (JUnit <error>)
    SKIPPED = "skipped"


# Several results for one test count once, as the most severe: error > failure > skipped > passed.
SEVERITY: dict[Status, int] = {Status.PASSED: 0, Status.SKIPPED: 1, Status.FAILED: 2, Status.ERROR: 3}


def worst(first: Status, second: Status) -> Status:
    return first if SEVERITY[first] >= SEVERITY[second] else second
