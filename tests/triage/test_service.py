"""Triage of stored runs: clusters across runs, decisions, re-triage, flags, scoping, queries."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError, NotFoundError
from evidencehub.orgs.service import get_organization
from evidencehub.triage.model import ErrorCluster, TriageDecision
from evidencehub.triage.service import (
    decide_cluster,
    decide_failure,
    decisions,
    flaky_tests,
    history_of_test,
    list_clusters,
    project_id_for,
    triage_report,
    triage_run,
)
from tests.triage.support import Case, RunSpec, add_run, by_name, result_ids


def _refused(name: str, port: int) -> Case:
    return Case(
        name,
        "error",
        failure_type="ConnectionRefusedError",
        message=f"[Errno 111] Connection refused: 10.1.2.{port % 250}:{port}",
    )


def _assertion(name: str, text: str) -> Case:
    return Case(name, "failed", failure_type="AssertionError", message=text)


def _report(database: Database, run_id: int, **options: object):  # type: ignore[no-untyped-def]
    with database.session() as session:
        return triage_report(session, run_id, **options)  # type: ignore[arg-type]


def test_same_error_gets_the_same_cluster_in_every_run(database: Database, settings: Settings) -> None:
    first = add_run(database, RunSpec("1", [_refused("test_a", 5432), _refused("test_b", 6379)]))
    second = add_run(database, RunSpec("2", [_refused("test_a", 5433), Case("test_b")]))
    triage_run(database, settings, first)
    triage_run(database, settings, second)
    one, two = _report(database, first), _report(database, second)
    assert len(one.clusters) == 1
    assert one.clusters[0].id == two.clusters[0].id
    assert one.clusters[0].new and not two.clusters[0].new
    assert one.failures[0].new and not two.failures[0].new
    cluster = two.clusters[0]
    assert (cluster.total_failures, cluster.tests_affected, cluster.failures, cluster.tests) == (3, 2, 1, 1)
    assert cluster.first_seen <= cluster.last_seen


def test_near_duplicate_messages_join_the_existing_cluster(database: Database, settings: Settings) -> None:
    first = add_run(
        database,
        RunSpec(
            "1", [_assertion("test_a", "report export failed for tenant acme: missing column created_by")]
        ),
    )
    second = add_run(
        database,
        RunSpec(
            "2", [_assertion("test_a", "report export failed for tenant acme: missing column created_by!")]
        ),
    )
    triage_run(database, settings, first)
    triage_run(database, settings, second)
    assert _report(database, first).clusters[0].id == _report(database, second).clusters[0].id
    different = add_run(
        database, RunSpec("3", [_assertion("test_a", "chart legend overlaps the axis labels")])
    )
    triage_run(database, settings, different)
    assert _report(database, different).clusters[0].id != _report(database, first).clusters[0].id


def test_generic_assertions_of_different_tests_are_not_lumped(database: Database, settings: Settings) -> None:
    cases = [
        Case(
            name,
            "failed",
            failure_type="junit.framework.AssertionFailedError",
            message=f"expected:<{number}> but was:<{number + 1}>",
            trace=f"junit.framework.AssertionFailedError\n"
            f"\tat org.acme.{name.title()}Test.{name}({name}.java:{number})",
        )
        for number, name in enumerate(["alpha", "beta"], start=10)
    ]
    run = add_run(database, RunSpec("1", cases))
    triage_run(database, settings, run)
    assert len(_report(database, run).clusters) == 2


def test_a_decided_failure_teaches_later_runs_and_copies_the_bug(
    database: Database, settings: Settings
) -> None:
    message = "job 812 still running 30 s after cancel of batch 41c2"
    first = add_run(database, RunSpec("1", [_assertion("test_cancel", message)]))
    triage_run(database, settings, first)
    assert _report(database, first).failures[0].category == "to_investigate"
    decision = decide_failure(
        database,
        settings,
        result_id=result_ids(database, first)["test_cancel"],
        category="product_bug",
        issue="#26",
        comment="cancel leaves jobs behind",
        actor="dana",
    )
    assert (decision.scope, decision.failures_updated, decision.actor) == ("failure", 1, "dana")
    decided = _report(database, first).failures[0]
    assert (decided.category, decided.source, decided.issue, decided.confidence) == (
        "product_bug",
        "human",
        "#26",
        1.0,
    )
    assert "dana" in decided.explanation

    second = add_run(
        database,
        RunSpec("2", [_assertion("test_cancel", "job 977 still running 30 s after cancel of batch 9e0c")]),
    )
    triage_run(database, settings, second)
    learned = _report(database, second).failures[0]
    assert (learned.category, learned.source, learned.issue) == ("product_bug", "history", "#26")
    assert "matched 1 failure decided product_bug" in learned.explanation
    assert f"closest: test_cancel in run {first}" in learned.explanation


def test_history_needs_similarity_and_agreement(database: Database, settings: Settings) -> None:
    first = add_run(
        database,
        RunSpec(
            "1",
            [
                _assertion("test_x", "widget throughput renders no series"),
                _assertion("test_y", "widget throughput renders no series at all"),
            ],
        ),
    )
    triage_run(database, settings, first)
    ids = result_ids(database, first)
    decide_failure(database, settings, result_id=ids["test_x"], category="product_bug", actor="a")
    decide_failure(database, settings, result_id=ids["test_y"], category="automation_bug", actor="b")
    second = add_run(
        database,
        RunSpec(
            "2",
            [
                _assertion("test_z", "widget throughput renders no series"),
                _assertion("test_w", "database schema lacks the audit table"),
            ],
        ),
    )
    triage_run(database, settings, second)
    failures = by_name(_report(database, second))
    # Two equally similar neighbours disagree: nobody guesses.
    assert failures["test_z"].category == "to_investigate"
    assert failures["test_w"].category == "to_investigate"
    settings.triage.agreement_threshold = 0.5
    triage_run(database, settings, second, retriage=True)
    assert by_name(_report(database, second))["test_z"].source == "history"


def test_cluster_decision_covers_the_cluster_now_and_later(database: Database, settings: Settings) -> None:
    first = add_run(
        database, RunSpec("1", [_refused("test_a", 1), _refused("test_b", 2), _refused("test_c", 3)])
    )
    triage_run(database, settings, first)
    report = _report(database, first)
    cluster = report.clusters[0]
    assert cluster.category == "system_issue" and cluster.status == "suggested by rule"
    # One failure decided by hand keeps its own decision when the cluster is decided.
    decide_failure(
        database, settings, result_id=by_name(report)["test_c"].id, category="automation_bug", actor="eve"
    )
    decision = decide_cluster(
        database,
        cluster_key=cluster.id,
        category="product_bug",
        issue="#31",
        comment="port never opened",
        actor="sam",
    )
    assert (decision.scope, decision.cluster, decision.failures_updated) == ("cluster", cluster.id, 2)
    failures = by_name(_report(database, first))
    assert failures["test_a"].category == failures["test_b"].category == "product_bug"
    assert failures["test_a"].source == "human" and "cluster" in failures["test_a"].explanation
    assert failures["test_c"].category == "automation_bug"
    assert _report(database, first).clusters[0].status == "confirmed"

    later = add_run(database, RunSpec("2", [_refused("test_d", 4)]))
    triage_run(database, settings, later)
    carried = _report(database, later).failures[0]
    assert (carried.category, carried.source, carried.issue) == ("product_bug", "human", "#31")
    assert "decided product_bug by sam" in carried.explanation and "port never opened" in carried.explanation

    with database.session() as session:
        project_id = project_id_for(session, "prism", None)
        history = decisions(session, project_id=project_id)
        assert [item.scope for item in history] == ["cluster", "failure"]
        assert session.scalar(select(func.count()).select_from(TriageDecision)) == 2


def test_human_decisions_survive_retriage(database: Database, settings: Settings) -> None:
    run = add_run(database, RunSpec("1", [_refused("test_a", 1), _assertion("test_b", "totals differ")]))
    triage_run(database, settings, run)
    ids = result_ids(database, run)
    decide_failure(
        database, settings, result_id=ids["test_a"], category="no_defect", actor="kim", comment="expected"
    )
    outcome = triage_run(database, settings, run)
    assert outcome.already_triaged and outcome.analysed == 0
    outcome = triage_run(database, settings, run, retriage=True)
    assert (outcome.analysed, outcome.kept_human) == (1, 1)
    failures = by_name(_report(database, run))
    assert (failures["test_a"].category, failures["test_a"].source) == ("no_defect", "human")
    assert failures["test_a"].comment == "expected"


def test_new_rules_apply_on_retriage(database: Database, settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = add_run(database, RunSpec("1", [_assertion("test_legacy_probe", "GET /v0 returned 410 Gone")]))
    triage_run(database, settings, run)
    assert _report(database, run).failures[0].category == "to_investigate"
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: retired\n    category: no_defect\n    description: retired endpoints answer 410\n"
        "    when: {message: '410 Gone', status: failed}\n",
        encoding="utf-8",
    )
    settings.triage.rules_files = [rules]
    triage_run(database, settings, run, retriage=True)
    failure = _report(database, run).failures[0]
    assert (failure.category, failure.source, failure.rule) == ("no_defect", "rule", "retired")
    assert (
        f"rule from {rules}" in failure.explanation and "retired endpoints answer 410" in failure.explanation
    )


def test_regressions_and_flaky_tests(database: Database, settings: Settings) -> None:
    outcomes = ["passed", "failed", "passed", "failed", "passed"]
    for number, status in enumerate(outcomes, start=1):
        cases = [Case("test_flip", status), Case("test_steady", "passed")]
        add_run(database, RunSpec(str(number), cases))
    last = add_run(
        database,
        RunSpec(
            "6", [_assertion("test_flip", "chart empty"), _assertion("test_steady", "sum is 41, expected 42")]
        ),
    )
    triage_run(database, settings, last)
    report = _report(database, last)
    failures = by_name(report)
    assert failures["test_flip"].flaky and failures["test_flip"].flaky_score == 1.0
    assert "flaky: 5 pass/fail flips" in failures["test_flip"].explanation
    assert not failures["test_steady"].flaky
    assert failures["test_steady"].regression and failures["test_flip"].regression
    assert report.summary.regressions == 2 and report.summary.flaky == 1

    with database.session() as session:
        project_id = project_id_for(session, "prism", None)
        ranked = flaky_tests(session, project_id=project_id, settings=settings.triage)
        assert [test.name for test in ranked] == ["test_flip"]
        assert [point.status for point in ranked[0].history] == [*outcomes, "failed"]
        points = history_of_test(session, test_id=failures["test_flip"].test_id, limit=3)
        assert [point.status for point in points] == ["failed", "passed", "failed"]
        assert points[-1].category == "to_investigate" and points[0].category is None


def test_other_branches_and_environments_do_not_count_for_flakiness(
    database: Database, settings: Settings
) -> None:
    for number, status in enumerate(["passed", "failed", "passed"], start=1):
        add_run(database, RunSpec(str(number), [Case("test_flip", status)], environment="perf"))
    last = add_run(database, RunSpec("4", [_assertion("test_flip", "chart empty")]))
    triage_run(database, settings, last)
    assert not _report(database, last).failures[0].flaky


def test_a_rerun_that_passed_makes_the_test_flaky_in_history(database: Database, settings: Settings) -> None:
    add_run(database, RunSpec("1", [Case("test_retry", "passed", flaky=True)]))
    add_run(database, RunSpec("2", [Case("test_retry", "passed")]))
    last = add_run(database, RunSpec("3", [_assertion("test_retry", "timeout waiting for chart")]))
    triage_run(database, settings, last)
    failure = _report(database, last).failures[0]
    assert failure.flaky  # one flip inside run 1, one from pass to fail


def test_summary_table_priorities(database: Database, settings: Settings) -> None:
    run = add_run(
        database,
        RunSpec(
            "1",
            [_refused(f"test_{index}", index) for index in range(3)]
            + [_assertion("test_sum", "sum 41 != 42")],
        ),
    )
    triage_run(database, settings, run)
    report = _report(database, run)
    rows = {cluster.category.value: cluster for cluster in report.clusters}
    assert rows["system_issue"].priority == "medium"  # 3 of 4 failures: widespread
    assert (
        rows["to_investigate"].priority == "medium" and rows["to_investigate"].status == "needs verification"
    )
    assert report.summary.by_category == {
        "product_bug": 0,
        "to_investigate": 1,
        "automation_bug": 0,
        "system_issue": 3,
        "no_defect": 0,
    }
    assert report.summary.by_source["rule"] == 3 and report.summary.by_source["default"] == 1
    assert report.failures[0].category.value == "to_investigate"  # what needs a person comes first


def test_json_shape_for_tools(database: Database, settings: Settings) -> None:
    run = add_run(database, RunSpec("1", [_refused("test_a", 1), Case("test_ok")]))
    triage_run(database, settings, run)
    data = _report(database, run).model_dump(mode="json")
    assert {"run", "failures", "clusters", "summary"} <= data.keys()
    assert data["run"] == run
    failure = data["failures"][0]
    for key in (
        "id",
        "classname",
        "name",
        "status",
        "category",
        "source",
        "confidence",
        "cluster",
        "issue",
        "explanation",
        "flaky",
        "new",
    ):
        assert key in failure
    assert failure["source"] in {"human", "rule", "history", "default"}
    assert len(data["failures"]) == 1  # passed results are not failures


def test_clusters_of_a_project_and_of_a_run(database: Database, settings: Settings) -> None:
    first = add_run(database, RunSpec("1", [_refused("test_a", 1), _assertion("test_b", "totals differ")]))
    second = add_run(database, RunSpec("2", [_refused("test_a", 2)]))
    triage_run(database, settings, first)
    triage_run(database, settings, second)
    with database.session() as session:
        project_id = project_id_for(session, "prism", None)
        everything = list_clusters(session, project_id=project_id)
        assert [cluster.failures for cluster in everything] == [2, 1]
        assert [cluster.failures for cluster in list_clusters(session, run_id=second)] == [1]
        with pytest.raises(InputError):
            list_clusters(session)


def test_organizations_are_kept_apart(database: Database, settings: Settings) -> None:
    theirs = add_run(database, RunSpec("1", [_refused("test_a", 1)], organization="other"))
    ours = add_run(database, RunSpec("1", [_refused("test_a", 1)]))
    triage_run(database, settings, theirs)
    triage_run(database, settings, ours)
    with database.session() as session:
        mine = get_organization(session, "default").id
        with pytest.raises(NotFoundError):
            triage_report(session, theirs, organization_id=mine)
        other_cluster = triage_report(session, theirs).clusters[0].id
        ids = result_ids(database, theirs)
    with pytest.raises(NotFoundError):
        triage_run(database, settings, theirs, organization_id=mine)
    with pytest.raises(NotFoundError):
        decide_failure(
            database,
            settings,
            result_id=ids["test_a"],
            category="product_bug",
            actor="x",
            organization_id=mine,
        )
    with pytest.raises(NotFoundError):
        decide_cluster(
            database, cluster_key=other_cluster, category="product_bug", actor="x", organization_id=mine
        )


def test_bad_decisions_are_refused_and_store_nothing(database: Database, settings: Settings) -> None:
    run = add_run(database, RunSpec("1", [_refused("test_a", 1), Case("test_ok")]))
    ids = result_ids(database, run)
    with pytest.raises(InputError, match="unknown category 'bug'"):
        decide_failure(database, settings, result_id=ids["test_a"], category="bug", actor="x")
    with pytest.raises(InputError, match="only failed results are triaged"):
        decide_failure(database, settings, result_id=ids["test_ok"], category="product_bug", actor="x")
    with pytest.raises(InputError, match="actor"):
        decide_failure(database, settings, result_id=ids["test_a"], category="product_bug", actor="  ")
    with pytest.raises(NotFoundError):
        decide_cluster(database, cluster_key="cdeadbeef", category="product_bug", actor="x")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(TriageDecision)) == 0
    # Deciding a failure of a run nobody triaged yet triages it first.
    decision = decide_failure(database, settings, result_id=ids["test_a"], category="system_issue", actor="x")
    assert decision.cluster is not None
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ErrorCluster)) == 1
