"""The Octane commands end to end: publish, tasks, jobs, link/delink, check, dry runs, emulate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.emulators.octane.runner import RunningEmulator
from evidencehub.publish.targets.octane import xsd
from tests.support.cli import CliRunner
from tests.support.octane import CLIENT_ID, CLIENT_SECRET, assert_exactly
from tests.support.runs import cases, store_run

# Command-line behaviour, not the database: one backend is enough (tests/publish covers both).
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def new_story(emulator: RunningEmulator, name: str = "Checkout regression") -> str:
    story_id: str = emulator.control("POST", "entities/stories", json={"data": [{"name": name}]}).json()[
        "data"
    ][0]["id"]
    return story_id


def test_publish_then_inspect_the_tasks(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator, cli: CliRunner
) -> None:
    run_id = store_run(database, cases(25, failing_every=5), build="77")
    published = cli("publish", "octane", "--build", "77", "--project", "prism", "--json")
    assert published.exit_code == 0, published.stderr
    job = published.json()
    assert (job["state"], job["run_ids"], job["slices_total"]) == ("succeeded", [run_id], 3)
    assert_exactly(octane_emulator, {case.name for case in cases(25)})

    tab = cli("octane", "tasks", job["id"], "--json").json()
    assert [item["status"] for item in tab["slices"]] == ["success"] * 3
    assert tab["log_path"].endswith(f"octane_task_logs/{job['id']}.json")
    shown = cli("octane", "tasks", job["id"])
    assert shown.exit_code == 0
    assert "octane upload tasks" in shown.stdout
    for item in tab["slices"]:
        assert item["remote_task_id"] in shown.stdout
    listed = cli("octane", "jobs")
    assert job["id"] in listed.stdout
    assert "succeeded" in listed.stdout


def test_link_and_delink_are_idempotent_and_say_what_they_did(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator, cli: CliRunner
) -> None:
    store_run(database, cases(12))
    job = cli("publish", "octane", "--run", "1", "--json").json()
    story = new_story(octane_emulator)

    linked = cli("octane", "link", "--backlog", story, "--job", job["id"])
    assert linked.exit_code == 0
    assert f"linked story {story} (Checkout regression) to 12 test(s); 0 already covered it" in linked.stdout
    again = cli("octane", "link", "--backlog", story, "--job", job["id"], "--json").json()
    assert (again["changed"], again["unchanged"]) == (0, 12)

    delinked = cli("octane", "delink", "--backlog", story, "--job", job["id"])
    assert "delinked story" in delinked.stdout
    assert "from 12 test(s)" in delinked.stdout
    nothing = cli("octane", "delink", "--backlog", story, "--job", job["id"])
    assert nothing.exit_code == 0
    assert "was not linked to any of the 12 test(s) found: nothing to delink" in nothing.stderr
    tests = octane_emulator.state.store.kinds["tests"].values()
    assert all(test["covered_content"]["total_count"] == 0 for test in tests)


@sqlite_only
def test_wrong_backlog_ids_are_clear_errors(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator, cli: CliRunner
) -> None:
    store_run(database, cases(3))
    job = cli("publish", "octane", "--run", "1", "--json").json()
    missing = cli("octane", "link", "--backlog", "4242", "--job", job["id"])
    assert missing.exit_code == 4
    assert "backlog item 4242 does not exist" in missing.stderr
    release_id = next(iter(octane_emulator.state.store.kinds["releases"]))
    not_backlog = cli("octane", "delink", "--backlog", release_id, "--job", job["id"])
    assert not_backlog.exit_code == 4  # a release is not a work item at all
    epic = octane_emulator.control("POST", "entities/epics", json={"data": [{"name": "Big"}]}).json()["data"][
        0
    ]["id"]
    wrong_type = cli("octane", "link", "--backlog", epic, "--job", job["id"])
    assert wrong_type.exit_code == 2
    assert "is a epic; tests cover stories, features and defects" in wrong_type.stderr
    unknown_job = cli("octane", "link", "--backlog", "1", "--job", "nope")
    assert unknown_job.exit_code == 4


@sqlite_only
def test_a_dry_run_writes_valid_payloads_and_sends_nothing(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
    tmp_path: Path,
) -> None:
    store_run(database, cases(15))
    result = cli("publish", "octane", "--run", "1", "--dry-run", "--out", str(tmp_path / "payload.xml"))
    assert result.exit_code == 0, result.stderr
    files = sorted(tmp_path.glob("payload.*.xml"))
    assert [path.name for path in files] == ["payload.001.xml", "payload.002.xml"]
    for path in files:
        assert xsd.schema_errors(xsd.parse(path.read_bytes())) == []
    assert octane_emulator.counters()["api_requests"] == 0


@sqlite_only
def test_a_failed_job_exits_6_and_says_how_to_resume(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVIDENCEHUB_OCTANE__TEST_FIELDS", '{"Framework": ""}')
    store_run(database, cases(5))
    result = cli("publish", "octane", "--run", "1")
    assert result.exit_code == 6
    assert "failed" in result.stdout
    assert re.search(r"resume with: evidencehub publish --resume octane-prism-1042-\S+", result.stdout)


@sqlite_only
def test_bad_requests_are_usage_errors(database: Database, octane_settings: Settings, cli: CliRunner) -> None:
    store_run(database, cases(2))
    assert cli("publish", "octane", "--run", "1", "--build", "1042").exit_code == 2
    assert cli("publish", "octane").exit_code == 2
    assert cli("publish", "octane", "--build", "1042").exit_code == 2  # needs --project
    assert cli("publish", "octane", "--run", "1", "--dry-run").exit_code == 2  # needs --out
    assert cli("publish", "--resume", "no-such-job").exit_code == 4
    assert cli("publish", "octane", "--run", "99").exit_code == 4


@sqlite_only
def test_check_walks_the_runbook_checklist(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = cli("octane", "check", "--json")
    assert result.exit_code == 0, result.stdout
    verdicts = {item["name"]: item["verdict"] for item in result.json()}
    assert verdicts == {
        "configuration": "ok",
        "tls": "ok",
        "credentials": "ok",
        "sign_in": "ok",
        "workspace": "ok",
        "xsd": "ok",
        "modules": "ok",
        "queue": "ok",
    }
    octane_emulator.control(
        "POST", "entities/product_areas", json={"data": [{"name": "Second root", "parent": None}]}
    )
    duplicates = {item["name"]: item for item in cli("octane", "check", "--json").json()}
    assert duplicates["modules"]["verdict"] == "warn"
    assert "Duplicate root application modules found" in duplicates["modules"]["detail"]

    monkeypatch.setenv("EVIDENCEHUB_OCTANE__CLIENT_SECRET", "wrong")
    refused = cli("octane", "check")
    assert refused.exit_code == 1
    assert "sign_in" in refused.stdout
    assert "rejected" in refused.stdout

    monkeypatch.delenv("EVIDENCEHUB_OCTANE__CLIENT_ID")
    monkeypatch.delenv("EVIDENCEHUB_OCTANE__CLIENT_SECRET")
    no_credentials = {item["name"]: item for item in cli("octane", "check", "--json").json()}
    assert no_credentials["credentials"]["verdict"] == "fail"
    assert "no-credentials-file-1001" in no_credentials["credentials"]["detail"]
    assert no_credentials["sign_in"]["verdict"] == "skip"


def test_the_emulate_command_serves_until_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evidencehub",
            "emulate",
            "octane",
            "--port",
            "0",
            "--api-key",
            f"{CLIENT_ID}:{CLIENT_SECRET}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        with httpx.Client(base_url=match.group(1), timeout=10) as client:
            assert (
                client.post(
                    "/authentication/sign_in", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
                ).status_code
                == 200
            )
            assert client.get("/__emulator__/counters").json()["sign_ins"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode in (0, 130, -signal.SIGINT)
