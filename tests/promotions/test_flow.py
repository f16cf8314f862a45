"""Promotions end to end on the embedded queue: request → evidence job → Octane, cancel and delink."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from sqlalchemy import select

from evidencehub.cli import promote_cmd
from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.emulators.octane.runner import RunningEmulator
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from evidencehub.promotions.model import Promotion
from tests.support.cli import CliRunner
from tests.support.octane import assert_exactly
from tests.support.promotions import (
    landing_path,
    wait_for,
    wait_for_state,
    worker,
)
from tests.support.runs import cases, store_run
from tests.support.xray import only_execution

RELEASE = "2026.11"


def new_story(emulator: RunningEmulator, name: str = "Release 2026.11 regression") -> str:
    story_id: str = emulator.control("POST", "entities/stories", json={"data": [{"name": name}]}).json()[
        "data"
    ][0]["id"]
    return story_id


def covered_by(emulator: RunningEmulator, story: str) -> set[str]:
    """Names of the emulator's tests whose covered_content holds the story."""
    return {
        str(test["name"])
        for test in emulator.state.store.kinds["tests"].values()
        if any(str(item["id"]) == story for item in test["covered_content"]["data"])
    }


def ask(cli: CliRunner, *extra: str, build: str = "1042") -> dict[str, object]:
    result = cli(
        "promote", "request", "--project", "prism", "--release", RELEASE, "--build", build, "--json", *extra
    )
    assert result.exit_code == 0, result.stderr
    promotion: dict[str, object] = result.json()
    return promotion


