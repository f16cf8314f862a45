"""A publisher process killed with SIGKILL mid-job, then resumed: no slice lost, none sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.emulators.octane.runner import RunningEmulator
from evidencehub.publish import service as publish
from evidencehub.publish.model import PublishJob, UploadTask
from tests.support.cli import CliRunner
from tests.support.octane import assert_exactly
from tests.support.runs import cases, store_run

JOB = "crash-and-resume"


def succeeded_slices(database: Database) -> int:
    with database.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(UploadTask)
                .where(UploadTask.job_id == JOB, UploadTask.status == "success")
            )
            or 0
        )


def test_sigkill_mid_job_then_resume_publishes_every_run_exactly_once(
    database: Database, octane_settings: Settings, octane_emulator: RunningEmulator, cli: CliRunner
) -> None:
    octane_emulator.configure(tasks_per_second=25)
    run_id = store_run(database, cases(200))
    publisher = subprocess.Popen(  # the real CLI in its own process, sharing the test's settings via env
        [
            sys.executable,
            "-m",
            "evidencehub",
            "publish",
            "octane",
            "--run",
            str(run_id),
            "--job-id",
            JOB,
            "--json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while succeeded_slices(database) < 3:
            assert publisher.poll() is None, publisher.stderr.read().decode() if publisher.stderr else ""
            assert time.monotonic() < deadline, "the publisher made no progress"
            time.sleep(0.02)
        publisher.send_signal(signal.SIGKILL)
    finally:
        publisher.wait(timeout=30)
        if publisher.stderr:
            publisher.stderr.close()
    assert publisher.returncode == -signal.SIGKILL

    before = publish.job_detail(database, octane_settings, JOB)
    assert before.job.state == "running"  # it never got to say otherwise
    finished_before = {item.slice_no for item in before.slices if item.status == "success"}
    unfinished = [item for item in before.slices if item.status != "success"]
    assert finished_before
    assert unfinished, "the kill came too late to test anything"
    posts_before = octane_emulator.counters()["posts_total"]

    resumed = cli("publish", "--resume", JOB, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["state"] == "succeeded"

    after = publish.job_detail(database, octane_settings, JOB)
    assert all(item.status == "success" for item in after.slices)
    by_slice = {item.slice_no: item for item in after.slices}
    assert all(by_slice[number].attempts == 1 for number in finished_before)  # never sent again
    assert octane_emulator.counters()["posts_total"] - posts_before <= len(unfinished)
    assert_exactly(octane_emulator, {case.name for case in cases(200)})
    with database.session() as session:
        job = session.get(PublishJob, JOB)
        assert job is not None
        assert job.runner is None
