"""A run ingested from JUnit, published with the CLI, read back from the Xray emulator (Server and Cloud)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from evidencehub.publish import service as publish
from tests.support.cli import CliRunner
from tests.support.runs import cases, store_run
from tests.support.xray import only_execution, seed

# Command-line behaviour, not the database: one backend is enough here (crash/resume covers both).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def junit_report(path: Path, xray_key: str) -> Path:
    path.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="checkout" timestamp="2026-11-01T10:00:00">
  <testcase classname="shop.CheckoutTest" name="test_pays" time="0.5"/>
  <testcase classname="shop.CheckoutTest" name="test_refunds" time="0.2">
    <failure message="expected 10 got 9" type="AssertionError">Traceback: refunds off by one</failure>
    <system-out>paying 10\nrefunded 9</system-out>
  </testcase>
  <testcase classname="shop.CheckoutTest" name="test_vouchers" time="0.1">
    <skipped message="no vouchers"/>
  </testcase>
  <testcase classname="shop.CartTest" name="test_broken" time="0.1">
    <error message="boom" type="KeyError">KeyError: 'x'</error>
  </testcase>
  <testcase classname="shop.CartTest" name="test_marked" time="0.3">
    <properties><property name="test_key" value="{xray_key}"/></properties>
  </testcase>
</testsuite></testsuites>
""",
        encoding="utf-8",
    )
    return path


