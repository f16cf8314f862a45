from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from evidencehub.results.identity import test_id, test_id_maker, test_key
from evidencehub.results.merge import merge_repeated
from evidencehub.results.parsers.base import ParsedCase
from evidencehub.results.seen import SeenFilter
from evidencehub.results.status import Status


def test_key_includes_module_only_when_known() -> None:
    assert test_key(None, "tests.api.TestJobs", "test_cancel") == "tests.api.TestJobs::test_cancel"
    assert (
        test_key("Gateway.Tests.dll", "Prism.RouteTests", "Resolves")
        == "Gateway.Tests.dll/Prism.RouteTests::Resolves"
    )
    assert test_key(None, None, "TestMain") == "TestMain"
    assert test_key("pkg/foo", None, "TestBar") == "pkg/foo::TestBar"


@given(st.integers(min_value=1, max_value=2**31), st.text(min_size=1))
def test_id_is_a_stable_signed_64_bit_value(project: int, key: str) -> None:
    first = test_id(project, key)
    assert first == test_id(project, key)
    assert -(2**63) <= first < 2**63


@given(st.integers(min_value=1, max_value=2**31), st.text(min_size=1))
def test_id_maker_gives_the_same_ids_as_test_id(project: int, key: str) -> None:
    assert test_id_maker(project)(key) == test_id(project, key)


def test_id_differs_between_projects_and_keys() -> None:
    assert test_id(1, "a::b") != test_id(2, "a::b")
    assert test_id(1, "a::b") != test_id(1, "a::c")


def test_seen_filter_reports_every_repeat() -> None:
    seen = SeenFilter()
    ids = [test_id(1, f"case-{number}") for number in range(20_000)]
    assert sum(seen.check_and_add(identity) for identity in ids) < 5  # rare false "maybe"
    assert all(seen.check_and_add(identity) for identity in ids)  # never a false "no"


def _case(status: Status, message: str | None = None) -> ParsedCase:
    return ParsedCase(name="t", classname="c", status=status, message=message, duration_ms=1.0)


def test_a_pass_never_hides_a_failed_report_but_marks_the_test_flaky() -> None:
    merged = merge_repeated(_case(Status.FAILED, "boom"), _case(Status.PASSED))
    assert merged.status is Status.FAILED
    assert merged.flaky is True
    assert merged.message == "boom"
    assert [(attempt.status, attempt.kind) for attempt in merged.attempts or []] == [(Status.PASSED, "flaky")]


def test_explicit_flaky_pass_from_the_parser_stays_a_pass() -> None:
    # Surefire's flakyFailure: the parser already produced a pass with flaky attempts.
    rerun_passed = _case(Status.PASSED)
    rerun_passed.flaky = True
    merged = merge_repeated(rerun_passed, _case(Status.PASSED))
    assert merged.status is Status.PASSED
    assert merged.flaky is True


def test_reruns_that_all_fail_count_as_the_worst() -> None:
    merged = merge_repeated(_case(Status.FAILED, "first"), _case(Status.ERROR, "second"))
    merged = merge_repeated(merged, _case(Status.FAILED, "third"))
    assert merged.status is Status.ERROR
    assert merged.message == "second"
    assert merged.flaky is False
    assert sorted(attempt.message or "" for attempt in merged.attempts or []) == ["first", "third"]


def test_multiple_result_elements_keep_the_most_severe() -> None:
    case = ParsedCase(name="t")
    case.add_result(Status.SKIPPED, message="skip")
    case.add_result(Status.ERROR, message="err")
    case.add_result(Status.FAILED, message="fail")
    assert case.status is Status.ERROR
    assert case.message == "err"
    assert sorted(attempt.message or "" for attempt in case.attempts or []) == ["fail", "skip"]


@given(st.lists(st.sampled_from(list(Status)), min_size=1, max_size=6))
def test_merge_keeps_every_report(statuses: list[Status]) -> None:
    cases = [_case(status, f"m{index}") for index, status in enumerate(statuses)]
    random.Random(0).shuffle(cases)
    merged = cases[0]
    for case in cases[1:]:
        merged = merge_repeated(merged, case)
    assert len(merged.attempts or []) == len(statuses) - 1
    order = ["passed", "skipped", "failed", "error"]
    assert merged.status is max(statuses, key=order.index)
    assert merged.flaky == (
        Status.PASSED in statuses and any(status in (Status.FAILED, Status.ERROR) for status in statuses)
    )
