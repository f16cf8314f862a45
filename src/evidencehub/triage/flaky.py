"""Flaky tests: pass/fail flips over the recent runs of the same branch and environment, and reruns.

A test's outcomes over the last N runs (same project, branch and environment,
oldest first) are read as pass or fail; skipped and absent runs are ignored. A
*flip* is a change between two consecutive outcomes, and a pass after a failed
rerun inside one run (Surefire's ``flakyFailure``, a repeated testcase that
passed) counts as one flip too. The flaky score is flips / (outcomes − 1),
capped at 1: a test that alternates scores 1, one that always fails scores 0.
A failure is tagged flaky when its test flipped at least ``min_flips`` times in
the window (Allure: "a pass more recent than a failure in the last 5 runs";
Allure TestOps: "3 transitions in the last 10").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from evidencehub.results.model import Build, Result, TestRun
from evidencehub.results.status import Status

_FAILED = (Status.FAILED.value, Status.ERROR.value)


@dataclass(frozen=True, slots=True)
class Outcome:
    run_id: int
    status: str  # passed, failed, error, skipped
    flaky: bool  # passed only after a failed attempt in the same run


@dataclass(frozen=True, slots=True)
class FlakyVerdict:
    flips: int
    observed: int  # runs in the window with a pass or a failure
    score: float
    flaky: bool
    history: tuple[Outcome, ...]  # oldest first


def score_outcomes(outcomes: Sequence[Outcome], *, min_flips: int) -> FlakyVerdict:
    """Count flips in outcomes (oldest first) and judge flakiness."""
    flips = 0
    previous: bool | None = None
    observed = 0
    for outcome in outcomes:
        if outcome.status == Status.SKIPPED.value:
            continue
        failed = outcome.status in _FAILED
        observed += 1
        if outcome.flaky:
            flips += 1
        if previous is not None and failed != previous:
            flips += 1
        previous = failed
    score = min(1.0, flips / max(1, observed - 1)) if flips else 0.0
    return FlakyVerdict(
        flips=flips,
        observed=observed,
        score=round(score, 3),
        flaky=flips >= min_flips,
        history=tuple(outcomes),
    )


def _same_line(query: Select[Any], branch: str | None, environment: str | None) -> Select[Any]:
    query = query.where(Build.branch.is_(None) if branch is None else Build.branch == branch)
    return query.where(
        TestRun.environment.is_(None) if environment is None else TestRun.environment == environment
    )


def window_run_ids(
    session: Session,
    *,
    project_id: int,
    branch: str | None,
    environment: str | None,
    upto_run_id: int,
    size: int,
) -> list[int]:
    """Ids of the last ``size`` runs of the same branch and environment up to this run, oldest first."""
    query = (
        select(TestRun.id)
        .join(Build, Build.id == TestRun.build_id)
        .where(Build.project_id == project_id, TestRun.id <= upto_run_id)
    )
    query = _same_line(query, branch, environment).order_by(TestRun.id.desc()).limit(size)
    return sorted(session.scalars(query).all())


def outcomes_for(
    session: Session, run_ids: Sequence[int], test_ids: Sequence[int]
) -> dict[int, list[Outcome]]:
    """Each test's outcomes in these runs, oldest first (one query, uses the (test, run) unique index)."""
    found: dict[int, list[Outcome]] = {test_id: [] for test_id in test_ids}
    if not run_ids or not test_ids:
        return found
    rows = session.execute(
        select(Result.test_id, Result.run_id, Result.status, Result.flaky)
        .where(Result.test_id.in_(test_ids), Result.run_id.in_(run_ids))
        .order_by(Result.run_id)
    ).all()
    for test_id, run_id, status, flaky in rows:
        found[test_id].append(Outcome(run_id, status, bool(flaky)))
    return found


def flaky_verdicts(
    session: Session, run_ids: Sequence[int], test_ids: Sequence[int], *, min_flips: int
) -> dict[int, FlakyVerdict]:
    return {
        test_id: score_outcomes(outcomes, min_flips=min_flips)
        for test_id, outcomes in outcomes_for(session, run_ids, test_ids).items()
    }


def unstable_test_ids(session: Session, run_ids: Sequence[int], *, limit: int) -> list[int]:
    """Tests that failed, or passed only on rerun, in at least one of these runs (flakiness candidates)."""
    if not run_ids:
        return []
    query = (
        select(Result.test_id)
        .where(Result.run_id.in_(run_ids), (Result.status.in_(_FAILED)) | (Result.flaky.is_(True)))
        .group_by(Result.test_id)
        .limit(limit)
    )
    return list(session.scalars(query).all())