def ingest(cli: CliRunner, report: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDENCEHUB_TRIAGE__AUTO_ON_INGEST", "false")  # triage is not what is tested here
    done = cli("ingest", str(report), "--project", "shop", "--build", "7", "--json")
    assert done.exit_code == 0, done.stderr


EXPECTED_SERVER = {
    "shop.CheckoutTest.test_pays": "PASS",
    "shop.CheckoutTest.test_refunds": "FAIL",
    "shop.CheckoutTest.test_vouchers": "TODO",
    "shop.CartTest.test_broken": "FAIL",
}


@sqlite_only
@pytest.mark.parametrize("flavour", ["server", "cloud"])
def test_an_ingested_junit_run_becomes_a_test_execution(
    flavour: str,
    request: pytest.FixtureRequest,
    database: Database,
    cli: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator: RunningXrayEmulator = request.getfixturevalue(
        "xray_cloud" if flavour == "cloud" else "xray_server"
    )
    request.getfixturevalue(  # settings pointing at that emulator
        "xray_cloud_settings" if flavour == "cloud" else "xray_settings"
    )
    marked = seed(emulator, "SHOP", summary="cart keeps items")
    plan = seed(emulator, "SHOP", "Test Plan", summary="release 7")
    ingest(cli, junit_report(tmp_path / "report.xml", marked), monkeypatch)

    published = cli(
        "publish", "xray", "--build", "7", "--project", "shop", "--project-key", "SHOP",
        "--test-plan", plan, "--environment", "staging", "--revision", "abc123", "--fix-version", "7.0",
        "--json",
    )  # fmt: skip
    assert published.exit_code == 0, published.stderr
    job = published.json()
    assert job["state"] == "succeeded"

    execution = only_execution(emulator)
    assert job["test_execution"] == execution["key"]
    info = execution["info"]
    assert (info["project"], info["testPlanKey"], info["testEnvironments"]) == ("SHOP", plan, ["staging"])
    assert (info["revision"], info["version"], info["summary"]) == ("abc123", "7.0", "shop build 7")
    runs = {run["definition"] or run["test_key"]: run for run in execution["runs"]}
    words = {"PASS": "PASSED", "FAIL": "FAILED", "TODO": "TODO"} if flavour == "cloud" else None
    expected = {name: words[status] if words else status for name, status in EXPECTED_SERVER.items()}
    expected[marked] = "PASSED" if flavour == "cloud" else "PASS"
    assert {name: run["status"] for name, run in runs.items()} == expected
    assert runs[marked]["test_key"] == marked  # linked to the existing test, not a new Generic one
    refunds = runs["shop.CheckoutTest.test_refunds"]
    assert "expected 10 got 9" in refunds["comment"]
    assert sorted(refunds["evidence"]) == ["stdout.txt", "trace.txt"]
    assert runs["shop.CheckoutTest.test_pays"]["evidence"] == []
    assert all(run["writes"] == 1 for run in runs.values())
    assert publish.get_job(database, job["id"]).slices_done == 1


@sqlite_only
def test_publishing_the_same_build_again_reuses_the_generic_tests(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator, cli: CliRunner
) -> None:
    store_run(database, cases(25, failing_every=5), project="shop", build="8")
    for _ in range(2):
        done = cli("publish", "xray", "--build", "8", "--project", "shop", "--project-key", "SHOP", "--json")
        assert done.exit_code == 0, done.stderr
        assert done.json()["slices_total"] == 3  # 25 tests in slices of 10
        job_id = done.json()["id"]
    counters = xray_server.counters()
    assert (counters["executions"], counters["tests"], counters["tests_created"]) == (2, 25, 25)
    tasks = cli("xray", "tasks", job_id, "--json").json()
    assert [item["status"] for item in tasks["slices"]] == ["success"] * 3
    assert tasks["log_path"].endswith(f"xray_task_logs/{job_id}.json")
    shown = cli("xray", "tasks", job_id)
    assert "xray upload tasks" in shown.stdout and tasks["slices"][0]["remote_task_id"] in shown.stdout
    listed = cli("xray", "jobs")
    assert job_id in listed.stdout and "succeeded" in listed.stdout


@sqlite_only
def test_wrong_credentials_fail_with_a_clear_message_and_no_secret(
    database: Database,
    xray_settings: Settings,
    xray_server: RunningXrayEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = store_run(database, cases(3), project="shop")
    monkeypatch.setenv("EVIDENCEHUB_XRAY__PASSWORD", "wrong-password-123")
    done = cli("publish", "xray", "--run", str(run_id), "--project-key", "SHOP")
    assert done.exit_code == 8  # AuthenticationError
    output = done.stdout + done.stderr
    assert "ci-bot" in output and "401" in output
    assert "wrong-password-123" not in output
    assert xray_server.counters()["executions"] == 0


@sqlite_only
def test_wrong_cloud_secret_names_the_client_id_only(
    database: Database,
    xray_cloud_settings: Settings,
    xray_cloud: RunningXrayEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = store_run(database, cases(3), project="shop")
    monkeypatch.setenv("EVIDENCEHUB_XRAY__CLIENT_SECRET", "wrong-secret-456")
    done = cli("publish", "xray", "--run", str(run_id), "--project-key", "SHOP")
    assert done.exit_code == 8
    output = done.stdout + done.stderr
    assert "Xray Cloud authentication failed" in output and "0AB1C2D3E4" in output
    assert "wrong-secret-456" not in output


@sqlite_only
def test_a_refused_import_fails_its_slice_with_xrays_message(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator, cli: CliRunner
) -> None:
    run_id = store_run(database, cases(3), project="shop")
    store_props = json.dumps({"test_key": "SHOP-999"})
    with database.session() as session:
        from evidencehub.results.model import Result

        first = session.query(Result).filter_by(run_id=run_id).order_by(Result.id).first()
        assert first is not None
        first.properties = json.loads(store_props)
    done = cli("publish", "xray", "--run", str(run_id), "--project-key", "SHOP", "--json")
    assert done.exit_code == 6
    job = done.json()
    assert job["state"] == "failed"
    detail = publish.job_detail(database, xray_settings, job["id"])
    assert "Test with key 'SHOP-999' was not found" in (detail.slices[0].last_error or "")
    assert only_execution(xray_server)["runs"] == []  # nothing of the refused import landed


@sqlite_only
def test_an_unknown_test_plan_is_refused_before_any_slice(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator, cli: CliRunner
) -> None:
    run_id = store_run(database, cases(3), project="shop")
    done = cli("publish", "xray", "--run", str(run_id), "--project-key", "SHOP", "--test-plan", "SHOP-404")
    assert done.exit_code == 6
    assert "Test Plan with key 'SHOP-404' was not found" in done.stdout + done.stderr
    assert xray_server.counters().get("imports", 0) == 0


@sqlite_only
def test_bad_parameters_are_refused_naming_them(
    database: Database, xray_settings: Settings, cli: CliRunner
) -> None:
    run_id = store_run(database, cases(1), project="shop")
    done = cli("publish", "xray", "--run", str(run_id), "--project-key", "shop lower")
    assert done.exit_code == 2
    assert "not a Jira project key" in done.stdout + done.stderr
    done = cli("publish", "xray", "--run", str(run_id), "--project-key", "SHOP", "--environment", "two words")
    assert done.exit_code == 2
    assert "one word" in done.stdout + done.stderr


def test_evidence_is_base64_text() -> None:
    from evidencehub.publish.targets.xray.converter import _evidence

    item = _evidence("trace.txt", "x" * 100, 40)
    assert item is not None
    data = base64.b64decode(item["data"])
    assert len(data) <= 40 + 60 and b"cut by evidencehub" in data
