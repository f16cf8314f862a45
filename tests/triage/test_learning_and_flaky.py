"""The learned index (votes, thresholds, same-test boost, corrections) and flaky scores, no database."""

from __future__ import annotations

from evidencehub.triage.categories import Category
from evidencehub.triage.flaky import Outcome, score_outcomes
from evidencehub.triage.learning import DecidedFailure, IndexCache, LearnedIndex, MatchParameters

PARAMETERS = MatchParameters(
    similarity_threshold=0.5, agreement_threshold=0.7, neighbours=5, same_test_boost=0.1
)


def decided(document: str, category: Category, test_id: int = 1, issue: str | None = None) -> DecidedFailure:
    return DecidedFailure(document, category, issue, result_id=test_id * 10, run_id=3, test_id=test_id)


def test_empty_history_builds_no_index() -> None:
    assert LearnedIndex.build([]) is None


def test_identical_failures_are_one_document_and_latest_decision_wins() -> None:
    index = LearnedIndex.build(
        [
            decided("ConnectionError broker down", Category.SYSTEM_ISSUE),
            decided("ConnectionError broker down", Category.SYSTEM_ISSUE, test_id=2),
            decided("ConnectionError broker down", Category.PRODUCT_BUG, test_id=3, issue="#12"),
            decided("chart legend overlaps axis", Category.PRODUCT_BUG, test_id=4),
        ]
    )
    assert index is not None
    assert (index.documents, index.decided_failures) == (2, 4)
    match = index.match(["ConnectionError broker down"], [99], PARAMETERS)[0]
    assert match is not None
    assert (match.category, match.issue, match.supporting_failures) == (Category.PRODUCT_BUG, "#12", 3)
    assert match.closest.similarity > 0.99 and not match.closest.same_test


def test_same_test_decision_is_preferred_and_boosted() -> None:
    index = LearnedIndex.build(
        [
            decided("AssertionError totals differ for region north", Category.PRODUCT_BUG, test_id=1),
            decided("AssertionError totals differ for region north", Category.AUTOMATION_BUG, test_id=2),
        ]
    )
    assert index is not None
    for test_id, expected in ((1, Category.PRODUCT_BUG), (2, Category.AUTOMATION_BUG)):
        match = index.match(["AssertionError totals differ for region north"], [test_id], PARAMETERS)[0]
        assert match is not None and match.category is expected and match.closest.same_test


def test_dissimilar_or_disputed_failures_get_no_verdict() -> None:
    index = LearnedIndex.build(
        [
            decided("widget throughput renders no series", Category.PRODUCT_BUG, test_id=1),
            decided("widget throughput renders no series today", Category.AUTOMATION_BUG, test_id=2),
            decided("disk quota reached on runner", Category.SYSTEM_ISSUE, test_id=3),
        ]
    )
    assert index is not None
    verdicts = index.match(
        ["widget throughput renders no series", "expected frequency resolution 1.953 Hz"], [7, 8], PARAMETERS
    )
    assert verdicts == [None, None]


def test_long_queries_can_be_cut_to_their_heaviest_terms() -> None:
    document = "ConnectionResetError pika channel closed by broker rabbitmq staging node restarted"
    index = LearnedIndex.build(
        [
            decided(document, Category.SYSTEM_ISSUE),
            decided("chart legend overlaps axis", Category.PRODUCT_BUG, 2),
        ]
    )
    assert index is not None
    short = MatchParameters(similarity_threshold=0.5, agreement_threshold=0.7, max_query_terms=16)
    match = index.match([document], [9], short)[0]
    assert match is not None and match.category is Category.SYSTEM_ISSUE
    assert 0.5 <= match.closest.similarity <= 1.0


def test_index_cache_versions_and_capacity() -> None:
    cache = IndexCache(capacity=1)
    index = LearnedIndex.build([decided("a b c", Category.NO_DEFECT)])
    cache.put("p1", (1, 1), index)
    assert cache.get("p1", (1, 1)) == (True, index)
    assert cache.get("p1", (2, 1)) == (False, None)
    cache.put("p2", (1, 1), None)
    assert cache.get("p1", (1, 1)) == (False, None)  # evicted
    cache.invalidate("p2")
    assert cache.get("p2", (1, 1)) == (False, None)


def _outcomes(statuses: str) -> list[Outcome]:
    names = {
        "P": ("passed", False),
        "F": ("failed", False),
        "E": ("error", False),
        "S": ("skipped", False),
        "~": ("passed", True),
    }
    return [Outcome(run, *names[mark]) for run, mark in enumerate(statuses, start=1)]


def test_flaky_scores() -> None:
    alternating = score_outcomes(_outcomes("PFPFPF"), min_flips=2)
    assert (alternating.flips, alternating.score, alternating.flaky) == (5, 1.0, True)
    broken = score_outcomes(_outcomes("PPPPPF"), min_flips=2)
    assert (broken.flips, broken.flaky) == (1, False)
    always = score_outcomes(_outcomes("FFFF"), min_flips=2)
    assert (always.flips, always.score, always.flaky) == (0, 0.0, False)
    skipped = score_outcomes(_outcomes("PSSSF"), min_flips=2)
    assert (skipped.observed, skipped.flips) == (2, 1)
    rerun = score_outcomes(_outcomes("~PF"), min_flips=2)
    assert (rerun.flips, rerun.flaky) == (2, True)
    assert score_outcomes(_outcomes("PEP"), min_flips=2).flaky  # errors count as failures
