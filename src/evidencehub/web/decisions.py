"""A person's triage decision made on the web (the API or the run page): stored, audited and counted.

The triage service stores the decision and records its security event in one
transaction; here the caller's name, organization and origin are passed along
and the decision is counted in the metrics, the same way from every page and route.
"""

from __future__ import annotations

from dataclasses import dataclass

from evidencehub.auth.audit import EventOrigin
from evidencehub.auth.service import Principal
from evidencehub.ops.metrics import count_triage_decisions
from evidencehub.triage import service as triage
from evidencehub.triage.categories import Category, Source
from evidencehub.triage.schemas import DecisionOut
from evidencehub.web.deps import AppServices


@dataclass(frozen=True)
class Verdict:
    """What a person decided: the category, and optionally the bug it is and why."""

    category: Category | str
    issue: str | None = None
    comment: str | None = None


def decide_failure(
    app: AppServices,
    principal: Principal,
    origin: EventOrigin,
    result_id: int,
    verdict: Verdict,
) -> DecisionOut:
    """Decide one failure: never re-decided automatically, and later runs learn from it."""
    decision = triage.decide_failure(
        app.database,
        app.settings,
        result_id=result_id,
        category=verdict.category,
        actor=principal.name,
        issue=verdict.issue,
        comment=verdict.comment,
        organization_id=principal.organization_id,
        origin=origin,
    )
    count_triage_decisions({Source.HUMAN.value: 1})
    return decision


def decide_cluster(
    app: AppServices,
    principal: Principal,
    origin: EventOrigin,
    cluster_key: str,
    verdict: Verdict,
    *,
    project: str,
) -> DecisionOut:
    """Decide a cluster of the project: its failures now and later (not those decided one by one)."""
    decision = triage.decide_cluster(
        app.database,
        cluster_key=cluster_key,
        category=verdict.category,
        actor=principal.name,
        issue=verdict.issue,
        comment=verdict.comment,
        project=project,
        organization_id=principal.organization_id,
        origin=origin,
    )
    count_triage_decisions({Source.HUMAN.value: 1})
    return decision