def test_a_promotion_stores_the_bundle_publishes_and_links_the_regression_item(
    queue: str,
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if queue == "redis":
        octane_settings = load_settings()  # with the Redis queue
    store_run(database, cases(25, failing_every=5))
    story = new_story(octane_emulator)

    promotion = ask(cli, "--upload-regression", "--regression-key", story, "--reason", "go live")
    assert promotion["state"] == "requested"
    assert promotion["job_name"] == f"evidence-prism-{RELEASE}-1042-p{promotion['id']}"
    assert promotion["target"] == "PROD"

    monkeypatch.setenv("EVIDENCEHUB_PROMOTIONS__WATCH_INTERVAL_SECONDS", "0.1")
    with worker(octane_settings):
        watched = cli("promote", "show", str(promotion["id"]), "--watch", "--json")  # returns once finished
        assert watched.exit_code == 0, watched.stderr
        assert watched.json()["promotion"]["state"] in ("succeeded", "failed")
        done = wait_for_state(database, octane_settings, int(str(promotion["id"])), "succeeded", "failed")
    assert done.promotion.state == "succeeded", done.promotion.error

    assert_exactly(octane_emulator, {case.name for case in cases(25)})
    assert covered_by(octane_emulator, story) == {case.name for case in cases(25)}
    assert done.promotion.bundle is not None
    assert (landing_path(done.promotion.bundle.url) / "manifest.json").is_file()
    [publication] = done.promotion.publications
    assert (publication.target, publication.state, publication.linked) == ("octane", "succeeded", True)
    [job] = done.jobs
    assert len(job.slices) == 3 and all(item.status == "success" for item in job.slices)
    assert all(item.remote_task_id and item.attempts == 1 for item in job.slices)
    transitions = [(event.from_state, event.to_state) for event in done.history if event.to_state]
    assert transitions == [(None, "requested"), ("requested", "running"), ("running", "succeeded")]
    assert done.history[0].actor.startswith("cli:") and done.history[0].detail == "go live"

    shown = cli("promote", "show", str(promotion["id"]))
    assert shown.exit_code == 0, shown.stderr
    assert promotion["job_name"] in shown.stdout
    assert done.promotion.bundle.url in shown.stdout
    assert "octane upload tasks" in shown.stdout
    for item in job.slices:
        assert str(item.remote_task_id) in shown.stdout
    as_json = cli("promote", "show", str(promotion["id"]), "--json").json()
    assert as_json["promotion"]["state"] == "succeeded"
    assert [item["status"] for item in as_json["jobs"][0]["slices"]] == ["success"] * 3
    listed = cli("promote", "list")
    assert promotion["job_name"] in listed.stdout and "succeeded" in listed.stdout


def test_promote_show_at_a_terminal_stays_live_until_the_promotion_ends(
    database: Database, octane_settings: Settings, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVIDENCEHUB_PROMOTIONS__WATCH_INTERVAL_SECONDS", "0.2")
    store_run(database, cases(3))
    promotion_id = str(ask(cli)["id"])
    screen = io.StringIO()
    monkeypatch.setattr(promote_cmd, "console", Console(file=screen, force_terminal=True, width=160))
    once = cli("promote", "show", promotion_id, "--once")  # nobody works on it yet: one snapshot, at once
    assert once.exit_code == 0, once.stderr
    assert "requested" in screen.getvalue() and "succeeded" not in screen.getvalue()
    with worker(load_settings()):
        live = cli("promote", "show", promotion_id)  # at a terminal: refreshed until the promotion ends
    assert live.exit_code == 0, live.stderr
    assert "succeeded" in screen.getvalue()


def test_at_most_one_active_promotion_per_build_and_target(
    database: Database, octane_settings: Settings, cli: CliRunner
) -> None:
    store_run(database, cases(3))
    first = ask(cli)
    again = cli("promote", "request", "--project", "prism", "--release", RELEASE, "--build", "1042")
    assert again.exit_code == 5
    assert f"already has an active promotion (promotion {first['id']})" in again.stderr
    other_target = ask(cli, "--target", "STAGING")
    assert other_target["id"] != first["id"]
    # The database keeps the rule even when the service's check is bypassed.
    with database.session() as session:
        row = session.get_one(Promotion, int(str(first["id"])))
        values = {
            column.key: getattr(row, column.key)
            for column in Promotion.__table__.columns
            if column.key not in ("id",)
        }
    from sqlalchemy.exc import IntegrityError

    with database.session() as session:
        session.add(Promotion(**values))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    assert cli("promote", "cancel", str(first["id"])).exit_code == 0
    ask(cli)  # a cancelled promotion no longer blocks a new one


def test_bad_requests_are_clear_errors(database: Database, octane_settings: Settings, cli: CliRunner) -> None:
    store_run(database, cases(3))
    missing_build = cli("promote", "request", "--project", "prism", "--release", RELEASE, "--build", "9")
    assert missing_build.exit_code == 4
    assert "build '9' of project 'prism' does not exist" in missing_build.stderr
    no_key = cli(
        "promote",
        "request",
        "--project",
        "prism",
        "--release",
        RELEASE,
        "--build",
        "1042",
        "--upload-regression",
    )
    assert no_key.exit_code == 2
    assert "upload_regression needs regression_key" in no_key.stderr
    with database.session() as session:
        assert session.scalars(select(Promotion)).all() == []


def test_cancelling_a_requested_promotion_ends_it_at_once(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator, cli: CliRunner
) -> None:
    store_run(database, cases(5))
    promotion = ask(cli)
    cancelled = cli("promote", "cancel", str(promotion["id"]), "--json")
    assert cancelled.exit_code == 0, cancelled.stderr
    assert cancelled.json()["state"] == "cancelled"
    twice = cli("promote", "cancel", str(promotion["id"]), "--json")
    assert twice.exit_code == 0 and twice.json()["state"] == "cancelled"
    with worker(octane_settings):  # the queued job finds it cancelled and does nothing
        wait_for(lambda: octane_emulator.counters()["posts_total"] == 0, timeout=2)
    shown = cli("promote", "show", str(promotion["id"]), "--json").json()
    assert shown["promotion"]["state"] == "cancelled"
    assert shown["jobs"] == []
    assert octane_emulator.counters()["posts_total"] == 0


def test_cancelling_a_published_promotion_delinks_the_regression_item(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
) -> None:
    store_run(database, cases(12))
    story = new_story(octane_emulator)
    other_story = new_story(octane_emulator, "Unrelated story")
    promotion = ask(cli, "--upload-regression", "--regression-key", story)
    promotion_id = int(str(promotion["id"]))
    with worker(octane_settings):
        wait_for_state(database, octane_settings, promotion_id, "succeeded")
        assert len(covered_by(octane_emulator, story)) == 12
        # Someone links another item to the same tests: the delink must leave it alone.
        assert (
            cli(
                "octane",
                "link",
                "--backlog",
                other_story,
                "--job",
                f"evidence-prism-{RELEASE}-1042-p{promotion_id}-octane",
            ).exit_code
            == 0
        )
        cancelling = cli("promote", "cancel", str(promotion_id), "--json").json()
        assert cancelling["state"] == "cancelling"
        done = wait_for_state(database, octane_settings, promotion_id, "cancelled")
    assert covered_by(octane_emulator, story) == set()
    assert len(covered_by(octane_emulator, other_story)) == 12
    assert done.promotion.delink_state == "done"
    assert done.promotion.delink_message is not None
    assert f"delinked story {story}" in done.promotion.delink_message
    transitions = [(event.from_state, event.to_state) for event in done.history if event.to_state]
    assert transitions[-2:] == [("succeeded", "cancelling"), ("cancelling", "cancelling")] or transitions[
        -1
    ] == ("cancelling", "cancelled")
    assert transitions[-1] == ("cancelling", "cancelled")
    again = cli("promote", "cancel", str(promotion_id), "--json")
    assert again.exit_code == 0 and again.json()["state"] == "cancelled"


def test_cancelling_a_running_promotion_stops_new_slices_then_delinks(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The backlog item travels in the payload, so tests are linked as their slices are processed.
    monkeypatch.setenv("EVIDENCEHUB_OCTANE__BACKLOG_IN_PAYLOAD", "true")
    monkeypatch.setenv("EVIDENCEHUB_OCTANE__WORKERS", "1")
    monkeypatch.setenv("EVIDENCEHUB_OCTANE__QUEUE_LIMIT", "2")
    octane_emulator.configure(tasks_per_second=8)
    store_run(database, cases(300))
    story = new_story(octane_emulator)
    promotion_id = int(str(ask(cli, "--upload-regression", "--regression-key", story)["id"]))
    settings = load_settings()
    with worker(settings):

        def some_slices_done() -> bool:
            jobs = cli("promote", "show", str(promotion_id), "--json").json()["jobs"]
            return bool(jobs) and sum(item["status"] == "success" for item in jobs[0]["slices"]) >= 2

        wait_for(some_slices_done, what="two slices published")
        assert cli("promote", "cancel", str(promotion_id)).exit_code == 0
        done = wait_for_state(database, settings, promotion_id, "cancelled")
    [job] = done.jobs
    assert job.job.state == "cancelled"
    statuses = [item.status for item in job.slices]
    assert "pending" in statuses  # no new slices were sent after the cancel
    assert covered_by(octane_emulator, story) == set()
    assert done.promotion.delink_state == "done"
    assert done.promotion.publications[0].linked is False


def test_a_failing_delink_is_shown_and_retried(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    cli: CliRunner,
) -> None:
    store_run(database, cases(6))
    story = new_story(octane_emulator)
    promotion_id = int(str(ask(cli, "--upload-regression", "--regression-key", story)["id"]))
    with worker(octane_settings):
        wait_for_state(database, octane_settings, promotion_id, "succeeded")
        octane_emulator.set_faults(error_503=1.0, only_test_results=False)  # Octane is down
        assert cli("promote", "cancel", str(promotion_id)).exit_code == 0

        def error_shown() -> bool:
            shown = cli("promote", "show", str(promotion_id), "--json").json()["promotion"]
            return bool(shown["delink_error"]) and shown["state"] == "cancelling"

        wait_for(error_shown, what="the delink error shown")
        shown = cli("promote", "show", str(promotion_id))
        assert "delink error" in shown.stdout
        octane_emulator.set_faults()  # Octane is back
        again = cli("promote", "cancel", str(promotion_id), "--json")  # harmless, and retries now
        assert again.exit_code == 0
        done = wait_for_state(database, octane_settings, promotion_id, "cancelled")
    assert done.promotion.delink_state == "done"
    assert done.promotion.delink_attempts >= 2
    assert done.promotion.delink_error is None
    assert covered_by(octane_emulator, story) == set()


def test_a_project_can_promote_to_octane_and_xray(
    database: Database,
    octane_settings: Settings,
    xray_settings: Settings,
    octane_emulator: RunningEmulator,
    xray_server: RunningXrayEmulator,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVIDENCEHUB_PROMOTIONS__PROJECT_TARGETS", '{"prism": ["octane", "xray"]}')
    monkeypatch.setenv("EVIDENCEHUB_XRAY__PROJECT_KEYS", '{"prism": "PRM"}')
    settings = load_settings()
    store_run(database, cases(12))
    promotion_id = int(str(ask(cli)["id"]))
    with worker(settings):
        done = wait_for_state(database, settings, promotion_id, "succeeded", "failed")
    assert done.promotion.state == "succeeded", done.promotion.error
    assert {item.target: item.state for item in done.promotion.publications} == {
        "octane": "succeeded",
        "xray": "succeeded",
    }
    assert {job.job.target for job in done.jobs} == {"octane", "xray"}
    assert_exactly(octane_emulator, {case.name for case in cases(12)})
    execution = only_execution(xray_server)
    assert execution["key"].startswith("PRM-")
