"""The publisher engine against the emulator over real HTTP: nothing lost, nothing sent twice.

Every test ends by checking that the emulator holds exactly the expected runs,
each written once.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.emulators.octane.runner import RunningEmulator
from evidencehub.errors import ConflictError, NotFoundError
from evidencehub.ops.metrics import MetricsExporter
from evidencehub.publish import service as publish
from evidencehub.publish.joblog import read_log
from evidencehub.publish.schemas import JobOut
from evidencehub.publish.targets.octane.service import PublishRequest, publish_run_to_octane
from tests.support.octane import CLIENT_ID, CLIENT_SECRET, assert_exactly, stored_runs
from tests.support.runs import Case, cases, store_run

API = "/api/shared_spaces/1001/workspaces/1002"
# Fault-handling tests exercise HTTP behaviour, not the database: they run on SQLite only. The database
# paths they share (tracking, resume, crash recovery) run on both backends in the other tests.
http_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def names(count: int) -> set[str]:
    return {case.name for case in cases(count)}


def publish_runs(database: Database, settings: Settings, run_id: int, **request: Any) -> JobOut:
    return publish_run_to_octane(database, settings, PublishRequest(run_ids=[run_id], **request))


def with_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(f"EVIDENCEHUB_OCTANE__{name.upper()}", value)
    return load_settings()


def queue_of_three(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Octane holding at most 3 queued tasks, and our budget set to the same; slices of 5."""
    emulator.configure(tasks_per_second=40, queue_limit=3)
    return with_env(monkeypatch, queue_limit="3", max_runs_per_call="5")


def assert_budget_held(emulator: RunningEmulator) -> dict[str, Any]:
    """Never more than 3 of our tasks queued, so Octane never refused one as queue-full."""
    counters: dict[str, Any] = emulator.counters()
    assert counters["max_queued"] <= 3
    assert counters["posts_rejected_queue_full"] == 0
    return counters


def test_happy_path_every_slice_tracked_in_table_events_view_and_log(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    run_id = store_run(database, cases(35, failing_every=4), environment="staging")
    job = publish_runs(database, octane_settings, run_id)

    assert job.state == "succeeded"
    assert (job.slices_total, job.slices_done, job.tests_total) == (4, 4, 35)
    assert_exactly(octane_emulator, names(35))
    detail = publish.job_detail(database, octane_settings, job.id)
    assert [item.test_count for item in detail.slices] == [10, 10, 10, 5]
    assert all(
        item.status == "success" and item.remote_task_id and item.attempts == 1 for item in detail.slices
    )
    assert all(item.payload_sha256 and item.finished_at for item in detail.slices)
    events = publish.job_events(database, job.id, slice_no=1)
    assert [event.status for event in events if event.kind == "status"][:2] == ["sending", "queued"]
    assert events[-1].status == "success"
    log = read_log(octane_settings.data_dir / "octane_task_logs" / f"{job.id}.json")
    assert {entry["slice"] for entry in log if entry["event"] == "status"} == {1, 2, 3, 4}
    assert log[-1]["event"] == "job"
    assert log[-1]["state"] == "succeeded"
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT slice_no, status FROM octane_upload_tasks ORDER BY slice_no")
        ).all()
    assert rows == [(1, "success"), (2, "success"), (3, "success"), (4, "success")]


