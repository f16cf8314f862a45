"""Hand-labelled failures of every category come out right, with a sensible explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.triage.categories import Category
from evidencehub.triage.service import decide_failure, triage_report, triage_run
from tests.triage.support import Case, RunSpec, add_run, by_name, result_ids

FIXTURE = Path(__file__).with_name("fixtures") / "labelled_failures.yaml"
CASE_FIELDS = ("name", "classname", "status", "failure_type", "message", "trace")


def _case(item: dict[str, Any]) -> Case:
    return Case(**{field: item.get(field) for field in CASE_FIELDS})


@pytest.fixture
def labelled() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return data


def test_the_fixture_covers_every_category(labelled: dict[str, Any]) -> None:
    assert {item["expect"] for item in labelled["cases"]} == {category.value for category in Category}


def test_every_labelled_failure_lands_in_its_category(
    database: Database, settings: Settings, labelled: dict[str, Any], tmp_path: Path
) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"rules": labelled["rules"]}), encoding="utf-8")
    settings.triage.rules_files = [rules_file]

    # An earlier run whose failures people decided.
    first = add_run(database, RunSpec("1", [_case(item) for item in labelled["history"]]))
    triage_run(database, settings, first)
    ids = result_ids(database, first)
    for item in labelled["history"]:
        decide_failure(
            database,
            settings,
            result_id=ids[item["name"]],
            category=item["category"],
            issue=item.get("issue"),
            actor="qa-architect",
        )
    # Runs in which the flaky test flipped.
    for number, status in enumerate(labelled["flaky_runs"], start=2):
        add_run(
            database, RunSpec(str(number), [Case(labelled["flaky_test"], status, "tests.ui.test_dashboard")])
        )

    current = add_run(database, RunSpec("9", [_case(item) for item in labelled["cases"]]))
    outcome = triage_run(database, settings, current)
    assert outcome.failures == outcome.analysed == len(labelled["cases"])

    with database.session() as session:
        report = triage_report(session, current)
    failures = by_name(report)
    wrong = []
    for item in labelled["cases"]:
        failure = failures[item["name"]]
        expected = (item["expect"], item["source"], item.get("issue"), item.get("flaky", False))
        found = (failure.category.value, failure.source.value, failure.issue, failure.flaky)
        if found != expected or item["explanation"] not in failure.explanation:
            wrong.append(
                f"{item['name']}: expected {expected} / '{item['explanation']}', got {found}: "
                f"{failure.explanation}"
            )
    assert not wrong, "\n".join(wrong)
    for failure in report.failures:
        assert failure.explanation, failure.name
        assert 0.0 <= failure.confidence <= 1.0
    # The flaky product bug is tagged and kept out of the product-bug total by default.
    assert report.summary.by_category["product_bug"] == 3
    assert report.summary.product_bugs == 2
    assert report.summary.flaky == 1
    with database.session() as session:
        counted = triage_report(session, current, count_flaky_as_product_bugs=True)
    assert counted.summary.product_bugs == 3
