"""Folding repeated results of one test within a run into one result.

Several results for one test count once, as the most severe
(error > failure > skipped > passed), and the others are kept as attempts:

* several result elements inside one testcase (``<failure>`` and ``<error>``,
  …) — see ParsedCase.add_result;
* the same test reported again: a repeated ``<testcase>`` in one file, or the
  same test in another file of the run. When one report passed and another
  failed, the test is also marked flaky.

The severe result wins even over a later pass because a repeated name is not
always a rerun: TestNG data providers, jest ``test.each`` and NUnit cases with
equal argument text repeat one name for different invocations, and a failed
invocation must never be hidden by a passing one. Tools that say explicitly
that a rerun passed (Surefire's ``flakyFailure``/``flakyError``) are read by
the parser as a pass with flaky attempts, so that case still counts as passed.
"""

from __future__ import annotations

from evidencehub.results.parsers.base import Attempt, ParsedCase
from evidencehub.results.status import SEVERITY, Status

_FAILING = (Status.FAILED, Status.ERROR)


def _as_attempt(case: ParsedCase, kind: str) -> Attempt:
    return Attempt(case.status, kind, case.failure_type, case.message, case.trace, case.duration_ms)


def merge_repeated(first: ParsedCase, second: ParsedCase) -> ParsedCase:
    """The one result that counts for two reports of the same test; ``first`` is updated and returned."""
    keep, other = (first, second) if SEVERITY[first.status] >= SEVERITY[second.status] else (second, first)
    attempts = [*(first.attempts or []), *(second.attempts or [])]
    # Earlier merges keep their passes among the attempts, so look at every report, not just these two.
    seen = {first.status, second.status, *(attempt.status for attempt in attempts)}
    mixed = Status.PASSED in seen and any(status in seen for status in _FAILING)
    attempts.append(_as_attempt(other, "flaky" if mixed else "rerun"))
    if keep is not first:
        for name in ParsedCase.__slots__:
            if name not in ("attempts", "flaky"):
                setattr(first, name, getattr(keep, name))
    first.attempts = attempts
    first.flaky = first.flaky or second.flaky or bool(mixed)
    return first
