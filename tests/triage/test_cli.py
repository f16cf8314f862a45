"""The triage commands, run through the real CLI."""

from __future__ import annotations

from pathlib import Path

from evidencehub.db.session import Database
from tests.support.cli import CliRunner
from tests.triage.support import Case, RunSpec, add_run, result_ids

HOSTILE = "<script>alert('x')</script> totals differ"


def _run(database: Database, build: str = "1") -> int:
    return add_run(
        database,
        RunSpec(
            build,
            [
                Case(
                    "test_publish",
                    "error",
                    failure_type="ConnectionResetError",
                    message="Connection reset by peer",
                ),
                Case("test_totals", "failed", failure_type="AssertionError", message=HOSTILE),
                Case("test_ok"),
            ],
        ),
    )


def test_triage_run_table(database: Database, cli: CliRunner) -> None:
    run = _run(database)
    result = cli("triage", run)
    assert result.exit_code == 0, result.stderr
    assert "2 failures in 2 unique errors (2 new)" in result.stdout
    assert "summary" in result.stdout and "needs verification" in result.stdout
    assert "connection-reset" in result.stdout
    assert "System issues" in result.stdout and "To investigate" in result.stdout
    again = cli("triage", "show", run, "--retriage")
    assert again.exit_code == 0 and "2 failures" in again.stdout


def test_triage_json_markdown_html(database: Database, cli: CliRunner, tmp_path: Path) -> None:
    run = _run(database)
    data = cli("triage", run, "--format", "json").json()
    assert data["run"] == run
    assert {failure["category"] for failure in data["failures"]} == {"system_issue", "to_investigate"}
    assert data["summary"]["failures"] == 2 and len(data["clusters"]) == 2

    markdown = cli("triage", run, "--format", "markdown").stdout
    assert markdown.startswith(f"# Triage of run {run}")
    assert "| cluster | error | category | priority | status | bug |" in markdown
    assert "## System issues" in markdown

    page = tmp_path / "triage.html"
    result = cli("triage", run, "--format", "html", "--output", page)
    assert result.exit_code == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html  # self-contained


def test_decide_a_failure_and_a_cluster(database: Database, cli: CliRunner) -> None:
    run = _run(database)
    ids = result_ids(database, run)
    result = cli(
        "triage", "decide", "--failure", ids["test_totals"], "--category", "product_bug",
        "--issue", "#26", "--comment", "totals off by one", "--by", "dana", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    decision = result.json()
    assert (decision["scope"], decision["category"], decision["issue"], decision["actor"]) == (
        "failure", "product_bug", "#26", "dana",
    )  # fmt: skip
    data = cli("triage", run, "--format", "json").json()
    totals = next(failure for failure in data["failures"] if failure["name"] == "test_totals")
    assert (totals["source"], totals["issue"]) == ("human", "#26")

    cluster = next(failure["cluster"] for failure in data["failures"] if failure["name"] == "test_publish")
    result = cli("triage", "decide", "--cluster", cluster, "--category", "system-issue", "--by", "sam")
    assert result.exit_code == 0, result.stderr
    assert f"cluster {cluster}: system_issue decided by sam; 1 failure(s) updated" in result.stdout

    later = _run(database, "2")
    data = cli("triage", later, "--format", "json").json()
    by_test = {failure["name"]: failure for failure in data["failures"]}
    assert (by_test["test_publish"]["source"], by_test["test_publish"]["category"]) == (
        "human",
        "system_issue",
    )
    assert (by_test["test_totals"]["source"], by_test["test_totals"]["issue"]) == ("history", "#26")


def test_usage_errors(database: Database, cli: CliRunner) -> None:
    run = _run(database)
    assert cli("triage", "decide", "--category", "product_bug").exit_code == 2
    both = cli("triage", "decide", "--failure", "1", "--cluster", "c1", "--category", "product_bug")
    assert both.exit_code == 2 and "exactly one" in both.stderr
    assert cli("triage", run, "--format", "pdf").exit_code == 2
    missing = cli("triage", 9999)
    assert missing.exit_code == 4 and "run 9999 does not exist" in missing.stderr
    wrong = cli(
        "triage", "decide", "--failure", result_ids(database, run)["test_totals"], "--category", "bug"
    )
    assert wrong.exit_code == 2 and "unknown category" in wrong.stderr


def test_rules_check(cli: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "rules:\n  - name: broker\n    category: system_issue\n    description: staging broker restarts\n"
        "    when: {text: 'AMQP'}\n",
        encoding="utf-8",
    )
    result = cli("triage", "rules", "check", good)
    assert result.exit_code == 0 and "1 rule(s), valid" in result.stdout and "broker" in result.stdout
    assert cli("triage", "rules", "check", good, "--json").json()["rules"][0]["category"] == "system_issue"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - name: broken\n    category: system_issue\n    when: {message: '(x'}\n", encoding="utf-8"
    )
    result = cli("triage", "rules", "check", bad)
    assert result.exit_code == 3
    assert "rule 1 ('broken'), field 'when.message'" in result.stderr


def test_clusters_and_flaky_commands(database: Database, cli: CliRunner) -> None:
    for number, status in enumerate(["passed", "failed", "passed"], start=1):
        add_run(database, RunSpec(str(number), [Case("test_flip", status)]))
    run = add_run(
        database, RunSpec("4", [Case("test_flip", "failed", failure_type="AssertionError", message="empty")])
    )
    assert cli("triage", run, "--format", "json").exit_code == 0
    clusters = cli("triage", "clusters", "--project", "prism", "--json").json()
    assert len(clusters) == 1 and clusters[0]["failures"] == 1
    assert "clusters" in cli("triage", "clusters", "--run", run).stdout
    flaky = cli("triage", "flaky", "--project", "prism")
    assert flaky.exit_code == 0 and "prism" not in flaky.stderr
    assert "tests.suite::test_flip" in flaky.stdout and "✓✗✓✗" in flaky.stdout
    assert cli("triage", "flaky", "--project", "nope").exit_code == 4
