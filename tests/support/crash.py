"""A publisher process killed with SIGKILL mid-job, then resumed: scaffolding every target shares."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.publish import service as publish
from evidencehub.publish.model import PublishJob, UploadTask
from evidencehub.publish.schemas import JobDetail, SliceOut
from tests.support.cli import CliRunner


@dataclass
class KilledJob:
    """Where the job stood when its publisher died."""

    finished: set[int]  # slice numbers that had succeeded
    unfinished: list[SliceOut]


def _succeeded_slices(database: Database, job_id: str) -> int:
    with database.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(UploadTask)
                .where(UploadTask.job_id == job_id, UploadTask.status == "success")
            )
            or 0
        )


def kill_publisher_mid_job(
    database: Database, settings: Settings, job_id: str, publish_args: Sequence[str], *, after_slices: int = 3
) -> KilledJob:
    """Run ``evidencehub publish ARGS --job-id JOB --json`` in its own process; SIGKILL it mid-job."""
    publisher = subprocess.Popen(  # the real CLI in its own process, sharing the test's settings via env
        [sys.executable, "-m", "evidencehub", "publish", *publish_args, "--job-id", job_id, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while _succeeded_slices(database, job_id) < after_slices:
            assert publisher.poll() is None, publisher.stderr.read().decode() if publisher.stderr else ""
            assert time.monotonic() < deadline, "the publisher made no progress"
            time.sleep(0.02)
        publisher.send_signal(signal.SIGKILL)
    finally:
        publisher.wait(timeout=30)
        if publisher.stderr:
            publisher.stderr.close()
    assert publisher.returncode == -signal.SIGKILL

    before = publish.job_detail(database, settings, job_id)
    assert before.job.state == "running"  # it never got to say otherwise
    killed = KilledJob(
        finished={item.slice_no for item in before.slices if item.status == "success"},
        unfinished=[item for item in before.slices if item.status != "success"],
    )
    assert killed.finished
    assert killed.unfinished, "the kill came too late to test anything"
    return killed


def resume_to_success(
    database: Database, settings: Settings, cli: CliRunner, job_id: str, killed: KilledJob
) -> JobDetail:
    """``evidencehub publish --resume JOB``: every slice succeeds, none finished before is sent again."""
    resumed = cli("publish", "--resume", job_id, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["state"] == "succeeded"

    after = publish.job_detail(database, settings, job_id)
    assert all(item.status == "success" for item in after.slices)
    by_slice = {item.slice_no: item for item in after.slices}
    assert all(by_slice[number].attempts == 1 for number in killed.finished)  # never sent again
    with database.session() as session:
        job = session.get(PublishJob, job_id)
        assert job is not None
        assert job.runner is None
    return after
