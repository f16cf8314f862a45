"""Deciding a failure's category from what is known about it, and saying why.

Order (the first that applies wins):

1. a person's decision for the failure's cluster (a person's decision for the
   failure itself is never re-decided at all);
2. the user's rules;
3. history, when the closest decided failure is nearly the same
   (``history_override_similarity``): people's corrections beat generic knowledge;
4. the built-in rules;
5. history at the normal thresholds;
6. otherwise ``to_investigate``: nothing is hidden or guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from evidencehub.triage.categories import Category, Source
from evidencehub.triage.clusters import ClusterRef
from evidencehub.triage.flaky import FlakyVerdict
from evidencehub.triage.learning import HistoryMatch
from evidencehub.triage.rules import FailureFacts, RuleSet

USER_RULE_CONFIDENCE = 0.95
BUILTIN_RULE_CONFIDENCE = 0.8


@dataclass(frozen=True, slots=True)
class Decision:
    category: Category
    source: Source
    confidence: float
    explanation: str
    rule: str | None = None
    issue: str | None = None
    decided_by: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    user_rules: RuleSet
    builtin_rules: RuleSet
    history_override_similarity: float
    history_available: bool  # False when nobody decided any failure of the project yet


def _history_sentence(match: HistoryMatch, closest_test: str) -> str:
    closest = match.closest
    noun = "failure" if match.supporting_failures == 1 else "failures"
    same = " (same test)" if closest.same_test else ""
    sentence = (
        f"matched {match.supporting_failures} {noun} decided {match.category.value}"
        f" (agreement {match.agreement:.0%}); closest: {closest_test} in run {closest.run_id}{same},"
        f" similarity {closest.similarity:.2f}"
    )
    if match.issue:
        sentence += f"; bug {match.issue}"
    return sentence


def _from_history(match: HistoryMatch, closest_test: str) -> Decision:
    return Decision(
        category=match.category,
        source=Source.HISTORY,
        confidence=match.confidence,
        explanation=_history_sentence(match, closest_test),
        issue=match.issue,
    )


def _from_cluster(cluster: ClusterRef) -> Decision:
    assert cluster.category is not None
    when = f" on {cluster.decided_at:%Y-%m-%d}" if cluster.decided_at else ""
    who = f" by {cluster.decided_by}" if cluster.decided_by else ""
    explanation = f"cluster {cluster.key} decided {cluster.category}{who}{when}"
    if cluster.issue:
        explanation += f" ({cluster.issue})"
    if cluster.comment:
        explanation += f": {cluster.comment}"
    return Decision(
        category=Category(cluster.category),
        source=Source.HUMAN,
        confidence=1.0,
        explanation=explanation,
        issue=cluster.issue,
        decided_by=cluster.decided_by,
        comment=cluster.comment,
    )


def decide(
    facts: FailureFacts,
    *,
    cluster: ClusterRef,
    history: HistoryMatch | None,
    closest_test: str,
    policy: Policy,
) -> Decision:
    """The automatic decision for one failure (see the module docstring for the order)."""
    if cluster.category is not None:
        return _from_cluster(cluster)
    rule = policy.user_rules.first_match(facts)
    if rule is not None:
        return Decision(rule.category, Source.RULE, USER_RULE_CONFIDENCE, rule.explain(), rule=rule.name)
    if history is not None and history.closest.similarity >= policy.history_override_similarity:
        return _from_history(history, closest_test)
    rule = policy.builtin_rules.first_match(facts)
    if rule is not None:
        return Decision(rule.category, Source.RULE, BUILTIN_RULE_CONFIDENCE, rule.explain(), rule=rule.name)
    if history is not None:
        return _from_history(history, closest_test)
    reason = (
        "no decided failure is similar enough, or the similar ones disagree"
        if policy.history_available
        else "no failure of this project has been decided by a person yet"
    )
    return Decision(
        Category.TO_INVESTIGATE, Source.DEFAULT, 0.0, f"no rule matched and {reason}; needs a person to look"
    )


def flaky_note(verdict: FlakyVerdict, window: int) -> str:
    """The sentence added to a flaky failure's explanation."""
    return (
        f"flaky: {verdict.flips} pass/fail flips in the last {min(window, len(verdict.history))} runs"
        f" of this branch and environment (score {verdict.score:.2f});"
        " not counted as a product bug by default"
    )
