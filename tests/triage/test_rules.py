"""Rule files: validation with clear errors, matching semantics, the built-in knowledge base."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidencehub.errors import ConfigError, InputError
from evidencehub.triage.categories import Category
from evidencehub.triage.normalize import normalize
from evidencehub.triage.rules import FailureFacts, builtin_rules, load_rule_file, parse_rules, user_rules


def facts(
    message: str = "",
    *,
    status: str = "error",
    failure_type: str = "",
    trace: str = "",
    test: str = "tests.api::test_x",
    flaky: bool = False,
) -> FailureFacts:
    signature = normalize(failure_type=failure_type, message=message, trace=trace)
    return FailureFacts(
        status=status,
        exception=signature.exception,
        failure_type=failure_type,
        message=message,
        trace=trace,
        test=test,
        flaky=flaky,
        raised_in_test_code=signature.raised_in_test_code,
    )


RULES = """
rules:
  - name: flaky-ui
    category: to_investigate
    when: {flaky: true, test: "tests\\\\.ui"}
  - name: broker
    category: system_issue
    description: the staging broker restarts during deploys
    when:
      status: error
      exception: ConnectionResetError
      text: "(?i)rabbitmq|amqp"
  - name: case-sensitive
    category: no_defect
    ignore_case: false
    when: {message: "KNOWN"}
"""


def test_conditions_must_all_hold_and_first_match_wins() -> None:
    rules = parse_rules(RULES, "rules.yaml")
    assert [rule.name for rule in rules.rules] == ["flaky-ui", "broker", "case-sensitive"]
    broker = facts("amqp channel closed", failure_type="ConnectionResetError")
    assert rules.first_match(broker).name == "broker"  # type: ignore[union-attr]
    assert (
        rules.first_match(facts("amqp channel closed", failure_type="ConnectionResetError", status="failed"))
        is None
    )
    assert rules.first_match(facts("http closed", failure_type="ConnectionResetError")) is None
    flaky_ui = facts("amqp", failure_type="ConnectionResetError", test="tests.ui::test_chart", flaky=True)
    assert rules.first_match(flaky_ui).name == "flaky-ui"  # type: ignore[union-attr]
    assert rules.first_match(facts("KNOWN issue")).category is Category.NO_DEFECT  # type: ignore[union-attr]
    assert rules.first_match(facts("known issue")) is None
    explained = rules.rules[1].explain()
    assert "rule from rules.yaml 'broker'" in explained and "restarts during deploys" in explained


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: [{name: a, category: bug, when: {message: x}}]", "rule 1 ('a'), field 'category'"),
        ("rules: [{name: a, category: product_bug, when: {}}]", "at least one condition"),
        ("rules: [{name: a, category: product_bug, when: {message: '(unclosed'}}]", "field 'when.message'"),
        ("rules: [{name: a, category: product_bug, when: {status: passed}}]", "unknown status"),
        ("rules: [{name: a, category: product_bug, when: {colour: red}}]", "when.colour"),
        (
            "rules: [{name: a, category: product_bug, when: {message: x}},"
            " {name: a, category: no_defect, when: {message: y}}]",
            "used twice",
        ),
        ("rules: [{category: product_bug, when: {message: x}}]", "field 'name'"),
        ("rules:\n  - name: a\n   category: x\n", "line 3"),
        ("just text", "expected a mapping"),
    ],
)
def test_invalid_rule_files_are_refused_with_the_place(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "team-rules.yaml")
    assert "team-rules.yaml" in caught.value.message
    assert problem in caught.value.message


def test_rule_files_are_read_and_reread_when_changed(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules: [{name: one, category: no_defect, when: {message: a}}]", encoding="utf-8")
    assert [rule.name for rule in user_rules([path]).rules] == ["one"]
    path.write_text(
        "- {name: two, category: no_defect, when: {message: a}}\n"
        "- {name: three, category: no_defect, when: {message: b}}",
        encoding="utf-8",
    )
    assert [rule.name for rule in user_rules([path]).rules] == ["two", "three"]
    with pytest.raises(ConfigError, match=r"triage\.rules_files"):
        user_rules([tmp_path / "missing.yaml"])
    with pytest.raises(InputError, match="cannot read rule file"):
        load_rule_file(tmp_path)


BUILTIN_CASES = [
    ("connection-refused", facts("dial tcp 10.0.0.5:5432: connect: connection refused")),
    ("connection-reset", facts("[Errno 104] Connection reset by peer", failure_type="ConnectionResetError")),
    ("dns-failure", facts("getaddrinfo ENOTFOUND api.staging.internal")),
    ("tls-failure", facts("PKIX path building failed: unable to find valid certification path")),
    ("gateway-error", facts("502 Bad Gateway from nginx")),
    ("database-unreachable", facts("FATAL: the database system is starting up")),
    ("broker-unreachable", facts("pika.exceptions.AMQPConnectionError")),
    ("cache-unreachable", facts("redis.exceptions.ConnectionError: Error 111 connecting to cache:6379.")),
    ("kubernetes-unavailable", facts("0/3 nodes are available: 3 Insufficient cpu.")),
    ("out-of-memory", facts("", failure_type="MemoryError")),
    ("disk-full", facts("write failed: No space left on device")),
    ("timeout", facts("", failure_type="requests.exceptions.ConnectTimeout")),
    ("registry-pull-rate-limit", facts("toomanyrequests: You have reached your pull rate limit.")),
    ("client-ignored-rate-limit", facts("429 Client Error: Too Many Requests for url")),
    ("missing-test-environment", facts("environment 'qa-3' not found")),
    ("missing-test-configuration", facts("missing required setting PRISM_API_TOKEN")),
    ("missing-environment-variable", facts("'PRISM_API_URL'", failure_type="KeyError")),
    ("import-error-in-test-code", facts("No module named 'helpers'", failure_type="ModuleNotFoundError")),
    ("error-in-setup-or-fixture", facts("ERROR at setup of test_export: fixture 'db' not found")),
    (
        "test-sent-unexpected-fields",
        facts('Unrecognized field "chartType" (class ViewRequest), not marked as ignorable'),
    ),
]


@pytest.mark.parametrize(("expected", "failure"), BUILTIN_CASES, ids=[name for name, _ in BUILTIN_CASES])
def test_builtin_knowledge_base(expected: str, failure: FailureFacts) -> None:
    rule = builtin_rules().first_match(failure)
    assert rule is not None and rule.name == expected


@pytest.mark.parametrize(
    "failure",
    [
        facts("expected 1.953 Hz, got 3.891 Hz", failure_type="AssertionError", status="failed"),
        facts("'acquisition_metadata'", failure_type="KeyError", status="failed"),
        facts(
            "'NoneType' object has no attribute 'id'",
            failure_type="AttributeError",
            trace='Traceback (most recent call last):\n  File "/srv/prism/prism/jobs.py", line 4, in run\n'
            "AttributeError: x",
        ),
    ],
)
def test_product_looking_failures_match_no_builtin_rule(failure: FailureFacts) -> None:
    assert builtin_rules().first_match(failure) is None


def test_builtin_rules_cover_every_category_they_may_decide() -> None:
    categories = {rule.category for rule in builtin_rules().rules}
    assert categories == {Category.SYSTEM_ISSUE, Category.AUTOMATION_BUG}
    assert all(rule.description for rule in builtin_rules().rules)
