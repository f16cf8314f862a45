"""Folding repeated results of one test within a run into one result.

Two rules, both from the tools that write these files:

* several result elements inside one testcase (``<failure>`` and ``<error>``,
  …) count once as the most severe — see ParsedCase.add_result;
* the same test reported again (a rerun: a repeated ``<testcase>``, or the same
  test in another file of the run) passed if any run of it passed, and is then
  flaky; otherwise it counts as the most severe. This is Surefire's rerun rule
  (``flakyFailure`` = failed, then passed) and what rerun-aware report tools do.

Every result that does not count is kept as an attempt.
"""

from __future__ import annotations

from evidencehub.results.parsers.base import Attempt, ParsedCase
from evidencehub.results.status import SEVERITY, Status


def _as_attempt(case: ParsedCase, kind: str) -> Attempt:
    return Attempt(case.status, kind, case.failure_type, case.message, case.trace, case.duration_ms)


def merge_repeated(first: ParsedCase, second: ParsedCase) -> ParsedCase:
    """The one result that counts for two reports of the same test; ``first`` is updated and returned."""
    passed_once = Status.PASSED in (first.status, second.status)
    failed_once = any(case.status in (Status.FAILED, Status.ERROR) for case in (first, second))
    if passed_once:
        keep, other = (first, second) if first.status is Status.PASSED else (second, first)
    else:
        keep, other = (
            (first, second) if SEVERITY[first.status] >= SEVERITY[second.status] else (second, first)
        )
    kind = "flaky" if passed_once and other.status in (Status.FAILED, Status.ERROR) else "rerun"
    attempts = [*(first.attempts or []), *(second.attempts or []), _as_attempt(other, kind)]
    if keep is not first:
        for name in ParsedCase.__slots__:
            if name not in ("attempts", "flaky"):
                setattr(first, name, getattr(keep, name))
    first.attempts = attempts
    first.flaky = first.flaky or second.flaky or (passed_once and failed_once)
    return first