def test_metrics_show_upload_tasks_by_target_and_status(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    exporter = MetricsExporter(database, octane_settings)
    assert "evidencehub_upload_tasks{" not in exporter.render().decode()  # no task yet: no series
    publish_runs(database, octane_settings, store_run(database, cases(25)))
    metrics = exporter.render().decode()
    assert 'evidencehub_upload_tasks{status="success",target="octane"} 3.0' in metrics


@http_only
def test_the_in_flight_budget_keeps_queue_full_rare(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = queue_of_three(octane_emulator, monkeypatch)
    run_id = store_run(database, cases(60))
    job = publish_runs(database, settings, run_id)
    assert job.state == "succeeded"
    assert_budget_held(octane_emulator)
    assert_exactly(octane_emulator, names(60))


@http_only
def test_two_jobs_into_one_queue_share_the_budget(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two promotions publishing at once (a worker's two consumer threads): together, not each, ≤ the limit.
    settings = queue_of_three(octane_emulator, monkeypatch)
    runs = [store_run(database, cases(40, prefix=f"com.job{index}")) for index in (1, 2)]
    jobs: list[JobOut] = []
    start = threading.Barrier(2)

    def publish_one(run_id: int) -> None:
        start.wait()
        jobs.append(publish_runs(database, settings, run_id))

    threads = [threading.Thread(target=publish_one, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(job.state for job in jobs) == ["succeeded", "succeeded"]
    counters = assert_budget_held(octane_emulator)
    runs_held = stored_runs(octane_emulator)
    expected = sorted(
        (case.classname, case.name) for index in (1, 2) for case in cases(40, prefix=f"com.job{index}")
    )
    held = sorted((f"{run['package']}.{run['class_name']}", run["test_name"]) for run in runs_held)
    assert held == expected
    assert all(run["writes"] == 1 for run in runs_held) and counters["duplicate_runs"] == 0


@http_only
def test_a_queue_filled_by_someone_else_is_waited_out(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.configure(tasks_per_second=0, queue_limit=2)
    with httpx.Client(base_url=octane_emulator.url) as other:
        other.post("/authentication/sign_in", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        for name in ("foreign_a", "foreign_b"):
            run = f'<test_run name="{name}" status="Passed" duration="1"/>'
            body = f"<test_result><test_runs>{run}</test_runs></test_result>"
            assert (
                other.post(
                    f"{API}/test-results", content=body, headers={"Content-Type": "application/xml"}
                ).status_code
                == 202
            )
    run_id = store_run(database, cases(15))

    def drain_later(_job: JobOut, _warnings: list[str]) -> None:
        threading.Timer(0.4, lambda: octane_emulator.configure(tasks_per_second=200)).start()

    job = publish_run_to_octane(
        database, octane_settings, PublishRequest(run_ids=[run_id]), on_created=drain_later
    )
    assert job.state == "succeeded"
    retries = [event for event in publish.job_events(database, job.id) if event.kind == "retry"]
    assert retries
    assert all("queue_full" in (event.detail or "") for event in retries)
    assert_exactly(octane_emulator, names(15) | {"foreign_a", "foreign_b"})


@http_only
def test_an_expiring_session_mid_job_is_renewed(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.configure(session_expire_after_requests=4)
    run_id = store_run(database, cases(50))
    job = publish_runs(database, octane_settings, run_id)
    assert job.state == "succeeded"
    assert octane_emulator.counters()["sign_ins"] > 1
    assert_exactly(octane_emulator, names(50))


@http_only
def test_a_5xx_storm_with_dropped_connections_loses_and_duplicates_nothing(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    octane_emulator.set_faults(
        error_500=0.15,
        error_502=0.15,
        error_503=0.15,
        throttle_429=0.1,
        retry_after_seconds=0.02,
        drop_connection=0.15,
        seed=7,
    )
    settings = with_env(monkeypatch, retry_max_attempts="30")
    run_id = store_run(database, cases(80))
    job = publish_runs(database, settings, run_id)
    assert job.state == "succeeded", job.error
    counters = octane_emulator.counters()
    assert counters["fault_drop"] > 0
    assert counters["fault_500"] + counters["fault_502"] + counters["fault_503"] > 0
    detail = publish.job_detail(database, settings, job.id)
    assert any(item.attempts > 1 for item in detail.slices)
    assert_exactly(octane_emulator, names(80))


@http_only
def test_lost_tasks_are_sent_again_as_a_new_generation(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.set_faults(lost_tasks=0.4, seed=3)
    run_id = store_run(database, cases(80))
    job = publish_runs(database, octane_settings, run_id)
    assert job.state == "succeeded"
    assert octane_emulator.counters()["tasks_lost"] > 0
    detail = publish.job_detail(database, octane_settings, job.id)
    lost = octane_emulator.counters()["tasks_lost"]
    assert sum(item.generation for item in detail.slices) == lost  # a slice lost twice is on generation 2
    assert len([event for event in publish.job_events(database, job.id) if event.status == "lost"]) == lost
    assert_exactly(octane_emulator, names(80))


@http_only
def test_an_xsd_invalid_slice_is_never_sent(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = with_env(monkeypatch, test_fields='{"Framework": ""}')
    run_id = store_run(database, cases(12))
    job = publish_runs(database, settings, run_id)
    assert job.state == "failed"
    assert job.slices_failed == 2
    detail = publish.job_detail(database, settings, job.id)
    assert all("XSD" in (item.last_error or "") for item in detail.slices)
    assert octane_emulator.counters()["posts_total"] == 0
    assert_exactly(octane_emulator, set())


def test_publishing_the_same_run_twice_sends_no_run_twice(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    run_id = store_run(database, cases(25))
    first = publish_runs(database, octane_settings, run_id)
    second = publish_runs(database, octane_settings, run_id)
    assert first.state == second.state == "succeeded"
    first_slices = publish.job_detail(database, octane_settings, first.id).slices
    second_slices = publish.job_detail(database, octane_settings, second.id).slices
    assert [item.payload_sha256 for item in first_slices] == [item.payload_sha256 for item in second_slices]
    assert [item.remote_task_id for item in first_slices] == [item.remote_task_id for item in second_slices]
    assert octane_emulator.counters()["posts_duplicate_payload"] == 3
    assert_exactly(octane_emulator, names(25))


def test_a_cancelled_job_resumes_without_resending(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.configure(tasks_per_second=30)
    run_id = store_run(database, cases(60))
    done: list[int] = []

    def progress(counts: dict[str, int]) -> None:
        done.append(counts.get("success", 0))

    job = publish_run_to_octane(
        database,
        octane_settings,
        PublishRequest(run_ids=[run_id]),
        should_continue=lambda: not done or done[-1] < 2,
        progress=progress,
    )
    assert job.state == "cancelled"
    succeeded = {
        item.slice_no
        for item in publish.job_detail(database, octane_settings, job.id).slices
        if item.status == "success"
    }
    assert succeeded
    posts_before = octane_emulator.counters()["posts_total"]
    resumed = publish_run_to_octane(database, octane_settings, PublishRequest(job_id=job.id))  # resumes by id
    assert resumed.state == "succeeded"
    detail = publish.job_detail(database, octane_settings, job.id)
    assert all(item.attempts == 1 for item in detail.slices if item.slice_no in succeeded)
    assert octane_emulator.counters()["posts_total"] - posts_before <= 6 - len(succeeded)
    assert_exactly(octane_emulator, names(60))


def test_resuming_a_finished_job_is_a_no_op_and_unknown_jobs_are_named(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    job = publish_runs(database, octane_settings, store_run(database, cases(5)))
    posts = octane_emulator.counters()["posts_total"]
    assert publish.run_job(database, octane_settings, job.id).state == "succeeded"
    assert octane_emulator.counters()["posts_total"] == posts
    with pytest.raises(NotFoundError, match="no-such-job"):
        publish.run_job(database, octane_settings, "no-such-job")


def test_a_job_is_run_by_one_runner_at_a_time(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    from evidencehub.db.base import utcnow
    from evidencehub.publish.model import PublishJob

    run_id = store_run(database, cases(5))
    job, _warnings = __import__(
        "evidencehub.publish.targets.octane.service", fromlist=["create_octane_job"]
    ).create_octane_job(database, octane_settings, PublishRequest(run_ids=[run_id]))
    with database.session() as session:
        row = session.get(PublishJob, job.id)
        assert row is not None
        row.state, row.runner, row.heartbeat_at = (
            "running",
            f"{__import__('socket').gethostname()}:1:1",
            utcnow(),
        )
    with pytest.raises(ConflictError, match="is being run by"):
        publish.run_job(database, octane_settings, job.id)  # pid 1 is alive: its runner still owns the job
    assert octane_emulator.counters()["posts_total"] == 0


def test_a_backlog_item_is_checked_first_and_linked_after_success(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    run_id = store_run(database, cases(15))
    with pytest.raises(NotFoundError, match="backlog item 4242 does not exist"):
        publish_runs(database, octane_settings, run_id, backlog="4242")
    assert octane_emulator.counters()["posts_total"] == 0
    story = octane_emulator.control(
        "POST", "entities/stories", json={"data": [{"name": "Checkout regression"}]}
    )
    story_id = story.json()["data"][0]["id"]
    job = publish_runs(database, octane_settings, run_id, backlog=story_id)
    assert job.state == "succeeded"
    linked = [
        test
        for test in octane_emulator.state.store.kinds["tests"].values()
        if any(ref["id"] == story_id for ref in test["covered_content"]["data"])
    ]
    assert len(linked) == 15
    assert_exactly(octane_emulator, names(15))


@http_only
def test_application_module_found_or_created_under_the_single_root(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    run_id = store_run(database, cases(5))
    job = publish_runs(database, octane_settings, run_id, module="Payments")
    modules = {area["name"]: area for area in octane_emulator.state.store.kinds["product_areas"].values()}
    assert modules["Payments"]["parent"]["id"] == modules["Application Modules"]["id"]
    linked = {
        ref["id"]
        for test in octane_emulator.state.store.kinds["tests"].values()
        for ref in test["product_areas"]["data"]
    }
    assert linked == {modules["Payments"]["id"]}
    publish_runs(database, octane_settings, store_run(database, cases(5), build="1043"), module="Payments")
    assert [area["name"] for area in octane_emulator.state.store.kinds["product_areas"].values()].count(
        "Payments"
    ) == 1
    assert job.state == "succeeded"


@http_only
def test_duplicate_root_modules_warn_and_use_the_lowest_id_or_fail_when_strict(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    octane_emulator.control(
        "POST", "entities/product_areas", json={"data": [{"name": "Application Modules", "parent": None}]}
    )
    run_id = store_run(database, cases(5))
    with pytest.raises(ConflictError, match="Duplicate root application modules found: ids 1001, 1003"):
        publish_runs(database, octane_settings, run_id, module="Payments", strict_modules=True)
    assert octane_emulator.counters()["posts_total"] == 0
    with capture_logs() as logs:
        job = publish_runs(database, octane_settings, run_id, module="Payments")
    assert job.state == "succeeded"
    warning = next(entry for entry in logs if entry["event"] == "Duplicate root application modules found")
    assert warning["ids"] == ["1001", "1003"]
    assert warning["using"] == "1001"
    modules = [
        area
        for area in octane_emulator.state.store.kinds["product_areas"].values()
        if area["name"] == "Payments"
    ]
    assert modules[0]["parent"]["id"] == "1001"


@http_only
def test_queue_full_until_the_deadline_fails_the_job_and_a_resume_finishes_it(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    octane_emulator.configure(queue_limit=0)  # Octane refuses every upload: "Queue limit exceeded"
    run_id = store_run(database, cases(15))
    # Long enough for a loaded machine to reach the first refused upload before it passes.
    job = publish_runs(database, with_env(monkeypatch, job_deadline_seconds="3"), run_id)
    assert job.state == "failed"
    assert job.error is not None
    assert "deadline passed" in job.error
    detail = publish.job_detail(database, octane_settings, job.id)
    assert {item.status for item in detail.slices} == {"pending"}
    # Only slices that were tried carry an error: Octane's refusal, or, for one still waiting in
    # the send pool when the deadline passed, that it was stopped before Octane accepted it.
    errors = [item.last_error for item in detail.slices if item.last_error]
    assert any("Queue limit exceeded" in error for error in errors)
    assert all(
        "Queue limit exceeded" in error or error == "stopped before the slice was accepted"
        for error in errors
    )
    retries = [event for event in publish.job_events(database, job.id) if event.kind == "retry"]
    assert retries
    assert all("queue_full" in (event.detail or "") for event in retries)
    assert octane_emulator.counters()["posts_accepted"] == 0

    octane_emulator.configure(queue_limit=50)
    resumed = publish.run_job(database, with_env(monkeypatch, job_deadline_seconds="60"), job.id)
    assert resumed.state == "succeeded"
    assert_exactly(octane_emulator, names(15))


@http_only
def test_rejected_credentials_stop_the_job_before_anything_is_sent(
    database: Database,
    octane_settings: Settings,
    octane_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = with_env(monkeypatch, client_secret="revoked-key")
    job = publish_runs(database, settings, store_run(database, cases(25)))
    assert job.state == "failed"
    assert job.error is not None
    assert "sign-in failed" in job.error
    assert "revoked-key" not in job.error
    detail = publish.job_detail(database, settings, job.id)
    assert {item.status for item in detail.slices} == {"pending"}  # a resume with the right key sends them
    assert octane_emulator.counters()["posts_total"] == 0


@http_only
def test_a_name_over_255_characters_is_truncated_with_a_warning_not_a_rejected_slice(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator
) -> None:
    long_name = "test_" + "very_long_" * 40
    run_id = store_run(database, [*cases(9), Case(classname="com.acme.LongTest", name=long_name)])
    job = publish_runs(database, octane_settings, run_id)
    assert job.state == "succeeded"
    assert job.warnings == 1
    warning = next(event for event in publish.job_events(database, job.id) if event.kind == "warning")
    assert "name of com.acme.LongTest::test_very_long_" in (warning.detail or "")
    assert_exactly(octane_emulator, names(9) | {long_name[:255]})
