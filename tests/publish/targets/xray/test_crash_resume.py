"""A Xray publisher process killed with SIGKILL mid-job, then resumed: no test lost, none duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.emulators.xray.runner import RunningXrayEmulator
from evidencehub.publish import service as publish
from evidencehub.publish.model import PublishJob, UploadTask
from tests.support.cli import CliRunner
from tests.support.runs import cases, store_run
from tests.support.xray import only_execution

JOB = "xray-crash-and-resume"


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


def test_sigkill_mid_job_then_resume_lands_every_test_once(
    database: Database, xray_settings: Settings, xray_server: RunningXrayEmulator, cli: CliRunner
) -> None:
    xray_server.set_faults(latency_ms=40)  # slow enough imports that the kill lands mid-job
    items = cases(200)
    run_id = store_run(database, items, project="shop")
    publisher = subprocess.Popen(  # the real CLI in its own process, sharing the test's settings via env
        [sys.executable, "-m", "evidencehub", "publish", "xray", "--run", str(run_id),
         "--project-key", "SHOP", "--job-id", JOB, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )  # fmt: skip
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

    before = publish.job_detail(database, xray_settings, JOB)
    assert before.job.state == "running"  # it never got to say otherwise
    finished_before = {item.slice_no for item in before.slices if item.status == "success"}
    unfinished = [item for item in before.slices if item.status != "success"]
    assert finished_before
    assert unfinished, "the kill came too late to test anything"
    imports_before = xray_server.counters()["imports"]

    xray_server.set_faults()
    resumed = cli("publish", "--resume", JOB, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["state"] == "succeeded"

    after = publish.job_detail(database, xray_settings, JOB)
    assert all(item.status == "success" for item in after.slices)
    by_slice = {item.slice_no: item for item in after.slices}
    assert all(by_slice[number].attempts == 1 for number in finished_before)  # never sent again
    # Only unfinished slices were imported again (a retried import counts as one of their attempts).
    assert xray_server.counters()["imports"] - imports_before <= sum(
        by_slice[item.slice_no].attempts for item in unfinished
    )
    execution = only_execution(xray_server)  # the resume imported into the same Test Execution
    assert sorted(run["definition"] for run in execution["runs"]) == sorted(
        f"{case.classname}.{case.name}" for case in items
    )
    counters = xray_server.counters()
    assert (counters["tests"], counters["tests_created"]) == (200, 200)
    with database.session() as session:
        job = session.get(PublishJob, JOB)
        assert job is not None
        assert job.runner is None
        assert job.params["test_execution"] == execution["key"]
